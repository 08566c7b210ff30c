"""Pipeline configuration: dataclasses, YAML recipes and ``key=value`` overrides.

A recipe names each stage's backend and its keyword arguments::

    index: .m2io/index
    embed_backend: onnx        # optional: how embedders named without one run (onnx or torch)
    retriever: {name: hybrid, top_k: 5}
    generator: {name: openai, model: qwen2.5:3b, base_url: http://localhost:11434/v1}
    inserter: {name: learned, fallback: 3}

Only this layer (and the CLI) reads configuration; components take typed keyword arguments.
:class:`IndexOptions` is ``m2io index``'s record, and :func:`parse_override` reads the
``--set`` items of both (docs/design.md, How options reach the library).

The same recipe describes a pipeline assembled in Python (``Pipeline.to_config()``, see
docs/design.md, The spine): :func:`component_options` reads each constructor keyword argument
back from the component's attribute of the same name, and a nested component (an embedder, a
chat model, a user class) is written as a mapping with a ``class`` key, its dotted path, beside
its own options. :func:`build_value` turns such a mapping back into the object.
"""

from __future__ import annotations

import dataclasses
import inspect
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import Any

import yaml

from m2io.registry import Registry, class_path, import_path

STAGES = ("retriever", "generator", "inserter", "merger")
EMBED_BACKENDS = ("onnx", "torch")
"""The text embedder backends (:data:`m2io.embed.text.BACKENDS`; a test keeps them equal)."""

# The ``llm`` section: the single-shot model, and endpoint settings shared with every stage that
# talks to a model (see ``SHARED_LLM_KEYS``).
LLM_KEYS = {
    "backend": "openai or local (default: local when model names a local folder or smollm2-135m, else openai)",
    "model": "model name on the endpoint, or a local model folder / smollm2-135m",
    "base_url": "OpenAI-compatible endpoint root (…/v1)",
    "api_key_env": "environment variable holding the API key",
    "max_tokens": "single-shot answer length cap",
    "idle_timeout": "seconds to wait for the next bytes once tokens flow",
    "first_token_timeout": "seconds to wait for the first token, prompt reading included",
    "context_tokens": "the model's context size in tokens (default: asked from the server)",
    "deadline": "seconds for a whole call, retries included",
    "timeout": "older name of deadline",
    "connect_timeout": "seconds to open a connection",
    "max_retries": "extra attempts after a connection failure or HTTP 429/503",
    "device": "local backend: auto, cpu, cuda or mps",
    "dtype": "local backend: torch dtype",
    "num_threads": "local backend: CPU threads",
    "max_input_tokens": "local backend: prompt length cap",
    "trust_remote_code": "local backend: passed to from_pretrained",
    "cache_dir": "local backend: where smollm2-135m is converted (default ~/.cache/m2io)",
}
# Endpoint settings in ``llm`` that also reach the OpenAI generator and the LLM inserter (a
# stage's own option wins).
SHARED_LLM_KEYS = (
    "base_url",
    "api_key_env",
    "idle_timeout",
    "first_token_timeout",
    "context_tokens",
    "deadline",
    "connect_timeout",
    "max_retries",
)


DEFAULT_INDEX = str(Path(".m2io") / "index")
"""The index folder a recipe names when it names none (the command line also reads
``$M2IO_INDEX``: :func:`m2io.cli.common.default_index_dir`)."""


TOP_KEYS = ("index", "mode", "embed_backend")
"""Recipe keys that hold one value (the others are sections)."""


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
        embed_backend: ``"onnx"`` or ``"torch"``: how the text embedders named without a backend
            are run, the query embedder of the index included (None: ONNX for the default
            model when installed, else torch; :func:`m2io.embed.text.resolve_backend`). The
            command line fills it from ``$M2IO_EMBED_BACKEND``.
        llm: The single-shot model: ``backend`` (``openai``, default, with ``base_url``, ``model``,
            ``api_key_env``; or ``local`` with ``model``, a transformers folder or
            ``smollm2-135m``) and ``max_tokens``; endpoint settings (``base_url``,
            ``api_key_env``, ``idle_timeout``, ``deadline``, ``connect_timeout``, ``max_retries``)
            that also apply to the other stages that talk to a model. Keys: ``LLM_KEYS``.
    """

    index: str = DEFAULT_INDEX
    mode: str = "staged"
    retriever: StageConfig = field(default_factory=lambda: StageConfig("hybrid"))
    generator: StageConfig = field(default_factory=lambda: StageConfig("extractive"))
    inserter: StageConfig = field(default_factory=lambda: StageConfig("learned"))
    merger: StageConfig = field(default_factory=lambda: StageConfig("default"))
    llm: dict[str, Any] = field(default_factory=dict)
    embed_backend: str | None = None

    def __post_init__(self) -> None:
        if self.mode not in ("staged", "singleshot"):
            raise ValueError(f"mode must be 'staged' or 'singleshot', got {self.mode!r}")
        check_choice("embed_backend", self.embed_backend, EMBED_BACKENDS, optional=True)
        if not isinstance(self.llm, dict):
            raise ValueError("config section 'llm' must be a mapping")
        for key in self.llm:
            check_llm_key(key)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PipelineConfig:
        data = dict(data)
        unknown = set(data) - {*TOP_KEYS, "llm", *STAGES}
        if unknown:
            raise ValueError(
                f"unknown config keys {sorted(unknown)}; valid: {', '.join(TOP_KEYS)}, llm, "
                f"{', '.join(STAGES)}"
            )
        kwargs: dict[str, Any] = {k: data[k] for k in (*TOP_KEYS, "llm") if k in data}
        for stage in STAGES:
            if stage in data:
                kwargs[stage] = _stage(stage, data[stage])
        return cls(**kwargs)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"index": self.index, "mode": self.mode}
        if self.embed_backend is not None:
            out["embed_backend"] = self.embed_backend
        for stage in STAGES:
            sc: StageConfig = getattr(self, stage)
            out[stage] = {"name": sc.name, **sc.options}
        if self.llm:
            out["llm"] = dict(self.llm)
        return out

    def to_yaml(self) -> str:
        """The recipe as YAML, in the order a person reads it; :func:`load_config` reads it back."""
        return yaml.safe_dump(self.to_dict(), sort_keys=False, allow_unicode=True)


def _stage(stage: str, value: Any) -> StageConfig:
    if isinstance(value, str):
        return StageConfig(value)
    if not isinstance(value, dict) or "name" not in value:
        raise ValueError(f"config section {stage!r} must be a name or a mapping with 'name'")
    opts = dict(value)
    return StageConfig(str(opts.pop("name")), opts)


def config_from_yaml(text: str) -> PipelineConfig:
    """A recipe from YAML text (what :meth:`PipelineConfig.to_yaml` writes)."""
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as err:
        raise ValueError(f"cannot parse config: {err}") from err
    if not isinstance(data, dict):
        raise ValueError("a config must be a YAML mapping")
    return PipelineConfig.from_dict(data)


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


def parse_override(item: str) -> tuple[str, str, Any]:
    """``"section.key=value"`` → ``(section, key, value)``, the value read as a YAML scalar
    (``top_k=8`` is an int, ``x=true`` a bool, ``x=`` an empty string); ``key`` is ``""`` for
    ``section=value``. The one reader of ``--set`` items (pipeline recipes and ``m2io index``).

    Raises:
        ValueError: no ``=``, or a value that is not YAML (the message quotes the item).
    """
    key, sep, raw = item.partition("=")
    if not sep or not key.strip():
        raise ValueError(f"override {item!r} must look like section.key=value")
    try:
        value = yaml.safe_load(raw) if raw else ""
    except yaml.YAMLError as err:
        raise ValueError(f"override {item!r}: the value is not YAML ({err})") from err
    section, _, sub = key.strip().partition(".")
    return section, sub, value


def apply_override(cfg: PipelineConfig, item: str) -> None:
    """Apply one ``section.key=value`` (or ``index=...``/``mode=...``/``embed_backend=...``)
    override in place."""
    section, sub, value = parse_override(item)
    if section in TOP_KEYS and not sub:
        empty = value in ("", None)  # embed_backend= (unset) is None; an empty index is ""
        setattr(cfg, section, None if empty and section == "embed_backend" else str(value))
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
            f"override {item!r}: unknown section {section!r}; valid: {', '.join(TOP_KEYS)}, llm.KEY, "
            + ", ".join(f"{st}[.KEY]" for st in STAGES)
        )


def check_choice(
    name: str, value: Any, choices: tuple[str, ...], *, optional: bool = False
) -> None:
    """Raise a one-line error naming ``choices`` when ``value`` is not one of them (or None, when
    ``optional``)."""
    if value is None and optional:
        return
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(choices)}; got {value!r}")


def check_llm_key(key: str) -> None:
    """Raise a one-line error naming the valid keys when ``key`` is not an ``llm`` option."""
    if key not in LLM_KEYS:
        raise ValueError(f"unknown llm option {key!r}; valid: {', '.join(sorted(LLM_KEYS))}")


# ------------------------------------------------------------------------------------------------
# m2io index

INDEX_FORMATS = ("auto", "mramg", "folder")
STORES = ("embedded", "milvus")
VECTOR_INDEXES = ("auto", "exact", "ivf", "hnsw")


@dataclass
class IndexOptions:
    """What ``m2io index`` builds: each field is a flag of the command and a key of its
    ``--set index.KEY=VALUE`` (read by :func:`parse_override`, as a recipe's are).

    Attributes:
        out: Index folder (None: the command line's default, ``$M2IO_INDEX`` or .m2io/index).
        format: Corpus layout, one of :data:`INDEX_FORMATS`.
        subset: MRAMG subset name.
        include: Globs of the folder-corpus files to read.
        exclude: Globs of the folder-corpus files to leave out.
        embedder: Text embedder model id or path (optionally ``NAME@onnx``/``NAME@torch``).
        embed_backend: ``"onnx"`` or ``"torch"`` for an embedder named without a backend.
        clip: CLIP model that also embeds pixels.
        max_words: Chunk size limit in words.
        rebuild: Embed everything again instead of reusing the index's vectors.
        store: Where vectors go, one of :data:`STORES`.
        milvus_uri: Milvus server (``store="milvus"``).
        vector_index: Embedded store's search, one of :data:`VECTOR_INDEXES`.
        ray: Embed on Ray workers: ``local``, ``auto`` or a cluster address; ``off`` in process;
            None lets the build choose by the Ray model (:mod:`m2io.embed.ray_plan`).
        sentence_vectors: Store a vector for every sentence an extractive answer can quote
            (:func:`~m2io.index.build.build_index`); None keeps what the index has.
    """

    out: str | None = None
    format: str = "auto"
    subset: str | None = None
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    embedder: str = "all-MiniLM-L6-v2"
    embed_backend: str | None = None
    clip: str | None = None
    max_words: int = 180
    rebuild: bool = False
    store: str = "embedded"
    milvus_uri: str | None = None
    vector_index: str = "auto"
    ray: str | None = None
    sentence_vectors: bool | None = None

    def __post_init__(self) -> None:
        self.include, self.exclude = tuple(self.include), tuple(self.exclude)
        if self.sentence_vectors is not None and not isinstance(self.sentence_vectors, bool):
            raise ValueError(
                f"index.sentence_vectors must be true or false, got {self.sentence_vectors!r}"
            )
        check_choice("index.format", self.format, INDEX_FORMATS)
        check_choice("index.store", self.store, STORES)
        check_choice("index.vector_index", self.vector_index, VECTOR_INDEXES)
        check_choice("index.embed_backend", self.embed_backend, EMBED_BACKENDS, optional=True)
        if not isinstance(self.max_words, int) or isinstance(self.max_words, bool):
            raise ValueError(f"index.max_words must be a whole number, got {self.max_words!r}")
        if self.max_words < 1:
            raise ValueError(f"index.max_words must be >= 1, got {self.max_words}")
        if not isinstance(self.rebuild, bool):
            raise ValueError(f"index.rebuild must be true or false, got {self.rebuild!r}")
        if not self.embedder or not isinstance(self.embedder, str):
            raise ValueError(f"index.embedder must be a model name, got {self.embedder!r}")

    def override(self, item: str) -> IndexOptions:
        """These options with one ``index.KEY=VALUE`` applied (a new record).

        Raises:
            ValueError: another section, an unknown key (the message lists the valid ones), or
                a value the field does not take.
        """
        section, key, value = parse_override(item)
        names = [f.name for f in dataclasses.fields(self)]
        if section != "index" or key not in names:
            valid = ", ".join(f"index.{k}" for k in names)
            raise ValueError(f"--set {item!r}: expected one of {valid} followed by =VALUE")
        default = getattr(IndexOptions(), key)
        if isinstance(default, tuple):  # a glob list: one glob, or a YAML list of them
            value = tuple(value) if isinstance(value, list) else (str(value),)
        elif value in ("", None) and default is None:
            value = None
        elif isinstance(value, int | float) and not isinstance(value, bool):
            value = value if isinstance(default, int) else str(value)  # subset=2024 is a name
        return dataclasses.replace(self, **{key: value})


# ------------------------------------------------------------------------------------------------
# Components → recipe and back

CLASS_KEY = "class"  # a Python keyword, so never the name of a constructor argument


def accepted_options(cls: Any) -> list[str] | None:
    """Keyword arguments ``cls`` takes, or None when it takes any (``**kwargs``) or cannot tell."""
    try:
        params = inspect.signature(cls).parameters.values()
    except (TypeError, ValueError):
        return None
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return None
    return [
        p.name
        for p in params
        if p.kind in (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    ]


def component_options(obj: Any, *, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """The keyword arguments that rebuild ``obj``, as plain data (see :func:`plain_value`).

    Each keyword parameter of its class's constructor is read from the instance attribute of
    the same name, else from ``_NAME``: where a component turns an option into something loaded
    (an embedder, a chat model) and serves that as a property, it keeps the option as given in
    ``_NAME``.

    Raises:
        ValueError: the constructor takes ``**kwargs``, or an option is not kept on the object
            (naming the class and the options).
    """
    cls = type(obj)
    params = accepted_options(cls)
    if params is None:
        raise ValueError(
            f"{class_path(cls)} takes **kwargs: its options cannot be read back into a recipe"
        )
    attrs = getattr(obj, "__dict__", {})
    out: dict[str, Any] = {}
    missing: list[str] = []
    for name in params:
        if name in skip:
            continue
        if name in attrs:
            out[name] = plain_value(attrs[name])
        elif f"_{name}" in attrs:
            out[name] = plain_value(attrs[f"_{name}"])
        else:
            missing.append(name)
    if missing:
        raise ValueError(
            f"{class_path(cls)} does not keep its option(s) {', '.join(missing)} as attributes "
            "of the same name, so it cannot be written as a recipe"
        )
    return out


def plain_value(value: Any) -> Any:
    """``value`` as YAML-safe data that :func:`build_value` turns back into an equal object.

    A text embedder loaded by name is its name; a dataclass or another object is a mapping of
    ``class`` (its dotted path) and its options.
    """
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if hasattr(value, "item") and type(value).__module__ == "numpy":  # a numpy scalar
        return value.item()
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, list | tuple):
        return [plain_value(v) for v in value]
    if isinstance(value, dict):
        return {str(k): plain_value(v) for k, v in value.items()}
    recipe_value = getattr(value, "recipe_value", None)
    if callable(recipe_value) and not isinstance(value, type):  # a loaded model: its name
        return recipe_value()
    if isinstance(value, type) or inspect.isroutine(value) or inspect.ismodule(value):
        raise ValueError(f"cannot write {value!r} into a recipe")
    if dataclasses.is_dataclass(value):
        fields = {f.name: getattr(value, f.name) for f in dataclasses.fields(value) if f.init}
        return {CLASS_KEY: class_path(type(value)), **plain_value(fields)}
    return {CLASS_KEY: class_path(type(value)), **component_options(value)}


def build_value(value: Any, *, where: str = "option") -> Any:
    """The inverse of :func:`plain_value`: a mapping with a ``class`` key becomes that class
    built with the mapping's other keys (themselves built the same way).

    Raises:
        ValueError: the class cannot be imported or does not take one of the keys (named).
    """
    if isinstance(value, list):
        return [build_value(v, where=where) for v in value]
    if not isinstance(value, dict):
        return value
    if CLASS_KEY not in value:
        return {k: build_value(v, where=f"{where}.{k}") for k, v in value.items()}
    opts = dict(value)
    path = opts.pop(CLASS_KEY)
    if not isinstance(path, str):
        raise ValueError(f"{where}: '{CLASS_KEY}' must be a dotted path such as pkg.module:Class")
    cls = import_path(path)
    valid = accepted_options(cls)
    unknown = sorted(set(opts) - set(valid)) if valid is not None else []
    if unknown:
        raise ValueError(
            f"{where}: unknown option {', '.join(map(repr, unknown))} for {path}; "
            f"valid: {', '.join(valid or []) or '(none)'}"
        )
    built = {k: build_value(v, where=f"{where}.{k}") for k, v in opts.items()}
    try:
        return cls(**built)
    except TypeError as err:
        raise ValueError(f"{where}: cannot build {path}: {err}") from err


def stage_config(obj: Any, registry: Registry, *, skip: tuple[str, ...] = ()) -> StageConfig:
    """The recipe section of one stage: its registered name (or dotted path) and options."""
    return StageConfig(registry.name_of(type(obj)), component_options(obj, skip=skip))
