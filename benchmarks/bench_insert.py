"""Insert-stage latency inside the pipeline: rule vs learned vs anchored, same process, same answers.

Runs the default hybrid retriever and the extractive generator once per question (first ``--n``
questions of the subset), then times ``insert`` of each inserter on the same (answer, candidates),
rotating the inserters per question so that machine noise hits all alike. Every inserter uses the
index's stored image vectors (the index seeds the shared embedder). Before each timed call the
embedder's recent-text cache is emptied and the question embedded again, as the retriever leaves
it in a real pipeline where only one inserter runs: so each inserter pays for embedding the
answer sentences, and the learned one finds the question already embedded. The texts each
inserter actually sends to the model are counted (``texts_embedded``: no work twice means the
learned inserter embeds no candidate text the index already holds). The learned inserter gets
the corpus profile (measured once, before timing) and reports its own split (``embed_ms`` /
``policy_ms``), the share of inserts that embed anything, and the learned inserter's p95 / p50.
The machine's load average is recorded at both ends. Writes ``--out`` (JSON) and prints a
summary.

Command (from the repository root)::

    .venv/bin/python benchmarks/bench_insert.py --data ../shared/bench/gimp --subset gimp \\
        --n 120 --out results/bench_insert.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np

from m2io.config import PipelineConfig
from m2io.corpus.mramg import load_mramg, load_questions
from m2io.embed.text import load_text_embedder
from m2io.evaluation.e2e import ensure_index, eval_index_dir
from m2io.factory import build_generator, build_retriever
from m2io.inserters.anchored import AnchoredInserter
from m2io.inserters.learned import LearnedInserter
from m2io.inserters.rule import RuleInserter


def stats(values: list[float]) -> dict[str, float]:
    return {
        "p50": round(float(np.percentile(values, 50)), 2),
        "p95": round(float(np.percentile(values, 95)), 2),
        "mean": round(float(np.mean(values)), 2),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", default="../shared/bench/gimp")
    p.add_argument("--subset", default="gimp")
    p.add_argument("--n", type=int, default=120, help="questions to time")
    p.add_argument("--index", help="index folder (default: the one m2io eval uses)")
    p.add_argument("--out", default="results/bench_insert.json")
    args = p.parse_args()

    data = Path(args.data).resolve()
    load_at_start = os.getloadavg()
    corpus = load_mramg(data, args.subset)
    questions = load_questions(data, args.subset)[: args.n]
    folder, _ = ensure_index(
        corpus.documents,
        args.index or eval_index_dir(data, args.subset),
        corpus_root=corpus.root or None,
    )
    cfg = PipelineConfig()
    cfg.index = str(folder)
    retriever, generator = build_retriever(cfg), build_generator(cfg)
    cases = []
    for q in questions:
        retrieval = retriever.retrieve(q.question)
        cases.append((generator.generate(q.question, retrieval), retrieval.candidates))
    learned = LearnedInserter(profile=data)
    inserters = {"rule": RuleInserter(), "learned": learned, "anchored": AnchoredInserter()}
    for ins in inserters.values():  # warm-up: load models, first-call costs
        ins.insert(*cases[0])
    times: dict[str, list[float]] = {name: [] for name in inserters}
    embedded: dict[str, list[int]] = {name: [] for name in inserters}
    split: dict[str, list[float]] = {"embed_ms": [], "policy_ms": []}
    embedder = load_text_embedder()  # the instance the index seeded and every inserter uses
    sent: list[int] = []
    model_encode = embedder._encode

    def counting(texts, batch_size, progress):  # what reaches the model, cache misses only
        sent.append(len(texts))
        return model_encode(texts, batch_size, progress)

    embedder._encode = counting
    names = list(inserters)
    for k, (answer, candidates) in enumerate(cases):
        for name in names[k % len(names) :] + names[: k % len(names)]:
            embedder.forget_recent()
            embedder.encode([answer.question])  # what retrieval leaves behind
            sent.clear()
            t0 = time.perf_counter()
            inserters[name].insert(answer, candidates)
            times[name].append(1000 * (time.perf_counter() - t0))
            embedded[name].append(sum(sent))
        split["embed_ms"].append(learned.last_timing["embed_ms"])
        split["policy_ms"].append(learned.last_timing["policy_ms"])
    embedder._encode = model_encode
    result = {
        "data": str(data),
        "subset": args.subset,
        "n": len(cases),
        "insert_ms": {k: stats(v) for k, v in times.items()},
        "learned_split_ms": {k: stats(v) for k, v in split.items()},
        "texts_embedded_per_insert": {k: stats(v) for k, v in embedded.items()},
        "share_of_inserts_that_embed": {
            k: round(float(np.mean([n > 0 for n in v])), 3) for k, v in embedded.items()
        },
        "learned_p95_over_p50": round(
            float(np.percentile(times["learned"], 95) / np.percentile(times["learned"], 50)), 2
        ),
        "mean_sentences": round(float(np.mean([len(a.sentences) for a, _ in cases])), 1),
        "mean_candidates": round(float(np.mean([len(c) for _, c in cases])), 1),
        "p50_learned_minus_rule_ms": round(
            float(np.percentile(times["learned"], 50) - np.percentile(times["rule"], 50)), 2
        ),
        "ratio_p50_learned_over_rule": round(
            float(np.percentile(times["learned"], 50) / np.percentile(times["rule"], 50)), 3
        ),
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "load_avg_at_start": load_at_start,
            "load_avg_at_end": os.getloadavg(),
        },
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
