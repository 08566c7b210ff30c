"""The lexical half of the store at scale: bm25s over 100k and 1M chunk texts (the real GIMP
chunks, cycled), build time, peak RSS, disk, RSS after opening, and query p50/p95 with real
questions; each build and each query run in its own process, so its RSS is its own.

    nice -n 5 .venv/bin/python benchmarks/scaling_bm25.py --base-index GIMP_INDEX \
        --questions ../shared/bench/gimp --out results/scaling_bm25.json

It completes results/scaling.json (benchmarks/scaling.py measures the vectors and rows) for the
issue-13 memory target at 1M chunks.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from m2io.index.lexical import LexicalIndex


def _status_mb(key: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def child_build(base_index: Path, n: int, out: Path) -> dict[str, Any]:
    real = [
        json.loads(line)["text"] for line in (base_index / "chunks.jsonl").open(encoding="utf-8")
    ]
    texts = [real[i % len(real)] for i in range(n)]
    t0 = time.perf_counter()
    index = LexicalIndex.build(texts)
    build_s = time.perf_counter() - t0
    del texts
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    index.save(out)
    disk = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    return {
        "n": n,
        "build_s": round(build_s, 1),
        "build_peak_rss_mb": round(_status_mb("VmHWM")),
        "disk_mb": round(disk / 2**20, 1),
    }


def child_query(folder: Path, n: int, questions: list[str]) -> dict[str, Any]:
    before = _status_mb("VmRSS")
    t0 = time.perf_counter()
    index = LexicalIndex.load(folder, n)
    open_s = time.perf_counter() - t0
    grown = _status_mb("VmRSS") - before
    times = []
    for q in questions:
        t = time.perf_counter()
        scores = index.scores(q)
        np.argpartition(-scores, 50)[:50]  # the retriever's lexical pool
        times.append((time.perf_counter() - t) * 1e3)
    return {
        "open_s": round(open_s, 2),
        "rss_growth_open_mb": round(grown),
        "query_p50_ms": round(float(np.percentile(times, 50)), 2),
        "query_p95_ms": round(float(np.percentile(times, 95)), 2),
        "peak_rss_mb": round(_status_mb("VmHWM")),
    }


def run_child(args: list[str]) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", *args], capture_output=True, text=True, check=False
    )
    if out.returncode != 0:
        raise RuntimeError(f"child {args[:2]} failed: {out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        kind, base, n, folder = sys.argv[2], Path(sys.argv[3]), int(sys.argv[4]), Path(sys.argv[5])
        if kind == "build":
            print(json.dumps(child_build(base, n, folder)))
        else:
            print(json.dumps(child_query(folder, n, json.loads(sys.argv[6]))))
        return 0
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--base-index", type=Path, required=True)
    ap.add_argument("--questions", type=Path, required=True, help="MRAMG folder")
    ap.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--work", type=Path, default=Path("/tmp/m2io-scaling-bm25"))
    ap.add_argument("--out", type=Path, default=Path("results/scaling_bm25.json"))
    args = ap.parse_args()
    qfile = next(args.questions.glob("*_mqa.jsonl"))
    questions = [
        json.loads(line)["question"] for line in qfile.open(encoding="utf-8") if line.strip()
    ][: args.queries]
    runs = []
    for n in args.sizes:
        folder = args.work / f"bm25-{n}"
        row = run_child(["build", str(args.base_index), str(n), str(folder)])
        row |= run_child(
            ["query", str(args.base_index), str(n), str(folder), json.dumps(questions)]
        )
        print(json.dumps(row), flush=True)
        runs.append(row)
        shutil.rmtree(folder, ignore_errors=True)
    result = {
        "command": " ".join(sys.argv),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": {"cpus": __import__("os").cpu_count(), "python": platform.python_version()},
        "data": "real GIMP chunk texts cycled to each size; real GIMP questions",
        "runs": runs,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
