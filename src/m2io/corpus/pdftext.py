"""PDF text as its reader sees it: words hyphenated at a line's end and footnotes.

Part of :mod:`m2io.corpus.pdf`, run on the pages' lines once running headers are gone:

- PDFium turns the hyphen that ends a line inside a word into the mark U+0002 (U+00AD where the
  PDF says so itself). It marks every such hyphen, the typesetter's ("distribu-" / "tions") and a
  compound's own ("Unix-" / "alikes"), so :func:`mend_hyphens` decides by the PDF's own words:
  the form written elsewhere in it wins ("Unix-alikes" seen, "Unixalikes" not: the hyphen stays);
  a word seen in neither form is joined when both halves are lower-case letters and the line is
  not code (typesetters do not hyphenate code, capitals or numbers).
- :func:`take_footnotes` takes a page's footnote bodies (the run of lines at its bottom set
  smaller than the body text, starting with the number of a mark found on the page) out of the
  page; :mod:`m2io.corpus.pdf` writes them as paragraphs of their own after the paragraph that
  ends the page, so a sentence is never cut by a note. The marks themselves were taken out of
  their sentences by :func:`m2io.corpus.pdfpage.page_lines`.
"""

from __future__ import annotations

import re
from collections import Counter

from m2io.corpus.pdfpage import Line, Page

HYPHEN_MARKS = "\x02\xad"
_WORD = re.compile(r"[^\W\d_][\w'’-]*")
_HEAD = re.compile(r"[\w-]+$")
_TAIL = re.compile(r"^[\w-]+")
_NOTE_SIZE = 0.92  # footnote bodies are set below this share of the body font size
_NOTE_START = re.compile(r"^(\d{1,2})(?:\s+(.*))?$")


def _vocabulary(pages: list[Page]) -> Counter[str]:
    words: Counter[str] = Counter()
    for page in pages:
        for line in [*page.lines, *(ln for note in page.notes.values() for ln in note)]:
            words.update(w.lower() for w in _WORD.findall(line.text.rstrip(HYPHEN_MARKS)))
    return words


def _keep_hyphen(head: str, tail: str, line: Line, words: Counter[str]) -> bool:
    """Whether the hyphen between ``head`` (the end of ``line``) and ``tail`` is the word's
    own: the PDF's other spelling says so, else anything but two lower-case halves of letters
    in prose ("--disable-" / "static", "USB-" / "connected", "GPL-" / "3")."""
    bare = head.lstrip("-")
    hyphenated = words[f"{bare}-{tail}".lower()]
    joined = words[f"{bare}{tail}".lower()]
    if hyphenated or joined:
        return hyphenated > joined
    letters = head.isalpha() and head[-1].islower()
    return line.mono or not (letters and tail.isalpha() and tail[0].islower())


def mend_hyphens(pages: list[Page]) -> int:
    """Join the words PDFium's hyphen marks split across lines; how many were joined.

    A line ending in a mark gets the hyphen back or loses it, and ``glue``: the next line
    follows it without a space. A mark anywhere else becomes a hyphen (U+0002) or nothing.
    Footnotes are mended on their own, after :func:`take_footnotes`.
    """
    words = _vocabulary(pages)
    runs = [[ln for page in pages for ln in page.lines]]
    runs += [note for page in pages for note in page.notes.values()]
    joined = 0
    for lines in runs:
        for line, nxt in zip(lines, [*lines[1:], None], strict=True):
            text = line.text
            if text and text[-1] in HYPHEN_MARKS and nxt is not None and not nxt.heading:
                head_m, tail_m = _HEAD.search(text[:-1]), _TAIL.search(nxt.text)
                head = head_m.group() if head_m else ""
                tail = tail_m.group() if tail_m else ""
                keep = not head or not tail or _keep_hyphen(head, tail, line, words)
                line.text = text[:-1] + ("-" if keep else "")
                line.glue = not line.mono and not nxt.mono
                joined += not keep
            if any(m in line.text for m in HYPHEN_MARKS):
                line.text = line.text.replace("\x02", "-").replace("\xad", "")
    return joined


def _body_size(pages: list[Page]) -> float:
    sizes: Counter[float] = Counter()
    for page in pages:
        for line in page.lines:
            sizes[round(line.size, 1)] += len(line.text)
    return sizes.most_common(1)[0][0] if sizes else 0.0


def take_footnotes(pages: list[Page]) -> int:
    """Move each page's footnote bodies from ``page.lines`` to ``page.notes`` (its lines by its
    number, which is left out of its text as its mark was); how many notes were taken."""
    body = _body_size(pages)
    taken = 0
    for page in pages:
        marks = {m for line in page.lines for m in line.marks}
        if not marks or not page.lines:
            continue
        start = len(page.lines)
        while (
            start
            and 0 < page.lines[start - 1].size < _NOTE_SIZE * body
            and not page.lines[start - 1].heading
        ):
            start -= 1
        run = page.lines[start:]
        first = next(
            (i for i, ln in enumerate(run) if (m := _NOTE_START.match(ln.text)) and m[1] in marks),
            None,
        )
        if first is None:
            continue
        number = ""
        for line in run[first:]:
            m = _NOTE_START.match(line.text)
            if m and m[1] in marks and m[1] not in page.notes:
                number = m[1]
                page.notes[number] = []
                if not m[2]:
                    continue  # the number on a line of its own
                line.text = m[2]
            page.notes[number].append(line)
        page.notes = {n: note for n, note in page.notes.items() if note}
        page.lines = page.lines[: start + first]
        taken += len(page.notes)
    return taken


def joined(lines: list[Line]) -> str:
    """Lines as one paragraph: a space between them unless a hyphenated word glues them."""
    return "".join(ln.text + ("" if ln.glue else " ") for ln in lines).strip()
