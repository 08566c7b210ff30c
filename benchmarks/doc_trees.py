"""What the index reads from real doc trees and PDF manuals: documents, chunks, images, skips.

For each path given (a folder of HTML/Markdown pages, or a PDF file) it loads the corpus the way
``m2io index`` does, cuts chunks (180 words), and prints: documents, chunks, image anchors and
distinct images, the files left out and why (grouped), the load time and the peak memory (the
Python heap by ``tracemalloc``, and the process's peak RSS: each path runs in a process of its
own), and how many chunks or section labels still hold a furniture or markup
marker that a program can spot (permalink glyphs, ``©``/"Copyright" lines, reST/Markdown/HTML
markup, "Previous/Next topic", "Table of contents"). It then writes ``--sample`` chunks per
corpus, drawn with a fixed seed, to ``--sample-dir`` for reading by hand (the figures quoted in
docs/RESULTS.md come from reading those files).

Command (from the repository root)::

    PYTHONPATH=src .venv/bin/python benchmarks/doc_trees.py \\
        /work/corpora/x/sphinx-doc/usr/share/doc/sphinx-doc/html \\
        /work/corpora/x/debian-reference-en/usr/share/debian-reference \\
        --exclude '*.pdf' --sample 50 --sample-dir /work/corpora/samples
"""

from __future__ import annotations

import argparse
import json
import random
import re
import resource
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

from m2io.corpus import chunk_corpus, load_corpus
from m2io.corpus.skips import skipped_lines
from m2io.index.sections import chunk_sources

MARKERS = re.compile(
    r"[\u00b6\uf0c1\u00a9]|\bCopyright\b|^\.\. |:ref:`|:doc:`|<\w+[ >]|\]\(|"
    r"Previous topic|Next topic|Table of [Cc]ontents|Quick search|Edit on GitHub|Skip to",
    re.M,
)


def measure(
    path: Path, sample: int, seed: int, out_dir: Path | None, exclude: list[str]
) -> dict[str, object]:
    tracemalloc.start()
    t0 = time.perf_counter()
    corpus = load_corpus(path, exclude=exclude) if path.is_dir() else load_corpus(path)
    seconds = time.perf_counter() - t0
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    chunks = chunk_corpus(corpus.documents, max_words=180)
    by_doc: dict[str, list] = {}
    for c in chunks:
        by_doc.setdefault(c.doc_id, []).append(c)
    labels = []
    for doc in corpus.documents:
        for source, _, _ in chunk_sources(doc, by_doc.get(doc.doc_id, []), None):
            labels.append(source.section)
    flagged = [c for c in chunks if MARKERS.search(c.text)]
    bad_labels = [s for s in labels if MARKERS.search(s)]
    rng = random.Random(seed)
    picked = rng.sample(chunks, min(sample, len(chunks)))
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        name = re.sub(r"[^\w.-]+", "_", str(path).strip("/"))[-80:]
        with open(out_dir / f"{name}.txt", "w", encoding="utf-8") as f:
            for i, c in enumerate(picked):
                f.write(f"===== {i + 1} {c.chunk_id} [{c.title}] images={len(c.images)}\n")
                f.write(c.text + "\n")
    return {
        "path": str(path),
        "documents": len(corpus.documents),
        "chunks": len(chunks),
        "image_anchors": sum(len(d.images) for d in corpus.documents),
        "images": len({a.image.image_id for d in corpus.documents for a in d.images}),
        "skipped": skipped_lines(corpus.skipped),
        "problems": [p.line() for p in corpus.problems()][:10],
        "load_s": round(seconds, 2),
        "peak_python_mib": round(peak / 2**20, 1),
        # the whole process (PDFium's C memory included): each path is measured in its own
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "chunks_with_marker": len(flagged),
        "labels_with_marker": len(bad_labels),
        "marker_examples": [MARKERS.search(c.text).group(0) for c in flagged[:10]],  # type: ignore[union-attr]
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="+", type=Path)
    parser.add_argument("--sample", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--sample-dir", type=Path)
    parser.add_argument("--out", type=Path, help="write the figures as JSON here")
    parser.add_argument("--exclude", action="append", default=[], help="glob for folder paths")
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:  # the child: one path, figures as JSON on stdout
        r = measure(args.paths[0], args.sample, args.seed, args.sample_dir, args.exclude)
        print(json.dumps(r, ensure_ascii=False))
        return 0
    results = []
    for path in args.paths:  # one process per path, so peak RSS is that path's
        cmd = [sys.executable, __file__, str(path), "--one", "--sample", str(args.sample)]
        cmd += ["--seed", str(args.seed)] + [f"--exclude={g}" for g in args.exclude]
        if args.sample_dir:
            cmd += ["--sample-dir", str(args.sample_dir)]
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode:
            print(f"{path}: failed\n{done.stderr[-2000:]}", file=sys.stderr)
            continue
        r = json.loads(done.stdout.strip().splitlines()[-1])
        results.append(r)
        print(json.dumps(r, indent=1, ensure_ascii=False))
    if args.out:
        args.out.write_text(json.dumps(results, indent=1, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
