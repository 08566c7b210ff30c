"""Pipeline configuration: dataclasses, YAML recipes and ``key=value`` overrides.

A recipe names each stage's backend and its keyword arguments::

    index: .m2io/index
    retriever: {name: hybrid, top_k: 5}
    generator: {name: openai, model: qwen2.5:3b, base_url: http://localhost:11434/v1}
    inserter: {name: anchored, max_per_sentence: 2}

Only this layer (and the CLI) reads configuration; components take typed keyword arguments.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

STAGES = ("retriever", "generator", "inserter", "merger")

# The ``llm`` section: the single-shot model, and endpoint settings shared with every stage that
# talks to a model (see ``SHARED_LLM_KEYS``).
LLM_KEYS = {
    "backend": "openai or local (default: local when model names a local folder or smollm2-135m, else openai)",
    "model": "model name on the endpoint, or a local model folder / smollm2-135m",
    "base_url": "OpenAI-compatible endpoint root (…/v1)",
    "api_key_env": "environment variable holding the API key",
    "max_tokens": "single-shot answer length cap",
    "idle_timeout": "seconds to wait for the next bytes of a streamed reply",
    "deadline": "seconds for a whole call, retries included",
    "timeout": "older name of deadline",
    "connect_timeout": "seconds to open a connection",
    "max_retries": "extra attempts after a connection failure or HTTP 429/503",
    "device": "local backend: auto, cpu, cuda or mps",
    "dtype": "local backend: torch dtype",
    "num_threads": "local backend: CPU threads",
    "max_input_tokens": "local backend: prompt length cap",
    "trust_remote_code": "local backend: passed to from_pretrained",
}
# Endpoint settings in ``llm`` that also reach the OpenAI generator and the LLM inserter (a
# stage's own option wins).
SHARED_LLM_KEYS = (
    "base_url",
    "api_key_env",
    "idle_timeout",
    "deadline",
    "connect_timeout",
    "max_retries",
)


def default_index_dir() -> str:
    """``$M2IO_INDEX`` if set, else ``.m2io/index`` in the working directory."""
    return os.environ.get("M2IO_INDEX", str(Path(".m2io") / "index"))


@dataclass
class StageConfig:
    """A backend name (registered, or ``pkg.module:Class``) and its keyword arguments."""

    name: str
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class PipelineConfig:
    """Everything needed to build a pipeline.

    Attributes:
        index: Index folder built by ``m2io index``.
        mode: ``"staged"`` (retriever → generator → inserter → merger) or ``"singleshot"``
            (one LLM call writes text and image tags; uses the ``llm`` section).
        llm: The single-shot model: ``backend`` (``openai``, default, with ``base_url``, ``model``,
            ``api_key_env``; or ``local`` with ``model``, a transformers folder or
            ``smollm2-135m``) and ``max_tokens``; endpoint settings (``base_url``,
            ``api_key_env``, ``idle_timeout``, ``deadline``, ``connect_timeout``, ``max_retries``)
            that also apply to the other stages that talk to a model. Keys: ``LLM_KEYS``.
    """

    index: str = field(default_factory=default_index_dir)
    mode: str = "staged"
    retriever: StageConfig = field(default_factory=lambda: StageConfig("hybrid"))
    generator: StageConfig = field(default_factory=lambda: StageConfig("extractive"))
    inserter: StageConfig = field(default_factory=lambda: StageConfig("anchored"))
    merger: StageConfig = field(default_factory=lambda: StageConfig("default"))
    llm: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.mode not in ("staged", "singleshot"):
            raise ValueError(f"mode must be 'staged' or 'singleshot', got {self.mode!r}")
        if not isinstance(self.llm, dict):
            raise ValueError("config section 'llm' must be a mapping")
        for key in self.llm:
            check_llm_key(key)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PipelineConfig:
        data = dict(data)
        unknown = set(data) - {"index", "mode", "llm", *STAGES}
        if unknown:
            raise ValueError(
                f"unknown config keys {sorted(unknown)}; valid: index, mode, llm, "
                f"{', '.join(STAGES)}"
            )
        kwargs: dict[str, Any] = {k: data[k] for k in ("index", "mode", "llm") if k in data}
        for stage in STAGES:
            if stage in data:
                kwargs[stage] = _stage(stage, data[stage])
        return cls(**kwargs)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"index": self.index, "mode": self.mode}
        for stage in STAGES:
            sc: StageConfig = getattr(self, stage)
            out[stage] = {"name": sc.name, **sc.options}
        if self.llm:
            out["llm"] = dict(self.llm)
        return out


def _stage(stage: str, value: Any) -> StageConfig:
    if isinstance(value, str):
        return StageConfig(value)
    if not isinstance(value, dict) or "name" not in value:
        raise ValueError(f"config section {stage!r} must be a name or a mapping with 'name'")
    opts = dict(value)
    return StageConfig(str(opts.pop("name")), opts)


def load_config(
    path: str | Path | None = None, overrides: list[str] | None = None
) -> PipelineConfig:
    """Read a YAML recipe (optional) and apply ``section.key=value`` overrides.

    Values are parsed as YAML scalars (``top_k=8`` is an int, ``x=true`` a bool).
    """
    data: dict[str, Any] = {}
    if path is not None:
        p = Path(path)
        try:
            data = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as err:
            raise ValueError(f"cannot read config {p}: {err}") from err
        if not isinstance(data, dict):
            raise ValueError(f"config {p} must be a YAML mapping")
    cfg = PipelineConfig.from_dict(data)
    for item in overrides or []:
        apply_override(cfg, item)
    return cfg


def apply_override(cfg: PipelineConfig, item: str) -> None:
    """Apply one ``section.key=value`` (or ``index=...``/``mode=...``) override in place."""
    key, sep, raw = item.partition("=")
    if not sep:
        raise ValueError(f"override {item!r} must look like section.key=value")
    value = yaml.safe_load(raw) if raw else ""
    section, _, sub = key.strip().partition(".")
    if section in ("index", "mode") and not sub:
        setattr(cfg, section, str(value))
        cfg.__post_init__()
    elif section == "llm" and sub:
        check_llm_key(sub)
        cfg.llm[sub] = value
    elif section in STAGES:
        sc: StageConfig = getattr(cfg, section)
        if not sub or sub == "name":
            setattr(cfg, section, StageConfig(str(value)))
        else:
            sc.options[sub] = value
    else:
        raise ValueError(
            f"override {item!r}: unknown section {section!r}; valid: index, mode, llm.KEY, "
            + ", ".join(f"{st}[.KEY]" for st in STAGES)
        )


def check_llm_key(key: str) -> None:
    """Raise a one-line error naming the valid keys when ``key`` is not an ``llm`` option."""
    if key not in LLM_KEYS:
        raise ValueError(f"unknown llm option {key!r}; valid: {', '.join(sorted(LLM_KEYS))}")
