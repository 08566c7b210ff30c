"""Retrieval per question on the embedded (faiss) store and on Milvus, interleaved (issue 24, item 3).

Opens two indexes of the same corpus built with the same vectors (``store_agreement.py --work
DIR`` leaves them as ``DIR/<corpus>-embedded.index`` and ``DIR/<corpus>-milvus.index``) and runs
the default retriever on every question against both, alternating which store goes first, so
the machine's load hits both alike. Counts the Milvus round trips (searches and row queries) per
question and records the load average at both ends.

Usage::

    nice -n 5 .venv/bin/python benchmarks/store_agreement.py --data ../shared/bench/gimp \\
        --work /tmp/stores
    nice -n 5 .venv/bin/python benchmarks/milvus_retrieval.py --data ../shared/bench/gimp \\
        --work /tmp/stores --out results/milvus_retrieval-gimp.json
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from m2io.config import PipelineConfig
from m2io.corpus import load_questions
from m2io.factory import build_retriever


def _count_round_trips(index: Any, calls: Counter) -> None:
    for store, name in ((index._chunk_index, "chunks"), (index._image_index, "images")):
        client = getattr(store, "_client", None)
        for method in ("search", "query") if client is not None else ():
            real = getattr(client, method)

            def counted(*a: Any, _real: Any = real, _what: str = f"{name}.{method}", **kw: Any):
                calls[_what] += 1
                return _real(*a, **kw)

            setattr(client, method, counted)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", required=True, help="the MRAMG corpus folder the indexes hold")
    ap.add_argument("--work", required=True, help="folder holding the two indexes")
    ap.add_argument("--out", default="results/milvus_retrieval.json")
    args = ap.parse_args()
    name = Path(args.data).name
    retrievers = {}
    for store in ("embedded", "milvus"):
        cfg = PipelineConfig()
        cfg.index = str(Path(args.work) / f"{name}-{store}.index")
        retrievers[store] = build_retriever(cfg)
    calls: Counter = Counter()
    _count_round_trips(retrievers["milvus"].index, calls)
    questions = load_questions(args.data)
    res: dict[str, Any] = {
        "command": f"nice -n 5 .venv/bin/python benchmarks/milvus_retrieval.py --data {args.data}",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "note": "2-core CPU dev machine, shared with other jobs",
            "load_avg_at_start": os.getloadavg(),
        },
        "milvus_index": "FLAT, metric IP (exact), milvus-lite in process",
        "questions": len(questions),
    }
    for r in retrievers.values():  # warm-up: first-call costs
        r.retrieve(questions[0].question)
    calls.clear()
    ms: dict[str, list[float]] = {s: [] for s in retrievers}
    order = list(retrievers)
    for i, q in enumerate(questions):
        for store in order if i % 2 == 0 else order[::-1]:
            t0 = time.perf_counter()
            retrievers[store].retrieve(q.question)
            ms[store].append(1000 * (time.perf_counter() - t0))
    res["machine"]["load_avg_at_end"] = os.getloadavg()
    for store, values in ms.items():
        res[store] = {
            "retrieve_p50_ms": round(float(np.percentile(values, 50)), 2),
            "retrieve_p95_ms": round(float(np.percentile(values, 95)), 2),
        }
    for p in ("p50", "p95"):
        key = f"retrieve_{p}_ms"
        res[f"milvus_over_embedded_{p}"] = round(res["milvus"][key] / res["embedded"][key], 2)
    res["milvus_round_trips_per_question"] = {
        k: round(v / len(questions), 2) for k, v in sorted(calls.items())
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(res, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(res, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
