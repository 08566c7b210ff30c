"""``m2io eval``: run a whole pipeline on every question of an MRAMG-layout subset and score it.

Indexes the subset's documents once (kept under ``.m2io/eval-index/`` in the working directory
and reused while the documents are unchanged), answers each question, and writes the metrics,
stage latencies, tokens and cost. Examples::

    m2io eval --data ../shared/bench/gimp --subset gimp --generator extractive --inserter rule \\
        --out results/gimp-e2e-extractive+rule.json
    m2io eval --data DIR --subset wit --mode singleshot --base-url http://localhost:8000/v1 \\
        --generator-model qwen2.5-vl-7b-instruct --limit 100

Ctrl-C stops the run, keeps the answers already scored (results JSON marked ``interrupted``) and
exits with status 130. Answers whose model call fell back (endpoint down, timed out, malformed
reply) are counted per stage and shown next to the score; a run where most did is labelled
``[fallback: k/n]``, and with ``--strict`` exits 1.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from m2io.cli.common import add_pipeline_arguments, config_from_args, recipe_of
from m2io.cli.eval_inserter import (
    add_output_group,
    add_split_argument,
    exit_status,
    inserter_label,
    print_summary,
    slug,
)
from m2io.corpus.mramg import Dropped, load_mramg, load_questions, resolve_subset
from m2io.embed.text import load_text_embedder
from m2io.evaluation.e2e import (
    E2EOptions,
    ensure_index,
    eval_index_dir,
    evaluate_e2e,
    index_matches,
)
from m2io.evaluation.items import dropped_questions, question_gaps, split_questions
from m2io.evaluation.prices import load_prices
from m2io.factory import build_pipeline, validate_config
from m2io.metrics.judge import LLMJudge


def add_arguments(p: argparse.ArgumentParser) -> None:
    data = p.add_argument_group("data")
    data.add_argument("--data", required=True, help="MRAMG-layout folder")
    data.add_argument("--subset", help="subset name (default: the only one in --data)")
    data.add_argument("--limit", type=int, help="answer only the first N questions")
    add_split_argument(
        data,
        "answer every question",
        "; eval-inserter and train inserter-policy use the same split "
        "(val = documents a trained inserter never saw)",
    )
    data.add_argument(
        "--rebuild-index",
        action="store_true",
        help="rebuild the index even if the existing one matches the documents",
    )
    add_pipeline_arguments(  # the same flag as `m2io ask`, with another default here
        p,
        index_help="index folder; built there if missing (default: .m2io/eval-index/"
        "<subset>-<hash of the data path>, reused while the documents are unchanged)",
    )
    m = p.add_argument_group("metrics")
    m.add_argument("--no-bert", action="store_true", help="skip BERTScore (no torch needed)")
    m.add_argument("--bert-model", help="BERTScore model id or folder (default: bundled MiniLM)")
    m.add_argument("--bert-layers", type=int, help="BERTScore layer for --bert-model")
    m.add_argument("--judge-base-url", help="OpenAI-compatible endpoint of an LLM judge (optional)")
    m.add_argument("--judge-model", default="gpt-4o-mini", help="judge model name")
    m.add_argument(
        "--prices",
        metavar="FILE",
        help="YAML/JSON price table (USD per 1M tokens) merged over the built-in one",
    )
    add_output_group(
        p, "results JSON (default: results/<subset>-e2e-<name>.json); per-item JSONL goes beside it"
    )


def system_label(cfg: Any) -> str:
    """``extractive+rule``, ``openai(gpt-4o-mini)+rule``, ``singleshot(qwen2.5-vl-7b)``."""
    if cfg.mode == "singleshot":
        return f"singleshot({cfg.llm.get('model', 'gpt-4o-mini')})"
    gen = cfg.generator
    gen_label = gen.name.rsplit(":", 1)[-1]
    if gen.options.get("model"):
        gen_label += f"({gen.options['model']})"
    return f"{gen_label}+{inserter_label(cfg.inserter.name, cfg.inserter.options)}"


def _endpoint(pipeline: Any) -> tuple[str | None, str | None]:
    """Model and base URL of the pipeline's LLM client, if it has one (for the cost estimate)."""
    client = getattr(pipeline, "client", None) or getattr(
        getattr(pipeline, "generator", None), "client", None
    )
    model = getattr(client, "model", None)
    if not isinstance(model, str):  # an in-process model (local backend): nothing to price
        return None, None
    return model, getattr(client, "base_url", None)


def run(args: argparse.Namespace) -> int:
    if args.limit is not None and args.limit < 1:
        raise ValueError(f"--limit must be >= 1, got {args.limit}")
    data = Path(args.data).resolve()
    subset = resolve_subset(data, args.subset)
    cfg = config_from_args(args)
    validate_config(cfg)  # a typo in an option fails before the index is built
    prices = load_prices(args.prices)
    judge = None
    if args.judge_base_url:
        judge = LLMJudge(base_url=args.judge_base_url, model=args.judge_model)

    setup: dict[str, float] = {}
    t0 = time.perf_counter()
    corpus = load_mramg(data, subset)
    dropped: list[Dropped] = []
    questions = split_questions(load_questions(data, subset, dropped=dropped), corpus, args.split)
    if args.limit:
        questions = questions[: args.limit]
    setup["load"] = time.perf_counter() - t0
    if not questions:
        raise ValueError(f"{data}: subset {subset!r} has no questions")

    folder = Path(args.index) if args.index else eval_index_dir(data, subset)
    if args.index and folder.exists() and not args.rebuild_index:
        if not index_matches(folder, corpus.documents, corpus.root):
            raise ValueError(
                f"--index {folder} was not built from {data} ({subset}); pass another --index, "
                "or --rebuild-index to replace it"
            )
    # under embed_backend the index is embedded as the pipeline will query it
    backend = (
        {"embedder": load_text_embedder(backend=cfg.embed_backend)} if cfg.embed_backend else {}
    )
    folder, built_s = ensure_index(
        corpus.documents,
        folder,
        rebuild=args.rebuild_index,
        progress=not args.no_progress,
        corpus_root=corpus.root,
        **backend,
    )
    setup["index_build"] = built_s
    cfg.index = str(folder)
    t0 = time.perf_counter()
    pipeline = build_pipeline(cfg)
    setup["load_pipeline"] = time.perf_counter() - t0
    if args.dump_config:  # the recipe of the pipeline this run would score
        print(recipe_of(pipeline, cfg), end="")
        return 0

    system = args.name or system_label(cfg)
    side = "" if args.split == "all" else f"-{args.split}"
    out = Path(args.out or f"results/{subset}-e2e-{slug(system)}{side}.json")
    config = {
        "pipeline": cfg.to_dict(),
        "eval": {
            "data": str(data),
            "subset": subset,
            "limit": args.limit,
            "split": args.split,
            "n_questions": len(questions),
            "bert": not args.no_bert,
            "bert_model": args.bert_model,
            "judge_model": args.judge_model if judge is not None else None,
        },
    }
    model, base_url = _endpoint(pipeline)
    options = E2EOptions(
        out=out,
        subset=subset,
        system=system,
        config=config,
        setup_s=setup,
        bert=not args.no_bert,
        bert_model=args.bert_model,
        bert_num_layers=args.bert_layers,
        judge=judge,
        price_model=model,
        base_url=base_url,
        prices=prices,
        progress=not args.no_progress,
        gold_gaps=question_gaps(questions, corpus),
        skipped=dropped_questions(dropped),
    )
    results = evaluate_e2e(pipeline, questions, options)
    print_summary(results, out, total=len(questions))
    return exit_status(results, args.strict)
