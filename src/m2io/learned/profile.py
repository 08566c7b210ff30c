"""Where a corpus's authors put their figures, read from the corpus itself (no labels).

Manuals differ in habit: one shows a figure right under a section's heading, before any text,
another announces it ("as shown below:") and shows it after, a third shows it first and refers
back ("The figure above…"). A placement policy that learned one habit from one manual misplaces
images in the next (issue 11). The habit is visible in the documents themselves: for every image
in the corpus, which kind of text boundary it sits at. This module measures that, as a log-lift
per boundary kind — how much more often images sit at that kind of boundary than boundaries of
that kind occur at all — and the learned inserter's features multiply each slot's kind by its
lift (:func:`m2io.learned.features.option_features`), so one weight learned on several corpora
turns each corpus's own habit into a placement preference (docs/design.md, "The spine").

Boundary kinds (a boundary is a place between sentences, or before the first / after the last):

- ``start``: at the start of a section (before the first sentence, or right after a heading-like
  line);
- ``forward``: after a sentence that announces a figure (ends with ":", "below", "as follows");
- ``back``: before a sentence that refers back to one ("The figure above shows");
- ``end``: at the end of a section (after the last sentence, or right before a heading).

Example:
    >>> profile = corpus_profile(corpus.documents)      # doctest: +SKIP
    >>> profile.lift["start"]                            # doctest: +SKIP
    0.55
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from m2io.corpus.load import load_corpus
from m2io.corpus.mramg import find_subsets
from m2io.demo import corpus_path
from m2io.index.manifest import IndexManifest
from m2io.learned.cues import sentence_cues
from m2io.text import PIC, split_with_images
from m2io.types import Document

KINDS = ("start", "forward", "back", "end")
_SMOOTH = 0.02  # added to both shares: a kind no image uses gets a finite, clearly negative lift
_MIN_IMAGES = 5  # fewer images than this say nothing about a habit: every lift is 0


@dataclass(frozen=True)
class CorpusProfile:
    """Log-lift of each boundary kind for images in one corpus.

    Attributes:
        lift: ``{kind: log((share of images at that kind + s) / (share of boundaries + s))}``;
            0 means no habit either way.
        images: Images the profile was measured on.
        shares: ``{kind: (share of images, share of boundaries)}``, for reports.
    """

    lift: dict[str, float] = field(default_factory=lambda: dict.fromkeys(KINDS, 0.0))
    images: int = 0
    shares: dict[str, tuple[float, float]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return {
            "lift": {k: round(v, 4) for k, v in self.lift.items()},
            "images": self.images,
            "shares": {k: [round(a, 4), round(b, 4)] for k, (a, b) in self.shares.items()},
        }

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> CorpusProfile:
        lift = data.get("lift")
        if not isinstance(lift, dict) or set(lift) - set(KINDS):
            raise ValueError(f"a corpus profile needs lifts for {KINDS}, got {lift!r}")
        values = {k: float(lift.get(k, 0.0)) for k in KINDS}
        if not all(math.isfinite(v) for v in values.values()):
            raise ValueError("corpus profile lifts must be finite numbers")
        images = data.get("images", 0)
        return cls(values, int(images) if isinstance(images, (int, float)) else 0)


NEUTRAL = CorpusProfile()


def boundary_kinds(
    sentences: Sequence[str], *, headings: bool = True, cues: np.ndarray | None = None
) -> np.ndarray:
    """Kinds of the ``n + 1`` boundaries of ``sentences``: a ``(n + 1, 4)`` 0/1 array in
    :data:`KINDS` order (a boundary may be of several kinds).

    ``headings=False`` counts only the very first boundary as a start and the very last as an
    end: an answer is one section whose heading became the question, so its slot 0 is where a
    document's "right after a heading" lies. ``cues``: the sentences'
    :func:`~m2io.learned.cues.sentence_cues` when the caller has them already."""
    n = len(sentences)
    cues = sentence_cues(sentences) if cues is None else cues
    heading, forward, back = cues[:, 4], cues[:, 6], cues[:, 7]
    out = np.zeros((n + 1, len(KINDS)), dtype=np.float32)
    out[0, 0] = 1.0
    out[n, 3] = 1.0
    if n:
        out[1:, 1] = forward
        out[:n, 2] = back
        if headings:
            out[1:, 0] = np.maximum(out[1:, 0], heading)  # right after a heading
            out[:n, 3] = np.maximum(out[:n, 3], heading)  # right before a heading
    return out


def _with_markers(doc: Document) -> str:
    parts: list[str] = []
    cursor = 0
    for anchor in doc.images:
        parts.append(doc.text[cursor : anchor.offset])
        parts.append(f"\n\n{PIC}\n\n")
        cursor = anchor.offset
    parts.append(doc.text[cursor:])
    return "".join(parts)


def corpus_profile(documents: Sequence[Document]) -> CorpusProfile:
    """Measure where the corpus's images sit (see the module docstring). Linear in the text."""
    at_images = np.zeros(len(KINDS))
    at_bounds = np.zeros(len(KINDS))
    n_images = n_bounds = 0
    for doc in documents:
        if not doc.images:
            continue
        sentences, positions = split_with_images(_with_markers(doc))
        if not sentences:
            continue
        kinds = boundary_kinds(sentences)
        at_bounds += kinds.sum(axis=0)
        n_bounds += len(kinds)
        for p in positions:
            at_images += kinds[min(p, len(sentences))]
            n_images += 1
    if n_images < _MIN_IMAGES or not n_bounds:
        return CorpusProfile(images=n_images)
    img, bnd = at_images / n_images, at_bounds / n_bounds
    lift = {k: float(np.log((img[i] + _SMOOTH) / (bnd[i] + _SMOOTH))) for i, k in enumerate(KINDS)}
    shares = {k: (float(img[i]), float(bnd[i])) for i, k in enumerate(KINDS)}
    return CorpusProfile(lift, n_images, shares)


PROFILE_FILE = "profile.json"
"""The profile of an index's corpus, kept in the index folder (:func:`index_profile`)."""


def index_profile(folder: str | Path, documents: Sequence[Document] | None = None) -> CorpusProfile:
    """The profile of the corpus an index was built from, measured once and kept in the index
    folder as ``profile.json`` with the manifest's ``content_hash``: reading it back is
    instant, where measuring reloads the corpus (0.8 s for the GIMP manual, on every cold
    start). A file left from other documents is measured again. ``m2io index`` writes it
    with the corpus it just loaded (``documents``); a folder that cannot be written to (a
    read-only server) measures without keeping it.

    Raises:
        ValueError: the folder is no index, or its corpus folder is gone and nothing is kept.
    """
    path = Path(folder).expanduser()
    manifest = IndexManifest.read(path)
    kept = path / PROFILE_FILE
    if kept.is_file():
        try:
            data = json.loads(kept.read_text("utf-8"))
            if data.get("content_hash") == manifest.content_hash:
                return CorpusProfile.from_dict(data)
        except (OSError, ValueError, AttributeError):
            pass  # unreadable or stale: measured again below
    if documents is None:
        documents = _index_documents(path, manifest)
    profile = corpus_profile(documents)
    try:
        body = {**profile.as_dict(), "content_hash": manifest.content_hash}
        tmp = kept.with_suffix(".tmp")
        tmp.write_text(json.dumps(body, indent=1), "utf-8")
        tmp.replace(kept)
    except OSError:
        pass
    return profile


def _index_documents(path: Path, manifest: IndexManifest) -> Sequence[Document]:
    candidates = [
        (path / manifest.corpus_root).resolve() if manifest.corpus_root else None,
        Path(manifest.corpus_root_absolute) if manifest.corpus_root_absolute else None,
    ]
    found = [c for c in candidates if c is not None and c.is_dir()]
    if not found:
        raise ValueError(f"index {path} records no corpus folder to measure a profile on")
    return corpus_documents(found[0])


def load_profile(spec: str | Path | CorpusProfile | None) -> CorpusProfile | None:
    """A profile from what a user gives: None, a profile, a JSON file written from
    :meth:`CorpusProfile.as_dict`, or a corpus (``demo``, an MRAMG folder, a document folder,
    or an index folder, whose manifest names its corpus) to measure."""
    if spec is None or isinstance(spec, CorpusProfile):
        return spec
    path = Path(spec).expanduser()
    if path.is_file():
        return CorpusProfile.from_dict(json.loads(path.read_text("utf-8")))
    if (path / "manifest.json").is_file():
        return index_profile(path)
    return corpus_profile(corpus_documents(spec))


DEMO = "demo"
"""The name of the bundled demo corpus wherever a corpus is named."""


def corpus_documents(data: str | Path) -> Sequence[Document]:
    """The documents of a corpus named as the training data names one (``demo``, an MRAMG
    folder, a folder of documents), without its questions: what a profile is measured on."""
    path = corpus_path() if str(data) == DEMO else Path(data).expanduser()
    if path.is_dir() and find_subsets(path):
        return load_corpus(path, format="mramg").documents
    return load_corpus(path, format="folder", exclude=("LICENSE*",)).documents
