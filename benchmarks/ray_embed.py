"""Embedding throughput in one process and on a local Ray, for the model that decides when Ray
pays (issue 24, item 4).

The same chunk texts (the first ``--n`` chunks of a corpus, as the index embeds them) through: the
in-process ONNX embedder on one thread and on every core (run first and again last, so a drift in
the machine's load shows), and ``RayTextEmbedder`` with 1 and 2 workers of one thread each. Ray's
start-up (instance and workers' models loaded) is timed apart from the embedding. Recorded: the
load average at the start and the end, each rate as a ratio of the in-process one of the same run,
and the fitted model of :func:`m2io.embed.distributed.predict_embed_seconds` (single-thread rate,
in-process parallel fraction, Ray's per-worker efficiency, start-up) with the corpus size from
which Ray would pay at 2, 4, 8 and 16 cores.

Usage::

    nice -n 5 .venv/bin/python benchmarks/ray_embed.py --data ../shared/bench/gimp \\
        --out results/ray_embed.json
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import tempfile
import time
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from m2io.corpus import chunk_corpus, load_corpus
from m2io.embed.distributed import RayTextEmbedder
from m2io.embed.onnx import OnnxTextEmbedder
from m2io.embed.ray_plan import fit_ray_model
from m2io.index.build import chunk_embedding_text


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", required=True)
    ap.add_argument("--n", type=int, default=768)
    ap.add_argument("--out", default="results/ray_embed.json")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    texts = [chunk_embedding_text(c) for c in chunk_corpus(load_corpus(args.data).documents)]
    texts = list(dict.fromkeys(texts))[: args.n]
    res: dict[str, Any] = {
        "command": f"nice -n 5 .venv/bin/python benchmarks/ray_embed.py --data {args.data}",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "load_avg_at_start": os.getloadavg()},
        "texts": len(texts),
        "runs": {},
    }

    def in_process(threads: int | None) -> dict[str, float]:
        local = OnnxTextEmbedder(recent=0, small_batch=0, threads=threads)
        local._encode(texts[:8], 64, False)  # session made
        t0 = time.perf_counter()
        local._encode(texts, 64, False)
        s = time.perf_counter() - t0
        return {"seconds": round(s, 2), "chunks_per_s": round(len(texts) / s, 2)}

    res["runs"]["in_process"] = in_process(None)
    print("in process", res["runs"]["in_process"], flush=True)
    res["runs"]["in_process_1_thread"] = in_process(1)
    print("in process, 1 thread", res["runs"]["in_process_1_thread"], flush=True)
    for workers in (1, 2):
        with tempfile.TemporaryDirectory(prefix="ray", dir="/tmp") as tmp:
            t0 = time.perf_counter()
            emb = RayTextEmbedder(address="local", workers=workers, temp_dir=tmp)
            emb._ray.get([w.encode.remote(["warm up"], 1) for w in emb._workers])  # all loaded
            start_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            emb._encode(texts, 64, False)
            s = time.perf_counter() - t0
            emb.shutdown()
        res["runs"][f"ray_{workers}_workers"] = {
            "startup_s": round(start_s, 2),
            "seconds": round(s, 2),
            "chunks_per_s": round(len(texts) / s, 2),
        }
        print(workers, res["runs"][f"ray_{workers}_workers"], flush=True)
    res["runs"]["in_process_again"] = in_process(None)
    print("in process again", res["runs"]["in_process_again"], flush=True)
    res["machine"]["load_avg_at_end"] = os.getloadavg()
    runs = res["runs"]
    base = (runs["in_process"]["chunks_per_s"] + runs["in_process_again"]["chunks_per_s"]) / 2
    res["ray_over_in_process"] = {
        k: round(v["chunks_per_s"] / base, 3) for k, v in runs.items() if k.startswith("ray")
    }
    res["ray_over_in_process_with_startup"] = {
        k: round((len(texts) / base) / (v["seconds"] + v["startup_s"]), 3)
        for k, v in runs.items()
        if k.startswith("ray")
    }
    cores = os.cpu_count() or 1
    model = fit_ray_model(
        one_thread=runs["in_process_1_thread"]["chunks_per_s"],
        all_threads=base,
        cores=cores,
        ray_workers={
            1: runs["ray_1_workers"]["chunks_per_s"],
            2: runs["ray_2_workers"]["chunks_per_s"],
        },
        startup_s=max(runs["ray_1_workers"]["startup_s"], runs["ray_2_workers"]["startup_s"]),
    )
    res["model"] = asdict(model)
    res["ray_pays_from_chunks"] = {c: model.crossover(c) for c in (2, 4, 8, 16)}
    Path(args.out).write_text(json.dumps(res, indent=2) + "\n", encoding="utf-8")
    print(json.dumps({k: res[k] for k in ("runs", "ray_over_in_process", "model")}, indent=2))
    print(json.dumps(res["ray_pays_from_chunks"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
