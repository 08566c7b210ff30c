"""Check the default retriever's "nothing relevant found" decisions on real and unrelated queries.

``benchmarks/calibrate_floor.py`` measures scores; this runs the retriever as shipped
(``HybridRetriever`` with its default floor and word check) and counts what it answers and what
it refuses: every question of an MRAMG-layout dev set, the natural how-to questions written for a
corpus (``benchmarks/questions/*.txt``), and the unrelated queries of ``calibrate_floor.py``.
Each ``--corpus`` is paired with the ``--questions`` file at the same position (``-`` for none).

    .venv/bin/python benchmarks/floor_decisions.py \\
        --corpus ../shared/bench/gimp ../shared/bench/gnucash src/m2io/demo/corpus \\
        --questions - benchmarks/questions/gnucash-howto.txt benchmarks/questions/demo-howto.txt \\
        --work /tmp/floor --out results/floor_decisions.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from calibrate_floor import UNRELATED

from m2io.corpus import load_corpus
from m2io.corpus.mramg import find_subsets
from m2io.index import build_index
from m2io.retrievers.hybrid import HybridRetriever


def _lines(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8").splitlines()
    return [q.strip() for q in text if q.strip() and not q.lstrip().startswith("#")]


def _dev_questions(corpus: Path) -> list[str]:
    subsets = find_subsets(corpus)
    if not subsets:
        return []
    rows = (corpus / f"{subsets[0]}_mqa.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(r)["question"] for r in rows if r.strip()]


def _decide(r: HybridRetriever, queries: list[str]) -> dict[str, object]:
    refused = [q for q in queries if not r.retrieve(q).chunks]
    return {"n": len(queries), "answered": len(queries) - len(refused), "refused": refused}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--corpus", nargs="+", type=Path, required=True)
    ap.add_argument("--questions", nargs="+", required=True, help="one per corpus, '-' for none")
    ap.add_argument("--work", type=Path, default=Path(".m2io/floor"))
    ap.add_argument("--out", type=Path, default=Path("results/floor_decisions.json"))
    args = ap.parse_args()
    if len(args.questions) != len(args.corpus):
        ap.error("give one --questions entry per --corpus")
    report: dict[str, object] = {}
    for corpus, qfile in zip(args.corpus, args.questions, strict=True):
        folder = args.work / corpus.name
        if not (folder / "manifest.json").is_file():
            loaded = load_corpus(
                corpus, **({} if find_subsets(corpus) else {"exclude": ("LICENSE*",)})
            )
            build_index(loaded.documents, folder, corpus_root=loaded.root, progress=False)
        r = HybridRetriever(folder)
        entry = {"floor": r.min_score, "unrelated": _decide(r, UNRELATED)}
        dev = _dev_questions(corpus)
        if dev:
            entry["dev_questions"] = _decide(r, dev)
        if qfile != "-":
            entry["howto_questions"] = _decide(r, _lines(Path(qfile)))
        report[corpus.name] = entry
        print(
            corpus.name,
            {k: f"{v['answered']}/{v['n']} answered" for k, v in entry.items() if k != "floor"},
            file=sys.stderr,
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
