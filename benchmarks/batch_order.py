"""Batches ordered by tokens vs by characters (issue 24 item 2): what padding costs an embedding.

The ONNX embedder pads each batch to its longest text. Ordered by characters (as it was, and as
sentence-transformers orders them), short texts such as a manual's sentences land beside texts
of very different token counts; ordered by tokens, each batch pads to lengths close to its own.
This times both orders on the same texts, alternating over ``--repeats`` rounds in one process
(the model's large-batch session, as a build uses it), for the chunks of an index and for the
sentences an index stores (:func:`m2io.index.sentences.index_sentences`); it counts the padded
tokens of each order and checks the vectors agree. Then it times answer-sized calls, as an
inserter makes them at answer time: the sentences of one chunk (about 9, 5 to 60 tokens) in one
call on the one-thread session, in one padded batch by characters (as before) against batches
by tokens cut at the padding slack (:data:`m2io.embed.base.PAD_SLACK`). Records the load average
at both ends.

Command (from the repository root)::

    .venv/bin/python benchmarks/batch_order.py --index ../idx/dev/gnucash \\
        --out results/batch_order.json
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
from _report import machine, write_result

from m2io.embed.base import by_length
from m2io.embed.onnx import OnnxTextEmbedder, mean_pool
from m2io.index import Index
from m2io.index.build import chunk_embedding_text
from m2io.index.sentences import index_sentences


def by_characters(emb: OnnxTextEmbedder, texts: list[str], batch_size: int) -> np.ndarray:
    """The embedder's batches as they were: ordered by characters."""
    session = emb._session_for(len(texts))
    encs = emb._tokenizer.encode_batch(texts)
    out = np.empty((len(texts), emb.dim), dtype=np.float32)
    for rows in by_length([len(t) for t in texts], batch_size, slack=None):
        hidden, mask = emb._forward(session, [encs[i] for i in rows])
        out[rows] = mean_pool(hidden, mask)
    return out


def padded(lengths: list[int], order: list[list[int]]) -> int:
    return sum(max(lengths[i] for i in rows) * len(rows) for rows in order)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--index", required=True, help="a built index folder (read only)")
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--answers", type=int, default=120, help="answer-sized calls to time")
    p.add_argument("--skip-sets", action="store_true", help="time only the answer-sized calls")
    p.add_argument("--out", default="results/batch_order.json")
    args = p.parse_args()

    load_at_start = os.getloadavg()
    index = Index.open(Path(args.index))
    emb = OnnxTextEmbedder()
    emb.encode(["warm up"])
    sets = {
        "chunks": [chunk_embedding_text(c) for c in index.chunks],
        "sentences": index_sentences(index.chunks),
    }
    result: dict[str, object] = {"index": str(Path(args.index).resolve())}
    for name, texts in sets.items() if not args.skip_sets else ():
        tokens = emb._lengths(texts)
        walls: dict[str, list[float]] = {"characters": [], "tokens": []}
        vecs: dict[str, np.ndarray] = {}
        for r in range(args.repeats):
            for kind in ("characters", "tokens") if r % 2 == 0 else ("tokens", "characters"):
                t0 = time.perf_counter()
                if kind == "tokens":
                    vecs[kind] = emb._run(texts, args.batch_size)
                else:
                    vecs[kind] = by_characters(emb, texts, args.batch_size)
                walls[kind].append(time.perf_counter() - t0)
        cos = (vecs["tokens"] * vecs["characters"]).sum(axis=1)
        result[name] = {
            "texts": len(texts),
            "tokens": int(sum(tokens)),
            "padded_tokens": {
                "characters": padded(
                    tokens, by_length([len(t) for t in texts], args.batch_size, None)
                ),
                "tokens": padded(tokens, by_length(tokens, args.batch_size)),
            },
            "wall_s": {k: [round(x, 1) for x in v] for k, v in walls.items()},
            "tokens_over_characters": round(
                float(np.median(walls["tokens"]) / np.median(walls["characters"])), 2
            ),
            "min_cosine_between_orders": round(float(cos.min()), 5),
        }
    # an answer's sentences, as the inserters embed them at answer time: one small call each
    rng = np.random.default_rng(0)
    picks = rng.choice(len(index.chunks), size=min(args.answers, len(index.chunks)), replace=False)
    groups = [index_sentences([index.chunks[int(i)]])[:32] for i in picks]
    per: dict[str, list[float]] = {"characters": [], "tokens": []}
    for r, group in enumerate(groups):
        for kind in ("characters", "tokens") if r % 2 == 0 else ("tokens", "characters"):
            t0 = time.perf_counter()
            if kind == "tokens":
                emb._run(group, args.batch_size)
            else:
                by_characters(emb, group, args.batch_size)
            per[kind].append(1000 * (time.perf_counter() - t0))
    result["answer_sized_calls"] = {
        "calls": len(groups),
        "texts_per_call_mean": round(float(np.mean([len(g) for g in groups])), 1),
        "ms": {
            k: {
                "p50": round(float(np.percentile(v, 50)), 1),
                "p95": round(float(np.percentile(v, 95)), 1),
                "mean": round(float(np.mean(v)), 1),
            }
            for k, v in per.items()
        },
        "mean_tokens_over_characters": round(
            float(np.mean(per["tokens"]) / np.mean(per["characters"])), 2
        ),
    }
    result["machine"] = machine(load_at_start, embedder="all-MiniLM-L6-v2 (onnx)")
    write_result(args.out, result)


if __name__ == "__main__":
    main()
