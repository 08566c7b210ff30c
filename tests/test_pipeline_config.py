"""A pipeline assembled in Python writes the YAML recipe that builds it again (issue 14, item 8).

Each registered backend that builds offline: build → dump → build → dump gives the same recipe,
and the rebuilt pipeline answers the demo corpus exactly as the first one (hash embedder index).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from m2io.config import PipelineConfig, StageConfig, config_from_yaml, load_config
from m2io.factory import build_pipeline, load_pipeline
from m2io.generators.base import GENERATORS
from m2io.inserters.base import INSERTERS
from m2io.mergers.base import MERGERS
from m2io.pipeline import Pipeline
from m2io.retrievers.base import RETRIEVERS
from m2io.testing.hash_embedder import HashEmbedder
from m2io.types import Placement, Slot

pytest.importorskip("faiss")
pytest.importorskip("bm25s")

from m2io.cli.main import main  # noqa: E402
from m2io.corpus import load_corpus  # noqa: E402
from m2io.demo import corpus_path  # noqa: E402
from m2io.generators.extractive import ExtractiveGenerator  # noqa: E402
from m2io.index import build_index  # noqa: E402
from m2io.inserters.anchored import AnchoredInserter  # noqa: E402
from m2io.retrievers.hybrid import HybridRetriever  # noqa: E402

QUESTION = "How can I find the edges of objects in an image?"
HASH = {"class": "m2io.testing.hash_embedder:HashEmbedder", "dim": 256, "name": "test-hash"}


@pytest.fixture(scope="module")
def demo_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled demo corpus indexed with the hash embedder (no model)."""
    corpus = load_corpus(corpus_path(), format="folder", exclude=("LICENSE*",))
    out = tmp_path_factory.mktemp("pc") / "demo-index"
    build_index(
        corpus.documents,
        out,
        embedder=HashEmbedder(dim=256),
        progress=False,
        corpus_root=corpus.root,
    )
    return out


def _answer(pipe) -> dict:
    out = pipe.run(QUESTION).to_dict()
    out.pop("timings_ms", None)
    return out


def _stage(stage: str, name: str, options: dict, index: Path) -> dict:
    """A recipe with the hash embedder wherever a stage embeds, one stage set to ``name``."""
    cfg: dict = {
        "index": str(index),
        "retriever": {"name": "hybrid", "embedder": HASH},
        "generator": {"name": "extractive", "embedder": HASH},
        "inserter": {"name": "rule", "embedder": HASH},
    }
    cfg[stage] = {"name": name, **options}
    return cfg


OFFLINE = [
    ("retriever", "hybrid", {"top_k": 3, "mode": "dense", "min_score": 0.1, "embedder": HASH}),
    ("generator", "extractive", {"max_words": 60, "embedder": None}),
    ("inserter", "none", {}),
    ("inserter", "anchored", {"threshold": 0.3, "embedder": HASH}),
    ("inserter", "rule", {"threshold": 0.2, "embedder": HASH, "use_context": False}),
    ("inserter", "similar", {"embedder": HASH}),
    pytest.param(
        "inserter",
        "learned",
        {"embedder": HASH},
    ),
    ("merger", "default", {}),
]
# built offline (a local model loads on its first call; an endpoint is not called until then),
# not run
NO_ANSWER = [
    ("generator", "openai", {"model": "m", "base_url": "http://127.0.0.1:9/v1", "deadline": 5}),
    ("generator", "local", {"model": "smollm2-135m", "max_tokens": 50}),
    ("inserter", "llm", {"model": "m", "base_url": "http://127.0.0.1:9/v1", "fallback": "none"}),
    ("inserter", "llm", {"model": "smollm2-135m", "with_context": False}),
]


def test_every_registered_backend_is_covered() -> None:
    rows = [p.values if hasattr(p, "values") else p for p in OFFLINE + NO_ANSWER]
    covered = {(st, name) for st, name, _ in rows}
    for stage, registry in (
        ("retriever", RETRIEVERS),
        ("generator", GENERATORS),
        ("inserter", INSERTERS),
        ("merger", MERGERS),
    ):
        assert {(stage, n) for n in registry.names()} <= covered


@pytest.mark.parametrize(("stage", "name", "options"), OFFLINE, ids=lambda v: str(v))
def test_round_trip_gives_the_same_recipe_and_answer(demo_index, stage, name, options) -> None:
    first = build_pipeline(_stage(stage, name, options, demo_index))
    dumped = first.to_dict()
    assert dumped[stage]["name"] == name
    for key, value in options.items():  # what was set is recorded as set
        assert dumped[stage][key] == value
    second = build_pipeline(yaml.safe_load(first.to_yaml()))
    assert second.to_dict() == dumped
    assert _answer(second) == _answer(first)


@pytest.mark.parametrize(("stage", "name", "options"), NO_ANSWER, ids=lambda v: str(v))
def test_model_stages_round_trip(demo_index, stage, name, options) -> None:
    first = build_pipeline(_stage(stage, name, options, demo_index))
    dumped = first.to_dict()
    for key, value in options.items():
        assert dumped[stage][key] == value
    assert dumped[stage]["client"] is None  # built from the spec, not handed in
    assert build_pipeline(dumped).to_dict() == dumped


def test_every_option_is_recorded(demo_index) -> None:
    """All constructor options, defaults included, so the recipe pins the behaviour."""
    retriever = HybridRetriever(demo_index, embedder=HashEmbedder(dim=256))
    pipe = Pipeline(retriever, ExtractiveGenerator(embedder=None), AnchoredInserter())
    d = pipe.to_dict()
    assert d["index"] == str(demo_index)
    assert "index" not in d["retriever"]  # the folder, not the loaded index
    assert d["retriever"]["embedder"] == HASH
    assert d["retriever"]["top_k"] == 5 and d["retriever"]["section_words"] == 700
    assert d["generator"]["max_words"] == 140 and d["generator"]["procedure_words"] == 180
    assert d["inserter"] == {
        "name": "anchored",
        "match": 0.75,
        "reach": 2,
        "max_per_sentence": 2,
        "spread": 3,
        "threshold": 0.4,
        "stray_threshold": None,
        "fallback": 3,
        "embedder": "all-MiniLM-L6-v2",
    }
    assert d["merger"] == {"name": "default"}


class UpperInserter:
    """A user inserter: puts the first candidate after sentence ``after``."""

    def __init__(self, *, after: int = 1, embedder: object = None) -> None:
        self.after = after
        self.embedder = embedder

    def insert(self, answer, candidates) -> Placement:
        if not candidates:
            return Placement()
        return Placement((Slot(candidates[0].image_id, self.after),))


def test_user_class_round_trips_by_dotted_path(demo_index) -> None:
    retriever = HybridRetriever(demo_index, embedder=HashEmbedder(dim=256))
    pipe = Pipeline(
        retriever,
        ExtractiveGenerator(embedder=None),
        UpperInserter(after=2, embedder=HashEmbedder()),
    )
    d = pipe.to_dict()
    assert d["inserter"] == {
        "name": f"{__name__}:UpperInserter",
        "after": 2,
        "embedder": {
            "class": "m2io.testing.hash_embedder:HashEmbedder",
            "dim": 64,
            "name": "test-hash",
        },
    }
    again = build_pipeline(d)
    assert isinstance(again.inserter, UpperInserter) and again.inserter.after == 2
    assert isinstance(again.inserter.embedder, HashEmbedder)
    assert again.to_dict() == d
    assert _answer(again) == _answer(pipe)


def test_a_component_that_does_not_keep_its_options_is_named(demo_index) -> None:
    class Forgetful(UpperInserter):
        def __init__(self, *, after: int = 1, gap: int = 0) -> None:
            super().__init__(after=after)

    pipe = Pipeline(
        HybridRetriever(demo_index, embedder=HashEmbedder(dim=256)),
        ExtractiveGenerator(embedder=None),
        Forgetful(),
    )
    with pytest.raises(ValueError, match="Forgetful.*gap"):
        pipe.to_config()


def test_unknown_keys_are_clear_errors(demo_index, tmp_path) -> None:
    recipe = tmp_path / "r.yaml"
    recipe.write_text(f"index: {demo_index}\nretreiver: hybrid\n")
    with pytest.raises(ValueError, match="retreiver"):
        load_pipeline(recipe)
    bad_option = _stage("inserter", "rule", {"treshold": 0.3}, demo_index)
    with pytest.raises(ValueError, match="treshold.*valid: threshold"):
        build_pipeline(bad_option)
    nested = _stage("inserter", "rule", {"embedder": {**HASH, "dims": 3}}, demo_index)
    with pytest.raises(ValueError, match="inserter.embedder.*'dims'"):
        build_pipeline(nested)


def test_yaml_file_round_trip(demo_index, tmp_path) -> None:
    first = build_pipeline(_stage("inserter", "anchored", {"embedder": HASH}, demo_index))
    path = tmp_path / "pipe.yaml"
    path.write_text(first.to_yaml(), encoding="utf-8")
    assert load_config(path).to_dict() == first.to_dict()
    assert config_from_yaml(first.to_yaml()) == first.to_config()
    assert load_pipeline(path).to_dict() == first.to_dict()


def test_cli_dump_config_is_the_recipe_it_builds(demo_index, tmp_path, capsys) -> None:
    args = ["ask", "--dump-config", "--index", str(demo_index), "--inserter", "rule"]
    args += ["--set", "inserter.threshold=0.25", "--set", "retriever.embedder=" + json.dumps(HASH)]
    assert main(args) == 0
    text = capsys.readouterr().out
    dumped = yaml.safe_load(text)
    assert dumped["inserter"]["name"] == "rule" and dumped["inserter"]["threshold"] == 0.25
    assert dumped["retriever"]["embedder"] == HASH
    recipe = tmp_path / "dumped.yaml"
    recipe.write_text(text, encoding="utf-8")
    assert main(["ask", "--dump-config", "--config", str(recipe)]) == 0
    assert yaml.safe_load(capsys.readouterr().out) == dumped
    # and the recipe answers like the flags
    assert main(["ask", "--json", "--config", str(recipe), QUESTION]) == 0
    via_recipe = json.loads(capsys.readouterr().out)
    assert via_recipe["segments"]
    assert PipelineConfig.from_dict(dumped).to_dict() == dumped


# --- one --set on every command that takes options (issue 14, item 3) ---------------------------


def test_demo_and_serve_take_set_and_dump_config(demo_index, capsys) -> None:
    demo = ["demo", "--index", str(demo_index), "--inserter", "rule", "--dump-config"]
    assert main([*demo, "--set", "inserter.threshold=0.3", "--set", "generator.max_words=90"]) == 0
    dumped = yaml.safe_load(capsys.readouterr().out)
    assert dumped["inserter"]["threshold"] == 0.3 and dumped["generator"]["max_words"] == 90
    serve = ["serve", "--index", str(demo_index), "--dump-config", "--set", "retriever.top_k=7"]
    assert main(serve) == 0
    assert yaml.safe_load(capsys.readouterr().out)["retriever"]["top_k"] == 7


def test_index_options_are_set_like_pipeline_options(tmp_path, monkeypatch, capsys) -> None:
    import m2io.embed.text as text_mod
    from m2io.index import IndexManifest

    asked: list[str] = []
    monkeypatch.setattr(
        text_mod,
        "load_text_embedder",
        lambda name="", backend=None: asked.append(name) or HashEmbedder(),
    )
    out = tmp_path / "idx"
    args = ["index", str(corpus_path()), "-q", "--set", f"index.out={out}"]
    assert main([*args, "--set", "index.max_words=60", "--set", "index.embedder=my-model"]) == 0
    assert asked == ["my-model"]
    assert IndexManifest.read(out).max_words == 60
    assert main(["index", str(corpus_path()), "--set", "index.max_wrds=60"]) == 2
    assert "index.max_wrds=60" in capsys.readouterr().err


def test_the_learned_inserter_reads_the_index_corpus_profile_unless_told_otherwise(demo_index):
    """`--inserter learned` with an index places by that corpus's own habits (issue 11): the demo
    corpus announces its figures ("the figure below") and never opens a section with one."""
    from m2io.factory import build_inserter

    ins = build_inserter(PipelineConfig(index=str(demo_index), inserter=StageConfig("learned")))
    assert ins.profile is not None
    assert ins.profile.lift["forward"] > 0 > ins.profile.lift["start"]
    neutral = PipelineConfig(
        index=str(demo_index), inserter=StageConfig("learned", {"profile": None})
    )
    assert build_inserter(neutral).profile is None


PIPELINE_RECIPES = sorted(
    p
    for p in (Path(__file__).resolve().parents[1] / "recipes").glob("*.yaml")
    if "index" in (yaml.safe_load(p.read_text(encoding="utf-8")) or {})
)


def test_the_shipped_pipeline_recipes_are_found():
    names = {p.name for p in PIPELINE_RECIPES}
    assert {"default.yaml", "openai.yaml", "ollama.yaml", "singleshot.yaml"} <= names


@pytest.mark.parametrize("recipe", PIPELINE_RECIPES, ids=lambda p: p.name)
def test_every_shipped_pipeline_recipe_builds(recipe: Path, demo_index: Path, monkeypatch):
    """A recipe the README points at must load and assemble (no network is touched when a
    pipeline is built: model clients connect on their first call)."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    cfg = load_config(recipe, [f"index={demo_index}"])
    pipe = build_pipeline(cfg)
    assert isinstance(pipe, Pipeline) == (cfg.mode == "staged")
    assert isinstance(pipe.retriever, HybridRetriever)


def test_the_default_recipe_is_the_default(demo_index: Path):
    """recipes/default.yaml says what `m2io ask` runs with no --config."""
    recipe = Path(__file__).resolve().parents[1] / "recipes" / "default.yaml"
    shipped = load_config(recipe, [f"index={demo_index}"]).to_dict()
    assert shipped == PipelineConfig(index=str(demo_index)).to_dict()
