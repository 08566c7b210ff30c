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

from m2io.cli import environment
from m2io.learned_training.grpo import GRPOConfig
from m2io.learned_training.items import load_training_data
from m2io.learned_training.recipe import PolicyRecipe, save_training_run, train_inserter_policy
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
    add_dataclass_arguments(p.add_argument_group("data"), PolicyRecipe)
    add_dataclass_arguments(p.add_argument_group("GRPO"), GRPOConfig)


OPTION_CLASSES = (PolicyRecipe, GRPOConfig)
"""The dataclasses whose fields are the options of ``m2io train inserter-policy``, in order."""


def _kind(hint: Any) -> type:
    """``list``, ``bool`` or the scalar type of a field annotated ``hint`` (``X | None`` is X)."""
    if typing.get_origin(hint) is list:
        return list
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    return args[0] if args else hint


def add_dataclass_arguments(group: Any, cls: type) -> None:
    """One ``--flag`` per field of the dataclass ``cls``: the field's type, its default, its
    ``metadata["help"]`` (and ``choices``), so the flags cannot drift from the config they
    fill. A ``list[str]`` field is a repeatable flag, a ``bool`` one a switch."""
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        kind = _kind(hints[f.name])
        flag = "--" + f.name.replace("_", "-")
        text = f.metadata.get("help", "")
        if kind is list:
            group.add_argument(flag, action="append", help=text)
        elif kind is bool:
            group.add_argument(flag, action="store_true", help=text)
        else:
            group.add_argument(
                flag, type=kind, default=f.default, choices=f.metadata.get("choices"), help=text
            )


def from_args(cls: type, args: argparse.Namespace) -> Any:
    """An instance of the dataclass ``cls`` from the flags :func:`add_dataclass_arguments` made."""
    values = {f.name: getattr(args, f.name) for f in dataclasses.fields(cls)}
    return cls(**{k: [] if v is None and _is_list(cls, k) else v for k, v in values.items()})


def _is_list(cls: type, name: str) -> bool:
    return _kind(typing.get_type_hints(cls)[name]) is list


def _fields() -> list[tuple[dataclasses.Field, type]]:
    out = []
    for cls in OPTION_CLASSES:
        hints = typing.get_type_hints(cls)
        out += [(f, _kind(hints[f.name])) for f in dataclasses.fields(cls)]
    return out


def recipe_keys() -> dict[str, type]:
    """``{option: type}`` a recipe may set: the fields of :data:`OPTION_CLASSES` (``list`` for
    repeatable ones, ``bool`` for switches)."""
    return {f.name: kind for f, kind in _fields()}


def _command(args: argparse.Namespace) -> str:
    """The command line that reproduces this run, every option spelled out (in the order of
    :class:`~m2io.learned_training.recipe.PolicyRecipe`'s fields, then
    :class:`~m2io.learned_training.grpo.GRPOConfig`'s), where this machine keeps things left
    out."""
    parts = ["m2io", "train", "inserter-policy"]
    for f, _ in _fields():
        key = f.name
        if not f.metadata.get("recorded", True) or (key == "val_fraction" and args.split != "doc"):
            continue
        flag = "--" + key.replace("_", "-")
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


def apply_recipe(args: argparse.Namespace) -> None:
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
    defaults = {f.name: f.default for f, _ in _fields()}
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
        if getattr(args, key, None) in (None, False, defaults.get(key)):
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
        apply_recipe(args)
    opts = from_args(PolicyRecipe, args)
    if opts.cache_dir is None:  # the environment, read at the edge
        opts = dataclasses.replace(opts, cache_dir=environment.cache_dir())
    if not opts.data:
        raise ValueError("give --data (repeatable) or a recipe with data: [...]")
    if not opts.out:
        raise ValueError("give --out (or out: in the recipe)")
    config = from_args(GRPOConfig, args)
    index_dir = _index_dirs(opts.index, len(opts.data))
    data = load_training_data(
        opts.data if len(opts.data) > 1 else opts.data[0],
        opts.subset,
        distractors=opts.distractors,
        split=opts.split,
        data_seed=opts.data_seed,
        val_fraction=opts.val_fraction,
        cache_dir=opts.cache_dir,
        pipeline=opts.pipeline_items,
        index_dir=index_dir,
        progress=bool(getattr(args, "verbose", False)),
        balance=opts.balance,
    )
    if not data.train:
        raise ValueError(f"no training item ({data.description})")
    run = train_inserter_policy(data, config, cache_dir=opts.cache_dir)
    command = _command(args)
    out = save_training_run(opts.out, run, extra={"command": command})
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
