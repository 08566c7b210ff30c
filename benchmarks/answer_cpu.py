"""CPU per answer of the default pipeline, for source trees compared in one run (issue 24).

Throughput through HTTP on a shared machine follows the CPU the other jobs leave; the CPU an
answer costs the answering process (``time.process_time``) does much less. Builds the demo corpus
index of ``load_serve.py`` once, then for each ``--src`` (a checkout's ``src``) in turn, and
again in the other order (``--repeats``), a fresh process loads the default pipeline over it,
answers 20 questions to warm up and then ``--answers`` distinct ones: CPU and wall ms per answer.

    PYTHONPATH=src .venv/bin/python benchmarks/answer_cpu.py --src ../main/src --src src \\
        --out results/answer_cpu.json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from load_serve import demo_corpus_with_big_image, machine, many_distinct


def child(index: str, n: int, offset: int) -> dict[str, float]:
    from m2io.config import PipelineConfig
    from m2io.factory import build_pipeline

    pipeline = build_pipeline(PipelineConfig(index=index))
    qs = many_distinct(n + 20, offset)
    for q in qs[:20]:
        pipeline.run(q)
    cpu, wall = time.process_time(), time.perf_counter()
    for q in qs[20:]:
        pipeline.run(q)
    return {
        "cpu_ms": round((time.process_time() - cpu) / n * 1e3, 2),
        "wall_ms": round((time.perf_counter() - wall) / n * 1e3, 2),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--src", action="append", required=True, help="a source tree (repeatable)")
    ap.add_argument("--answers", type=int, default=240)
    ap.add_argument("--repeats", type=int, default=2, help="runs of each tree, order alternated")
    ap.add_argument("--out", default="results/answer_cpu.json")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--offset", type=int, default=0, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.answers, args.offset)))
        return 0

    from m2io.corpus import load_corpus
    from m2io.index import build_index

    work = Path(tempfile.mkdtemp(prefix="m2io-cpu-"))
    corpus = load_corpus(demo_corpus_with_big_image(work), format="folder", exclude=("LICENSE*",))
    build_index(corpus.documents, work / "index", progress=False, corpus_root=corpus.root)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    runs = []
    for r in range(args.repeats):
        for src in args.src if r % 2 == 0 else args.src[::-1]:
            load = [round(x, 2) for x in os.getloadavg()]
            cmd = [sys.executable, __file__, "--src", src, "--child", str(work / "index")]
            cmd += ["--answers", str(args.answers), "--offset", str(1000 * (r + 1))]
            path = f"{src}{os.pathsep}{Path(__file__).parent}"
            out = subprocess.run(
                cmd, env={**env, "PYTHONPATH": path}, capture_output=True, text=True, check=True
            )
            runs.append({"src": src, "load_avg": load, **json.loads(out.stdout.splitlines()[-1])})
            print(json.dumps(runs[-1]), flush=True)
    result = {
        "benchmark": "answer_cpu",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "corpus": "demo (11 documents) + one page with a 16 MB figure",
        "runs": runs,
        "command": " ".join(["python", *sys.argv]),
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
