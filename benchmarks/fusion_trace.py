"""Why a page comes first: each ranked list's top sections and the fused ranking, per question.

For the questions of a ``benchmarks/peer_retrieval.py`` questions file, prints what
:class:`~m2io.retrievers.hybrid.HybridRetriever` fuses: the dense list (with image votes), the
BM25 list (after pseudo-relevance feedback) and the dense headings list, each as its first
sections (page and heading; ``*`` marks a gold page), then the first five fused sections with
their fused score, the page-kind / audience divisor and their rank in each list (``-``: not
in that list). ``--set KEY=VALUE`` passes retriever options as in ``peer_retrieval.py``.

    .venv/bin/python benchmarks/fusion_trace.py --questions results/heldout_dec8b/questions.json \
        --index-root /tmp/peer-idx --only asymptote-4 --only openrefine
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from peer_retrieval import _norm, build_or_open, page_of

from m2io.retrievers.hybrid import HybridRetriever
from m2io.retrievers.query import compound_variants, search_text, spelling_variants


def trace(ret: HybridRetriever, question: str, gold: set[str], unit: str, show: int) -> None:
    """Print one question's lists and fused ranking (the flow of ``HybridRetriever.retrieve``)."""
    index = ret.index
    search = search_text(question) if ret.focus else question
    qvec = index.embed_query(search)
    knows = getattr(index.lexical, "knows", None) if ret.compounds and ret._titled else None
    words = spelling_variants(compound_variants(search, knows), knows) if knows else search
    depth = min(max(ret.pool_size, ret.top_k) + len(ret.excluded_rows), len(index.chunks))
    rankings, weights, lexical = ret._rankings(qvec, words, depth)
    prior = ret._prior(question)
    fused, order, _ = ret._fuse(rankings, weights, prior)
    fed = ret._feedback(words, order, lexical) if weights and lexical is not None else None
    if fed is not None:
        top = np.argsort(-fed, kind="stable")[:depth]
        rankings[1] = [int(r) for r in top if fed[r] > 0 and r not in ret.excluded_rows]
        fused, order, _ = ret._fuse(rankings, weights, prior)

    def label(row: int) -> str:
        page = page_of(index.chunks[row], unit)
        return f"{'*' if page in gold else ''}{page} [{(index.chunks[row].title or '')[:30]}]"

    names = ["dense", "bm25+prf"] + (["titles"] if ret.title_weight > 0 else []) + ["headings"]
    sections = []
    for n, ranking in enumerate(rankings):
        firsts: dict = {}
        for row in ranking:
            firsts.setdefault(ret._section_of(row), row)
        sections.append(list(firsts))
        w = weights[n] if weights else 1.0
        tops = " | ".join(label(r) for r in list(firsts.values())[:show])
        print(f"  {names[n] if n < len(names) else n} (w {w}): {tops}")
    done: list = []
    for row in order:
        unit_ = ret._section_of(row)
        if unit_ in done:
            continue
        done.append(unit_)
        ranks = [s.index(unit_) + 1 if unit_ in s else "-" for s in sections]
        div = prior(row) if prior else 1.0
        print(f"   {len(done)}. {label(row)} fused {fused[row]:.4f} prior /{div:.2f} ranks {ranks}")
        if len(done) == 5:
            break


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--questions", required=True, help="questions JSON (peer_retrieval layout)")
    ap.add_argument("--index-root", required=True, help="folder of one index per manual")
    ap.add_argument("--only", action="append", help="question ids or manuals (repeatable)")
    ap.add_argument("--show", type=int, default=5, help="sections shown per list")
    ap.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    args = ap.parse_args()
    options = {k: json.loads(v) for k, _, v in (s.partition("=") for s in args.overrides)}
    spec = json.loads(Path(args.questions).read_text(encoding="utf-8"))
    retrievers: dict[str, HybridRetriever] = {}
    for q in spec["questions"]:
        name = q["manual"]
        if args.only and q["id"] not in args.only and name not in args.only:
            continue
        manual = spec["manuals"][name]
        if name not in retrievers:
            index = build_or_open(manual["corpus"], Path(args.index_root) / name)
            retrievers[name] = HybridRetriever(index, **options)
        unit = manual["unit"]
        gold = {_norm(g) if unit == "section" else str(g) for g in q["gold"]}
        print(f"\n== {q['id']}: {q['question']}  gold {sorted(gold)}")
        trace(retrievers[name], q["question"], gold, unit, args.show)
    return 0


if __name__ == "__main__":
    sys.exit(main())
