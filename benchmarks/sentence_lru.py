"""Would a cache of sentence vectors across answers take the learned inserter's tail away
(issue 24 item 2)? The default pipeline (an index without stored sentence vectors) answers the
subset's questions in order, each distinct, twice in one process: ``per-answer``, the embedder's
recent cache emptied before each question (nothing an earlier answer embedded is reused), and
``across-answers``, a recent cache without a bound kept across all questions (the best any LRU
could do). For each, the learned inserter's insert times and the share of inserts that send any
text to the model. Records the load average at both ends.

Command (from the repository root)::

    .venv/bin/python benchmarks/sentence_lru.py --data ../shared/bench/gimp --subset gimp \\
        --index IDX --out results/sentence_lru.json
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
from _report import machine, write_result

from m2io.config import PipelineConfig
from m2io.corpus.mramg import load_questions
from m2io.factory import build_generator, build_retriever
from m2io.inserters.learned import LearnedInserter


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", default="../shared/bench/gimp")
    p.add_argument("--subset", default="gimp")
    p.add_argument("--index", required=True, help="an index without stored sentence vectors")
    p.add_argument("--out", default="results/sentence_lru.json")
    args = p.parse_args()
    load0 = os.getloadavg()
    data = Path(args.data).resolve()
    cfg = PipelineConfig()
    cfg.index = args.index
    retriever, generator = build_retriever(cfg), build_generator(cfg)
    learned = LearnedInserter(profile=data)
    questions = [q.question for q in load_questions(data, args.subset)]
    cases = []
    for q in questions:
        r = retriever.retrieve(q)
        cases.append((generator.generate(q, r), r.candidates))
    learned.insert(*cases[0])
    emb = retriever.index.embedder
    sent: list[int] = []
    model = emb._encode

    def counting(texts, batch_size, progress):
        sent.append(len(texts))
        return model(texts, batch_size, progress)

    emb._encode = counting
    bound = emb._recent_max
    result: dict[str, object] = {"data": str(data), "subset": args.subset, "n": len(cases)}
    for mode in ("per-answer", "across-answers"):
        emb.forget_recent()
        emb._recent_max = bound if mode == "per-answer" else 10**9
        times, embeds = [], []
        for answer, candidates in cases:
            if mode == "per-answer":
                emb.forget_recent()
            retriever.retrieve(answer.question)  # what the retriever leaves in the cache
            sent.clear()
            t0 = time.perf_counter()
            learned.insert(answer, candidates)
            times.append(1000 * (time.perf_counter() - t0))
            embeds.append(sum(sent))
        result[mode] = {
            "insert_p50_ms": round(float(np.percentile(times, 50)), 2),
            "insert_p95_ms": round(float(np.percentile(times, 95)), 2),
            "share_of_inserts_that_embed": round(float(np.mean([n > 0 for n in embeds])), 3),
            "texts_embedded": int(sum(embeds)),
        }
    emb._encode, emb._recent_max = model, bound
    result["machine"] = machine(load0)
    write_result(args.out, result)


if __name__ == "__main__":
    main()
