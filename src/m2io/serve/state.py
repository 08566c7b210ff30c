"""What the service holds between requests: the pipeline and what its index may serve.

A :class:`Snapshot` is immutable: the pipeline, and the lookups from an image id or a document id
to the file the index recorded for it. A request takes the current snapshot once and uses it to
the end, so when ``POST /v1/documents`` swaps in a pipeline over the freshly written index, the
answers already running finish on the old one. No path from a request reaches the file system:
ids are looked up here, and the file found is confined to the corpus root again when it is read
(docs/design.md, "Hostile input", rule 1).

The index does not choose that root: it is the operator's ``corpus_root`` when given (the index is
then opened against it), else the root the index records only if it lies inside the folder that
holds the index folder; otherwise no corpus file is served. A request chooses a generator or
inserter only among the names the operator allowed (``backends``), and gets a 400 naming them
otherwise.

With ``follow`` (``m2io serve --workers N``: several processes serve one index folder), every
request first compares the folder's generation (:func:`generation`) with its snapshot's and,
when another process has swapped in a new index (an upload, a rebuild), reopens it before
answering, so a document added through one worker is answered by every worker from the next
request on.
"""

from __future__ import annotations

import copy
import inspect
import logging
import os
import threading
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from m2io.config import PipelineConfig, StageConfig
from m2io.factory import accepted_options, build_generator, build_inserter
from m2io.generators.base import GENERATORS
from m2io.index.manifest import MANIFEST
from m2io.index.store import Index
from m2io.inserters.base import INSERTERS
from m2io.pipeline import Pipeline
from m2io.safety import is_inside, remote_image_url

log = logging.getLogger(__name__)


def index_of(pipeline: Any) -> Index | None:
    """The open index behind ``pipeline``'s retriever, or None when it has none."""
    index = getattr(getattr(pipeline, "retriever", None), "index", None)
    return index if isinstance(index, Index) else None


def _recipe_of(pipeline: Any) -> PipelineConfig:
    """The recipe that builds ``pipeline`` (its index folder at least, when its stages are not
    all registered backends)."""
    try:
        return pipeline.to_config()
    except (AttributeError, ValueError):
        folder = getattr(index_of(pipeline), "folder", None)
        return PipelineConfig(index=str(folder)) if folder is not None else PipelineConfig()


def _loaded_embedder(index: Index | None) -> Any:
    """The index's query embedder if it is already loaded (never loads one)."""
    return None if index is None else vars(index).get("embedder")


def generation(folder: str | os.PathLike[str]) -> tuple[int, ...] | None:
    """What changes whenever a build or an update swaps in a new index folder: the folder's and
    its manifest's inode and the manifest's modification time (an inode alone may be reused by
    a later swap). None when the folder cannot be read."""
    try:
        st = os.stat(folder)
        manifest = os.stat(Path(folder) / MANIFEST)
    except OSError:
        return None
    return st.st_dev, st.st_ino, manifest.st_ino, manifest.st_mtime_ns


@dataclass(frozen=True)
class Snapshot:
    """The pipeline and the files its index may serve, fixed for the requests that use it.

    Attributes:
        pipeline: Anything with ``run(question) -> MultimodalAnswer``.
        root: The corpus root every served source file must lie in (None: none is served).
        images: Image id → (the path the index recorded, the folder it must lie in: the corpus
            root, or the index's folder of added documents for an image uploaded later).
        sources: Document id → its source file, relative to ``root``.
    """

    pipeline: Any
    root: Path | None = None
    images: Mapping[str, tuple[str, Path]] = field(default_factory=dict)
    sources: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, pipeline: Any, corpus_root: Path | None = None) -> Snapshot:
        """The snapshot of ``pipeline``; files come only from ``corpus_root`` (the operator's)
        or, without it, from the index's root if it lies beside the index folder."""
        index = index_of(pipeline)
        if index is None:
            return cls(pipeline)
        root = served_root(index, corpus_root)
        added = getattr(index, "added_root", None)
        images: dict[str, tuple[str, Path]] = {}
        for cand in index.candidates:
            path = cand.image.path
            if not path or cand.image_id in images:
                continue
            base = Path(added) if added is not None and is_inside(path, added) else root
            if base is not None:
                images[cand.image_id] = (path, base)
        sources: dict[str, str] = {}
        for doc_id, rows in index.doc_rows.items() if root is not None else ():
            for row in rows:  # its first chunk, mostly: rows are read one by one from the file
                chunk = index.chunks[row]
                loc = chunk.source.location if chunk.source is not None else ""
                if loc and remote_image_url(loc) is None:
                    sources[doc_id] = loc.partition("#")[0]
                    break
        return cls(pipeline, root, images, sources)

    def counts(self) -> tuple[int, int, int]:
        """(documents, chunks, images) of the index, zeros when there is none."""
        index = index_of(self.pipeline)
        if index is None:
            return 0, 0, 0
        return len(index.doc_rows), len(index.chunks), len(index.candidates)


def served_root(index: Index, corpus_root: Path | None) -> Path | None:
    """The folder files may be served from: the index's corpus root, if it lies inside the
    operator's ``corpus_root`` or (without one) inside the folder that holds the index folder."""
    root = index.corpus_root
    if root is None:
        return None
    allowed = Path(corpus_root) if corpus_root is not None else Path(index.folder).resolve().parent
    if allowed != Path(allowed.anchor) and is_inside(root, allowed):
        return Path(root)
    log.warning(
        "index %s names %s as its corpus, outside %s: no corpus file is served (pass "
        "--corpus-root DIR to serve one)",
        index.folder,
        root,
        allowed,
    )
    return None


def retriever_over(retriever: Any, index: Index) -> Any:
    """A retriever like ``retriever`` (same class, same settings) over another open index.

    Settings are read back from the attributes named like the constructor's keyword arguments.

    Raises:
        ValueError: the retriever cannot be rebuilt this way.
    """
    cls = type(retriever)
    try:
        params = inspect.signature(cls).parameters
    except (TypeError, ValueError) as err:
        raise ValueError(f"cannot rebuild retriever {cls.__name__}: {err}") from err
    if "index" not in params:
        raise ValueError(f"retriever {cls.__name__} takes no index; it cannot be reloaded")
    kwargs = {
        name: getattr(retriever, name)
        for name, p in params.items()
        if name not in ("index", "embedder", "self")
        and p.kind in (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
        and hasattr(retriever, name)
    }
    return cls(index, **kwargs)


def reopen_pipeline(
    pipeline: Any, index_dir: str | os.PathLike[str], corpus_root: Path | None = None
) -> Any:
    """A copy of ``pipeline`` whose retriever reads the index in ``index_dir`` as it is now
    (against the operator's ``corpus_root`` when given).

    The embedders the old index holds are handed on, so nothing is loaded again.
    """
    old = index_of(pipeline)
    if old is None:
        raise ValueError("the pipeline's retriever holds no index; it cannot be reloaded")
    image_embedder = vars(old).get("image_embedder")
    index = Index.open(
        index_dir,
        embedder=_loaded_embedder(old),
        image_embedder=image_embedder,
        corpus_root=corpus_root,
    )
    new = copy.copy(pipeline)
    new.retriever = retriever_over(pipeline.retriever, index)
    prepare = getattr(new.retriever, "prepare", None)
    if prepare is not None:  # the new headings are embedded here, not on the next question
        prepare()
    fill = getattr(pipeline, "sentence_fill", None)
    if fill is not None:  # the old index's sentence fill ends; the new index gets its own
        fill.stop(timeout=0)
        new.fill_sentence_vectors()
    return new


MODEL_BACKENDS = {"generator": frozenset({"openai", "local"}), "inserter": frozenset({"llm"})}
"""The backends that call a language model (over the network or on this machine)."""


def calls_model(pipeline: Any) -> bool:
    """Whether answering with ``pipeline`` may call a model backend: a staged pipeline with an
    ``openai``/``local`` generator or an ``llm`` inserter (or a stage of a class no registry
    names), or any pipeline that is not staged (Single-Shot)."""
    if not isinstance(pipeline, Pipeline):
        return True
    for kind, registry in (("generator", GENERATORS), ("inserter", INSERTERS)):
        name = registry.name_of(type(getattr(pipeline, kind)))
        if name in MODEL_BACKENDS[kind] or name not in registry.names():
            return True
    return False


class BackendNotAllowed(ValueError):
    """A request chose a backend the operator did not allow (a 400)."""


class ServiceState:
    """The current :class:`Snapshot`, swapped atomically, and the per-request stage choices.

    Args:
        pipeline: The pipeline to serve.
        index_dir: Its index folder, where ``POST /v1/documents`` writes (None: read-only).
        corpus_root: The operator's corpus folder (see :meth:`Snapshot.of`).
        backends: Stage kind → the backend names a request may choose (beyond the served
            pipeline's own, which is always allowed); None or empty allows no other.
        recipe: The recipe ``pipeline`` was built from (``m2io serve`` passes its own): a
            backend a request chooses is built from it (its ``llm`` settings, its index) with
            that stage swapped. None: the pipeline's own :meth:`~m2io.pipeline.Pipeline.to_config`.
        follow: Reopen the index when another process swapped in a new one (see the module
            doc); off for a single process, which swaps its own.
    """

    def __init__(
        self,
        pipeline: Any,
        index_dir: str | os.PathLike[str] | None = None,
        *,
        corpus_root: str | os.PathLike[str] | None = None,
        backends: Mapping[str, Collection[str]] | None = None,
        recipe: PipelineConfig | None = None,
        follow: bool = False,
    ) -> None:
        self.recipe = recipe
        self.index_dir = Path(index_dir) if index_dir is not None else None
        self.corpus_root = Path(corpus_root).resolve() if corpus_root is not None else None
        self.backends = {kind: frozenset(names) for kind, names in (backends or {}).items()}
        for kind, names in self.backends.items():
            registry = {"generator": GENERATORS, "inserter": INSERTERS}.get(kind)
            if registry is None:
                raise ValueError(f"backends: unknown stage {kind!r}; valid: generator, inserter")
            unknown = sorted(set(names) - set(registry.names()))
            if unknown:
                raise ValueError(
                    f"backends: unknown {kind} {', '.join(unknown)}; valid: "
                    + ", ".join(registry.names())
                )
        folder = getattr(index_of(pipeline), "folder", None)
        self._folder = Path(folder) if follow and folder is not None else None
        self._generation = generation(self._folder) if self._folder is not None else None
        self._reload_lock = threading.Lock()
        self._snapshot = Snapshot.of(pipeline, self.corpus_root)
        self.write_lock = threading.Lock()
        """Held while documents are added and the index reopened: one writer at a time."""
        self._stage_lock = threading.Lock()
        self._stages: dict[tuple[str, str], Any] = {}

    @property
    def current(self) -> Snapshot:
        """The snapshot served now, never reopened here (for routes on the event loop)."""
        return self._snapshot

    @property
    def snapshot(self) -> Snapshot:
        """The current snapshot (with ``follow``, reopened first if the folder changed)."""
        if self._folder is not None and generation(self._folder) != self._generation:
            self._follow(self._folder)
        return self._snapshot

    def _follow(self, folder: Path) -> None:
        """Reopen the index another process swapped in (one thread reopens; the others wait
        for it, so no request answers from an index older than the one it could see)."""
        with self._reload_lock:
            now = generation(folder)
            if now is None or now == self._generation:
                return
            try:
                pipeline = reopen_pipeline(self._snapshot.pipeline, folder, self.corpus_root)
            except (OSError, ValueError) as err:  # IndexFormatError is a ValueError
                log.error(
                    "could not reopen the index %s changed by another process: %s", folder, err
                )
                self._generation = now  # not again on every request; the next swap retries
                return
            self._snapshot = Snapshot.of(pipeline, self.corpus_root)
            self._generation = now
            log.info("reopened the index %s after another process changed it", folder)

    def swap(self, pipeline: Any, seen: tuple[int, ...] | None = None) -> None:
        """Serve ``pipeline`` from now on; requests holding the old snapshot keep it.

        ``seen``: the folder's :func:`generation` read before ``pipeline`` was opened (with
        ``follow``, a later swap by another process is then still noticed)."""
        with self._reload_lock:
            self._snapshot = Snapshot.of(pipeline, self.corpus_root)
            if self._folder is not None:
                self._generation = seen

    def allowed(self, kind: str, pipeline: Any) -> list[str]:
        """The ``kind`` backend names a request may choose for ``pipeline``, sorted."""
        registry = {"generator": GENERATORS, "inserter": INSERTERS}[kind]
        own = getattr(pipeline, kind, None)
        names = set(self.backends.get(kind, ()))
        if own is not None and registry.name_of(type(own)) in registry.names():
            names.add(registry.name_of(type(own)))
        return sorted(names)

    def stage(self, kind: str, name: str, pipeline: Any) -> Any:
        """The ``kind`` ("generator"/"inserter") backend ``name``, built once with its defaults
        (and the index's loaded embedder, if it takes one).

        Raises:
            BackendNotAllowed: a name the operator did not allow (never a dotted path: a request
                imports nothing).
            ValueError: the backend cannot be built without options.
        """
        registry = {"generator": GENERATORS, "inserter": INSERTERS}[kind]
        allowed = self.allowed(kind, pipeline)
        if name not in allowed:
            listed = ", ".join(allowed) or "none"
            raise BackendNotAllowed(
                f"{kind} {name!r} is not allowed on this server; allowed: {listed}"
            )
        own = getattr(pipeline, kind, None)
        if own is not None and registry.name_of(type(own)) == name:
            return own
        with self._stage_lock:
            key = (kind, name)
            if key not in self._stages:
                self._stages[key] = self._build_stage(kind, name, pipeline)
            return self._stages[key]

    def _build_stage(self, kind: str, name: str, pipeline: Any) -> Any:
        """Backend ``name`` built by the factory from the served recipe (its ``llm`` settings
        and index) with ``kind`` swapped for it, handed the index's loaded embedder."""
        recipe = self.recipe or _recipe_of(pipeline)
        swapped = replace(recipe, **{kind: StageConfig(name)})
        registry = {"generator": GENERATORS, "inserter": INSERTERS}[kind]
        given: dict[str, Any] = {}
        embedder = _loaded_embedder(index_of(pipeline))
        if embedder is not None and "embedder" in (accepted_options(registry.get(name)) or []):
            given["embedder"] = embedder
        build = build_generator if kind == "generator" else build_inserter
        try:
            return build(swapped, **given)
        except (TypeError, ValueError, ImportError, OSError) as err:
            raise ValueError(f"{kind} {name!r} cannot be used here: {err}") from err

    def pipeline_for(
        self, snapshot: Snapshot, *, generator: str | None = None, inserter: str | None = None
    ) -> Any:
        """The snapshot's pipeline with this request's choices (the same object without any);
        a per-request ``top_k`` is passed to the run, not built in."""
        base = snapshot.pipeline
        if generator is None and inserter is None:
            return base
        if not isinstance(base, Pipeline):
            raise ValueError("generator and inserter can only be chosen for a staged pipeline")
        return Pipeline(
            base.retriever,
            self.stage("generator", generator, base) if generator else base.generator,
            self.stage("inserter", inserter, base) if inserter else base.inserter,
            base.merger,
        )
