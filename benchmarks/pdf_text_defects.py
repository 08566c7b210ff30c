"""How much of a PDF's text still reads wrong: hyphen marks, split words, spaces at font changes,
footnote marks in sentences — before and after a change to the PDF reader, in the same run.

For each PDF it reads the documents the way ``m2io index`` does (``m2io.corpus.pdf.read_pdf``)
twice, in a process of its own each: with the sources in ``--before`` (the reader as it was,
e.g. a ``git archive`` of the base commit's ``src``) and with this checkout's. It counts in the
documents' text:

- ``hyphen_marks``: PDFium's line-end hyphen mark U+0002 and the soft hyphen U+00AD left;
- ``split_words``: of the hyphens PDFium marks in the PDF (``FPDFText_IsHyphen``), how many
  read as two words ("distribu tions"); ``pdf_hyphens`` is how many it marks;
- ``font_spaces``: a space inside quotes or brackets ("‘ cpu ’", "( x"), before a comma, full
  stop, colon or semicolon ("history . Once"), or splitting small caps ("CPU s");
- ``marks_in_sentences``: of the footnote marks in the PDF (``pdf_marks``: a segment of one or
  two digits set smaller and higher than the one before it), how many still follow their word
  in the text ("allowed 1 (and", "allowed1").

Where footnote bodies land is read by hand (docs/RESULTS.md says what was read).

Command (from the repository root; the base sources exported first)::

    mkdir -p /tmp/pdffix_base && git archive 0711f79 src | tar -x -C /tmp/pdffix_base
    PYTHONPATH=src /work/main/.venv/bin/python benchmarks/pdf_text_defects.py \\
        --before /tmp/pdffix_base/src --out results/pdf_text_defects-2026-12-07.json FILE.pdf ...
"""

from __future__ import annotations

import argparse
import os
import re
import time
from pathlib import Path

from _report import machine, write_result
from pdf_furniture import _read

FONT_SPACES = re.compile(r"[‘(\[] |\S ’|\w [,.;:](?=\s|$)|\b[A-Z]{2,} s\b")


def _texts(src: str, pdf: Path) -> dict:
    """The documents' texts of ``pdf`` read with the m2io sources under ``src``, and the time."""
    read = _read(src, pdf)
    return {"texts": [text for _, text, _ in read["docs"]], "s": read["s"]}


def _pdf_marks(pdf: Path) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """The word halves around each hyphen PDFium marks (``FPDFText_IsHyphen``), and the word
    before each footnote mark: a segment of one or two digits set smaller (under 0.85) and
    higher (over 0.15 of the size) than the segment before it on its line."""
    import pypdfium2 as pdfium
    import pypdfium2.raw as pdfium_c

    halves, marks = [], []
    doc = pdfium.PdfDocument(str(pdf))
    for page in doc:
        textpage = page.get_textpage()
        n = textpage.count_chars()
        chars = [chr(pdfium_c.FPDFText_GetUnicode(textpage.raw, k)) for k in range(n)]
        for k in range(n):
            if pdfium_c.FPDFText_IsHyphen(textpage.raw, k):
                head = re.search(r"\w+$", "".join(chars[max(0, k - 40) : k]))
                tail = re.match(r"\s*(\w+)", "".join(chars[k + 1 : k + 40]))
                if head and tail:
                    halves.append((head.group(), tail.group(1)))
        before = None
        for i in range(textpage.count_rects()):
            box = textpage.get_rect(i)
            text = textpage.get_text_bounded(*box).strip()
            k = textpage.get_index((box[0] + box[2]) / 2, (box[1] + box[3]) / 2, 2, 2)
            size = pdfium_c.FPDFText_GetFontSize(textpage.raw, k) if k is not None and k >= 0 else 0
            if before and re.fullmatch(r"\d{1,2}", text):
                word, bsize, bbottom = before
                if 0 < size < 0.85 * bsize and box[1] > bbottom + 0.15 * bsize and word:
                    marks.append((word, text))
                    continue
            words = re.findall(r"[\w’”)]+$", text)
            before = (words[0] if words else "", size, box[1]) if text else before
        textpage.close()
    doc.close()
    return halves, marks


def _measure(texts: list[str], halves: list[tuple[str, str]], marks: list[tuple[str, str]]) -> dict:
    whole = "\n".join(texts)
    return {
        "documents": len(texts),
        "characters": len(whole),
        "hyphen_marks": sum(whole.count(m) for m in "\x02\xad"),
        "split_words": sum(
            bool(re.search(rf"\b{re.escape(h)}[\x02\xad]?\s+{re.escape(t)}\b", whole))
            for h, t in halves
        ),
        "font_spaces": len(FONT_SPACES.findall(whole)),
        "marks_in_sentences": sum(
            bool(re.search(rf"{re.escape(w)} ?{n}\b", whole)) for w, n in marks
        ),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("pdfs", nargs="+", type=Path)
    p.add_argument("--before", required=True, help="the m2io sources to compare with")
    p.add_argument("--out", default="results/pdf_text_defects.json")
    args = p.parse_args()
    load = os.getloadavg()
    here = str(Path(__file__).resolve().parent.parent / "src")
    rows = []
    for pdf in args.pdfs:
        halves, marks = _pdf_marks(pdf)
        before, after = _texts(args.before, pdf), _texts(here, pdf)
        rows.append(
            {
                "pdf": pdf.name,
                "pdf_hyphens": len(halves),
                "pdf_marks": len(marks),
                "before": {
                    **_measure(before["texts"], halves, marks),
                    "read_s": round(before["s"], 2),
                },
                "after": {
                    **_measure(after["texts"], halves, marks),
                    "read_s": round(after["s"], 2),
                },
            }
        )
    totals = {
        side: {
            k: sum(r[side][k] for r in rows)
            for k in ("hyphen_marks", "split_words", "font_spaces", "marks_in_sentences")
        }
        for side in ("before", "after")
    }
    started = time.strftime("%Y-%m-%d")
    write_result(
        args.out,
        {"pdfs": rows, "totals": totals, "machine": machine(load, started=started)},
    )


if __name__ == "__main__":
    main()
