"""``m2io train WHAT``: train a model. ``WHAT`` is a sub-subcommand:

- ``inserter-policy``: the learned inserter (:mod:`m2io.learned`), a compact policy trained
  with GRPO in numpy on the SPEC rewards; seconds to minutes on a CPU. Example::

      m2io train inserter-policy --data ../shared/bench/gimp --subset gimp \\
          --alpha 0.8 --distractors both --split doc --seed 0 --out models/gimp-policy
      m2io eval-inserter --data ../shared/bench/gimp --subset gimp --split val \\
          --inserter learned --model models/gimp-policy

- ``sft`` / ``grpo``: the LLM inserter with TRL (:mod:`m2io.cli.train_llm`), when installed.

The model folder receives ``model.safetensors``, ``config.json`` (features, data, seed, alpha,
metrics), ``history.json``, ``reward_curve.png`` and a ``README.md`` saying how it was made.
"""

from __future__ import annotations

import argparse
import shlex
import sys

from m2io.evaluation.items import DISTRACTOR_MODES


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="train_command", required=True)
    policy = sub.add_parser(
        "inserter-policy",
        help="train the learned inserter (GRPO, numpy, CPU)",
        description="Train the learned image inserter with GRPO on an MRAMG-layout subset.",
    )
    _verbose(policy)
    add_policy_arguments(policy)
    policy.set_defaults(_train_run=run_policy)
    try:
        from m2io.cli import train_llm
    except ImportError:
        return
    for name, add, run_fn, help_text in (
        ("sft", train_llm.add_sft_arguments, train_llm.run_sft, "supervised fine-tuning (TRL)"),
        ("grpo", train_llm.add_grpo_arguments, train_llm.run_grpo, "GRPO of an LLM (TRL)"),
    ):
        p_llm = sub.add_parser(name, help=f"LLM inserter: {help_text}", description=help_text)
        _verbose(p_llm)
        add(p_llm)
        p_llm.set_defaults(_train_run=run_fn)


def _verbose(p: argparse.ArgumentParser) -> None:
    # SUPPRESS keeps a -v given before WHAT (``m2io train -v ...``) from being reset here.
    p.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        default=argparse.SUPPRESS,
        help="log progress and timings",
    )


def add_policy_arguments(p: argparse.ArgumentParser) -> None:
    from m2io.learned import CHAPTERS, GRPOConfig

    d = GRPOConfig()
    data = p.add_argument_group("data")
    data.add_argument("--data", required=True, help="MRAMG-layout folder")
    data.add_argument("--subset", help="subset name (default: the only one in --data)")
    data.add_argument(
        "--distractors",
        choices=(*DISTRACTOR_MODES, "both"),
        default="random",
        help="1:1 distractors: random, hard (most similar caption) or both (each question twice)",
    )
    data.add_argument(
        "--split",
        choices=("doc", "chapter"),
        default="doc",
        help="hold out by document (the eval-inserter --split val side) or by chapter",
    )
    data.add_argument("--val-fraction", type=float, default=0.2, help="held-out share (doc)")
    data.add_argument(
        "--train-chapters",
        default="filters",
        help=f"comma list of chapters to train on with --split chapter ({', '.join(CHAPTERS)});"
        " the others are held out",
    )
    data.add_argument("--data-seed", type=int, default=0, help="seeds distractors (as eval)")
    data.add_argument(
        "--pipeline-items",
        action="store_true",
        help="also train on what the inserter meets end to end: each question run through the "
        "default retriever and the extractive generator (builds the eval index if missing)",
    )
    data.add_argument("--index", help="index for --pipeline-items (default: the m2io eval one)")
    data.add_argument("--cache-dir", help="embedding cache (default: $M2IO_CACHE or ~/.cache/m2io)")
    g = p.add_argument_group("GRPO")
    g.add_argument("--alpha", type=float, default=d.alpha, help="reward weight of recall")
    g.add_argument(
        "--seed", type=int, default=d.seed, help="training seed (same seed, same weights)"
    )
    g.add_argument("--epochs", type=int, default=d.epochs, help="passes over the training set")
    g.add_argument("--group-size", type=int, default=d.group_size, help="plans per answer (G)")
    g.add_argument("--batch-items", type=int, default=d.batch_items, help="answers per step")
    g.add_argument("--lr", type=float, default=d.lr, help="Adam learning rate")
    g.add_argument("--entropy", type=float, default=d.entropy, help="entropy bonus")
    g.add_argument("--hidden", type=int, default=d.hidden, help="MLP hidden units (0 = linear)")
    p.add_argument("--out", required=True, help="model folder to write")


def _command(args: argparse.Namespace) -> str:
    """The command line that reproduces this run, every option spelled out."""
    parts = ["m2io", "train", "inserter-policy", "--data", args.data]
    if args.subset:
        parts += ["--subset", args.subset]
    for flag in (
        "distractors",
        "split",
        "val_fraction",
        "train_chapters",
        "data_seed",
        "pipeline_items",
        "index",
        "alpha",
        "seed",
        "epochs",
        "group_size",
        "batch_items",
        "lr",
        "entropy",
        "hidden",
        "out",
    ):
        if flag == "train_chapters" and args.split != "chapter":
            continue
        if flag == "val_fraction" and args.split != "doc":
            continue
        value = getattr(args, flag)
        if isinstance(value, bool):
            parts += ["--" + flag.replace("_", "-")] if value else []
        elif value is not None:
            parts += ["--" + flag.replace("_", "-"), str(value)]
    return " ".join(shlex.quote(p) for p in parts)


def run(args: argparse.Namespace) -> int:
    return int(args._train_run(args) or 0)


def run_policy(args: argparse.Namespace) -> int:
    from m2io.learned import (
        GRPOConfig,
        load_training_data,
        save_training_run,
        train_inserter_policy,
        write_model_readme,
    )

    config = GRPOConfig(
        alpha=args.alpha,
        group_size=args.group_size,
        epochs=args.epochs,
        batch_items=args.batch_items,
        lr=args.lr,
        entropy=args.entropy,
        hidden=args.hidden,
        seed=args.seed,
    )
    chapters = [c.strip() for c in args.train_chapters.split(",") if c.strip()]
    data = load_training_data(
        args.data,
        args.subset,
        distractors=args.distractors,
        split=args.split,
        data_seed=args.data_seed,
        val_fraction=args.val_fraction,
        train_chapters=chapters,
        cache_dir=args.cache_dir,
        pipeline=args.pipeline_items,
        index_dir=args.index,
        progress=bool(getattr(args, "verbose", False)),
    )
    if not data.train:
        raise ValueError(f"no training item ({data.description})")
    run = train_inserter_policy(data, config, cache_dir=args.cache_dir)
    command = _command(args)
    out = save_training_run(args.out, run, extra={"command": command})
    write_model_readme(out, run, command=command)
    m = run.val_metrics
    held_out = []
    if "f1" in m:
        held_out.append(
            f"F1 {m['f1']:.1f}  ordering {m['ordering']:.1f}  position acc "
            f"{m['position_accuracy']:.1f}"
        )
    if "pipeline_f1" in m:
        held_out.append(
            f"end to end: F1 {m['pipeline_f1']:.1f}  ordering {m['pipeline_ordering']:.1f}"
        )
    if m:
        held_out.append(f"reward {m['reward']:.3f}")
    print(
        f"trained in {run.seconds['train']:.1f} s (features {run.seconds['features']:.1f} s) on "
        f"{len(data.train)} answers; held-out ({len(data.val)}): "
        + ("; ".join(held_out) or "none"),
        file=sys.stderr,
    )
    print(f"wrote {out} (use: --inserter learned --model {out})", file=sys.stderr)
    return 0
