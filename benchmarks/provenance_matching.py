"""Provenance matching before and after counting shared words without Counter intersections
(issue 24 item 2), in one process: the learned inserter's insert time on the same answers with
the old scoring functions (kept here as they were) and the new ones, alternated per question,
with the placements compared. The index is the one ``m2io eval`` builds (with its stored
sentence vectors, so no answer sentence is embedded). Records the load average at both ends.

Command (from the repository root)::

    DATA=../shared/bench/gimp SUBSET=gimp .venv/bin/python benchmarks/provenance_matching.py \
        > results/provenance_matching.json
"""

from __future__ import annotations

import glob
import json
import os
import time
from collections import Counter
from pathlib import Path

import numpy as np

import m2io.inserters.anchored as A
from m2io.config import PipelineConfig
from m2io.corpus.mramg import load_questions
from m2io.embed.text import load_text_embedder
from m2io.factory import build_generator, build_retriever
from m2io.inserters.learned import LearnedInserter


def old_match_score(sentence, piece):
    if not sentence or not piece:
        return 0.0
    shared = sum((sentence & piece).values())
    if not shared:
        return 0.0
    a, b = sum(sentence.values()), sum(piece.values())
    if max(a, b) < A._MIN_CONTAIN:
        return 1.0 if sentence == piece else 0.0
    equal = shared / max(a, b)
    contain = shared / min(a, b) if min(a, b) >= A._MIN_CONTAIN else 0.0
    return max(equal, 0.9 * contain if contain >= 0.85 else 0.0)


def old_boundary(self, context, i, *, before):
    if before:
        answer = self.tokens[max(self.ends[i] - A._WINDOW, 0) : self.ends[i]]
        k = min(len(answer), len(context))
        answer, context = answer[len(answer) - k :], context[len(context) - k :]
        edge = zip(answer[-A._EDGE :], context[-A._EDGE :], strict=True)
    else:
        answer = self.tokens[self.starts[i] : self.starts[i] + A._WINDOW]
        k = min(len(answer), len(context))
        answer, context = answer[:k], context[:k]
        edge = zip(answer[: A._EDGE], context[: A._EDGE], strict=True)
    if k < A._MIN_CONTAIN:
        return 0.0
    agree = sum(a == b for a, b in edge) / A._EDGE
    return agree * sum((Counter(answer) & Counter(context)).values()) / k


new = (A.match_score, A.AnswerWords.boundary_score)
old = (old_match_score, old_boundary)


def use(impl):
    A.match_score, A.AnswerWords.boundary_score = impl


load0 = os.getloadavg()
data = Path(os.environ.get("DATA", "../shared/bench/gimp")).resolve()
subset = os.environ.get("SUBSET", "gimp")
cfg = PipelineConfig()
cfg.index = glob.glob(f".m2io/eval-index/{subset}-*")[0]
r, g = build_retriever(cfg), build_generator(cfg)
cases = []
for q in load_questions(data, subset)[:120]:
    ret = r.retrieve(q.question)
    cases.append((g.generate(q.question, ret), ret.candidates))
L = LearnedInserter(profile=data)
L.insert(*cases[0])
e = load_text_embedder()
times = {"old": [], "new": []}
same = 0
for k, (a, c) in enumerate(cases):
    got = {}
    for name in ["old", "new"] if k % 2 == 0 else ["new", "old"]:
        use(old if name == "old" else new)
        e.forget_recent()
        r.retrieve(a.question)
        t0 = time.perf_counter()
        got[name] = L.insert(a, c)
        times[name].append(1000 * (time.perf_counter() - t0))
    same += got["old"] == got["new"]
use(new)
res = {
    "data": str(data),
    "subset": subset,
    "n": len(cases),
    "same_placements": same,
    "learned_insert_ms": {
        n: {
            "p50": round(float(np.percentile(v, 50)), 2),
            "p95": round(float(np.percentile(v, 95)), 2),
            "p95_over_p50": round(float(np.percentile(v, 95) / np.percentile(v, 50)), 2),
        }
        for n, v in times.items()
    },
    "load_avg_at_start": load0,
    "load_avg_at_end": os.getloadavg(),
    "cpus": os.cpu_count(),
    "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
}
print(json.dumps(res, indent=1))
