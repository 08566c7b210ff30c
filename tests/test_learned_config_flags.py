"""``m2io train inserter-policy`` reads its GRPO flags, their help and its recipe keys off
:class:`~m2io.learned_training.grpo.GRPOConfig`'s fields (issue 14 item 3): one declaration, no copy."""

from __future__ import annotations

import argparse
import dataclasses
import shlex

from m2io.cli import train
from m2io.learned_training.grpo import GRPOConfig


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser()
    train.add_policy_arguments(p)
    return p


def test_every_config_field_is_a_flag_with_its_default_and_help() -> None:
    p = parser()
    actions = {a.dest: a for a in p._actions}
    for f in dataclasses.fields(GRPOConfig):
        action = actions[f.name]
        assert action.option_strings == ["--" + f.name.replace("_", "-")]
        assert action.default == f.default
        assert action.help == f.metadata["help"] and action.help
    args = p.parse_args(["--data", "demo", "--group-size", "5", "--lr", "0.2", "--hidden", "3"])
    assert train.from_args(GRPOConfig, args) == GRPOConfig(group_size=5, lr=0.2, hidden=3)


def test_a_new_config_field_becomes_a_flag_without_touching_the_command() -> None:
    @dataclasses.dataclass
    class Extra:
        warmup_steps: int = dataclasses.field(default=7, metadata={"help": "steps of warm-up"})
        clip: float = dataclasses.field(default=0.5, metadata={"help": "gradient clip"})

    p = argparse.ArgumentParser()
    train.add_dataclass_arguments(p.add_argument_group("extra"), Extra)
    args = p.parse_args(["--warmup-steps", "3"])
    assert train.from_args(Extra, args) == Extra(warmup_steps=3, clip=0.5)
    assert "steps of warm-up" in p.format_help()


def test_recipe_keys_and_the_recorded_command_follow_the_options() -> None:
    keys = train.recipe_keys()
    assert {f.name for f in dataclasses.fields(GRPOConfig)} <= set(keys)
    assert keys["alpha"] is float and keys["epochs"] is int
    assert keys["data"] is list and keys["index"] is list and keys["pipeline_items"] is bool
    argv = ["--data", "a", "--data", "b", "--pipeline-items", "--epochs", "4", "--out", "m"]
    args = parser().parse_args(argv)
    command = train._command(args)
    again = parser().parse_args(shlex.split(command)[3:])  # after "m2io train inserter-policy"
    assert vars(again) | {"cache_dir": None} == vars(args) | {"cache_dir": None}
    assert train.from_args(GRPOConfig, again) == GRPOConfig(epochs=4)


def test_the_options_are_dataclass_fields_not_argparse_internals() -> None:
    """Issue 23 item 3: the recipe keys, the flags and the recorded command come from
    :class:`~m2io.learned_training.recipe.PolicyRecipe` and GRPOConfig, not from argparse's
    private ``_actions``."""
    import inspect

    from m2io.learned_training.recipe import PolicyRecipe

    assert "_actions" not in inspect.getsource(train)
    names = [f.name for f in dataclasses.fields(PolicyRecipe)]
    assert list(train.recipe_keys())[: len(names)] == names
    args = parser().parse_args(["--data", "demo", "--split", "none", "--out", "m"])
    assert train.from_args(PolicyRecipe, args) == PolicyRecipe(data=["demo"], split="none", out="m")
    assert "--cache-dir" not in train._command(parser().parse_args(["--cache-dir", "/c"]))
