"""``m2io build-inserter-data``: the M2IO-Inserter training set (prompt + gold columns)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fixtures_corpus import build_mramg

from m2io.cli.main import main
from m2io.inserters.prompt import SYSTEM
from m2io.protocol import parse_placement_output
from m2io.rewards import score_completion
from m2io.training.data import read_rows

TOPICS = ["crop", "scale", "rotate", "blur", "sharpen", "layers", "paths", "text", "fill", "erase"]


def _corpus(root: Path) -> Path:
    docs, captions, questions = [], {}, []
    for d, topic in enumerate(TOPICS):
        a, b = str(10 * d + 1), str(10 * d + 2)
        captions[a] = f"The {topic} tool options"
        captions[b] = f"A photo after {topic}"
        content = (
            f"The {topic} tool is in the toolbox. <PIC> Open it from the Tools menu. "
            f"Set the options you need. Click the image to apply {topic}. <PIC> Save the result."
        )
        docs.append([f"doc-{topic}", content, [a, b]])
        questions.append(
            {
                "id": f"q-{topic}",
                "question": f"How do I {topic} an image?",
                "ground_truth": f"Select the {topic} tool. <PIC> Click the image to apply it. "
                "<PIC> Save the result.",
                "provenance": [f"doc-{topic}"],
                "images_list": [a, b],
            }
        )
    return build_mramg(root, "toy", docs=docs, captions=captions, questions=questions)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("mramg")
    data = _corpus(root / "data")
    out = root / "set"
    args = ["build-inserter-data", "--data", str(data), "--subset", "toy", "--out", str(out)]
    assert main(args) == 0
    return out


def test_split_by_document_with_both_sides(built: Path) -> None:
    train, val = read_rows(built, "train"), read_rows(built, "validation")
    assert len(train) + len(val) == len(TOPICS)
    assert train and val
    train_docs = {d for r in train for d in r["doc_ids"]}
    val_docs = {d for r in val for d in r["doc_ids"]}
    assert not train_docs & val_docs
    meta = json.loads((built / "meta.json").read_text())
    assert meta["n"] == {"train": len(train), "validation": len(val)}
    assert meta["distractors"] == "random"


def test_rows_hold_prompt_gold_and_one_to_one_distractors(built: Path) -> None:
    for row in read_rows(built, "train"):
        gold = json.loads(row["gold"])
        assert sorted(gold.values()) == [1, 2]  # after "Select…" and "Click…"
        assert len(row["candidates"]) == 2 * len(gold)  # 1:1 distractors
        assert set(gold) <= set(row["candidates"])
        assert row["candidates"] == [f"<img{k}>" for k in range(1, len(row["candidates"]) + 1)]
        assert row["n_sentences"] == 3
        system, user = row["prompt"]
        assert system == {"role": "system", "content": SYSTEM}
        assert "[2] Click the image to apply it." in user["content"]
        # gold images are this document's; their tags point at the right ids
        ids = dict(zip(row["candidates"], row["candidate_ids"], strict=True))
        topic = row["qid"].removeprefix("q-")
        d = TOPICS.index(topic)
        assert {ids[t] for t in gold} == {str(10 * d + 1), str(10 * d + 2)}


def test_sft_target_is_a_perfect_completion(built: Path) -> None:
    row = read_rows(built, "train")[0]
    target = row["completion"][0]["content"]
    parsed = parse_placement_output(target, row["candidates"], row["n_sentences"])
    assert parsed.format_ok and parsed.mapping == json.loads(row["gold"])
    scores = score_completion(
        row["completion"],
        gold=row["gold"],
        candidates=row["candidates"],
        n_sentences=row["n_sentences"],
    )
    assert scores["total"] == pytest.approx(1.0)


def test_hf_folder_and_determinism(built: Path, tmp_path: Path) -> None:
    datasets = pytest.importorskip("datasets")

    dd = datasets.load_from_disk(str(built / "hf"))
    assert set(dd) == {"train", "validation"}
    assert dd["train"][0]["prompt"][1]["role"] == "user"
    data = built.parent / "data"
    again = tmp_path / "again"
    assert main(["build-inserter-data", "--data", str(data), "--out", str(again), "--no-hf"]) == 0
    assert (again / "train.jsonl").read_text() == (built / "train.jsonl").read_text()
    assert not (again / "hf").exists()


def test_validation_split_is_eval_inserters_split(dev_data: Path, tmp_path: Path) -> None:
    from m2io.corpus.mramg import load_mramg, load_questions
    from m2io.evaluation.items import build_inserter_items, split_by_document

    out = tmp_path / "gimp"
    assert main(["build-inserter-data", "--data", str(dev_data), "--out", str(out), "--no-hf"]) == 0
    items = build_inserter_items(load_questions(dev_data, "gimp"), load_mramg(dev_data, "gimp"))
    _, val = split_by_document(items, val_fraction=0.2, seed=0)
    assert [r["qid"] for r in read_rows(out, "validation")] == [i.qid for i in val]
