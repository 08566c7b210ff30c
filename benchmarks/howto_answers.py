"""Answer a list of natural how-to questions and write the answers out for a person to read.

Numbers cannot say whether an answer helps, so this writes each answer as a reader gets it
(Markdown with the figures, the sources and the notes), plus the JSON, for judging by reading.
The corpus is an MRAMG-layout folder or a folder of Markdown/HTML files; the index is built in a
temporary folder (or reused with --index).

    .venv/bin/python benchmarks/howto_answers.py --corpus ../shared/bench/gnucash \
        --questions benchmarks/questions/gnucash-howto.txt --out results/howto-gnucash
    .venv/bin/python benchmarks/howto_answers.py --corpus src/m2io/demo/corpus \
        --questions benchmarks/questions/demo-howto.txt --out results/howto-demo

``--set generator.lead=only`` (and any other ``section.key=value``) compares pipeline options.

Writes ``OUT/answers.md`` (all answers, for reading), ``OUT/answers.json`` (the structured
answers) and prints one line per question: images placed, sources, notes, total latency.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path


def read_questions(path: Path) -> list[str]:
    """Non-empty, non-comment lines of ``path``."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return [q.strip() for q in lines if q.strip() and not q.lstrip().startswith("#")]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--corpus", required=True, help="MRAMG-layout folder or Markdown/HTML folder")
    ap.add_argument("--questions", required=True, help="text file, one question per line")
    ap.add_argument("--out", required=True, help="folder for answers.md and answers.json")
    ap.add_argument("--index", help="index folder to reuse (default: build in a temp folder)")
    ap.add_argument("--inserter", default=None, help="inserter backend (default: the default)")
    ap.add_argument("--exclude", action="append", default=["LICENSE*"], help="glob to leave out")
    ap.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help="any pipeline option, as for m2io eval (repeatable)",
    )
    args = ap.parse_args()

    from m2io.config import PipelineConfig, StageConfig, apply_override
    from m2io.corpus import load_corpus
    from m2io.factory import build_pipeline
    from m2io.index import build_index
    from m2io.mergers.render import to_markdown

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    questions = read_questions(Path(args.questions))
    with tempfile.TemporaryDirectory() as tmp:
        index = Path(args.index) if args.index else Path(tmp) / "index"
        if not (index / "manifest.json").is_file():
            corpus_dir = Path(args.corpus)
            is_mramg = any(corpus_dir.glob("doc_*.jsonl"))
            kwargs = {} if is_mramg else {"exclude": tuple(args.exclude)}
            corpus = load_corpus(corpus_dir, **kwargs)
            build_index(corpus.documents, index, progress=False, corpus_root=corpus.root)
        cfg = PipelineConfig(index=str(index))
        if args.inserter:
            cfg.inserter = StageConfig(args.inserter)
        for item in args.overrides:
            apply_override(cfg, item)
        pipe = build_pipeline(cfg)
        pipe.run(questions[0])  # warm-up: model load and caches
        blocks, records = [], []
        for q in questions:
            answer = pipe.run(q)
            md = to_markdown(answer, relative_to=out)
            blocks.append(f"## {q}\n\n{md}")
            records.append(answer.to_dict())
            print(
                f"{len(answer.images)} images, {len(getattr(answer, 'sources', ()))} sources, "
                f"{len(answer.notes)} notes, {answer.timings_ms['total']:.0f} ms  {q}",
                file=sys.stderr,
            )
    (out / "answers.md").write_text("\n\n".join(blocks), encoding="utf-8")
    (out / "answers.json").write_text(
        json.dumps(records, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    print(f"wrote {out / 'answers.md'} and {out / 'answers.json'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
