"""Training corpora re-authored with another figure habit: data made from the dev corpora.

A placement policy learns a corpus's habit only from corpora that have it. The dev manuals
disagree (GIMP puts almost half of its figures right under a heading, before any text; GnuCash
and the demo corpus never do), so a policy trained on the ones that never do it cannot learn
when to do it, however well its features describe the corpus's own profile
(:mod:`m2io.learned.profile`): with two training corpora the profile takes two values. Here a
corpus is rewritten as if its authors had another habit, keeping every word and every image and
moving only where the images sit, in the documents and in the gold answers alike:

- ``start``: each image at the start of its section (before the first sentence, after the
  heading line);
- ``end``: each image at the end of its section (after the last sentence).

The profile of the re-authored documents then says so, and the gold positions agree with it, so
the policy learns to follow the profile rather than one manual's layout. A re-authored corpus is
named ``<corpus>@<habit>`` wherever a training corpus is (``--data gnucash@start``); it brings
inserter-only items and no pipeline items (it has no index).

Example:
    >>> habit_of("../shared/bench/gnucash@start")
    ('../shared/bench/gnucash', 'start')
    >>> habit_of("demo")
    ('demo', None)
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from m2io.corpus.mramg import QAItem
from m2io.corpus.report import Corpus
from m2io.index.sections import body_start, section_at, sections
from m2io.text import PIC
from m2io.types import Document, ImageAnchor

HABITS = ("start", "end")


def habit_of(data: str | Path) -> tuple[str, str | None]:
    """Split a ``--data`` value into the corpus and the habit it is re-authored with (None)."""
    text = str(data)
    base, sep, habit = text.rpartition("@")
    if sep and habit in HABITS and base:
        return base, habit
    return text, None


def reauthor_document(doc: Document, habit: str) -> Document:
    """``doc`` with each image moved to the start or end of its section (order kept)."""
    if habit not in HABITS:
        raise ValueError(f"habit must be one of {HABITS}, got {habit!r}")
    if not doc.images:
        return doc
    secs = sections(doc)
    moved: list[ImageAnchor] = []
    for anchor in doc.images:
        sec = section_at(secs, anchor.offset)
        at = sec.end if habit == "end" else body_start(doc, sec)
        moved.append(ImageAnchor(anchor.image, min(at, len(doc.text))))
    return replace(doc, images=tuple(sorted(moved, key=lambda a: a.offset)))


def reauthor_answer(truth: str, habit: str) -> str:
    """A gold answer (one section, ``<PIC>`` where each image goes) with every ``<PIC>`` moved to
    its start or end, in the same order."""
    if habit not in HABITS:
        raise ValueError(f"habit must be one of {HABITS}, got {habit!r}")
    count = truth.count(PIC)
    if not count:
        return truth
    text = "\n\n".join(p.strip() for p in truth.split(PIC) if p.strip())
    pics = "\n\n".join([PIC] * count)
    return f"{pics}\n\n{text}" if habit == "start" else f"{text}\n\n{pics}"


def reauthor(corpus: Corpus, questions: list[QAItem], habit: str) -> tuple[Corpus, list[QAItem]]:
    """The corpus and its questions rewritten with ``habit`` (see the module docstring)."""
    docs = [reauthor_document(d, habit) for d in corpus.documents]
    qs = [
        replace(q, qid=f"{q.qid}@{habit}", ground_truth=reauthor_answer(q.ground_truth, habit))
        for q in questions
    ]
    return replace(corpus, documents=docs), qs
