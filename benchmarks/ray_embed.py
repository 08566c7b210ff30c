"""Embedding throughput in one process and on a local Ray with 1 and 2 workers (issue 13, item 5).

The same chunk texts (the first ``--n`` chunks of a corpus, as the index embeds them) through:
the in-process ONNX embedder (all cores), and ``RayTextEmbedder`` with 1 and 2 workers of one
thread each. Ray's start-up is timed apart from the embedding. The machine's load average is
recorded at the start and the end, and each Ray rate as a ratio of the in-process one measured in
the same run (the figure ``m2io.embed.distributed.RAY_MIN_CORES`` rests on).

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
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from m2io.corpus import chunk_corpus, load_corpus
from m2io.embed.distributed import RayTextEmbedder
from m2io.embed.onnx import OnnxTextEmbedder
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
    local = OnnxTextEmbedder(recent=0)
    t0 = time.perf_counter()
    local._encode(texts, 64, False)
    s = time.perf_counter() - t0
    res["runs"]["in_process"] = {"seconds": round(s, 2), "chunks_per_s": round(len(texts) / s, 2)}
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
    res["machine"]["load_avg_at_end"] = os.getloadavg()
    base = res["runs"]["in_process"]["chunks_per_s"]
    res["ray_over_in_process"] = {
        k: round(v["chunks_per_s"] / base, 3) for k, v in res["runs"].items() if k != "in_process"
    }
    Path(args.out).write_text(json.dumps(res, indent=2) + "\n", encoding="utf-8")
    print(json.dumps({"runs": res["runs"], "ratios": res["ray_over_in_process"]}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
