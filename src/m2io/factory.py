"""Build pipelines and components from a :class:`~m2io.config.PipelineConfig`.

Stage options are checked against the backend's keyword arguments before anything is built, so a
typo is a one-line error naming the valid keys. The endpoint settings of the ``llm`` section
(``SHARED_LLM_KEYS``: ``base_url``, ``api_key_env``, timeouts, retries) reach every stage that talks
to a model and does not set its own: the OpenAI generator and the LLM inserter (whose ``model``
also defaults to ``llm.model`` then). Whether a stage's model is an endpoint or a local model is
decided by :func:`m2io.llm.models.choose_backend` (a local one gets no endpoint settings), the
same rule :func:`m2io.llm.models.make_chat_model` follows when it builds the model.

It builds back what :meth:`m2io.pipeline.Pipeline.to_config` writes: an option given as a mapping
with a ``class`` key (a nested embedder, chat model or user object) is built first
(:func:`m2io.config.build_value`), so ``build_pipeline(pipe.to_config())`` is ``pipe`` again.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from m2io.config import (
    SHARED_LLM_KEYS,
    PipelineConfig,
    StageConfig,
    accepted_options,
    build_value,
    check_llm_key,
    load_config,
)
from m2io.embed.text import load_text_embedder
from m2io.generators.base import GENERATORS, Generator
from m2io.index.manifest import IndexManifest
from m2io.inserters.base import INSERTERS, Inserter
from m2io.llm.base import ChatModel
from m2io.llm.models import BACKENDS, ChatModelSpec, choose_backend, make_chat_model
from m2io.mergers.base import MERGERS
from m2io.pipeline import Pipeline
from m2io.retrievers.base import RETRIEVERS, Retriever
from m2io.singleshot import SingleShotPipeline

if TYPE_CHECKING:
    from m2io.learned.profile import CorpusProfile

logger = logging.getLogger(__name__)

_REGISTRIES = {
    "retriever": RETRIEVERS,
    "generator": GENERATORS,
    "inserter": INSERTERS,
    "merger": MERGERS,
}
# Passed by the factory itself, not options a user sets.
_GIVEN = {"retriever": ("index",)}

__all__ = [
    "accepted_options",
    "build_chat_client",
    "build_generator",
    "build_inserter",
    "build_pipeline",
    "build_retriever",
    "check_options",
    "load_pipeline",
    "stage_options",
    "validate_config",
]


def check_options(stage: str, sc: StageConfig) -> None:
    """Raise a one-line error when ``sc.options`` has keys the backend does not take."""
    registry = _REGISTRIES[stage]
    valid = accepted_options(registry.get(sc.name))
    if valid is None:
        return
    valid = [k for k in valid if k not in _GIVEN.get(stage, ())]
    unknown = sorted(set(sc.options) - set(valid))
    if unknown:
        names = ", ".join(repr(k) for k in unknown)
        raise ValueError(
            f"unknown option {names} for {stage} {sc.name!r}; valid: {', '.join(valid) or '(none)'}"
        )


def validate_config(cfg: PipelineConfig) -> None:
    """Check every stage's options and the ``llm`` section before building anything."""
    for key in cfg.llm:
        check_llm_key(key)
    for stage in _REGISTRIES:
        check_options(stage, getattr(cfg, stage))


def stage_options(stage: str, cfg: PipelineConfig) -> dict[str, Any]:
    """The stage's options with the shared ``llm`` settings it takes and lacks: the endpoint
    settings, and ``cache_dir`` (where a local ``smollm2-135m`` is converted)."""
    sc: StageConfig = getattr(cfg, stage)
    options = dict(sc.options)
    valid = accepted_options(_REGISTRIES[stage].get(sc.name)) or []
    if "cache_dir" in valid and "cache_dir" in cfg.llm and "cache_dir" not in options:
        options["cache_dir"] = cfg.llm["cache_dir"]
    if "base_url" not in valid:
        return options
    model, url, backend = options.get("model"), options.get("base_url"), options.get("backend")
    # (a bad backend is left for the stage to reject with its own message)
    if backend in (None, *BACKENDS) and choose_backend(model, url, backend, default="openai") == (
        "local"
    ):
        return options  # a local model: endpoint settings do not apply
    for key in SHARED_LLM_KEYS:
        if key in cfg.llm and key in valid and key not in options:
            options[key] = cfg.llm[key]
    if options.get("base_url") and "model" in valid and not options.get("model"):
        if cfg.llm.get("model"):
            options["model"] = cfg.llm["model"]
    return options


def _create(stage: str, cfg: PipelineConfig, **extra: Any) -> Any:
    sc: StageConfig = getattr(cfg, stage)
    registry = _REGISTRIES[stage]
    check_options(stage, sc)
    cls = registry.get(sc.name)
    options = {
        k: build_value(v, where=f"{stage}.{k}") for k, v in stage_options(stage, cfg).items()
    }
    if cfg.embed_backend is not None and "embedder" not in extra:
        _load_embedder(stage, cls, options, cfg)
    try:
        built = cls(**extra, **options)
    except TypeError as err:
        raise ValueError(f"bad options for {registry.kind} {sc.name!r}: {err}") from err
    use_backend = getattr(built, "use_backend", None)
    if cfg.embed_backend is not None and callable(use_backend):
        use_backend(cfg.embed_backend)  # an embedder the stage chose itself (by name)
    return built


def _load_embedder(stage: str, cls: Any, options: dict[str, Any], cfg: PipelineConfig) -> None:
    """Under ``cfg.embed_backend``: the stage's text embedder, when named (by its option or the
    constructor's default; the retriever's default is the index's own model), is loaded now with
    that backend and handed to the stage loaded; one the stage picks itself from a name it holds
    (a policy's model) is loaded by its ``use_backend``. Stages that name the same model share one
    (:func:`~m2io.embed.text.load_text_embedder` keeps it)."""
    try:
        param = inspect.signature(cls).parameters.get("embedder")
    except (TypeError, ValueError):
        return
    if param is None:
        return
    default = None if param.default is inspect.Parameter.empty else param.default
    name = options.get("embedder", default)
    if name is None and stage == "retriever":
        name = IndexManifest.read(cfg.index).embedder
    if isinstance(name, str):
        options["embedder"] = load_text_embedder(name, backend=cfg.embed_backend)


def build_retriever(cfg: PipelineConfig) -> Retriever:
    return _create("retriever", cfg, index=cfg.index)


def build_generator(cfg: PipelineConfig, **given: Any) -> Generator:
    """The generator ``cfg`` names, with its options and the shared ``llm`` settings; ``given``
    are objects already built that it takes (the server hands on its loaded embedder)."""
    return _create("generator", cfg, **given)


def build_inserter(cfg: PipelineConfig, **given: Any) -> Inserter:
    """The inserter; one that reads a corpus profile (``learned``) gets the index's own (kept in
    the index folder, :func:`m2io.learned.profile.index_profile`), unless ``inserter.profile``
    names another. Without an index, or when its corpus is gone and no profile was kept, it
    places without one (neutral), with a warning in the second case. ``given`` as for
    :func:`build_generator`."""
    extra: dict[str, Any] = dict(given)
    valid = accepted_options(INSERTERS.get(cfg.inserter.name)) or []
    if cfg.index and "profile" in valid and "profile" not in cfg.inserter.options:
        extra["profile"] = inserter_profile(Path(cfg.index))
    return _create("inserter", cfg, **extra)


def inserter_profile(folder: Path) -> CorpusProfile | None:
    """The corpus profile a learned inserter serving the index in ``folder`` reads, or None
    (no index there; or its corpus gone and no profile kept: a warning)."""
    if not (folder / "manifest.json").is_file():
        return None
    from m2io.learned.profile import index_profile

    try:
        return index_profile(folder)
    except (OSError, ValueError) as err:
        logger.warning("no corpus profile for the inserter (%s); it places without one", err)
        return None


def build_chat_client(llm: dict[str, Any]) -> ChatModel:
    """The single-shot model from the ``llm`` section: an endpoint client or a local model
    (:func:`m2io.llm.models.make_chat_model`; ``backend`` defaults to ``openai`` unless ``model``
    names a local model)."""
    for key in llm:
        check_llm_key(key)
    options = {k: v for k, v in llm.items() if k != "max_tokens"}
    try:
        return make_chat_model(ChatModelSpec(**options))
    except ValueError as err:  # "backend must be ..." → "llm.backend must be ..."
        raise ValueError(f"llm.{err}") from err


def build_pipeline(cfg: PipelineConfig | Mapping[str, Any]) -> Pipeline | SingleShotPipeline:
    """A :class:`~m2io.pipeline.Pipeline` or, for ``mode: singleshot``, a Single-Shot pipeline.

    ``cfg`` is a recipe, or its dict form (``Pipeline.to_dict()``, a parsed YAML file).

    A Single-Shot pipeline falls back, when its model fails, to the staged pipeline on the same
    retrieval: the extractive generator and the configured inserter (rule if that is ``llm``,
    which would hit the same endpoint).
    """
    if isinstance(cfg, Mapping):
        cfg = PipelineConfig.from_dict(dict(cfg))
    validate_config(cfg)
    retriever = build_retriever(cfg)
    merger = _create("merger", cfg)
    if cfg.mode == "singleshot":
        max_tokens = int(cfg.llm.get("max_tokens", 500))
        client = build_chat_client(cfg.llm)
        inserter = None if cfg.inserter.name == "llm" else build_inserter(cfg)
        return SingleShotPipeline(
            retriever, client, merger, max_tokens=max_tokens, fallback_inserter=inserter
        )
    return Pipeline(retriever, build_generator(cfg), build_inserter(cfg), merger)


def load_pipeline(
    path: str | Path, overrides: list[str] | None = None
) -> Pipeline | SingleShotPipeline:
    """The pipeline a YAML recipe describes (``Pipeline.to_yaml()`` writes one), with optional
    ``section.key=value`` overrides."""
    return build_pipeline(load_config(path, overrides))
