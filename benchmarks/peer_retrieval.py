"""Top-page hit@1 / hit@3 of m2io's retriever beside a stock Haystack 2.x retriever, same chunks.

For each manual of a questions file (``results/howto_unseen/questions.json`` layout: manuals with
their corpus and what a "page" is, questions with the pages that answer them) this builds or
reuses one m2io index, then ranks pages for every question with:

- ``m2io``: :class:`~m2io.retrievers.hybrid.HybridRetriever` as the default pipeline builds it
  (pages in the order the assembled context holds them; a refusal is a miss);
- ``haystack-bm25``, ``haystack-embedding``, ``haystack-hybrid``: Haystack's in-memory BM25
  retriever, its embedding retriever, and both joined by reciprocal rank fusion
  (``DocumentJoiner(join_mode="reciprocal_rank_fusion")``), over the *same* chunks (the text
  m2io indexes: title + text) with the *same* vectors (the index's stored MiniLM vectors; the
  question embedded by the index's own embedder), so only the ranking differs.

A chunk's page is its source file (``location``), its section heading (``section``, for a
single-page manual) or its PDF page number (``page``); a ranking's pages are its chunks' pages,
first occurrence first. Needs the ``bench`` extra (``pip install 'm2io[bench]'``).

    .venv/bin/python benchmarks/peer_retrieval.py \
        --questions results/howto_unseen/questions.json --index-root /tmp/peer-idx \
        --out results/howto_unseen/peer_retrieval.json
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

PEERS = ("haystack-bm25", "haystack-embedding", "haystack-hybrid")
DEPTH = 20


def page_of(chunk, unit: str) -> str:
    """The page a chunk belongs to, as the questions file names pages."""
    src = chunk.source
    if unit == "section":
        return _norm(src.section if src and src.section else chunk.title)
    if unit == "page":
        m = re.search(r"#page=(\d+)", chunk.doc_id)
        return m.group(1) if m else chunk.doc_id
    return src.location if src and src.location else chunk.doc_id


def _norm(s: str) -> str:
    return " ".join(str(s).replace("\u201c", '"').replace("\u201d", '"').split()).lower()


def distinct(pages: list[str]) -> list[str]:
    seen: list[str] = []
    for p in pages:
        if p not in seen:
            seen.append(p)
    return seen


def build_or_open(corpus: str, folder: Path):
    from m2io.corpus import load_corpus
    from m2io.index import Index, build_index

    if not (folder / "manifest.json").is_file():
        loaded = load_corpus(Path(corpus), exclude=("LICENSE*",))
        build_index(loaded.documents, folder, progress=False, corpus_root=loaded.root)
    return Index.open(folder)


def haystack_rankers(index):
    """The three Haystack retrievers over the index's chunks and stored vectors."""
    try:
        from haystack import Document
        from haystack.components.joiners import DocumentJoiner
        from haystack.components.retrievers.in_memory import (
            InMemoryBM25Retriever,
            InMemoryEmbeddingRetriever,
        )
        from haystack.document_stores.in_memory import InMemoryDocumentStore
    except ImportError as err:  # pragma: no cover - optional
        raise SystemExit(f"needs Haystack 2.x: pip install 'm2io[bench]' ({err})") from None
    from m2io.index.build import chunk_embedding_text

    vectors = index.stored_vectors("chunks")
    store = InMemoryDocumentStore(embedding_similarity_function="cosine")
    docs = [
        Document(id=str(row), content=chunk_embedding_text(c), embedding=vectors[row].tolist())
        for row, c in enumerate(index.chunks)
    ]
    store.write_documents(docs)
    bm25 = InMemoryBM25Retriever(store, top_k=DEPTH)
    dense = InMemoryEmbeddingRetriever(store, top_k=DEPTH)
    joiner = DocumentJoiner(join_mode="reciprocal_rank_fusion", top_k=DEPTH)

    def rank(question: str) -> dict[str, list[int]]:
        qvec = index.embed_query(question).tolist()
        b = bm25.run(query=question)["documents"]
        d = dense.run(query_embedding=qvec)["documents"]
        h = joiner.run(documents=[d, b])["documents"]
        return {
            "haystack-bm25": [int(x.id) for x in b],
            "haystack-embedding": [int(x.id) for x in d],
            "haystack-hybrid": [int(x.id) for x in h],
        }

    return rank


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--questions", required=True, help="questions JSON (manuals + questions)")
    ap.add_argument("--index-root", required=True, help="folder of one index per manual")
    ap.add_argument("--manual", action="append", help="only these manuals (repeatable)")
    ap.add_argument("--out", help="JSON file for the per-question pages and the table")
    ap.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="HybridRetriever option for the m2io column, e.g. dense_weight=1.0",
    )
    args = ap.parse_args()

    from m2io.retrievers.hybrid import HybridRetriever

    spec = json.loads(Path(args.questions).read_text(encoding="utf-8"))
    options = {}
    for item in args.overrides:
        key, _, value = item.partition("=")
        options[key] = json.loads(value)
    table: dict[str, dict[str, list[int]]] = {}
    rows = []
    for name, manual in spec["manuals"].items():
        if args.manual and name not in args.manual:
            continue
        t0 = time.perf_counter()
        index = build_or_open(manual["corpus"], Path(args.index_root) / name)
        unit = manual["unit"]
        ours = HybridRetriever(index, **options)
        peers = haystack_rankers(index)
        counts = {k: [0, 0] for k in ("m2io", *PEERS)}
        for q in (q for q in spec["questions"] if q["manual"] == name):
            gold = {_norm(g) if unit == "section" else str(g) for g in q["gold"]}
            r = ours.retrieve(q["question"])
            ranked = {"m2io": distinct([page_of(c.chunk, unit) for c in r.chunks])}
            for peer, ids in peers(q["question"]).items():
                ranked[peer] = distinct([page_of(index.chunks[i], unit) for i in ids])
            hits = {}
            for k, pages in ranked.items():
                h1, h3 = bool(pages[:1] and pages[0] in gold), bool(gold & set(pages[:3]))
                counts[k][0] += h1
                counts[k][1] += h3
                hits[k] = {"top3": pages[:3], "hit1": h1, "hit3": h3}
            rows.append({"id": q["id"], "question": q["question"], "gold": q["gold"], **hits})
            if not hits["m2io"]["hit1"]:
                print(
                    f"  m2io miss {q['id']}: {hits['m2io']['top3']} gold {q['gold']}",
                    file=sys.stderr,
                )
        n = sum(1 for q in spec["questions"] if q["manual"] == name)
        table[name] = {k: [v[0], v[1], n] for k, v in counts.items()}
        print(
            f"{name} ({n} q, {time.perf_counter() - t0:.0f} s): "
            + ", ".join(f"{k} {v[0]}/{v[1]}" for k, v in counts.items()),
            file=sys.stderr,
        )
    names = ("m2io", *PEERS)
    total = {k: [sum(table[m][k][i] for m in table) for i in range(3)] for k in names}
    print("| manual | " + " | ".join(f"{k} hit@1 / hit@3" for k in names) + " |")
    print("|---" * (len(names) + 1) + "|")
    for m, t in {**table, "all": total}.items():
        print(f"| {m} | " + " | ".join(f"{t[k][0]} / {t[k][1]} of {t[k][2]}" for k in names) + " |")
    if args.out:
        Path(args.out).write_text(
            json.dumps(
                {"options": options, "table": table, "total": total, "questions": rows},
                indent=1,
                ensure_ascii=False,
            )
            + "\n",
            encoding="utf-8",
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
