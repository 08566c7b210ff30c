"""Provenance matching one pair at a time against all pairs at once (issue 24 item 2), in one
process: the learned and anchored inserters' insert times on the same answers with the scalar
matching the anchored inserter used before (kept here as it was: every source piece scored
against every answer sentence by ``match_score`` and ``boundary_score`` in Python loops) and with
:class:`m2io.inserters.provenance.WordMatrix` (``arrays``), alternated per question, placements
compared. Use an index with stored sentence vectors (``m2io index --sentence-vectors``) so that
what is timed is the matching, not embedding; the embedder's recent cache holds what the
retriever left, as in a pipeline. Records the load average at both ends.

Command (from the repository root)::

    .venv/bin/python benchmarks/provenance_matching.py --data ../shared/bench/gimp \\
        --subset gimp --index IDX --out results/provenance_matching.json
"""

from __future__ import annotations

import argparse
import os
import time
from collections import Counter
from pathlib import Path

import numpy as np
from _report import machine, write_result

import m2io.inserters.anchored as A
from m2io.config import PipelineConfig
from m2io.corpus.mramg import load_questions
from m2io.embed.text import load_text_embedder
from m2io.factory import build_generator, build_retriever
from m2io.inserters.learned import LearnedInserter


def pair_side(self, context, words, *, before, doc_id=None):
    """One side of one image, scored pair by pair (the anchored inserter's loop before)."""
    pieces = A._pieces(context)
    context_words = A.tokenize(context)
    if before:
        pieces = pieces[::-1]
    n = len(words.sentences)
    for distance, piece in enumerate(pieces[: self.reach]):
        counts = Counter(A.tokenize(piece))
        as_piece = [A.match_score(sent, counts) for sent in words.sentences]
        aligned = [0.0] * n
        if distance == 0:
            for i in range(n):
                score = words.boundary_score(context_words, i, before=before)
                aligned[i] = score if score >= A._ALIGNED else 0.0
        best_i, best = -1, 0.0
        order = range(n - 1, -1, -1) if before else range(n)
        for i in order:
            if words.other_document(i, doc_id):
                continue
            total = as_piece[i] + aligned[i]
            if max(as_piece[i], aligned[i]) >= self.match and total > best:
                best_i, best = i, total
        if best_i >= 0:
            after = best_i + 1 if before else best_i
            return A.Anchor(after, distance, max(as_piece[best_i], aligned[best_i]))
    if before:
        return self._announced(pieces, words, doc_id)
    return None


def pair_anchors(self, candidates, words, skip=frozenset()):
    out = []
    for i, c in enumerate(candidates):
        before = after = None
        if i not in skip and c.context_before:
            before = pair_side(self, c.context_before, words, before=True, doc_id=c.doc_id)
        if i not in skip and c.context_after:
            after = pair_side(self, c.context_after, words, before=False, doc_id=c.doc_id)
        if before is not None and (
            after is None or (before.distance, -before.score) <= (after.distance, -after.score)
        ):
            out.append(before)
        else:
            out.append(after)
    return out


ARRAYS = A.AnchoredInserter.anchors


def stats(v: list[float]) -> dict[str, float]:
    p50, p95 = float(np.percentile(v, 50)), float(np.percentile(v, 95))
    return {"p50": round(p50, 2), "p95": round(p95, 2), "p95_over_p50": round(p95 / p50, 2)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", default="../shared/bench/gimp")
    p.add_argument("--subset", default="gimp")
    p.add_argument("--index", required=True)
    p.add_argument("--n", type=int, default=120)
    p.add_argument("--out", default="results/provenance_matching.json")
    p.add_argument("--repeats", type=int, default=1, help="keep the fastest of this many")
    args = p.parse_args()
    load0 = os.getloadavg()
    data = Path(args.data).resolve()
    cfg = PipelineConfig()
    cfg.index = args.index
    r, g = build_retriever(cfg), build_generator(cfg)
    cases = []
    for q in load_questions(data, args.subset)[: args.n]:
        ret = r.retrieve(q.question)
        cases.append((g.generate(q.question, ret), ret.candidates))
    inserters = {"learned": LearnedInserter(profile=data), "anchored": A.AnchoredInserter()}
    for ins in inserters.values():
        ins.insert(*cases[0])
    e = load_text_embedder()
    times = {ins: {"pairs": [], "arrays": []} for ins in inserters}
    same = dict.fromkeys(inserters, 0)
    for k, (a, c) in enumerate(cases):
        for name, ins in inserters.items():
            got = {}
            for way in ["pairs", "arrays"] if k % 2 == 0 else ["arrays", "pairs"]:
                A.AnchoredInserter.anchors = pair_anchors if way == "pairs" else ARRAYS
                best = float("inf")
                for _ in range(args.repeats):
                    e.forget_recent()
                    r.retrieve(a.question)
                    t0 = time.perf_counter()
                    got[way] = ins.insert(a, c)
                    best = min(best, 1000 * (time.perf_counter() - t0))
                times[name][way].append(best)
            same[name] += got["pairs"] == got["arrays"]
    A.AnchoredInserter.anchors = ARRAYS
    result = {
        "data": str(data),
        "subset": args.subset,
        "index": args.index,
        "n": len(cases),
        "repeats": args.repeats,
        "same_placements": same,
        "insert_ms": {n: {w: stats(v) for w, v in t.items()} for n, t in times.items()},
        "machine": machine(load0),
    }
    write_result(args.out, result)


if __name__ == "__main__":
    main()
