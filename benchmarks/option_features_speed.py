"""The learned inserter's option features: the current code against the reference copy of the
code before it was made cheaper (tests/features_reference.py), same process, same inputs.

Runs the default retriever and the extractive generator on the first ``--n`` questions of a
subset, embeds each answer's texts as the learned inserter does (sentences, candidate texts,
question; empty texts zero), then times :func:`m2io.learned.features.option_features` and the
reference on every (answer, candidates), alternated per answer, each the fastest of
``--repeats`` calls (a ~1 ms call on a shared machine is often preempted; the fastest leaves
that out), and checks that both give the same arrays, bit for bit. Every candidate the
retriever returns is featurised (inside a pipeline only the ~7.5 % of answers that provenance
does not settle reach the policy; their cost per answer is the same function's). Records the
load average at both ends.

Command (from the repository root)::

    PYTHONPATH=src .venv/bin/python benchmarks/option_features_speed.py \\
        --data ../shared/bench/gimp --subset gimp --index COPY --n 584
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
from _report import machine, write_result

from m2io.config import PipelineConfig
from m2io.corpus.mramg import load_questions
from m2io.factory import build_generator, build_retriever
from m2io.inserters.learned import LearnedInserter
from m2io.learned.features import candidate_texts, option_features

# the reference lives with the test that compares it (never in the package)
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from features_reference import reference_option_features  # noqa: E402


def stats(values: list[float]) -> dict[str, float]:
    return {
        "p50": round(float(np.percentile(values, 50)), 3),
        "p95": round(float(np.percentile(values, 95)), 3),
        "mean": round(float(np.mean(values)), 3),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", default="../shared/bench/gimp")
    p.add_argument("--subset", default="gimp")
    p.add_argument("--index", required=True, help="index folder (a copy: the retriever may write)")
    p.add_argument("--n", type=int, default=584)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--out", default="results/option_features_speed.json")
    args = p.parse_args()
    load_at_start = os.getloadavg()
    data = Path(args.data).resolve()
    cfg = PipelineConfig()
    cfg.index = args.index
    retriever, generator = build_retriever(cfg), build_generator(cfg)
    inserter = LearnedInserter(profile=data)
    cases = []
    for q in load_questions(data, args.subset)[: args.n]:
        retrieval = retriever.retrieve(q.question)
        answer = generator.generate(q.question, retrieval)
        cands = tuple({c.image_id: c for c in retrieval.candidates}.values())
        if answer.sentences and cands:
            texts = candidate_texts(answer, cands)
            cases.append((answer, cands, inserter._vectors(texts.all), texts))
    functions = {"reference": reference_option_features, "current": option_features}
    times: dict[str, list[float]] = {name: [] for name in functions}
    same = 0
    for i, (answer, cands, vecs, texts) in enumerate(cases):
        order = list(functions)[i % 2 :] + list(functions)[: i % 2]
        got = {}
        for name in order:
            best = float("inf")
            for _ in range(args.repeats):
                t0 = time.perf_counter()
                got[name] = functions[name](answer, cands, vecs, texts, profile=inserter.profile)
                best = min(best, 1000 * (time.perf_counter() - t0))
            times[name].append(best)
        a, b = got["reference"], got["current"]
        same += a.slots.tobytes() == b.slots.tobytes() and a.keep.tobytes() == b.keep.tobytes()
    ref, cur = np.array(times["reference"]), np.array(times["current"])
    write_result(
        args.out,
        {
            "data": str(data),
            "subset": args.subset,
            "answers": len(cases),
            "repeats": args.repeats,
            "mean_sentences": round(float(np.mean([len(c[3].sentences) for c in cases])), 1),
            "mean_candidates": round(float(np.mean([len(c[1]) for c in cases])), 1),
            "ms": {name: stats(v) for name, v in times.items()},
            "current_over_reference": {
                "p50": round(float(np.percentile(cur, 50) / np.percentile(ref, 50)), 3),
                "p95": round(float(np.percentile(cur, 95) / np.percentile(ref, 95)), 3),
                "median_per_answer": round(float(np.median(cur / ref)), 3),
            },
            "identical_arrays": same,
            "machine": machine(load_at_start),
        },
    )


if __name__ == "__main__":
    main()
