"""What the folder loader makes of an HTML manual, counted: for comparing two versions of it.

Counts the documents, the files skipped (by reason), the image anchors, the documents whose
text still shows latex2html's empty "(p. )" or an ``N#N`` placeholder, the languages, and lists
each document's section titles (:func:`m2io.index.sections.sections`), each document's text
(hashed) and image captions, and the documents that still show some markup a reader never sees
(``MARKERS``: "Back to top", a licence's grant, ``{#id}``, ``:::``, a ``|``-bounded line). Run it once with each
version's sources first on the path, then compare the two files:

    PYTHONPATH=/tmp/base/src python benchmarks/html_manual_counts.py CORPUS --out /tmp/a.json
    PYTHONPATH=src python benchmarks/html_manual_counts.py CORPUS --out /tmp/b.json
    python benchmarks/html_manual_counts.py --compare /tmp/a.json /tmp/b.json

No timing: counts only (the load average is recorded all the same).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import sys
from collections import Counter
from pathlib import Path

from _report import machine

_EMPTY_PAGE_REF = re.compile(r"\(p\.\s*\)")
_PLACEHOLDER = re.compile(r"(?<![\w#])(\d+)#\1(?!\d)")
MARKERS = {
    "back_to_top": re.compile(r"back to top", re.I),
    "licence_grant": re.compile(r"permission is granted to (?:copy|make|distribute)", re.I),
    "heading_id": re.compile(r"\{#[^{}\s]+\}"),
    "admonition_fence": re.compile(r"^ {0,3}:::", re.M),
    "pipe_row": re.compile(r"^\|.*\|[ \t]*$", re.M),
}


def count(corpus: str) -> dict:
    from m2io.corpus.folder import load_folder
    from m2io.index.sections import sections

    load = os.getloadavg()
    c = load_folder(corpus)
    docs = c.documents
    return {
        "corpus": corpus,
        "documents": len(docs),
        "skipped": {reason: len(files) for reason, files in c.skipped.items()},
        "image_anchors": sum(len(d.images) for d in docs),
        "images_by_id": Counter(a.image.image_id for d in docs for a in d.images).most_common(5),
        "docs_with_empty_page_ref": sum(1 for d in docs if _EMPTY_PAGE_REF.search(d.text)),
        "docs_with_placeholder": sum(1 for d in docs if _PLACEHOLDER.search(d.text)),
        "languages": dict(Counter(d.language for d in docs)),
        "sections": {d.doc_id: [s.title for s in sections(d)] for d in docs},
        "text_sha1": {d.doc_id: hashlib.sha1(d.text.encode()).hexdigest()[:12] for d in docs},
        "captions": {d.doc_id: [a.image.caption for a in d.images] for d in docs},
        "markers": {
            name: sum(len(pattern.findall(d.text)) for d in docs)
            for name, pattern in MARKERS.items()
        },
        "machine": machine(load),
    }


def compare(a_path: str, b_path: str, shown: int = 12) -> None:
    a, b = json.loads(Path(a_path).read_text()), json.loads(Path(b_path).read_text())
    for key in ("documents", "skipped", "image_anchors", "images_by_id"):
        print(f"{key}: {a[key]} -> {b[key]}")
    for key in ("docs_with_empty_page_ref", "docs_with_placeholder", "languages"):
        print(f"{key}: {a[key]} -> {b[key]}")
    if "text_sha1" in a and "text_sha1" in b:
        changed = [d for d, h in a["text_sha1"].items() if b["text_sha1"].get(d, h) != h]
        print(f"documents whose text changed: {len(changed)} {changed[:shown]}")
        caps = [
            (d, x, y)
            for d, cs in a["captions"].items()
            for x, y in zip(cs, b["captions"].get(d, cs), strict=False)
            if x != y
        ]
        print(f"image captions changed: {len(caps)} in {len({d for d, _, _ in caps})} documents")
        for d, x, y in caps[:3]:
            print(f"  {d}: {x!r} -> {y!r}")
        for name in a["markers"]:
            print(f"marker {name}: {a['markers'][name]} -> {b['markers'].get(name)}")
    before = sum(len(t) for t in a["sections"].values())
    after = sum(len(t) for t in b["sections"].values())
    gone: list[tuple[str, str]] = []
    new: list[tuple[str, str]] = []
    for doc, titles in a["sections"].items():
        other = Counter(b["sections"].get(doc, []))
        for title in titles:
            if other[title]:
                other[title] -= 1
            else:
                gone.append((doc, title))
        new += [(doc, t) for t, n in other.items() for _ in range(n)]
    print(f"section labels: {before} -> {after}; {len(gone)} gone, {len(new)} new")
    for doc, title in gone[:shown]:
        print(f"  - {doc}: {title!r}")
    for doc, title in new[:shown]:
        print(f"  + {doc}: {title!r}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("corpus", nargs="?")
    ap.add_argument("--out")
    ap.add_argument("--compare", nargs=2, metavar=("A", "B"))
    ap.add_argument("--shown", type=int, default=12, help="changes listed (compare)")
    args = ap.parse_args()
    if args.compare:
        compare(*args.compare, shown=args.shown)
        return
    if not args.corpus or not args.out:
        sys.exit("give CORPUS and --out, or --compare A B")
    result = count(args.corpus)  # written, not printed: the section lists are long
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    print(f"{args.corpus}: {result['documents']} documents -> {args.out}")


if __name__ == "__main__":
    main()
