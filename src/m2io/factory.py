"""Build pipelines and components from a :class:`~m2io.config.PipelineConfig`."""

from __future__ import annotations

from typing import Any

from m2io.config import PipelineConfig, StageConfig
from m2io.generators.base import GENERATORS
from m2io.inserters.base import INSERTERS
from m2io.mergers.base import MERGERS
from m2io.retrievers.base import RETRIEVERS


def _create(registry: Any, sc: StageConfig, **extra: Any) -> Any:
    cls = registry.get(sc.name)
    try:
        return cls(**extra, **sc.options)
    except TypeError as err:
        raise ValueError(f"bad options for {registry.kind} {sc.name!r}: {err}") from err


def build_retriever(cfg: PipelineConfig) -> Any:
    return _create(RETRIEVERS, cfg.retriever, index=cfg.index)


def build_generator(cfg: PipelineConfig) -> Any:
    return _create(GENERATORS, cfg.generator)


def build_inserter(cfg: PipelineConfig) -> Any:
    return _create(INSERTERS, cfg.inserter)


def build_pipeline(cfg: PipelineConfig) -> Any:
    """A :class:`~m2io.pipeline.Pipeline` or, for ``mode: singleshot``, a Single-Shot pipeline."""
    retriever = build_retriever(cfg)
    merger = _create(MERGERS, cfg.merger)
    if cfg.mode == "singleshot":
        from m2io.singleshot import SingleShotPipeline

        llm = dict(cfg.llm)
        max_tokens = int(llm.pop("max_tokens", 500))
        backend = llm.pop("backend", "openai")
        if backend == "openai":
            from m2io.llm.client import ChatClient

            client = ChatClient(**llm)
        elif backend == "local":  # a transformers model in-process, e.g. model: smollm2-135m
            from m2io.llm.local import LocalChatModel

            llm.pop("base_url", None)
            client = LocalChatModel(**llm)
        else:
            raise ValueError(f"llm.backend must be 'openai' or 'local', got {backend!r}")
        return SingleShotPipeline(retriever, client, merger, max_tokens=max_tokens)
    from m2io.pipeline import Pipeline

    return Pipeline(retriever, build_generator(cfg), build_inserter(cfg), merger)
