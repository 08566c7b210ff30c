"""Flags shared by the subcommands that build a pipeline (ask, eval, serve, demo).

One config story (docs/design.md, The spine): a YAML recipe (``--config``), then the named flags,
then ``--set section.key=value``; ``--dump-config`` prints the recipe of the pipeline the command
line builds, every option recorded, and ``--config`` reads it back.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from m2io.cli import environment
from m2io.config import (
    DEFAULT_INDEX,
    PipelineConfig,
    StageConfig,
    apply_override,
    load_config,
    parse_override,
)

REMOTE_IMAGES_HELP = (
    "place http(s) image URLs from the corpus in the HTML/Markdown output (off by default: the "
    "page then loads nothing from the network; javascript:, data: and file: URLs are never used)"
)


@contextmanager
def muted(logger_name: str, level: int = logging.ERROR) -> Iterator[None]:
    """Drop records below ``level`` from one logger inside the block (its level is restored).

    For a library summary that a subcommand prints itself, better, at the end.
    """
    log = logging.getLogger(logger_name)
    before = log.level
    log.setLevel(level)
    try:
        yield
    finally:
        log.setLevel(before)


def check_output_file(value: str, flag: str) -> Path:
    """``value`` as a path a file can be written to, checked before any work is done.

    Raises:
        ValueError: ``value`` is a directory or its parent folder does not exist (the CLI reports
            it in one line and exits 2).
    """
    path = Path(value)
    if not value:
        raise ValueError(f"{flag} needs a file name")
    if path.is_dir():
        raise ValueError(f"{flag} {value!r} is a directory; give a file name inside it")
    parent = path.parent
    if not parent.is_dir():
        raise ValueError(f"{flag} {value!r}: folder {str(parent)!r} does not exist")
    return path


def add_pipeline_arguments(
    p: argparse.ArgumentParser,
    *,
    with_index: bool = True,
    index_help: str = "index folder (default: $M2IO_INDEX or .m2io/index)",
) -> None:
    g = p.add_argument_group("pipeline (flags override --config)")
    g.add_argument("--config", metavar="RECIPE.yaml", help="YAML recipe (see recipes/)")
    if with_index:
        g.add_argument("--index", help=index_help)
    g.add_argument("--mode", choices=["staged", "singleshot"], help="pipeline shape")
    g.add_argument("--retriever", help="retriever backend (hybrid)")
    g.add_argument("--top-k", type=int, help="chunks to retrieve")
    g.add_argument("--generator", help="text generator backend (extractive, openai, ...)")
    g.add_argument("--generator-model", help="model name for an LLM generator / single-shot")
    g.add_argument("--base-url", help="OpenAI-compatible endpoint for generator / single-shot")
    g.add_argument(
        "--inserter", help="image inserter backend (default learned; anchored, rule, none, ...)"
    )
    g.add_argument("--model", help="model folder or name for the inserter (learned, llm)")
    add_set_argument(g, "inserter.threshold=0.4")
    g.add_argument(
        "--dump-config",
        action="store_true",
        help="print the YAML recipe of the pipeline these flags build (every option, defaults "
        "included) and exit; --config FILE builds it again",
    )


def add_set_argument(
    p: argparse.ArgumentParser | argparse._ArgumentGroup, example: str, *, help: str | None = None
) -> None:
    """``--set SECTION.KEY=VALUE`` (repeatable): every command's way to set any option."""
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help=help or f"any option, e.g. --set {example} (repeatable)",
    )


def recipe_of(pipeline: object, cfg: PipelineConfig) -> str:
    """The YAML recipe of a built pipeline, every option recorded (``Pipeline.to_yaml``); ``cfg``
    itself for a pipeline that cannot describe itself (Single-Shot)."""
    to_config = getattr(pipeline, "to_config", None)
    if to_config is None:
        return cfg.to_yaml()
    recipe = to_config()
    # how the embedders run is no stage's option: the stages hold them loaded
    recipe.embed_backend = cfg.embed_backend
    return recipe.to_yaml()


def dump_config(cfg: PipelineConfig) -> str:
    """The YAML recipe of the pipeline ``cfg`` builds, read back from the built pipeline."""
    from m2io.factory import build_pipeline

    return recipe_of(build_pipeline(cfg), cfg)


def apply_flag_overrides(
    args: argparse.Namespace, items: list[str], section: str, keys: dict[str, str]
) -> None:
    """Apply ``--set SECTION.KEY=VALUE`` to a command's own flags (``keys``: key → attribute).

    Values are read as a recipe's are (:func:`m2io.config.parse_override`). Raises a one-line
    error naming the valid keys.
    """
    for item in items:
        head, sub, value = parse_override(item)
        if head != section or sub not in keys:
            valid = ", ".join(f"{section}.{k}" for k in keys)
            raise ValueError(f"--set {item!r}: expected one of {valid} followed by =VALUE")
        setattr(args, keys[sub], value)


INDEX_ENV = environment.INDEX_ENV


def default_index_dir() -> str:
    """``$M2IO_INDEX`` if set, else ``.m2io/index`` in the working directory."""
    return environment.index_dir() or DEFAULT_INDEX


def fill_from_environment(
    cfg: PipelineConfig, env: Mapping[str, str] | None = None, *, index: bool = True
) -> None:
    """Fill what the recipe, the flags and ``--set`` leave open from the environment (read here,
    at the edge, and passed on in the recipe; :mod:`m2io.cli.environment` lists the variables):
    the index folder, ``embed_backend``, ``llm.base_url`` (unless the ``llm`` model is local)
    and ``llm.cache_dir`` (which reaches the stages that run a local model). ``index=False``
    leaves the index alone (a command that answers from none)."""
    from m2io.llm.models import choose_backend

    if index and cfg.index == DEFAULT_INDEX:
        cfg.index = environment.index_dir(env) or DEFAULT_INDEX
    if cfg.embed_backend is None:
        cfg.embed_backend = environment.embed_backend(env)
    url = environment.base_url(env)
    llm_model, llm_backend = cfg.llm.get("model"), cfg.llm.get("backend")
    if url and "base_url" not in cfg.llm and llm_backend in (None, "openai", "local"):
        if choose_backend(llm_model, None, llm_backend, default="openai") == "openai":
            cfg.llm["base_url"] = url
    cache = environment.cache_dir(env)
    if cache and "cache_dir" not in cfg.llm:
        cfg.llm["cache_dir"] = cache


def config_from_args(args: argparse.Namespace) -> PipelineConfig:
    """Recipe first, then the explicit flags, then ``--set`` overrides, then the environment for
    what none of them names (:func:`fill_from_environment`)."""
    cfg = load_config(args.config)
    # the flags are typed already (argparse): they are set as they are, not parsed again
    if getattr(args, "index", None):
        cfg.index = args.index
    if args.mode:
        cfg.mode = args.mode
        cfg.__post_init__()
    for stage in ("retriever", "generator", "inserter"):
        if getattr(args, stage):  # a backend named: its recipe options are for another
            setattr(cfg, stage, StageConfig(getattr(args, stage)))
    if args.top_k is not None:
        cfg.retriever.options["top_k"] = args.top_k
    if args.model:
        cfg.inserter.options["model"] = args.model
    # generator endpoint flags apply to an LLM generator and to the single-shot call
    for key, value in (("model", args.generator_model), ("base_url", args.base_url)):
        if value:
            if cfg.generator.name != "extractive":
                cfg.generator.options[key] = value
            cfg.llm[key] = value
    for item in args.set:
        apply_override(cfg, item)
    fill_from_environment(cfg)
    return cfg


def index_config(args: argparse.Namespace) -> PipelineConfig | None:
    """:func:`config_from_args` for a command that answers from an index (``ask``, ``serve``).

    Refuses a missing index with the command that builds one; under ``--dump-config`` prints
    the recipe and returns None (the command is done).
    """
    cfg = config_from_args(args)
    if not Path(cfg.index).exists():
        raise FileNotFoundError(
            f"no index at {cfg.index}; build one with: m2io index SOURCE --out {cfg.index}"
        )
    if args.dump_config:
        print(dump_config(cfg), end="")
        return None
    return cfg


def add_item_arguments(p: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """--data/--subset and how inserter-only items are built (eval-inserter, build-inserter-data)."""
    from m2io.evaluation.items import DISTRACTOR_MODES

    p.add_argument("--data", required=True, help="MRAMG-layout folder")
    p.add_argument("--subset", help="subset name (default: the only one in --data)")
    p.add_argument(
        "--distractors",
        choices=DISTRACTOR_MODES,
        default="random",
        help="random images from other documents, or the most similar ones",
    )
    p.add_argument("--ratio", type=float, default=1.0, help="distractors per gold image")
    p.add_argument("--seed", type=int, default=0, help="seeds distractors and candidate order")
    p.add_argument(
        "--with-context",
        action="store_true",
        help="give candidates their source context (leaks positions in derived sets)",
    )
