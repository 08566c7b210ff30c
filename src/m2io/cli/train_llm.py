"""``m2io train sft`` and ``m2io train grpo``: train the LLM image inserter with TRL.

A recipe (YAML, ``recipes/train-sft-*.yaml`` / ``recipes/train-grpo-*.yaml``) sets the fields of
:class:`~m2io.training.sft.SFTRecipe` / :class:`~m2io.training.grpo.GRPORecipe` — TRL's
``SFTConfig``/``GRPOConfig`` plus m2io's own fields; ``--set KEY=VALUE`` overrides any of them,
parsed by TRL's parser (:func:`m2io.training.recipe.load_recipe`). The final model (LoRA merged) lands in ``output_dir``, ready for
``--inserter llm --model OUTPUT_DIR``. Examples::

    m2io build-inserter-data --data ../shared/bench/gimp --subset gimp --out .m2io/train/gimp-inserter
    m2io train sft --recipe recipes/train-sft-smollm2.yaml --set max_steps=40
    m2io train grpo --recipe recipes/train-grpo-smollm2.yaml --set model=.m2io/train/smollm2-sft
    m2io train grpo --recipe recipes/train-grpo-smollm2.yaml --resume

This module only defines the arguments and the calls; ``m2io.cli.train`` mounts them as
sub-subcommands (``add_sft_arguments``/``run_sft``, ``add_grpo_arguments``/``run_grpo``).
"""

from __future__ import annotations

import argparse
import logging
import sys

from m2io.cli import environment

log = logging.getLogger(__name__)


def _add_common(p: argparse.ArgumentParser, kind: str) -> None:
    p.add_argument(
        "--recipe", metavar="RECIPE.yaml", help=f"YAML recipe (recipes/train-{kind}-*.yaml)"
    )
    p.add_argument("--data", help="training set folder (m2io build-inserter-data --out)")
    p.add_argument("--model", help="start model: folder, hub id or 'smollm2-135m'")
    p.add_argument("--output-dir", help="where checkpoints and the final model go")
    p.add_argument("--max-steps", type=int, help="optimizer steps")
    p.add_argument(
        "--resume",
        nargs="?",
        const="latest",
        metavar="CHECKPOINT",
        help="resume from the last checkpoint in output_dir, or from CHECKPOINT",
    )
    p.add_argument(
        "--show-fields",
        action="store_true",
        help="list m2io's recipe fields and defaults, and exit",
    )
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a recipe field (m2io's or TRL's) to override, e.g. --set learning_rate=5e-5 "
        "(repeatable; wins over the recipe and the flags above)",
    )
    p.add_argument(
        "overrides",
        nargs="*",
        metavar="KEY=VALUE",
        help="deprecated: the older form of --set KEY=VALUE (still read, before --set)",
    )


def add_sft_arguments(p: argparse.ArgumentParser) -> None:
    """Arguments of ``m2io train sft``."""
    _add_common(p, "sft")


def add_grpo_arguments(p: argparse.ArgumentParser) -> None:
    """Arguments of ``m2io train grpo``."""
    _add_common(p, "grpo")
    p.add_argument("--alpha", type=float, help="reward weight of recall vs. position")
    p.add_argument("--num-generations", type=int, help="group size G")
    p.add_argument("--beta", type=float, help="KL penalty")


def _flags(args: argparse.Namespace) -> dict[str, object]:
    """The recipe fields the command's flags set, typed by argparse (not parsed again)."""
    flags = {
        "data": args.data,
        "model": args.model,
        "output_dir": args.output_dir,
        "max_steps": args.max_steps,
        "resume_from_checkpoint": args.resume,
        "alpha": getattr(args, "alpha", None),
        "num_generations": getattr(args, "num_generations", None),
        "beta": getattr(args, "beta", None),
    }
    return {k: v for k, v in flags.items() if v is not None}


def _overrides(args: argparse.Namespace) -> list[str]:
    if args.overrides:
        log.warning(
            "positional KEY=VALUE overrides are deprecated; write --set %s", args.overrides[0]
        )
    return [*args.overrides, *args.set]


def _run(args: argparse.Namespace, kind: str) -> int:
    from m2io.training.recipe import load_recipe, recipe_help

    # imported here: these import TRL (the [train] extra), which the rest of the CLI never needs
    if kind == "sft":
        from m2io.training.sft import SFTRecipe as cls
        from m2io.training.sft import train_sft as train
    else:
        from m2io.training.grpo import GRPORecipe as cls  # type: ignore[assignment]
        from m2io.training.grpo import train_llm_grpo as train  # type: ignore[assignment]
    if args.show_fields:
        print(recipe_help(cls))
        return 0
    recipe = load_recipe(cls, args.recipe, _overrides(args), values=_flags(args))
    if recipe.model_cache_dir is None:  # the environment, read at the edge
        recipe.model_cache_dir = environment.cache_dir()
    out = train(recipe)  # type: ignore[arg-type]
    print(f"{kind} done: final model in {out} (use: --inserter llm --model {out})", file=sys.stderr)
    return 0


def run_sft(args: argparse.Namespace) -> int:
    """Run ``m2io train sft``."""
    return _run(args, "sft")


def run_grpo(args: argparse.Namespace) -> int:
    """Run ``m2io train grpo``."""
    return _run(args, "grpo")
