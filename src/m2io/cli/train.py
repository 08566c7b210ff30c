"""``m2io train WHAT``: train a model. ``WHAT`` is a sub-subcommand:

- ``inserter-policy``: the learned inserter (:mod:`m2io.learned`), a compact policy trained
  with GRPO in numpy on the rewards of docs/design.md, "Rewards"; seconds to minutes on a CPU. ``--data`` may be given
  several times (MRAMG folders, document folders, ``demo``), or listed in a recipe. Example::

      m2io train inserter-policy --data ../shared/bench/gimp --data ../shared/bench/gnucash \\
          --data demo --distractors both --pipeline-items --split none --out models/policy
      m2io train inserter-policy --recipe my-policy.yaml      # data: [gimp, gnucash, demo] …
      m2io eval-inserter --data ../shared/bench/gnucash --inserter learned \\
          --model models/policy --set inserter.profile=../shared/bench/gnucash

- ``sft`` / ``grpo``: the LLM inserter with TRL (:mod:`m2io.cli.train_llm`), when installed.

The model folder receives ``model.safetensors``, ``config.json`` (features, data, seed, alpha,
metrics), ``history.json``, ``reward_curve.png`` and a ``README.md`` saying how it was made.
"""

from __future__ import annotations

import argparse
import dataclasses
import shlex
import sys
import typing
from typing import Any

import yaml

from m2io.evaluation.items import DISTRACTOR_MODES
from m2io.learned_training.grpo import GRPOConfig
from m2io.learned_training.items import load_training_data
from m2io.learned_training.recipe import save_training_run, train_inserter_policy
from m2io.learned_training.report import write_model_readme


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
    p.add_argument(
        "--recipe",
        metavar="RECIPE.yaml",
        help="YAML whose keys are this command's options (data: a list); flags given on the "
        "command line win",
    )
    data = p.add_argument_group("data")
    data.add_argument(
        "--data",
        action="append",
        help="training corpus: an MRAMG-layout folder, a folder of Markdown/HTML files, or "
        "'demo'; repeat it to train on several",
    )
    data.add_argument("--subset", help="subset name (one --data only; default: the only one)")
    data.add_argument(
        "--distractors",
        choices=(*DISTRACTOR_MODES, "both"),
        default="random",
        help="1:1 distractors: random, hard (most similar caption) or both (each question twice)",
    )
    data.add_argument(
        "--split",
        choices=("doc", "none"),
        default="doc",
        help="hold out documents of each corpus (the eval-inserter --split val side), or none "
        "(train on everything; measure on another corpus)",
    )
    data.add_argument("--val-fraction", type=float, default=0.2, help="held-out share (doc)")
    data.add_argument(
        "--balance",
        type=int,
        default=3,
        help="repeat a small corpus's items up to N times so corpora weigh alike (1 = never)",
    )
    data.add_argument("--data-seed", type=int, default=0, help="seeds distractors (as eval)")
    data.add_argument(
        "--pipeline-items",
        action="store_true",
        help="also train on what the inserter meets end to end: each question run through the "
        "default retriever and the extractive generator (builds the eval index if missing)",
    )
    data.add_argument(
        "--index",
        action="append",
        help="index for --pipeline-items: DIR (one --data), or NAME=DIR per corpus (NAME: the "
        "MRAMG subset, 'demo' or the folder's name); default: the one m2io eval uses",
    )
    data.add_argument("--cache-dir", help="embedding cache (default: $M2IO_CACHE or ~/.cache/m2io)")
    add_dataclass_arguments(p.add_argument_group("GRPO"), GRPOConfig)
    p.add_argument("--out", help="model folder to write (required, here or in the recipe)")


# Options that say where this machine keeps things, not how the policy was made.
_NOT_RECORDED = ("recipe", "cache_dir", "verbose", "help")


def add_dataclass_arguments(group: Any, cls: type) -> None:
    """One ``--flag`` per field of the dataclass ``cls``: the field's type, its default and its
    ``metadata["help"]``, so the flags cannot drift from the config they fill."""
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        group.add_argument(
            "--" + f.name.replace("_", "-"),
            type=hints[f.name],
            default=f.default,
            help=f.metadata.get("help", ""),
        )


def from_args(cls: type, args: argparse.Namespace) -> Any:
    """An instance of the dataclass ``cls`` from the flags :func:`add_dataclass_arguments` made."""
    return cls(**{f.name: getattr(args, f.name) for f in dataclasses.fields(cls)})


def _policy_actions() -> list[argparse.Action]:
    """The options of ``m2io train inserter-policy`` (those a recipe or a command may hold)."""
    probe = argparse.ArgumentParser(add_help=False)
    add_policy_arguments(probe)
    return [a for a in probe._actions if a.option_strings and a.dest not in ("recipe", "help")]


def recipe_keys() -> dict[str, type]:
    """``{option: type}`` a recipe may set, read off the command's own options (lists for
    repeatable ones, bool for switches)."""
    keys: dict[str, type] = {}
    for a in _policy_actions():
        if isinstance(a, argparse._AppendAction):
            keys[a.dest] = list
        elif isinstance(a, argparse._StoreTrueAction):
            keys[a.dest] = bool
        else:
            keys[a.dest] = a.type if isinstance(a.type, type) else str
    return keys


def _command(args: argparse.Namespace) -> str:
    """The command line that reproduces this run, every option spelled out (in the command's
    own order, the GRPO ones from :class:`~m2io.learned_training.grpo.GRPOConfig`'s fields)."""
    parts = ["m2io", "train", "inserter-policy"]
    for action in _policy_actions():
        key = action.dest
        if key in _NOT_RECORDED or (key == "val_fraction" and args.split != "doc"):
            continue
        flag = action.option_strings[-1]
        value = getattr(args, key, None)
        if isinstance(value, bool):
            parts += [flag] if value else []
        elif isinstance(value, list):
            for v in value:
                parts += [flag, str(v)]
        elif value is not None:
            parts += [flag, str(value)]
    return " ".join(shlex.quote(p) for p in parts)


def run(args: argparse.Namespace) -> int:
    return int(args._train_run(args) or 0)


def apply_recipe(args: argparse.Namespace, parser_defaults: dict[str, object]) -> None:
    """Fill ``args`` from ``args.recipe`` (YAML mapping of option names, ``-`` or ``_``) where
    the command line left the default. ``data`` is a list (or one string).

    Raises:
        ValueError: Unreadable recipe, unknown key, or a value of the wrong type.
    """
    try:
        with open(args.recipe, encoding="utf-8") as f:
            recipe = yaml.safe_load(f) or {}
    except (OSError, yaml.YAMLError) as err:
        raise ValueError(f"recipe {args.recipe}: {err}") from err
    if not isinstance(recipe, dict):
        raise ValueError(f"recipe {args.recipe}: expected a mapping of options")
    valid = recipe_keys()
    for raw_key, value in recipe.items():
        key = str(raw_key).replace("-", "_")
        kind = valid.get(key)
        if kind is None:
            raise ValueError(
                f"recipe {args.recipe}: unknown key {raw_key!r}; valid: {', '.join(valid)}"
            )
        if key in ("data", "index") and isinstance(value, str):
            value = [value]
        if kind is list:
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ValueError(f"recipe {args.recipe}: {raw_key} must be a list of strings")
        elif kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        elif not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise ValueError(f"recipe {args.recipe}: {raw_key} must be {kind.__name__}")
        if getattr(args, key, None) in (None, parser_defaults.get(key)):
            setattr(args, key, value)


def _index_dirs(values: list[str], n_data: int) -> str | dict[str, str] | None:
    """``--index`` values: one plain DIR with one ``--data``, else ``NAME=DIR`` each."""
    if not values:
        return None
    if n_data == 1 and len(values) == 1 and "=" not in values[0]:
        return values[0]
    out: dict[str, str] = {}
    for v in values:
        name, sep, folder = v.partition("=")
        if not sep or not name or not folder:
            raise ValueError(f"--index {v!r}: with several --data give NAME=DIR")
        out[name] = folder
    return out


def run_policy(args: argparse.Namespace) -> int:
    if getattr(args, "recipe", None):
        probe = argparse.ArgumentParser()
        add_policy_arguments(probe)
        apply_recipe(args, vars(probe.parse_args([])))
    if not args.data:
        raise ValueError("give --data (repeatable) or a recipe with data: [...]")
    if not args.out:
        raise ValueError("give --out (or out: in the recipe)")
    config = from_args(GRPOConfig, args)
    index_dir = _index_dirs(args.index or [], len(args.data))
    data = load_training_data(
        args.data if len(args.data) > 1 else args.data[0],
        args.subset,
        distractors=args.distractors,
        split=args.split,
        data_seed=args.data_seed,
        val_fraction=args.val_fraction,
        cache_dir=args.cache_dir,
        pipeline=args.pipeline_items,
        index_dir=index_dir,
        progress=bool(getattr(args, "verbose", False)),
        balance=args.balance,
    )
    if not data.train:
        raise ValueError(f"no training item ({data.description})")
    run = train_inserter_policy(data, config, cache_dir=args.cache_dir)
    command = _command(args)
    out = save_training_run(args.out, run, extra={"command": command})
    write_model_readme(out, run, command=command)
    held_out = []
    if "inserter" in run.val_metrics:
        m = run.val_metrics["inserter"]
        held_out.append(
            f"F1 {m['image_f1']:.1f}  ordering {m['image_ordering']:.1f}  position acc "
            f"{m['position_accuracy']:.1f}  reward {m['reward']:.3f}"
        )
    if "pipeline" in run.val_metrics:
        m = run.val_metrics["pipeline"]
        held_out.append(
            f"end to end: F1 {m['image_f1']:.1f}  ordering {m['image_ordering']:.1f}  "
            f"reward {m['reward']:.3f}"
        )
    print(
        f"trained in {run.seconds['train']:.1f} s (features {run.seconds['features']:.1f} s) on "
        f"{len(data.train)} answers; held-out ({len(data.val)}): "
        + ("; ".join(held_out) or "none"),
        file=sys.stderr,
    )
    print(f"wrote {out} (use: --inserter learned --model {out})", file=sys.stderr)
    return 0
