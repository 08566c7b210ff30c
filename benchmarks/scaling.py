"""How the embedded vector store scales: 10k, 100k and 1M chunks of 384-d vectors (issue 13, item 5).

The vectors are synthetic, drawn around real ones: each is a real all-MiniLM-L6-v2 chunk or image
vector of a built index (``--base-index``) plus noise in the real vectors' 64 main directions
(scaled by their spread) and a little isotropic noise, re-normalised; each row's text is the real
chunk text of its centre. So neighbourhoods look like real text embeddings (low intrinsic
dimension, clusters of near-paraphrases), which is what makes approximate search work or fail;
uniform random vectors would be the wrong test. Queries are the real questions of ``--questions``
embedded with the ONNX backend.

For each size and each kind of vector index (``exact`` = ``IndexFlatIP``, ``ivf``, ``hnsw``; see
:mod:`m2io.index.ann`), separate processes:

- build: ``write_store_vectors`` from the vectors: seconds, peak RSS, file size on disk;
- query: ``read_store_vectors`` (what ``Index.open`` does), then each query alone, top 10: open
  seconds, RSS after open, query p50/p95 ms, recall@10 against the exact index's top 10, and for
  IVF / HNSW the recall and p50 at other ``nprobe`` / ``efSearch`` settings;
- rows (10k, 100k): the chunk rows (real text) parsed as ``Index.open`` parses them: seconds and
  RSS growth, extrapolated linearly to 1M.

Usage::

    m2io index ../shared/bench/gimp --out /tmp/gimp.index      # real vectors and texts
    nice -n 5 .venv/bin/python benchmarks/scaling.py --base-index /tmp/gimp.index \\
        --questions ../shared/bench/gimp --out results/scaling.json --plot results/scaling.png
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

logger = logging.getLogger("scaling")
DIM = 384
K = 10
PCA_DIMS = 64
SPREAD, ISO = 0.6, 0.15
"""Noise along the main directions (times their std) and isotropic noise (per unit vector)."""
BLOCK = 50_000
SWEEP = {"ivf": [8, 16, 32, 64], "hnsw": [32, 64, 128, 256]}


def _status_mb(key: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key):
            return int(line.split()[1]) / 1024
    return float("nan")


def rss_mb() -> float:
    """Current resident set size, MiB."""
    return _status_mb("VmRSS:")


def peak_rss_mb() -> float:
    """Peak resident set size of this process, MiB (``VmHWM``: unlike ``ru_maxrss`` it does not
    carry the parent's peak across ``exec``)."""
    return _status_mb("VmHWM:")


# --- synthetic vectors --------------------------------------------------------------------


def generate(base: np.ndarray, n: int, path: Path, seed: int) -> None:
    """``n`` unit vectors around rows of ``base`` into the ``.npy`` file ``path``; row ``i``'s
    centre is ``centres(n, len(base), seed)[i]``."""
    mean = base.mean(axis=0)
    _, s, vt = np.linalg.svd(base - mean, full_matrices=False)
    std = s[:PCA_DIMS] / np.sqrt(len(base))
    comps = vt[:PCA_DIMS] * std[:, None]  # (PCA_DIMS, DIM), scaled by spread
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(n, DIM))
    centre = centres(n, len(base), seed)
    rng = np.random.default_rng(seed + 1)
    for start in range(0, n, BLOCK):
        rows = centre[start : start + BLOCK]
        z = rng.standard_normal((len(rows), PCA_DIMS)).astype(np.float32)
        g = rng.standard_normal((len(rows), DIM)).astype(np.float32) / np.sqrt(DIM)
        x = base[rows] + SPREAD * (z @ comps) + ISO * g
        out[start : start + len(rows)] = x / np.linalg.norm(x, axis=1, keepdims=True)
    out.flush()
    del out


def centres(n: int, n_base: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, n_base, size=n)


# --- children (one process per measurement, so RSS is its own) -------------------------------


def child_build(vectors: Path, kind: str, out: Path) -> dict[str, Any]:
    from m2io.index.ann import write_store_vectors

    vecs = np.load(vectors, mmap_mode="r")
    t0 = time.perf_counter()
    got = write_store_vectors(out, np.asarray(vecs), kind)
    return {
        "kind": got,
        "build_s": round(time.perf_counter() - t0, 2),
        "build_peak_rss_mb": round(peak_rss_mb()),
        "disk_mb": round(out.stat().st_size / 2**20, 1),
    }


def _time_queries(index: Any, queries: np.ndarray) -> tuple[list[float], np.ndarray]:
    """Each query alone, as ``Index.search_chunks`` runs it (one faiss thread)."""
    from m2io.index.ann import search_one

    times, found = [], np.zeros((len(queries), K), dtype=np.int64)
    for i, q in enumerate(queries):
        t0 = time.perf_counter()
        _, rows = search_one(index, q, K)
        times.append((time.perf_counter() - t0) * 1000)
        found[i] = rows
    return times, found


def child_query(index_path: Path, queries_path: Path, exact_path: Path | None) -> dict[str, Any]:
    from m2io.index.ann import index_kind, read_store_vectors, recall_at_k

    queries = np.load(queries_path)
    before = rss_mb()
    t0 = time.perf_counter()
    index, vecs = read_store_vectors(index_path)
    open_s = time.perf_counter() - t0
    after = rss_mb()
    kind = index_kind(index)
    _time_queries(index, queries[:5])  # warm up
    times, found = _time_queries(index, queries)
    res: dict[str, Any] = {
        "open_s": round(open_s, 2),
        "rss_after_open_mb": round(after),
        "rss_growth_open_mb": round(after - before),
        "query_p50_ms": round(float(np.percentile(times, 50)), 3),
        "query_p95_ms": round(float(np.percentile(times, 95)), 3),
    }
    if exact_path is None:
        np.save(str(index_path) + ".top10.npy", found)
        res["recall@10"] = 1.0
    else:
        exact = np.load(exact_path)
        res["recall@10"] = round(recall_at_k(found, exact, K), 4)
        sweep = []
        for value in SWEEP.get(kind, []):
            if kind == "ivf":
                index.nprobe = value
            else:
                index.hnsw.efSearch = value
            t, f = _time_queries(index, queries)
            sweep.append(
                {
                    "nprobe" if kind == "ivf" else "efSearch": value,
                    "recall@10": round(recall_at_k(f, exact, K), 4),
                    "p50_ms": round(float(np.percentile(t, 50)), 3),
                    "p95_ms": round(float(np.percentile(t, 95)), 3),
                }
            )
        if sweep:
            res["sweep"] = sweep
    res["peak_rss_mb"] = round(peak_rss_mb())
    del vecs
    return res


def child_rows(base_index: Path, n: int, work: Path) -> dict[str, Any]:
    """Write ``n`` chunk rows cycled from the base index's real rows, then parse them as
    ``Index.open`` does."""
    from m2io.index.records import chunk_from_row, read_jsonl

    real = [json.loads(line) for line in (base_index / "chunks.jsonl").open(encoding="utf-8")]
    path = work / f"rows-{n}.jsonl"
    with path.open("w", encoding="utf-8") as f:
        for i in range(n):
            row = dict(real[i % len(real)], images=[])
            row["chunk_id"] = f"{row['chunk_id']}~{i}"
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    before = rss_mb()
    t0 = time.perf_counter()
    chunks = [chunk_from_row(v, [])[0] for _, v in read_jsonl(path)]
    parse_s = time.perf_counter() - t0
    res = {
        "rows": len(chunks),
        "parse_s": round(parse_s, 2),
        "rss_growth_mb": round(rss_mb() - before),
        "disk_mb": round(path.stat().st_size / 2**20, 1),
    }
    path.unlink()
    return res


def run_child(args: list[str]) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", *args],
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(f"child {args} failed: {out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


# --- the run ------------------------------------------------------------------------------


def load_base(base_index: Path) -> np.ndarray:
    from m2io.index.vectors import read_vectors

    _, chunks = read_vectors(base_index / "chunks.faiss")
    _, images = read_vectors(base_index / "images.faiss")
    return np.ascontiguousarray(np.concatenate([chunks, images]), dtype=np.float32)


def embed_questions(folder: Path, n: int) -> np.ndarray:
    from m2io.corpus import load_questions
    from m2io.embed.text import DEFAULT_TEXT_MODEL, load_text_embedder

    questions = [q.question for q in load_questions(folder)][:n]
    emb = load_text_embedder(f"{DEFAULT_TEXT_MODEL}@onnx")
    return np.ascontiguousarray(emb.encode(questions, batch_size=64), dtype=np.float32)


def plot(result: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 4, figsize=(17, 4))
    runs = result["runs"]
    for kind, col in (("exact", "C0"), ("ivf", "C1"), ("hnsw", "C2")):
        pts = sorted(((r["n"], r) for r in runs if r["kind"] == kind), key=lambda p: p[0])
        if not pts:
            continue
        ns = [n for n, _ in pts]
        axes[0].plot(ns, [r["query_p95_ms"] for _, r in pts], "o-", c=col, label=f"{kind} p95")
        axes[0].plot(ns, [r["query_p50_ms"] for _, r in pts], "x--", c=col, label=f"{kind} p50")
        axes[1].plot(ns, [r["recall@10"] for _, r in pts], "o-", c=col, label=kind)
        axes[2].plot(ns, [r["rss_after_open_mb"] for _, r in pts], "o-", c=col, label=kind)
        axes[3].plot(ns, [r["build_s"] for _, r in pts], "o-", c=col, label=kind)
    rows = result.get("rows", {})
    if rows:
        ns = sorted(int(n) for n in rows)
        axes[2].plot(
            ns, [rows[str(n)]["rss_growth_mb"] for n in ns], "s:", c="C3", label="chunk rows (text)"
        )
    axes[0].axhline(50, color="grey", lw=0.8, ls=":")
    axes[1].axhline(0.95, color="grey", lw=0.8, ls=":")
    axes[2].axhline(4096, color="grey", lw=0.8, ls=":")
    titles = ["query latency (ms)", "recall@10 vs exact", "RSS (MiB)", "build time (s)"]
    for ax, title in zip(axes, titles, strict=True):
        ax.set_xscale("log")
        ax.set_xlabel("chunks")
        ax.set_title(title)
        ax.legend(fontsize=7)
    axes[0].set_yscale("log")
    fig.suptitle("m2io embedded vector store, 384-d, 2 shared cores")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        what, *rest = sys.argv[2:]
        if what == "build":
            res = child_build(Path(rest[0]), rest[1], Path(rest[2]))
        elif what == "query":
            exact = Path(rest[2]) if len(rest) > 2 else None
            res = child_query(Path(rest[0]), Path(rest[1]), exact)
        else:
            res = child_rows(Path(rest[0]), int(rest[1]), Path(rest[2]))
        print(json.dumps(res))
        return 0
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--base-index", type=Path, required=True)
    ap.add_argument("--questions", type=Path, required=True, help="MRAMG folder")
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    ap.add_argument("--kinds", nargs="+", default=["exact", "ivf", "hnsw"])
    ap.add_argument("--hnsw-max", type=int, default=100_000, help="largest size built as HNSW")
    ap.add_argument("--rows-max", type=int, default=100_000, help="largest size of the rows test")
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--work", type=Path, default=Path("/tmp/m2io-scaling"))
    ap.add_argument("--out", type=Path, default=Path("results/scaling.json"))
    ap.add_argument("--plot", type=Path, default=Path("results/scaling.png"))
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    args.work.mkdir(parents=True, exist_ok=True)
    t_start = time.perf_counter()
    base = load_base(args.base_index)
    queries_path = args.work / "queries.npy"
    np.save(queries_path, embed_questions(args.questions, args.queries))
    result: dict[str, Any] = {
        "command": "nice -n 5 .venv/bin/python benchmarks/scaling.py " + " ".join(sys.argv[1:]),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "load_avg_at_start": [round(x, 2) for x in os.getloadavg()],
            "note": "2 cores shared with other jobs (run under nice -n 5); compare ratios",
        },
        "data": {
            "base_vectors": int(len(base)),
            "base_index": str(args.base_index),
            "queries": f"{args.queries} real questions of {args.questions.name}, onnx embedder",
            "synthetic": f"real vector + {SPREAD} x noise in its {PCA_DIMS} principal directions "
            f"+ {ISO} isotropic noise, normalised",
        },
        "targets_1m": {"query_p95_ms": 50, "recall@10": 0.95, "rss_mb": 4096},
        "runs": [],
        "rows": {},
    }
    for n in args.sizes:
        vec_path = args.work / f"vectors-{n}.npy"
        logger.info("n=%d: generating", n)
        generate(base, n, vec_path, seed=n)
        exact_top: Path | None = None
        for kind in args.kinds:
            if kind == "hnsw" and n > args.hnsw_max:
                continue
            index_path = args.work / f"{kind}-{n}.faiss"
            logger.info("n=%d %s: build", n, kind)
            run = {
                "n": n,
                "kind": kind,
                **run_child(["build", str(vec_path), kind, str(index_path)]),
            }
            logger.info("n=%d %s: query", n, kind)
            q_args = ["query", str(index_path), str(queries_path)]
            if kind != "exact":
                assert exact_top is not None, "exact must run first"
                q_args.append(str(exact_top))
            run.update(run_child(q_args))
            if kind == "exact":
                exact_top = Path(str(index_path) + ".top10.npy")
            logger.info("  %s", json.dumps(run))
            result["runs"].append(run)
            if kind != "exact":
                index_path.unlink()
        if n <= args.rows_max:
            logger.info("n=%d: rows", n)
            result["rows"][str(n)] = run_child(
                ["rows", str(args.base_index), str(n), str(args.work)]
            )
        for p in args.work.glob(f"exact-{n}.faiss*"):
            p.unlink()
        vec_path.unlink()
        result["seconds"] = round(time.perf_counter() - t_start, 1)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    if result["rows"]:
        big = max(result["rows"], key=int)
        per = {k: v / int(big) for k, v in result["rows"][big].items() if k != "rows"}
        result["rows_extrapolated_1m"] = {k: round(v * 1_000_000, 1) for k, v in per.items()}
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    plot(result, args.plot)
    logger.info("wrote %s and %s in %.0f s", args.out, args.plot, time.perf_counter() - t_start)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
