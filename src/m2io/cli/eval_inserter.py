"""``m2io eval-inserter``: score an image inserter alone on gold answer text.

Each item is a gold answer with its images taken out; the inserter gets the gold images plus
distractors and must put the right ones after the right sentences. Example::

    m2io eval-inserter --data ../shared/bench/gimp --subset gimp --inserter rule \\
        --distractors hard --out results/gimp-inserter-rule-hard.json

An LLM inserter on an endpoint: ``--inserter llm --model NAME --base-url URL`` (endpoint
settings with ``--set llm.KEY=VALUE``). Items whose model call fell back are counted and shown
next to the score (``[fallback: k/n]`` when most did; ``--strict`` then exits 1); questions that
make no item are counted by reason.

Ctrl-C stops the run, keeps the items already scored (results JSON marked ``interrupted``) and
exits with status 130.
"""

from __future__ import annotations

import argparse
import math
import re
import sys
import time
from pathlib import Path

from m2io.cli.common import add_item_arguments, add_set_argument, fill_from_environment
from m2io.config import PipelineConfig, StageConfig, apply_override
from m2io.corpus.mramg import Dropped, load_mramg, load_questions, resolve_subset
from m2io.evaluation.inserter_eval import (
    InserterOptions,
    evaluate_inserter,
    item_texts,
    with_cached_embedder,
)
from m2io.evaluation.items import (
    SPLIT_SIDES,
    build_inserter_items,
    dropped_questions,
    question_gaps,
    split_by_document,
)
from m2io.evaluation.prices import load_prices
from m2io.evaluation.results import RunResults, by_reason, items_path, per_stage
from m2io.factory import build_inserter, check_options, stage_options


def add_arguments(p: argparse.ArgumentParser) -> None:
    data = p.add_argument_group("data")
    add_item_arguments(data)
    add_split_argument(data, "score every item")
    data.add_argument("--limit", type=int, help="score only the first N items")
    ins = p.add_argument_group("inserter")
    ins.add_argument(
        "--inserter",
        required=True,
        help="registered name (none, rule, similar, ...) or pkg.module:Class",
    )
    ins.add_argument("--model", help="model folder or name for a learned/LLM inserter")
    ins.add_argument(
        "--base-url",
        help="OpenAI-compatible endpoint (…/v1) for an LLM inserter; --model names the model there",
    )
    add_set_argument(
        ins,
        "inserter.threshold=0.4",
        help="inserter option, e.g. --set inserter.threshold=0.4, or an endpoint setting, e.g. "
        "--set llm.deadline=60 (repeatable)",
    )
    ins.add_argument(
        "--batch-embeddings",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="for inserters that take an embedder (rule, similar): embed all texts of the run "
        "in one batch first; insert latency then excludes embedding, reported as an "
        "amortised 'embed' stage (default: on; --no-batch-embeddings times each call whole)",
    )
    out = add_output_group(
        p,
        "results JSON (default: results/<subset>-inserter-<name>-<distractors>.json); "
        "per-item JSONL goes beside it",
    )
    out.add_argument("--prices", metavar="FILE", help="YAML/JSON price table for LLM inserters")


def add_split_argument(p: argparse._ArgumentGroup, verb: str, more: str = "") -> None:
    """``--split all|train|val``: all questions or one side of the by-document 80/20 split."""
    p.add_argument(
        "--split",
        choices=SPLIT_SIDES,
        default="all",
        help=f"{verb}, or one side of the by-document 80/20 split{more}",
    )


def add_output_group(p: argparse.ArgumentParser, out_help: str) -> argparse._ArgumentGroup:
    """The evaluations' ``output`` group: ``--out``, ``--name``, ``--no-progress``, ``--strict``."""
    out = p.add_argument_group("output")
    out.add_argument("--out", help=out_help)
    out.add_argument("--name", help="system label in results and reports (default: derived)")
    out.add_argument("--no-progress", action="store_true", help="no progress bars")
    out.add_argument(
        "--strict",
        action="store_true",
        help="exit 1 when most answers fell back (the model failed and a fallback wrote them)",
    )
    return out


def exit_status(results: RunResults, strict: bool) -> int:
    """130 when interrupted; 1 under ``--strict`` when most answers fell back; else 0."""
    if results.interrupted:
        return 130
    if strict and results.mostly_fallback:
        print(
            f"m2io: --strict: {results.fell_back} of {results.n} answers fell back; the scores "
            "are the fallback's, not the configured model's",
            file=sys.stderr,
        )
        return 1
    return 0


def inserter_label(name: str, options: dict) -> str:
    """``rule``, ``learned:ckpt-200`` (model folder's name), ``mypkg.mod:Cls`` → ``Cls``."""
    label = name.rsplit(":", 1)[-1] if ":" in name else name
    model = options.get("model")
    if model:
        label = f"{label}:{Path(str(model).rstrip('/')).name}"
    return label


def _hosted_model(options: dict) -> str | None:
    """The model to price: a name, not a local folder (local models cost nothing per token)."""
    model = options.get("model")
    return None if model is None or Path(str(model)).exists() else str(model)


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._+-]+", "-", text).strip("-") or "run"


def run(args: argparse.Namespace) -> int:
    if args.limit is not None and args.limit < 1:
        raise ValueError(f"--limit must be >= 1, got {args.limit}")
    data = Path(args.data).resolve()
    subset = resolve_subset(data, args.subset)
    cfg = PipelineConfig(inserter=StageConfig(args.inserter))
    if args.model:
        cfg.inserter.options["model"] = args.model
    if args.base_url:
        cfg.llm["base_url"] = args.base_url
    for item in args.set:
        if not item.startswith(("inserter.", "llm.")):
            raise ValueError(
                f"--set {item!r}: eval-inserter takes inserter.KEY=VALUE or llm.KEY=VALUE only"
            )
        apply_override(cfg, item)
    fill_from_environment(cfg, index=False)
    check_options("inserter", cfg.inserter)  # a typo fails before the items are built
    prices = load_prices(args.prices)

    setup: dict[str, float] = {}
    t0 = time.perf_counter()
    corpus = load_mramg(data, subset)
    dropped: list[Dropped] = []
    questions = load_questions(data, subset, dropped=dropped)
    setup["load"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    skipped: dict[str, int] = dropped_questions(dropped)
    items = build_inserter_items(
        questions,
        corpus,
        distractors=args.distractors,
        ratio=args.ratio,
        seed=args.seed,
        with_context=args.with_context,
        skipped=skipped,
    )
    n_built = len(items)
    if args.split != "all":
        train, val = split_by_document(items, val_fraction=0.2, seed=0)
        items = val if args.split == "val" else train
    items = items[: args.limit] if args.limit else items
    setup["build_items"] = time.perf_counter() - t0
    if not items:
        why = f" ({by_reason(skipped)})" if skipped else ""
        raise ValueError(
            f"no inserter items: {len(questions)} questions in {subset}, none usable{why}"
        )
    scored = {it.qid for it in items}
    gaps = question_gaps([q for q in questions if q.qid in scored], corpus)
    embed_s = None
    build_cfg = cfg
    cached = (
        with_cached_embedder(
            cfg, item_texts(items), build_inserter=build_inserter, progress=not args.no_progress
        )
        if args.batch_embeddings
        else None
    )
    if cached is not None:
        build_cfg, embed_s = cached
        setup["embed_batch"] = embed_s
    t0 = time.perf_counter()
    inserter = build_inserter(build_cfg)
    setup["load_inserter"] = time.perf_counter() - t0

    options = stage_options("inserter", cfg)  # with the llm endpoint settings it takes
    inserter_cfg = {"name": cfg.inserter.name, **options}
    system = args.name or inserter_label(cfg.inserter.name, options)
    variant = args.distractors + ("-ctx" if args.with_context else "")
    variant += "" if args.split == "all" else f"-{args.split}"
    out = Path(args.out or f"results/{subset}-inserter-{slug(system)}-{variant}.json")
    config = {
        "inserter": inserter_cfg,
        "eval": {
            "data": str(data),
            "subset": subset,
            "distractors": args.distractors,
            "ratio": args.ratio,
            "seed": args.seed,
            "with_context": args.with_context,
            "split": args.split,
            "limit": args.limit,
            "n_questions": len(questions),
            "n_items_built": n_built,
            "batch_embeddings": embed_s is not None,
        },
    }
    run_options = InserterOptions(
        out=out,
        subset=subset,
        system=system,
        config=config,
        setup_s=setup,
        progress=not args.no_progress,
        price_model=_hosted_model(options),
        base_url=options.get("base_url"),
        prices=prices,
        embed_s=embed_s,
        skipped=skipped,
        gold_gaps=gaps,
    )
    results = evaluate_inserter(inserter, items, run_options)
    print_summary(results, out, total=len(questions))
    return exit_status(results, args.strict)


def print_summary(results: RunResults, out: Path, *, total: int | None = None) -> None:
    """Metrics on stdout, one per line, under a header that says when most answers fell back;
    then the answers that fell back, were truncated or timed out, and the questions skipped
    (of ``total``). Where the files went goes to stderr."""
    print(f"{results.label} ({results.kind}, {results.subset}, n={results.n})")
    unit = "answers" if results.kind == "e2e" else "items"
    if results.fell_back:
        print(
            f"  fell back {results.fell_back}/{results.n} {unit} ({per_stage(results.fallbacks)})"
        )
    if results.truncated:
        print(f"  truncated at max_tokens: {per_stage(results.truncated)}")
    if results.timed_out:
        print(f"  timed out: {per_stage(results.timed_out)}")
    if results.skipped:
        n_skipped = sum(results.skipped.values())
        of = f" of {total}" if total is not None else ""
        print(f"  skipped {n_skipped}{of} questions: {by_reason(results.skipped)}")
    if results.gold_gaps:
        print(f"  scored with gold outside the corpus: {by_reason(results.gold_gaps)}")
    for key, value in results.metrics.items():
        if value is not None and math.isfinite(value):
            print(f"  {key:<26} {value:7.2f}")
    for stage, stats in results.latency_ms.items():
        print(f"  latency {stage:<18} p50 {stats['p50']:.1f} ms  p95 {stats['p95']:.1f} ms")
    cost = results.cost
    if cost.get("prompt_tokens") or cost.get("completion_tokens"):
        usd = cost.get("usd_per_answer")
        price = "no price known (--prices FILE)" if usd is None else f"${usd:.5f} per answer"
        print(f"  tokens {cost['prompt_tokens']} in / {cost['completion_tokens']} out, {price}")
    setup = ", ".join(f"{k} {v:.1f} s" for k, v in results.setup_s.items())
    print(f"setup: {setup}", file=sys.stderr)
    state = "INTERRUPTED, partial results" if results.interrupted else "done"
    print(f"{state}: wrote {out} and {items_path(out)} ({results.wall_s:.1f} s)", file=sys.stderr)
