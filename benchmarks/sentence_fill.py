"""What filling an index's sentence vectors in the background costs a served index (issue 24
item 2): how long the fill takes and the answers' throughput and latency before, during and after
it, in one process (as ``m2io serve`` with one worker answers one client).

The index is copied to a temporary folder (the source is never written) with its sentence table
emptied (as a default build leaves it). The default pipeline answers the subset's questions one
after another, each distinct (the embedder's recent cache emptied before each, so no answer is
helped by an earlier one): ``before`` the first ``--n``, then, with
:meth:`m2io.pipeline.Pipeline.fill_sentence_vectors` running, the following ones (cycling) until
the fill ends (``during``), then the first ``--n`` again (``after``, stored mode). Records the
load average at both ends.

Command (from the repository root)::

    .venv/bin/python benchmarks/sentence_fill.py --data ../shared/bench/gimp --subset gimp \\
        --index ../idx/dev/gimp --out results/sentence_fill.json
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
from _report import machine, write_result

from m2io.config import PipelineConfig
from m2io.corpus.mramg import load_questions
from m2io.factory import build_pipeline
from m2io.index.sentences import write_sentence_vectors


def summary(lat: list[float], ins: list[float], wall: float) -> dict[str, float]:
    return {
        "answers": len(lat),
        "answers_per_s": round(len(lat) / wall, 2) if wall else 0.0,
        "total_p50_ms": round(float(np.percentile(lat, 50)), 2),
        "total_p95_ms": round(float(np.percentile(lat, 95)), 2),
        "insert_p50_ms": round(float(np.percentile(ins, 50)), 2),
        "insert_p95_ms": round(float(np.percentile(ins, 95)), 2),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", default="../shared/bench/gimp")
    p.add_argument("--subset", default="gimp")
    p.add_argument("--index", required=True, help="index folder to copy (never written)")
    p.add_argument("--n", type=int, default=120, help="questions before and after the fill")
    p.add_argument("--out", default="results/sentence_fill.json")
    args = p.parse_args()
    load0 = os.getloadavg()
    questions = [q.question for q in load_questions(Path(args.data).resolve(), args.subset)]
    with tempfile.TemporaryDirectory(prefix="m2io-fill-") as tmp:
        folder = Path(tmp) / "index"
        shutil.copytree(args.index, folder)
        dim = int(np.load(folder / "sentences.npy", mmap_mode="r").shape[1])
        write_sentence_vectors(folder, [], np.zeros((0, dim), np.float32))  # as built by default
        cfg = PipelineConfig()
        cfg.index = str(folder)
        pipe = build_pipeline(cfg)
        embedder = pipe.retriever.index.embedder
        pipe.run(questions[0])  # warm-up: models loaded

        def answer(q: str, lat: list[float], ins: list[float]) -> None:
            embedder.forget_recent()
            t0 = time.perf_counter()
            out = pipe.run(q)
            lat.append(1000 * (time.perf_counter() - t0))
            ins.append(out.timings_ms.get("insert", 0.0))

        phases: dict[str, dict[str, float]] = {}
        lat: list[float] = []
        ins: list[float] = []
        t0 = time.perf_counter()
        for q in questions[: args.n]:
            answer(q, lat, ins)
        phases["before"] = summary(lat, ins, time.perf_counter() - t0)
        lat, ins = [], []
        t0 = time.perf_counter()
        fill = pipe.fill_sentence_vectors()
        k = args.n
        while not fill.finished.is_set():
            answer(questions[k % len(questions)], lat, ins)
            k += 1
        fill_s = time.perf_counter() - t0
        phases["during"] = summary(lat, ins, fill_s)
        lat, ins = [], []
        t0 = time.perf_counter()
        for q in questions[: args.n]:
            answer(q, lat, ins)
        phases["after"] = summary(lat, ins, time.perf_counter() - t0)
        result = {
            "data": args.data,
            "subset": args.subset,
            "index": args.index,
            "fill_s": round(fill_s, 1),
            "sentences": fill.total,
            "sentences_with_vectors": fill.done,
            "rows_written": fill.saved,
            "phases": phases,
            "during_over_before_throughput": round(
                phases["during"]["answers_per_s"] / phases["before"]["answers_per_s"], 3
            ),
            "machine": machine(load0),
        }
    write_result(args.out, result)


if __name__ == "__main__":
    main()
