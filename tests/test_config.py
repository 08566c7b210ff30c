import pytest

from m2io.config import PipelineConfig, load_config


def test_recipe_and_overrides(tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("index: idx\nretriever: {name: hybrid, top_k: 3}\ninserter: rule\n")
    cfg = load_config(recipe, ["inserter.threshold=0.4", "retriever.top_k=8", "generator=openai"])
    assert cfg.index == "idx"
    assert cfg.retriever.options == {"top_k": 8}
    assert cfg.inserter.name == "rule" and cfg.inserter.options == {"threshold": 0.4}
    assert cfg.generator.name == "openai"
    assert PipelineConfig.from_dict(cfg.to_dict()).to_dict() == cfg.to_dict()


def test_bad_config_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="unknown config keys"):
        PipelineConfig.from_dict({"retreiver": "hybrid"})
    with pytest.raises(ValueError, match="mode"):
        load_config(None, ["mode=fast"])
    with pytest.raises(ValueError, match="section.key=value"):
        load_config(None, ["oops"])


def test_singleshot_backend_is_validated(monkeypatch):
    import m2io.factory as factory

    monkeypatch.setattr(factory, "build_retriever", lambda cfg: object())
    cfg = load_config(None, ["mode=singleshot", "llm.backend=nope", "llm.model=x"])
    with pytest.raises(ValueError, match="llm.backend"):
        factory.build_pipeline(cfg)


def test_registry_names_a_class_back() -> None:
    """The recipe writes a registered backend by its name and a user class by its dotted path."""
    from m2io.inserters.base import INSERTERS
    from m2io.inserters.rule import MostSimilarInserter, RuleInserter
    from m2io.testing.hash_embedder import HashEmbedder

    assert INSERTERS.name_of(RuleInserter) == "rule"
    assert INSERTERS.name_of(MostSimilarInserter) == "similar"
    path = INSERTERS.name_of(HashEmbedder)
    assert path == "m2io.testing.hash_embedder:HashEmbedder"
    assert INSERTERS.get(path) is HashEmbedder


def test_recipe_yaml_round_trip_and_values() -> None:
    from pathlib import Path

    import numpy as np

    from m2io.config import build_value, config_from_yaml, plain_value
    from m2io.testing.hash_embedder import HashEmbedder

    cfg = load_config(None, ["inserter=rule", "inserter.threshold=0.3", "llm.deadline=9"])
    assert config_from_yaml(cfg.to_yaml()) == cfg
    assert plain_value({"a": (np.float32(0.5), Path("x/y"))}) == {"a": [0.5, "x/y"]}
    emb = build_value(plain_value(HashEmbedder(dim=8, name="h")))
    assert isinstance(emb, HashEmbedder) and (emb.dim, emb.name) == (8, "h")
    with pytest.raises(ValueError, match="cannot import"):
        build_value({"class": "no.such.module:Thing"})


def test_the_index_folder_from_the_environment_is_read_at_the_command_line_only(
    tmp_path, monkeypatch
):
    """Issue 23 item 3: ``$M2IO_INDEX`` is the command line's default, not the library's."""
    from m2io.cli.common import config_from_args
    from m2io.cli.main import build_parser

    monkeypatch.setenv("M2IO_INDEX", str(tmp_path / "env.index"))
    assert PipelineConfig().index == ".m2io/index"
    args = build_parser().parse_args(["ask", "q"])
    assert config_from_args(args).index == str(tmp_path / "env.index")
    args = build_parser().parse_args(["ask", "--index", "flag.index", "q"])
    assert config_from_args(args).index == "flag.index"
    recipe = tmp_path / "r.yaml"
    recipe.write_text("index: recipe.index\n")
    args = build_parser().parse_args(["ask", "--config", str(recipe), "q"])
    assert config_from_args(args).index == "recipe.index"
