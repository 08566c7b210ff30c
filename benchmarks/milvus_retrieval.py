"""Retrieval per question on the embedded (faiss) store and on Milvus, interleaved (issue 24, item 3).

Starts from an index of a corpus built with the embedded store (``store_agreement.py --work DIR``
leaves one as ``DIR/<corpus>-embedded.index``) and makes Milvus copies of it with the same
vectors, one per ``--index-types`` entry (milvus-lite, called in process, as ``Index.open`` does)
plus ``grpc``: the default index reached through pymilvus and milvus-lite's gRPC server on a
loopback port (how every milvus-lite search went before 2026-12-07, and the client path a Milvus
server takes, minus the network). Then the default retriever runs on every question against
every store, the stores' order rotating per question so that the machine's load hits them alike.

Per question the query is first embedded (the embedder's recent-query cache emptied, on the
embedded store): ``embed_ms``. Each store's retrieval is then timed with the query's vectors
cached, which leaves the store's own part; ``pipeline`` adds that question's embedding cost
back (retrieval as ``m2io ask`` sees it, the figure issue 24 compares). Also counted: Milvus
requests per question, and questions whose retrieval (chunks and image candidates) differs from
the embedded store's. The load average is recorded at both ends.

Usage::

    nice -n 5 .venv/bin/python benchmarks/store_agreement.py --data ../shared/bench/gnucash \\
        --work /tmp/stores
    nice -n 5 .venv/bin/python benchmarks/milvus_retrieval.py --data ../shared/bench/gnucash \\
        --work /tmp/stores --rounds 3 --out results/milvus_retrieval-gnucash.json
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from m2io.config import PipelineConfig
from m2io.corpus import load_questions
from m2io.factory import build_retriever
from m2io.index import Index
from m2io.index.ann import milvus_index
from m2io.index.milvus import INDEX_CHOICES, pointer_path, write_milvus_vectors


def _milvus_copy(base: Path, out: Path, index_type: str | None) -> Path:
    """``base`` (an embedded index) copied to ``out`` with its vectors in milvus-lite."""
    if out.exists():
        shutil.rmtree(out)
    shutil.copytree(base, out)
    index = Index.open(base)
    for name in ("chunks", "images"):
        (out / f"{name}.faiss").unlink()
        vecs = np.asarray(index.stored_vectors(name), dtype=np.float32)
        index_def = INDEX_CHOICES[index_type] if index_type else milvus_index(len(vecs))
        write_milvus_vectors(out / f"{name}.faiss", vecs, index=index_def)
    return out


def _through_grpc(folder: Path) -> None:
    """Point ``folder``'s Milvus vectors at a milvus-lite gRPC server on a loopback port."""
    from milvus_lite.server_manager import server_manager_instance

    uri = server_manager_instance.start_and_get_uri(str(folder / "milvus.db"))
    for name in ("chunks", "images"):
        pointer = pointer_path(folder / f"{name}.faiss")
        record = json.loads(pointer.read_text(encoding="utf-8"))
        record["milvus"]["uri"] = uri
        pointer.write_text(json.dumps(record), encoding="utf-8")


def _count_requests(index: Any, calls: Counter) -> None:
    for store, name in ((index._chunk_index, "chunks"), (index._image_index, "images")):
        client = getattr(store, "_store", None)
        for method in ("search", "get") if client is not None else ():
            real = getattr(client, method)

            def counted(*a: Any, _real: Any = real, _what: str = f"{name}.{method}", **kw: Any):
                calls[_what] += 1
                return _real(*a, **kw)

            setattr(client, method, counted)


def _key(retrieval: Any) -> tuple:
    return (
        tuple(c.chunk.chunk_id for c in retrieval.chunks),
        tuple(c.image_id for c in retrieval.candidates),
    )


def _pct(values: list[float], p: float) -> float:
    return round(float(np.percentile(values, p)), 2)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", required=True, help="the MRAMG corpus folder the index holds")
    ap.add_argument("--work", required=True, help="folder holding <corpus>-embedded.index")
    ap.add_argument(
        "--index-types",
        nargs="*",
        default=list(INDEX_CHOICES),
        help=f"Milvus index types to compare ({', '.join(INDEX_CHOICES)})",
    )
    ap.add_argument("--rounds", type=int, default=1, help="times through the questions")
    ap.add_argument("--out", default="results/milvus_retrieval.json")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    name = Path(args.data).name
    work = Path(args.work)
    base = work / f"{name}-embedded.index"
    folders = {"embedded": base}
    for kind in args.index_types:
        folders[f"milvus-{kind}"] = _milvus_copy(base, work / f"{name}-milvus-{kind}.index", kind)
    folders["milvus-grpc"] = _milvus_copy(base, work / f"{name}-milvus-grpc.index", None)
    _through_grpc(folders["milvus-grpc"])
    retrievers = {}
    for store, folder in folders.items():
        cfg = PipelineConfig()
        cfg.index = str(folder)
        retrievers[store] = build_retriever(cfg)
    calls = {s: Counter() for s in retrievers if s != "embedded"}
    for store, counter in calls.items():
        _count_requests(retrievers[store].index, counter)
    questions = load_questions(args.data) * max(1, args.rounds)
    n_default = milvus_index(len(retrievers["embedded"].index.chunks))
    res: dict[str, Any] = {
        "command": f"nice -n 5 .venv/bin/python benchmarks/milvus_retrieval.py --data {args.data}",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "note": "2-core CPU dev machine, shared with other jobs",
            "load_avg_at_start": os.getloadavg(),
        },
        "milvus_default_index": {
            "type": n_default[0],
            "build": n_default[1],
            "search": n_default[2],
        },
        "milvus_index_choices": {
            k: {"build": b, "search": s} for k, (_, b, s) in INDEX_CHOICES.items()
        },
        "stores": list(retrievers),
        "questions": len(questions),
        "rounds": args.rounds,
    }
    embedder = retrievers["embedded"].index.embedder
    for r in retrievers.values():  # warm-up: first-call costs
        r.retrieve(questions[0].question)
    for c in calls.values():
        c.clear()
    warm: dict[str, list[float]] = {s: [] for s in retrievers}
    embed_ms: list[float] = []
    differs: Counter = Counter()
    order = list(retrievers)
    for i, q in enumerate(questions):
        embedder.forget_recent()
        t0 = time.perf_counter()
        retrievers["embedded"].retrieve(q.question)
        cold = 1000 * (time.perf_counter() - t0)
        shift = i % len(order)
        seen = {}
        for store in order[shift:] + order[:shift]:
            t0 = time.perf_counter()
            seen[store] = _key(retrievers[store].retrieve(q.question))
            warm[store].append(1000 * (time.perf_counter() - t0))
        embed_ms.append(max(0.0, cold - warm["embedded"][-1]))
        for store, key in seen.items():
            differs[store] += key != seen["embedded"]
    res["machine"]["load_avg_at_end"] = os.getloadavg()
    res["embed_p50_ms"] = _pct(embed_ms, 50)
    base_warm = {p: _pct(warm["embedded"], p) for p in (50, 95)}
    for store, values in warm.items():
        pipeline = [e + v for e, v in zip(embed_ms, values, strict=True)]
        row: dict[str, Any] = {
            "store_p50_ms": _pct(values, 50),
            "store_p95_ms": _pct(values, 95),
            "pipeline_p50_ms": _pct(pipeline, 50),
            "pipeline_p95_ms": _pct(pipeline, 95),
            "questions_retrieved_differently": differs[store],
        }
        if store in calls:
            row["requests_per_question"] = {
                k: round(v / len(questions), 2) for k, v in sorted(calls[store].items())
            }
        res[store] = row
    base_pipe = {p: res["embedded"][f"pipeline_p{p}_ms"] for p in (50, 95)}
    for store in retrievers:
        if store == "embedded":
            continue
        res[store]["over_embedded"] = {
            f"pipeline_p{p}": round(res[store][f"pipeline_p{p}_ms"] / base_pipe[p], 2)
            for p in (50, 95)
        } | {f"store_p{p}": round(res[store][f"store_p{p}_ms"] / base_warm[p], 2) for p in (50, 95)}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(res, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(res, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
