"""Do the embedded (faiss) store and the Milvus store give the same answers? (issue 13, item 1)

Builds one index per store from the same corpus with the same vectors (embedded once), runs the
default pipeline on every question against each, and counts questions whose answers (Markdown:
text, images and sources) are identical; also times opening the pipeline and retrieval.

Usage::

    nice -n 5 .venv/bin/python benchmarks/store_agreement.py --data ../shared/bench/gnucash \\
        --out results/store_agreement.json
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from m2io.config import PipelineConfig
from m2io.corpus import load_corpus, load_questions
from m2io.embed.text import load_text_embedder
from m2io.factory import build_pipeline
from m2io.index import build_index
from m2io.index.ann import VectorStore
from m2io.mergers.render import to_markdown

logger = logging.getLogger("store_agreement")


class Remembering:
    """The real embedder, with every text it embedded kept, so the second build embeds nothing."""

    def __init__(self, real: Any) -> None:
        self.real, self.name, self.dim = real, real.name, real.dim
        self.seen: dict[str, np.ndarray] = {}

    def encode(self, texts: list[str], **kw: Any) -> np.ndarray:
        missing = [t for t in dict.fromkeys(texts) if t not in self.seen]
        if missing:
            self.seen.update(zip(missing, self.real.encode(missing, **kw), strict=True))
        return np.stack([self.seen[t] for t in texts])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", required=True, help="an MRAMG corpus folder")
    ap.add_argument("--out", default="results/store_agreement.json")
    ap.add_argument("--work", help="folder for the two indexes (default: a temporary one)")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("m2io").setLevel(logging.ERROR)
    work = Path(args.work or tempfile.mkdtemp(prefix="store-agreement-"))
    corpus = load_corpus(args.data)
    questions = load_questions(args.data)
    emb = Remembering(load_text_embedder())
    res: dict[str, Any] = {
        "command": f"nice -n 5 .venv/bin/python benchmarks/store_agreement.py --data {args.data}",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "embedder": f"{emb.name} ({emb.real.backend})",
        "questions": len(questions),
        "machine": {
            "cpus": os.cpu_count(),
            "note": "2-core CPU dev machine, shared with other jobs",
            "load_avg_at_start": os.getloadavg(),
        },
        "milvus_index": "as m2io.index.ann.milvus_index chooses (below 10^5 rows IVF_FLAT, "
        "nlist 1, nprobe 1: exact), metric IP; milvus-lite called in process",
        "note": "the embedded store is built first and its build_s includes embedding every "
        "text; the Milvus build reuses those vectors. pipeline_s: building the pipeline",
        "stores": {},
    }
    answers: dict[str, list[str]] = {}
    for store in ("embedded", "milvus"):
        vectors = VectorStore("exact" if store == "embedded" else "milvus")
        folder = work / f"{Path(args.data).name}-{store}.index"
        t0 = time.perf_counter()
        build_index(
            corpus.documents,
            folder,
            embedder=emb,
            corpus_root=corpus.root,
            progress=False,
            store=vectors,
        )
        build_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        pipeline = build_pipeline(PipelineConfig(index=str(folder)))
        open_s = time.perf_counter() - t0
        retrieve_ms, out = [], []
        for q in questions:
            # the query embedder is shared by both stores: without this the second store's
            # questions would come embedded from the first's (before 2026-12-07 they did)
            emb.real.forget_recent()
            answer = pipeline.run(q.question)
            retrieve_ms.append(answer.timings_ms.get("retrieve", float("nan")))
            out.append(to_markdown(answer))
        answers[store] = out
        res["stores"][store] = {
            "build_s": round(build_s, 2),
            "pipeline_s": round(open_s, 2),
            "retrieve_p50_ms": round(statistics.median(retrieve_ms), 2),
            "retrieve_p95_ms": round(float(np.percentile(retrieve_ms, 95)), 2),
        }
        logger.info("%s: %s", store, res["stores"][store])
    e, m = res["stores"]["embedded"], res["stores"]["milvus"]
    res["milvus_over_embedded_p50"] = round(m["retrieve_p50_ms"] / e["retrieve_p50_ms"], 2)
    res["milvus_over_embedded_p95"] = round(m["retrieve_p95_ms"] / e["retrieve_p95_ms"], 2)
    res["machine"]["load_avg_at_end"] = os.getloadavg()
    same = sum(a == b for a, b in zip(answers["embedded"], answers["milvus"], strict=True))
    res["same_answers"] = same
    res["same_answers_pct"] = round(100 * same / len(questions), 2)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(res, indent=2) + "\n", encoding="utf-8")
    logger.info("same answers: %d of %d; wrote %s", same, len(questions), args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
