"""Memory of forked workers sharing one large index, and after each reopened it (issue 24, item 1).

What ``m2io serve --workers N`` does to an index, without HTTP, on an index large enough for its
memory to show (``--chunks``, default 100,000 chunks of ~150 words, 384-d vectors): a master
opens the index and a hybrid retriever and answers a few questions; it forks ``--workers``
workers that each retrieve ``--questions`` distinct questions; then the index folder is swapped
for a copy (new files, as an upload writes) and every worker opens it again and retrieves as
many. At each stage every process's RSS, PSS and private memory are read from
``/proc/<pid>/smaps_rollup`` while all are alive, with retrieval p50 / p95, the CPU a retrieval
costs a forked worker, the reopen's seconds and its first retrieval's (the retriever's word
counts and headings index are built then).

Each source tree given (``--src``, e.g. the main checkout's ``src`` and this one's) runs as its
own child process, one after another and then again in the other order (``--repeats``), on the
same index, so the trees compare under the same machine load. Vectors come from
:class:`~m2io.testing.HashEmbedder` (a text's hashed words): memory and row handling are what is
measured, not ranking quality.

    PYTHONPATH=src .venv/bin/python benchmarks/shared_index.py --src /work/main/src --src src \\
        --chunks 100000 --workers 2 --out results/shared_index.json
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from load_serve import machine, memory

DIM = 384


def synthetic_docs(chunks: int, seed: int = 0) -> list[Any]:
    """Documents of five ~150-word sections each, words drawn from a Zipf-like vocabulary."""
    from m2io.types import Document

    rng = random.Random(seed)
    vocab = [f"w{i}" for i in range(30_000)]
    cum = list(itertools.accumulate(1 / (i + 1) for i in range(len(vocab))))
    docs = []
    for d in range(max(1, chunks // 5)):
        parts = []
        for s in range(5):
            words = rng.choices(vocab, cum_weights=cum, k=140)
            sentences = [" ".join(words[i : i + 14]).capitalize() + "." for i in range(0, 140, 14)]
            parts.append(f"## Section {s} of page {d}\n\n" + " ".join(sentences))
        docs.append(Document(f"page{d}.md", "\n\n".join(parts), (), f"Page {d}"))
    return docs


def build(folder: Path, chunks: int) -> float:
    from m2io.index import build_index
    from m2io.testing.hash_embedder import HashEmbedder

    t = time.perf_counter()
    build_index(synthetic_docs(chunks), folder, embedder=HashEmbedder(DIM), progress=False)
    return time.perf_counter() - t


def questions(n: int, offset: int) -> list[str]:
    rng = random.Random(offset)
    return [" ".join(f"w{rng.randrange(3000)}" for _ in range(6)) + "?" for _ in range(n)]


def answer(folder: Path, qs: list[str]) -> tuple[Any, float, list[float], dict[str, float]]:
    """Open ``folder`` with a hybrid retriever, retrieve ``qs``: (retriever, open s, ms each,
    this process's memory right after the open)."""
    from m2io.index import Index
    from m2io.retrievers.hybrid import HybridRetriever
    from m2io.testing.hash_embedder import HashEmbedder

    t = time.perf_counter()
    index = Index.open(folder, embedder=HashEmbedder(DIM))
    open_s = time.perf_counter() - t
    opened = memory(os.getpid())
    retriever = HybridRetriever(index)
    lat = []
    for q in qs:
        t = time.perf_counter()
        retriever.retrieve(q)
        lat.append((time.perf_counter() - t) * 1e3)
    return retriever, open_s, lat, opened


def summary(lat: list[float]) -> dict[str, float]:
    """The first retrieval (it builds the retriever's word counts and headings index) apart."""
    rest = sorted(lat[1:])
    return {
        "first_ms": round(lat[0], 1),
        "p50_ms": round(statistics.median(rest), 2),
        "p95_ms": round(rest[int(0.95 * (len(rest) - 1))], 2),
    }


def child(folder: Path, workers: int, n: int) -> dict[str, Any]:
    """The master and its forked workers (this process's own source tree)."""
    import multiprocessing as mp

    ctx = mp.get_context("fork")
    barrier = ctx.Barrier(workers + 1)
    results = ctx.Queue()
    import bm25s  # noqa: F401 - the modules the open imports, before the memory is read
    import faiss  # noqa: F401

    import m2io.retrievers.hybrid  # noqa: F401

    before = memory(os.getpid())  # one process: the anonymous MB are its own
    retriever, open_s, lat, opened = answer(folder, questions(20, 1))
    answered = memory(os.getpid())
    swap = folder.with_name(folder.name + ".swap")

    def work(k: int) -> None:
        lat = [0.0] * n
        cpu = time.process_time()
        for i, q in enumerate(questions(n, 100 + k)):
            t = time.perf_counter()
            retriever.retrieve(q)
            lat[i] = (time.perf_counter() - t) * 1e3
        cpu_ms = (time.process_time() - cpu) / n * 1e3
        barrier.wait()  # all have answered: measure
        barrier.wait()  # measured; the folder is swapped
        _, reopen_s, lat2, _ = answer(folder, questions(n, 200 + k))
        barrier.wait()
        barrier.wait()
        forked = {**summary(lat), "cpu_ms_each": round(cpu_ms, 2)}
        results.put({"worker": k, "forked": forked, "reopened": summary(lat2), "open_s": reopen_s})

    procs = [ctx.Process(target=work, args=(k,)) for k in range(workers)]
    for p in procs:
        p.start()
    pids = [os.getpid()] + [p.pid for p in procs]
    barrier.wait()
    forked = {str(p): memory(p) for p in pids}
    shutil.copytree(folder, swap)  # new files, as an upload's swap writes them
    old = folder.with_name(folder.name + ".old")
    folder.rename(old)
    swap.rename(folder)
    shutil.rmtree(old)
    barrier.wait()
    barrier.wait()
    reopened = {str(p): memory(p) for p in pids}
    barrier.wait()
    per_worker = sorted((results.get(timeout=600) for _ in procs), key=lambda r: r["worker"])
    for p in procs:
        p.join()
    return {
        "open_s": round(open_s, 2),
        "master_before_open": before,
        "master_after_open": opened,
        "master_after_20_questions": answered,
        "master_retrieve": summary(lat),
        "workers": per_worker,
        "memory_forked": forked,
        "memory_reopened": reopened,
        **{
            f"worker_{kind}_mb_{stage}": [mem[str(p)][f"{kind}_mb"] for p in pids[1:]]
            for stage, mem in (("forked", forked), ("reopened", reopened))
            for kind in ("private", "anon")
        },
        **{
            f"pss_total_mb_{stage}": round(sum(m["pss_mb"] for m in mem.values()), 1)
            for stage, mem in (("forked", forked), ("reopened", reopened))
        },
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--src", action="append", required=True, help="a source tree (repeatable)")
    ap.add_argument("--chunks", type=int, default=100_000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--questions", type=int, default=100, help="retrievals per worker and stage")
    ap.add_argument("--repeats", type=int, default=2, help="runs of each tree, order alternated")
    ap.add_argument("--index", help="keep the built index here (reused when present)")
    ap.add_argument("--out", default="results/shared_index.json")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(Path(args.child), args.workers, args.questions)))
        return 0

    work = Path(tempfile.mkdtemp(prefix="m2io-shared-"))
    base = Path(args.index) if args.index else work / "base"
    build_s = None if (base / "manifest.json").is_file() else build(base, args.chunks)
    runs = []
    for r in range(args.repeats):
        for src in args.src if r % 2 == 0 else args.src[::-1]:
            folder = work / "index"
            shutil.rmtree(folder, ignore_errors=True)
            shutil.copytree(base, folder)
            load = [round(x, 2) for x in os.getloadavg()]
            env = {**os.environ, "PYTHONPATH": f"{src}{os.pathsep}{Path(__file__).parent}"}
            cmd = [sys.executable, __file__, "--src", src, "--child", str(folder)]
            cmd += ["--workers", str(args.workers), "--questions", str(args.questions)]
            out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
            if out.returncode != 0:
                raise RuntimeError(f"{src}: {out.stderr[-3000:]}")
            res = json.loads(out.stdout.strip().splitlines()[-1])
            runs.append({"src": src, "load_avg": load, **res})
            print(json.dumps({k: v for k, v in runs[-1].items() if "memory" not in k}), flush=True)
    result = {
        "benchmark": "shared_index",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "chunks": json.loads((base / "manifest.json").read_text())["n_chunks"],
        "index_mb": round(sum(p.stat().st_size for p in base.rglob("*") if p.is_file()) / 2**20),
        "build_s": None if build_s is None else round(build_s, 1),
        "workers": args.workers,
        "runs": runs,
        "command": " ".join(["python", *sys.argv]),
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
