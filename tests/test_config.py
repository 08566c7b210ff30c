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
