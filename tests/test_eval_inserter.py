"""``m2io eval-inserter``: items, metrics, results format, splits and Ctrl-C behaviour."""

from __future__ import annotations

import json
import zlib
from pathlib import Path

import numpy as np
import pytest
from builders import RESULT_KEYS, run_eval, run_interrupted
from test_eval_fixtures import PAGES, SUBSET, build_eval_corpus

from m2io.cli.main import main
from m2io.corpus import load_mramg, load_questions
from m2io.evaluation.inserter_eval import (
    InserterOptions,
    PrecomputedEmbedder,
    evaluate_inserter,
    item_texts,
    takes_embedder,
)
from m2io.evaluation.items import build_inserter_items
from m2io.evaluation.results import items_path, read_items
from m2io.inserters.rule import MostSimilarInserter, RuleInserter
from m2io.text import split_with_images, tokenize
from m2io.types import Candidate, Placement, Slot, TextAnswer

# --- inserters plugged in by dotted path, as any later inserter would be ------------------------

# gold placements of the toy corpus, keyed by the first answer sentence
_GOLD: dict[str, dict[str, int]] = {}
for _i, (_t, before, _ca, between, _cb, after) in enumerate(PAGES):
    _sents, _pos = split_with_images(f"{before}\n<PIC>\n{between}\n<PIC>\n{after}")
    _GOLD[_sents[0]] = {str(2 * _i): _pos[0], str(2 * _i + 1): _pos[1]}


class OracleInserter:
    """Places exactly the gold images at their gold sentences."""

    def insert(self, answer: TextAnswer, candidates: tuple[Candidate, ...]) -> Placement:
        gold = _GOLD[answer.sentences[0].text]
        slots = sorted((s, i) for i, s in gold.items())
        return Placement(slots=tuple(Slot(i, s) for s, i in slots))


class BrokenFormatInserter:
    """Oracle output, but every call reports a format error."""

    def insert(self, answer: TextAnswer, candidates: tuple[Candidate, ...]) -> Placement:
        p = OracleInserter().insert(answer, candidates)
        return Placement(p.slots, format_ok=False, notes=("format error: fell back",))


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_eval_corpus(tmp_path_factory.mktemp("eval-inserter"))


def _run(data: Path, out: Path, *extra: str) -> tuple[int, dict]:
    return run_eval("eval-inserter", data, out, *extra)


def test_results_format_and_oracle_scores(data: Path, tmp_path: Path) -> None:
    out = tmp_path / "oracle.json"
    rc, res = _run(data, out, "--inserter", "test_eval_inserter:OracleInserter")
    assert rc == 0
    for key in RESULT_KEYS:
        assert key in res, key
    assert res["kind"] == "inserter" and res["subset"] == SUBSET and res["n"] == len(PAGES)
    assert res["system"] == "OracleInserter" and res["interrupted"] is False
    assert res["config"]["inserter"]["name"] == "test_eval_inserter:OracleInserter"
    assert res["config"]["eval"]["distractors"] == "random"
    assert set(res["metrics"]) == {
        "image_precision",
        "image_recall",
        "image_f1",
        "image_ordering",
        "position_accuracy",
        "position_within_1",  # issue 11: ±1 position accuracy is a second placement metric
        "format_error_rate",
    }
    assert res["metrics"]["image_f1"] == 100.0
    assert res["metrics"]["position_accuracy"] == 100.0
    assert res["metrics"]["format_error_rate"] == 0.0
    assert set(res["latency_ms"]["insert"]) == {"p50", "p95"}
    assert res["machine"]["cpus"] >= 1 and "build_items" in res["setup_s"]
    items = read_items(items_path(out))
    assert len(items) == len(PAGES)
    first = items[0]
    assert {"id", "prediction", "gold", "scores", "latency_ms", "notes"} <= set(first)
    assert first["prediction"]["placement"] == first["gold"]["placement"]
    assert len(first["candidates"]) == 4  # 2 gold + 2 distractors at ratio 1


class BagOfWordsEmbedder:
    """A deterministic stand-in for the sentence embedder: hashed word counts, L2-normalised."""

    name = "bow"
    dim = 64

    def encode(self, texts: list[str], *, batch_size: int = 64, progress: bool = False):
        vecs = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, t in enumerate(texts):
            for w in tokenize(t):
                vecs[i, zlib.crc32(w.encode()) % self.dim] += 1.0
        norms = np.linalg.norm(vecs, axis=1, keepdims=True)
        return vecs / np.where(norms == 0, 1.0, norms)


def test_baselines_none_and_similar(data: Path, tmp_path: Path) -> None:
    rc, none = _run(data, tmp_path / "none.json", "--inserter", "none")
    assert rc == 0
    assert none["system"] == "none"
    assert none["metrics"]["image_precision"] == 0.0 and none["metrics"]["image_recall"] == 0.0
    items = build_inserter_items(
        load_questions(data, SUBSET),
        load_mramg(data, SUBSET),
        distractors="hard",
        embedder=BagOfWordsEmbedder(),
    )
    inserter = MostSimilarInserter(embedder=BagOfWordsEmbedder())
    similar = evaluate_inserter(
        inserter,
        items,
        InserterOptions(
            out=tmp_path / "similar.json", subset=SUBSET, system="similar", progress=False
        ),
    )
    # every candidate is placed: all gold found, half of the placed images are distractors
    assert similar.metrics["image_recall"] == 100.0
    assert similar.metrics["image_precision"] == pytest.approx(50.0)
    assert json.loads((tmp_path / "similar.json").read_text())["n"] == len(PAGES)


def test_batched_embeddings_change_speed_not_results(data: Path, tmp_path: Path) -> None:
    items = build_inserter_items(load_questions(data, SUBSET), load_mramg(data, SUBSET))
    base = BagOfWordsEmbedder()
    plain = evaluate_inserter(
        RuleInserter(threshold=0.2, embedder=base),
        items,
        InserterOptions(out=tmp_path / "plain.json", subset=SUBSET, system="rule", progress=False),
    )
    cached = PrecomputedEmbedder(base, item_texts(items))
    batched = evaluate_inserter(
        RuleInserter(threshold=0.2, embedder=cached),
        items,
        InserterOptions(
            out=tmp_path / "batched.json", subset=SUBSET, system="rule", progress=False, embed_s=0.8
        ),
    )
    assert cached.misses == 0  # every text the rule compares was embedded ahead
    assert batched.metrics == plain.metrics
    assert set(batched.latency_ms) == {"embed", "insert", "total"}
    assert batched.latency_ms["embed"]["p50"] == pytest.approx(800.0 / len(items))
    assert takes_embedder(RuleInserter) and not takes_embedder(OracleInserter)


@pytest.mark.slow  # loads the real sentence embedder
def test_rule_with_hard_distractors_and_options(data: Path, tmp_path: Path) -> None:
    out = tmp_path / "rule-hard.json"
    rc, res = _run(
        data,
        out,
        "--inserter",
        "rule",
        "--distractors",
        "hard",
        "--ratio",
        "0.5",
        "--set",
        "inserter.threshold=0.3",
        "--name",
        "rule@0.3",
    )
    assert rc == 0
    assert res["system"] == "rule@0.3"
    assert res["config"]["inserter"] == {"name": "rule", "threshold": 0.3}
    assert res["config"]["eval"]["distractors"] == "hard"
    assert res["config"]["eval"]["batch_embeddings"] is True
    assert "embed_batch" in res["setup_s"] and "total" in res["latency_ms"]
    assert all(len(r["candidates"]) == 3 for r in read_items(items_path(out)))
    assert 0.0 <= res["metrics"]["image_f1"] <= 100.0


def test_format_error_rate(data: Path, tmp_path: Path) -> None:
    rc, res = _run(
        data, tmp_path / "b.json", "--inserter", "test_eval_inserter:BrokenFormatInserter"
    )
    assert rc == 0
    assert res["metrics"]["format_error_rate"] == 100.0
    assert res["metrics"]["image_f1"] == 100.0  # the placement itself still counts
    assert any("notes" in n for n in res["notes"])


def test_split_and_limit(data: Path, tmp_path: Path) -> None:
    rc, val = _run(data, tmp_path / "val.json", "--inserter", "none", "--split", "val")
    rc2, train = _run(data, tmp_path / "train.json", "--inserter", "none", "--split", "train")
    assert rc == rc2 == 0
    assert val["n"] + train["n"] == len(PAGES) and 0 < val["n"] < len(PAGES)
    val_ids = {r["id"] for r in read_items(items_path(tmp_path / "val.json"))}
    train_ids = {r["id"] for r in read_items(items_path(tmp_path / "train.json"))}
    assert not val_ids & train_ids
    rc, lim = _run(data, tmp_path / "lim.json", "--inserter", "none", "--limit", "3")
    assert rc == 0 and lim["n"] == 3 and lim["config"]["eval"]["limit"] == 3


def test_ctrl_c_keeps_scored_items(data: Path, tmp_path: Path, capsys) -> None:
    run_interrupted("eval-inserter", data, tmp_path / "int.json")
    assert "INTERRUPTED" in capsys.readouterr().err


def test_default_out_path_and_errors(data: Path, tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["eval-inserter", "--data", str(data), "--inserter", "none", "--no-progress"]) == 0
    assert (tmp_path / "results" / f"{SUBSET}-inserter-none-random.json").is_file()
    assert (tmp_path / "results" / f"{SUBSET}-inserter-none-random.items.jsonl").is_file()
    rc = main(["eval-inserter", "--data", str(data), "--inserter", "nope", "--no-progress"])
    assert rc == 2 and "valid: " in capsys.readouterr().err
    rc = main(
        ["eval-inserter", "--data", str(data), "--inserter", "none", "--set", "retriever.top_k=3"]
    )
    assert rc == 2
