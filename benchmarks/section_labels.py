"""Chunks that run on into later sections, and the heading side ranked by the sections they hold.

For each manual of a questions file (``results/howto_unseen/questions.json`` layout, as
``benchmarks/peer_retrieval.py`` reads it) whose index is ``INDEX_ROOT/<manual>``, this counts
the chunks whose rows name later sections (:attr:`m2io.types.Chunk.sections`; an index built
before they were written names none) and ranks every question's pages with the default
retriever four ways, in one process on one index:

- ``first``: the dense headings list reads each chunk's first section's heading path (the
  default, ``heading_sections=False``);
- ``max``: a chunk ranks by the best of the heading paths of every section it holds
  (``heading_sections=True``);
- ``max-half``: as ``max``, but a later section counts only when it holds at least half of the
  chunk's text;
- ``majority``: only the path of the section holding most of the chunk's text.

Top-page hit@1 / hit@3 per variant (pages as ``peer_retrieval.page_of`` reads them; a refusal is
a miss). The two last variants are experiments, set by replacing
:func:`m2io.retrievers.fusion.heading_texts` for the run.

    .venv/bin/python benchmarks/section_labels.py --questions results/heldout_dec8/questions.json \\
        --index-root /tmp/label-idx/label/held8 --out /tmp/section_labels.json
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable

from _report import machine, write_result
from peer_retrieval import _norm, distinct, page_of


def _parts(chunk) -> list[tuple[str, float]]:
    """Each section of the chunk and its share of the chunk's text."""
    cuts = [0, *(s.offset for s in chunk.sections), len(chunk.text)]
    titles = [chunk.source.section if chunk.source else ""] + [s.title for s in chunk.sections]
    size = max(len(chunk.text), 1)
    return [(t, (b - a) / size) for t, a, b in zip(titles, cuts, cuts[1:], strict=False)]


def _path(chunk, title: str) -> str:
    src = chunk.source
    parts = [chunk.title] + ([src.title] if src else []) + [title]
    return " ".join(dict.fromkeys(p for p in parts if p))


def _variants() -> dict[str, Callable | None]:
    from m2io.retrievers.headings import heading_text, heading_texts

    def half(chunk) -> list[str]:
        out = [heading_text(chunk)]
        for title, share in _parts(chunk)[1:]:
            if share >= 0.5 and _path(chunk, title) not in out:
                out.append(_path(chunk, title))
        return out

    def majority(chunk) -> list[str]:
        if not chunk.sections:
            return [heading_text(chunk)]
        return [_path(chunk, max(_parts(chunk), key=lambda p: p[1])[0])]

    return {"first": None, "max": heading_texts, "max-half": half, "majority": majority}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--questions", required=True, help="questions JSON (manuals + questions)")
    ap.add_argument("--index-root", required=True, help="folder of one index per manual")
    ap.add_argument("--out", required=True, help="JSON file for the counts and hits")
    args = ap.parse_args()
    import json

    import m2io.retrievers.fusion as fusion
    from m2io.config import PipelineConfig
    from m2io.factory import build_pipeline
    from m2io.index import Index

    load = os.getloadavg()
    data = json.load(open(args.questions, encoding="utf-8"))
    variants = _variants()
    manuals = {}
    for man, meta in data["manuals"].items():
        folder = os.path.join(args.index_root, man)
        unit = meta.get("unit", "location")
        chunks = list(Index.open(folder).chunks)
        hits: dict[str, list[int]] = {}
        for name, texts in variants.items():
            fusion.heading_texts = texts or variants["max"]
            retriever = build_pipeline(PipelineConfig(index=folder)).retriever
            retriever.heading_sections = texts is not None
            h1 = h3 = 0
            for q in data["questions"]:
                if q["manual"] != man:
                    continue
                gold = {_norm(g) if unit == "section" else str(g) for g in q["gold"]}
                got = retriever.retrieve(q["question"]).chunks
                pages = distinct([page_of(rc.chunk, unit) for rc in got])
                h1 += bool(pages[:1] and pages[0] in gold)
                h3 += bool(gold & set(pages[:3]))
            hits[name] = [h1, h3]
        fusion.heading_texts = variants["max"]
        crossing = [c for c in chunks if c.sections]
        manuals[man] = {
            "chunks": len(chunks),
            "crossing": len(crossing),
            "sections_named": sum(len(c.sections) for c in crossing),
            "hit@1/hit@3": hits,
        }
        row = " | ".join(f"{k} {v[0]}/{v[1]}" for k, v in hits.items())
        print(f"{man}: {len(crossing)} of {len(chunks)} chunks cross | {row}", file=sys.stderr)
    write_result(
        args.out, {"questions": args.questions, "manuals": manuals, "machine": machine(load)}
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
