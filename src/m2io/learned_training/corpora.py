"""Training corpora of the learned inserter: MRAMG folders and plain document folders alike.

A policy that is to place images in manuals nobody has seen must learn from several corpora at
once (docs/design.md, "The spine": the inserter only sees an answer and its candidates). A
corpus is named by a path, or ``demo`` for the corpus that ships with m2io:

- an MRAMG-layout folder (``doc_<subset>.jsonl``, ``<subset>_mqa.jsonl``, ``IMAGE/``) brings its
  questions, whose gold answers hold the images where the authors put them;
- a folder of Markdown/HTML files (the demo corpus) has no questions, so each section with an
  image becomes one: its title is the question and its own text, images in place, the gold
  answer (:func:`section_questions`). That is the same construction as the MRAMG dev sets
  (a section title as the question, the section as the answer).

Example:
    >>> gimp = load_corpus_data("../shared/bench/gimp")        # doctest: +SKIP
    >>> demo = load_corpus_data("demo")                         # doctest: +SKIP
    >>> demo.name, len(demo.questions)                          # doctest: +SKIP
    ('demo', 19)
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from m2io.corpus.folder import load_folder
from m2io.corpus.mramg import QAItem, load_mramg, load_questions, resolve_subset
from m2io.corpus.report import Corpus
from m2io.demo import corpus_path
from m2io.index.sections import body_start, sections
from m2io.learned.profile import DEMO
from m2io.text import PIC

logger = logging.getLogger(__name__)

KINDS = ("mramg", "folder")


@dataclass
class CorpusData:
    """One training corpus: its documents and the questions made from it.

    Attributes:
        name: Short label (the MRAMG subset, ``demo``, or the folder's name); prefixes nothing,
            but names the corpus in results and model cards.
        root: The folder it was loaded from (absolute).
        kind: ``"mramg"`` or ``"folder"``.
        subset: The MRAMG subset (None for a folder).
        corpus: The loaded documents and images.
        questions: Questions with gold answers (``<PIC>`` where each gold image goes).
        habit: The figure habit it was re-authored with (:mod:`m2io.learned_training.reauthor`), if any.
    """

    name: str
    root: Path
    kind: str
    subset: str | None
    corpus: Corpus
    questions: list[QAItem]
    habit: str | None = None

    def describe(self) -> dict[str, object]:
        base = self.name.rpartition("@")[0] if self.habit else self.name
        data = DEMO if base == DEMO and self.kind == "folder" else str(self.root)
        return {
            "name": self.name,
            "data": f"{data}@{self.habit}" if self.habit else data,
            "kind": self.kind,
            **({"subset": self.subset} if self.subset else {}),
            "documents": len(self.corpus.documents),
            "questions": len(self.questions),
        }


def resolve_data(data: str | Path) -> tuple[Path, str]:
    """``(folder, kind)`` of a ``--data`` value: ``demo``, an MRAMG folder or a document folder.

    Raises:
        ValueError: The path is not a folder.
    """
    if str(data) == DEMO:
        return corpus_path(), "folder"
    root = Path(data).expanduser().resolve()
    if not root.is_dir():
        raise ValueError(f"training data {data!r}: not a folder (nor 'demo')")
    kind = "mramg" if any(root.glob("doc_*.jsonl")) else "folder"
    return root, kind


def load_corpus_data(data: str | Path, subset: str | None = None) -> CorpusData:
    """Load one training corpus (see the module docstring) with its questions; ``X@start`` or
    ``X@end`` is corpus ``X`` re-authored with that figure habit (:mod:`m2io.learned_training.reauthor`)."""
    from m2io.learned_training.reauthor import habit_of, reauthor

    base, habit = habit_of(data)
    if habit is not None:
        cd = load_corpus_data(base, subset)
        corpus, questions = reauthor(cd.corpus, cd.questions, habit)
        name = f"{cd.name}@{habit}"
        return CorpusData(name, cd.root, cd.kind, cd.subset, corpus, questions, habit)
    root, kind = resolve_data(data)
    if kind == "mramg":
        subset = resolve_subset(root, subset)
        corpus = load_mramg(root, subset)
        return CorpusData(subset, root, kind, subset, corpus, load_questions(root, subset))
    corpus = load_folder(root, exclude=("LICENSE*",))
    name = DEMO if str(data) == DEMO else root.name
    return CorpusData(name, root, kind, None, corpus, section_questions(corpus, name))


def section_questions(corpus: Corpus, name: str = "") -> list[QAItem]:
    """One question per document section that holds an image and some text.

    The question is the section's title; the gold answer is the section's text without its
    heading line, with ``<PIC>`` at each image's offset (images at the same offset keep their
    order). Sections come from :func:`m2io.index.sections.sections`, as the index sees them.
    """
    out: list[QAItem] = []
    for doc in corpus.documents:
        for k, sec in enumerate(sections(doc)):
            images = [a for a in doc.images if sec.start <= a.offset < sec.end]
            if sec.end == len(doc.text):  # images at the very end belong to the last section
                images += [a for a in doc.images if a.offset == len(doc.text)]
            if not images:
                continue
            body = body_start(doc, sec)
            pieces: list[str] = []
            cursor = body
            ids: list[str] = []
            for a in images:
                at = max(a.offset, body)
                pieces.append(doc.text[cursor:at])
                pieces.append(f"\n\n{PIC}\n\n")
                cursor = at
                ids.append(a.image.image_id)
            pieces.append(doc.text[cursor : sec.end])
            truth = "".join(pieces).strip()
            if not truth.replace(PIC, "").strip():
                continue
            title = sec.title.strip() or doc.title or doc.doc_id
            out.append(
                QAItem(
                    qid=f"{name or 'corpus'}:{doc.doc_id}#{k}",
                    question=title,
                    ground_truth=truth,
                    provenance=(doc.doc_id,),
                    image_ids=tuple(ids),
                )
            )
    return out
