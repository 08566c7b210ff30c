"""What stored sentence vectors cost a build (issue 24 item 2): build time and index size.

Builds the same corpus from scratch with and without the sentence vectors
(``build_index(sentence_vectors=...)``, ``m2io index --sentence-vectors``), alternating the
order over ``--repeats`` rounds in one process (the embedder loaded once, before timing, its
stored and recent vectors emptied before each build), into temporary folders; then times opening each index and its first sentence lookup. Records the load
average at both ends. Writes ``--out`` (JSON) and prints it.

Command (from the repository root)::

    .venv/bin/python benchmarks/sentence_vectors_build.py --data ../shared/bench/gnucash \\
        --subset gnucash --out results/sentence_vectors_build.json
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
from _report import machine, write_result

from m2io.corpus.mramg import load_mramg
from m2io.embed.text import load_text_embedder
from m2io.index import Index, build_index
from m2io.index.sentences import SENTENCE_KEYS, SENTENCES


def folder_bytes(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", default="../shared/bench/gnucash")
    p.add_argument("--subset", default="gnucash")
    p.add_argument("--repeats", type=int, default=1, help="rounds of (with, without)")
    p.add_argument("--out", default="results/sentence_vectors_build.json")
    args = p.parse_args()

    load_at_start = os.getloadavg()
    corpus = load_mramg(Path(args.data).resolve(), args.subset)
    embedder = load_text_embedder()
    embedder.encode(["warm up"])
    work = Path(tempfile.mkdtemp(prefix="m2io-sv-"))
    walls: dict[str, list[float]] = {"with": [], "without": []}
    sizes: dict[str, int] = {}
    opens: dict[str, float] = {}
    try:
        for r in range(args.repeats):
            order = ["with", "without"] if r % 2 == 0 else ["without", "with"]
            for kind in order:
                out = work / f"{kind}-{r}"
                # nothing one build or open left in the shared embedder may serve the next
                embedder._memo.clear()
                embedder._tables.clear()
                embedder.forget_recent()
                t0 = time.perf_counter()
                build_index(
                    corpus.documents,
                    out,
                    embedder=embedder,
                    corpus_root=corpus.root or None,
                    progress=False,
                    sentence_vectors=kind == "with",
                )
                walls[kind].append(time.perf_counter() - t0)
                sizes[kind] = folder_bytes(out)
                t0 = time.perf_counter()
                index = Index.open(out)  # no embedder: nothing is handed to the one timed
                table = index.sentence_vectors
                if table is not None:
                    table.lookup(["a first lookup"])
                opens[kind] = 1000 * (time.perf_counter() - t0)
                if kind == "with":
                    sizes["sentence_files"] = sum(
                        (out / f).stat().st_size for f in (SENTENCES, SENTENCE_KEYS)
                    )
                    sizes["sentences"] = len(table) if table is not None else 0
                    sizes["chunks"] = index.manifest.n_chunks
                shutil.rmtree(out)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    with_s, without_s = float(np.median(walls["with"])), float(np.median(walls["without"]))
    result = {
        "data": str(Path(args.data).resolve()),
        "subset": args.subset,
        "build_s": {k: [round(x, 1) for x in v] for k, v in walls.items()},
        "build_ratio_with_over_without": round(with_s / without_s, 2),
        "index_bytes": sizes,
        "size_ratio_with_over_without": round(sizes["with"] / sizes["without"], 2),
        "open_and_first_lookup_ms": {k: round(v, 1) for k, v in opens.items()},
        "machine": machine(
            load_at_start, embedder=f"{embedder.name} ({getattr(embedder, 'backend', '')})"
        ),
    }
    write_result(args.out, result)


if __name__ == "__main__":
    main()
