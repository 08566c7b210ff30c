"""Page furniture left in a PDF's running text — figure captions, running headers, page numbers,
doubled glyphs — and the images that got their caption, before and after a change to the PDF
reader, in the same run.

For each PDF it reads the documents the way ``m2io index`` does (``m2io.corpus.pdf.read_pdf``)
twice, in a process of its own each: with the sources in ``--before`` (e.g. a ``git archive``
of the base commit's ``src``) and with this checkout's. It counts:

- ``captions_in_text``: caption lines in the documents' text ("Figure 6.1: …", "Fig. 3 …",
  "Table 2: …" after a line break or inside a sentence), and ``number_captions``: a bare page
  number joined to one ("15 Figure 2.7: …");
- ``images`` and ``captioned``: images anchored in the documents, and how many carry a caption;
- ``headers_in_text``: occurrences in the text of the lines PDFium reads first on a page, where
  such a line (digits aside) opens two pages or more: a running header (some also appear as a
  chapter's own heading, once, which both sides keep);
- ``doubled``: a glyph read twice at a segment's edge ("OK K to", "sample, e,", "The A Azimuth").

``--dump DIR`` writes each side's texts (``NAME.before.txt``, ``NAME.after.txt``, documents
parted by their ids) for a diff.

Command (from the repository root; the base sources exported first)::

    mkdir -p /tmp/pdf9/base && git archive BASE src | tar -x -C /tmp/pdf9/base
    PYTHONPATH=src /work/main/.venv/bin/python benchmarks/pdf_furniture.py \\
        --before /tmp/pdf9/base/src --out results/pdf_furniture-2026-12-08.json FILE.pdf ...
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from _report import machine, write_result

CAPTION = re.compile(
    r"(?:^|[\s.,;:])(?:Figure|Fig\.|Table)\s*\d+(?:[.-]\d+)*\s*[:.]?\s+[A-Z]", re.M
)
NUMBER_CAPTION = re.compile(r"(?:^|\s)\d{1,4}\s+(?:Figure|Fig\.|Table)\s*\d", re.M)
DOUBLED = re.compile(r"(\w)([,.;:]?) \1(?=[\s,.;:)])|\b([A-Z]) \3[a-z]")


def _read(src: str, pdf: Path) -> dict:
    """The documents (id, text, image captions) of ``pdf`` read with the sources under ``src``."""
    code = (
        "import json, sys, time; from pathlib import Path; from m2io.corpus.pdf import read_pdf\n"
        "t = time.perf_counter(); p = Path(sys.argv[1])\n"
        "docs, _ = read_pdf(p, p.name, Path(sys.argv[2]))\n"
        "print(json.dumps({'docs': [[d.doc_id, d.text, [a.image.caption for a in d.images]]"
        " for d in docs], 's': time.perf_counter() - t}))\n"
    )
    with tempfile.TemporaryDirectory() as root:
        env = {**os.environ, "PYTHONPATH": src}
        out = subprocess.run(
            [sys.executable, "-c", code, str(pdf), root],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
    return json.loads(out.stdout)


def _first_lines(pdf: Path) -> list[str]:
    """The text of each page's first segment that repeats (digits aside) on two pages or more."""
    import pypdfium2 as pdfium

    firsts = []
    doc = pdfium.PdfDocument(str(pdf))
    for page in doc:
        textpage = page.get_textpage()
        if textpage.count_rects():
            text = " ".join(textpage.get_text_bounded(*textpage.get_rect(0)).split())
            if len(text) > 3 and any(c.isalpha() for c in text):
                firsts.append(text)
        textpage.close()
    doc.close()
    counts = Counter(re.sub(r"\d+", "#", t) for t in firsts)
    return sorted({t for t in firsts if counts[re.sub(r"\d+", "#", t)] >= 2})


def _measure(read: dict, headers: list[str]) -> dict:
    whole = "\n".join(text for _, text, _ in read["docs"])
    captions = [c for _, _, caps in read["docs"] for c in caps]
    return {
        "documents": len(read["docs"]),
        "characters": len(whole),
        "captions_in_text": len(CAPTION.findall(whole)),
        "number_captions": len(NUMBER_CAPTION.findall(whole)),
        "images": len(captions),
        "captioned": sum(bool(c) for c in captions),
        "headers_in_text": sum(whole.count(h) for h in headers),
        "doubled": len(DOUBLED.findall(whole)),
        "read_s": round(read["s"], 2),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("pdfs", nargs="+", type=Path)
    p.add_argument("--before", required=True, help="the m2io sources to compare with")
    p.add_argument("--out", default="results/pdf_furniture.json")
    p.add_argument("--dump", type=Path, help="write each side's texts here for a diff")
    args = p.parse_args()
    load = os.getloadavg()
    here = str(Path(__file__).resolve().parent.parent / "src")
    rows = []
    for pdf in args.pdfs:
        headers = _first_lines(pdf)
        sides = {"before": _read(args.before, pdf), "after": _read(here, pdf)}
        rows.append({"pdf": pdf.name, **{k: _measure(v, headers) for k, v in sides.items()}})
        if args.dump:
            args.dump.mkdir(parents=True, exist_ok=True)
            for side, read in sides.items():
                text = "".join(f"\n===== {i}\n{t}\n" for i, t, _ in read["docs"])
                (args.dump / f"{pdf.stem}.{side}.txt").write_text(text)
    started = time.strftime("%Y-%m-%d")
    write_result(args.out, {"pdfs": rows, "machine": machine(load, started=started)})


if __name__ == "__main__":
    main()
