"""Sentence vectors pooled from the chunks' forward passes (issue 24 item 2; measured, rejected).

Reads a built index (read only), runs its chunks once with every quoted sentence's span pooled
(:meth:`m2io.embed.base.CachedTextEmbedder.encode_spans`), then the passes over what lies past
the 128-token window (:func:`m2io.index.sentence_spans.pooled_sentences`); compares a sample of
the pooled vectors with the standalone sentence vectors; copies the index to ``--copy`` with the
pooled vectors as its sentence table, for ``m2io eval --index COPY``. Records the load average.

Command (from the repository root)::

    .venv/bin/python benchmarks/pooled_sentences.py --index ../idx/dev/gnucash \\
        --copy /tmp/pooled/gnucash --out results/pooled_sentences.json
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import time
from pathlib import Path

import numpy as np
from _report import machine, write_result

from m2io.embed.text import load_text_embedder
from m2io.index import Index
from m2io.index.build import chunk_embedding_text
from m2io.index.sentence_spans import pooled_sentences, sentence_spans
from m2io.index.sentences import index_sentences, sentence_key, write_sentence_vectors


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--index", required=True)
    p.add_argument("--copy", required=True)
    p.add_argument("--sample", type=int, default=400)
    p.add_argument("--out", default="results/pooled_sentences.json")
    args = p.parse_args()
    load_at_start = os.getloadavg()
    index = Index.open(Path(args.index))
    emb = load_text_embedder()
    emb.encode(["warm up"])
    texts = [chunk_embedding_text(c) for c in index.chunks]
    sents_of = [index_sentences([c]) for c in index.chunks]
    t0 = time.perf_counter()
    _, first = emb.encode_spans(texts, sentence_spans(texts, sents_of))
    chunk_pass = time.perf_counter() - t0
    passes = [0, 0]

    def run(segments: list[str], spans: list[list[tuple[int, int]]]) -> list:
        passes[0] += 1
        passes[1] += len(segments)
        return emb.encode_spans(segments, spans)[1]

    t0 = time.perf_counter()
    found, alone = pooled_sentences(texts, sents_of, run, first)
    rest = time.perf_counter() - t0
    random.seed(0)
    sample = random.sample(list(found), min(args.sample, len(found)))
    ref = emb._encode(sample, 64, False)
    cos = np.array([float(r @ found[s]) for r, s in zip(ref, sample, strict=True)])
    vecs = dict(found)
    if alone:
        vecs.update(zip(alone, emb._encode(alone, 64, False), strict=True))
    shutil.copytree(args.index, args.copy, dirs_exist_ok=True)
    write_sentence_vectors(
        Path(args.copy), [sentence_key(s) for s in vecs], np.stack(list(vecs.values()))
    )
    result = {
        "index": str(Path(args.index).resolve()),
        "sentences_pooled": len(found),
        "sentences_alone": len(alone),
        "chunk_pass_with_spans_s": round(chunk_pass, 1),
        "passes_past_the_window": {"passes": passes[0], "segments": passes[1]},
        "passes_past_the_window_s": round(rest, 1),
        "cosine_to_standalone": {
            "mean": round(float(cos.mean()), 3),
            "p5": round(float(np.percentile(cos, 5)), 3),
            "p50": round(float(np.median(cos)), 3),
        },
        "machine": machine(load_at_start, embedder=f"{emb.name} ({emb.backend})"),
    }
    write_result(args.out, result)


if __name__ == "__main__":
    main()
