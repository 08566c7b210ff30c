"""Core pipeline benchmark: indexing throughput, warm per-stage query latency, peak memory.

Runs on an MRAMG-layout folder (never copied into the repository) and writes a JSON file with
every number it prints. The baseline for the latency ratios is the retriever alone, measured in
the same run, so figures stay comparable on a noisy machine.

    .venv/bin/python benchmarks/bench_pipeline.py --data ../shared/bench/gimp \
        --out results/bench_pipeline.json [--questions 200] [--inserter rule] \
        [--index DIR --reuse-index]

Targets (2-core machine): whole dev set indexed in ≤ 3 min, peak RSS ≤ 1.5 GB (issue 2); warm
answer p50 ≤ 100 ms with the default pipeline, hybrid + extractive + learned (issue 9). The
inserter defaults to the pipeline's default; ``--inserter rule`` times the paper's baseline.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(q / 100 * (len(s) - 1))))]


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", required=True, help="MRAMG-layout folder")
    ap.add_argument("--subset", default=None)
    ap.add_argument("--out", default="results/bench_pipeline.json")
    ap.add_argument("--questions", type=int, default=200, help="questions to time (>= 100)")
    ap.add_argument(
        "--inserter", default=None, help="inserter backend (default: the pipeline's, learned)"
    )
    ap.add_argument("--index", default=None, help="keep the index here (default: temp)")
    ap.add_argument(
        "--reuse-index", action="store_true", help="skip the build if --index is up to date"
    )
    args = ap.parse_args()

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from m2io.config import PipelineConfig, StageConfig
    from m2io.corpus import load_mramg, load_questions
    from m2io.embed.text import load_text_embedder
    from m2io.factory import build_inserter
    from m2io.generators.extractive import ExtractiveGenerator
    from m2io.index import build_index
    from m2io.pipeline import Pipeline
    from m2io.retrievers.hybrid import HybridRetriever

    t0 = time.perf_counter()
    embedder = load_text_embedder()
    t_model = time.perf_counter() - t0
    t0 = time.perf_counter()
    corpus = load_mramg(args.data, args.subset)
    t_load = time.perf_counter() - t0
    tmp = tempfile.TemporaryDirectory(prefix="m2io-bench-")
    index_dir = args.index or str(Path(tmp.name) / "index")
    t0 = time.perf_counter()
    manifest = None
    if args.reuse_index:
        from m2io.index import IndexManifest, corpus_hash

        try:
            manifest = IndexManifest.read(index_dir)
            if manifest.content_hash != corpus_hash(corpus.documents, corpus.root):
                manifest = None
        except (ValueError, OSError):
            manifest = None
    reused = manifest is not None
    if manifest is None:
        manifest = build_index(
            corpus.documents, index_dir, embedder=embedder, progress=False, corpus_root=corpus.root
        )
    t_index = time.perf_counter() - t0
    chars = sum(len(d.text) for d in corpus.documents)

    questions = [q.question for q in load_questions(args.data, args.subset)][: args.questions]
    t0 = time.perf_counter()
    retriever = HybridRetriever(index_dir)
    # as m2io ask builds it: the learned inserter gets the index's corpus profile
    cfg = PipelineConfig(index=str(index_dir))
    if args.inserter:
        cfg.inserter = StageConfig(args.inserter)
    args.inserter = cfg.inserter.name
    pipe = Pipeline(retriever, ExtractiveGenerator(), build_inserter(cfg))
    t_open = time.perf_counter() - t0
    for q in questions[:5]:  # warm-up: lazy loads, caches
        pipe.run(q)
    stages: dict[str, list[float]] = {}
    n_images = []
    for q in questions:
        ans = pipe.run(q)
        n_images.append(len(ans.images))
        for k, v in ans.timings_ms.items():
            stages.setdefault(k, []).append(v)
    result = {
        "data": str(Path(args.data).resolve()),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": sys.version.split()[0],
        },
        "corpus": {
            "documents": manifest.n_documents,
            "chunks": manifest.n_chunks,
            "image_occurrences": manifest.n_images,
            "chars": chars,
        },
        "indexing": {
            "reused_existing_index": reused,
            "model_load_s": round(t_model, 2),
            "corpus_load_s": round(t_load, 2),
            "build_s": round(t_index, 2),
            "total_s": round(t_model + t_load + t_index, 2),
            "docs_per_s": round(manifest.n_documents / t_index, 1),
            "chunks_per_s": round(manifest.n_chunks / t_index, 1),
        },
        "query": {
            "pipeline": f"hybrid+extractive+{args.inserter}",
            "n": len(questions),
            "index_open_s": round(t_open, 3),
            "latency_ms": {
                k: {
                    "p50": round(pct(v, 50), 2),
                    "p95": round(pct(v, 95), 2),
                    "mean": round(statistics.mean(v), 2),
                }
                for k, v in stages.items()
            },
            "images_per_answer": round(statistics.mean(n_images), 2),
        },
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
