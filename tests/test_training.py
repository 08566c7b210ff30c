"""SFT and GRPO smoke tests on a tiny random Llama, on CPU.

Sizes are shrunk so each run takes seconds (a 2-layer, hidden-32 model; four synthetic items
that share one gold output; short completions): the point is that the real TRL code paths run,
the loss is finite and falls, parameters change, rewards are logged, checkpoints resume, and the
saved model plugs into the LLM inserter. SFT first teaches the tiny model the output format (a
random model never writes it, so GRPO's rewards would all be 0 and its gradient nil) — the same
warm start the real recipes use.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("trl")
pytest.importorskip("peft")
pytest.importorskip("datasets")

from m2io.evaluation.items import InserterItem  # noqa: E402
from m2io.testing.tiny_models import build_tiny_llama  # noqa: E402
from m2io.types import Candidate, ImageRef, Sentence, Slot, TextAnswer  # noqa: E402

pytestmark = pytest.mark.slow


def _item(i: int) -> InserterItem:
    cands = (
        Candidate(ImageRef(f"crop-{i}", caption="crop tool")),
        Candidate(ImageRef(f"layer-{i}", caption="layer dialog")),
    )
    answer = TextAnswer(
        "How do I crop?", (Sentence("Open the crop tool."), Sentence("Drag a box."))
    )
    return InserterItem(f"q{i}", (f"d{i}",), answer, cands, {f"crop-{i}": 1}, (f"crop-{i}",))


def _weights(folder: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(str(folder / "model.safetensors"))


def _changed(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return any(not torch.equal(a[k], b[k]) for k in a if k in b)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from m2io.training.data import item_row, write_dataset

    root = tmp_path_factory.mktemp("train")
    rows = [item_row(_item(i)) for i in range(4)]
    write_dataset({"train": rows, "validation": rows[:1]}, root / "data", hf=False)
    build_tiny_llama(root / "tiny")
    return root


@pytest.fixture(scope="module")
def sft_model(workdir: Path) -> Path:
    from m2io.training import load_recipe
    from m2io.training.sft import SFTRecipe, train_sft

    # lr 2e-2 and 60 steps: what a 2-layer random model needs to memorise one short target
    recipe = load_recipe(
        SFTRecipe,
        None,
        [
            f"model={workdir / 'tiny'}",
            f"data={workdir / 'data'}",
            f"output_dir={workdir / 'sft'}",
            "lora=false",
            "learning_rate=2e-2",
            "max_steps=60",
            "per_device_train_batch_size=2",
            "warmup_steps=0",
            "save_steps=30",
            "num_threads=1",
        ],
    )
    return train_sft(recipe)


def test_sft_learns_the_format_and_plugs_into_the_inserter(workdir: Path, sft_model: Path) -> None:
    from m2io.inserters.llm import LLMInserter

    history = json.loads((sft_model / "log_history.json").read_text())
    losses = [h["loss"] for h in history if "loss" in h]
    assert all(math.isfinite(x) for x in losses)
    assert losses[-1] < 0.5 * losses[0]
    assert _changed(_weights(workdir / "tiny"), _weights(sft_model))
    assert (sft_model / "curves.png").stat().st_size > 1000
    assert (sft_model / "checkpoint-60").is_dir()
    from m2io.training import load_recipe
    from m2io.training.sft import SFTRecipe

    again = load_recipe(SFTRecipe, sft_model / "recipe.yaml")  # the run's recipe reloads as is
    assert (again.learning_rate, again.max_steps, again.lora) == (2e-2, 60, False)
    item = _item(7)
    placement = LLMInserter(model=str(sft_model), fallback="none").insert(
        item.answer, item.candidates
    )
    assert placement.format_ok, placement.raw
    assert placement.slots == (Slot("crop-7", 1),)


def test_grpo_logs_rewards_changes_weights_and_resumes(workdir: Path, sft_model: Path) -> None:
    from m2io.inserters.llm import LLMInserter
    from m2io.training import load_recipe
    from m2io.training.grpo import GRPORecipe, train_llm_grpo

    base = [
        f"model={sft_model}",
        f"data={workdir / 'data'}",
        f"output_dir={workdir / 'grpo'}",
        "lora=true",
        "learning_rate=1e-3",
        "num_generations=4",
        "per_device_train_batch_size=4",
        "max_completion_length=48",
        "save_steps=1",
        "num_threads=1",
    ]
    out = train_llm_grpo(load_recipe(GRPORecipe, None, [*base, "max_steps=3"]))
    history = json.loads((out / "log_history.json").read_text())
    logged = [h for h in history if "reward" in h]
    assert len(logged) == 3
    for key in ("rewards/total_reward/mean", "rewards/format_reward/mean", "kl"):
        assert all(key in h for h in logged)
    assert max(h["rewards/format_reward/mean"] for h in logged) > 0
    assert all(math.isfinite(h["loss"]) for h in logged)
    assert _changed(_weights(sft_model), _weights(out))  # LoRA merged into the final model
    assert (out / "curves.png").exists()

    # a LoRA checkpoint (adapter only) loads through the local backend
    item = _item(3)
    ckpt = LLMInserter(model=str(out / "checkpoint-3"), fallback="none", max_tokens=48)
    placement = ckpt.insert(item.answer, item.candidates)
    assert placement.raw, placement.notes  # the adapter's base loaded and generated
    assert not any("backend failed" in n for n in placement.notes)

    resumed = train_llm_grpo(
        load_recipe(GRPORecipe, None, [*base, "max_steps=4", "resume_from_checkpoint=latest"])
    )
    history = json.loads((resumed / "log_history.json").read_text())
    steps = [h["step"] for h in history if "reward" in h]
    assert steps[-1] == 4 and steps.count(4) == 1


def test_recipes_load_and_reject_unknown_fields(tmp_path: Path) -> None:
    from m2io.training import load_recipe
    from m2io.training.grpo import GRPORecipe
    from m2io.training.sft import SFTRecipe

    repo = Path(__file__).resolve().parents[1] / "recipes"
    for path in sorted(repo.glob("train-*.yaml")):
        cls = SFTRecipe if "-sft-" in path.name else GRPORecipe
        recipe = load_recipe(cls, path)
        assert recipe.model and recipe.output_dir
    grpo = load_recipe(GRPORecipe, repo / "train-grpo-smollm2.yaml", ["alpha=0.5", "beta=0"])
    assert (grpo.alpha, grpo.beta, grpo.learning_rate) == (0.5, 0.0, 2e-5)
    with pytest.raises(ValueError, match="unknown GRPORecipe field.*valid:"):
        load_recipe(GRPORecipe, None, ["num_generation=4"])
    with pytest.raises(ValueError, match="multiple of num_generations"):
        load_recipe(GRPORecipe, None, ["num_generations=3", "per_device_train_batch_size=4"])
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        from m2io.training import resume_arg

        resume_arg(
            load_recipe(
                SFTRecipe, None, [f"output_dir={tmp_path}", "resume_from_checkpoint=latest"]
            )
        )


def test_recipes_are_trl_configs_parsed_by_trl(tmp_path: Path) -> None:
    import trl

    from m2io.training import load_recipe, run_trainer
    from m2io.training.sft import SFTRecipe

    yaml_file = tmp_path / "r.yaml"
    # YAML 1.1 reads 1e-4 as a string; TRL's parser makes it the field's type
    yaml_file.write_text("learning_rate: 1e-4\nweight_decay: 0.01\nlora: false\n")
    recipe = load_recipe(SFTRecipe, yaml_file, ["lr_scheduler_type=cosine", "seed=3"])
    assert isinstance(recipe, trl.SFTConfig)  # the trainer's args themselves, nothing copied
    assert (recipe.learning_rate, recipe.weight_decay, recipe.seed) == (1e-4, 0.01, 3)
    assert recipe.lr_scheduler_type.value == "cosine" and recipe.lora is False
    assert recipe.max_length == 2048 and recipe.completion_only_loss  # m2io's defaults
    with pytest.raises(ValueError, match="did you mean learning_rate"):
        load_recipe(SFTRecipe, None, ["learning_rat=1"])
    with pytest.raises(ValueError, match="invalid int value"):
        load_recipe(SFTRecipe, None, ["max_steps=many"])
    if not torch.cuda.is_available():  # a GPU recipe loads anywhere, but trains only on a GPU
        gpu = load_recipe(SFTRecipe, None, ["use_cpu=false", "bf16=true"])
        assert gpu.bf16 is True
        with pytest.raises(ValueError, match="needs a CUDA GPU"):
            run_trainer(trl.SFTTrainer, gpu, [])


def test_train_flags_reach_the_recipe_typed_and_set_overrides_them(tmp_path: Path) -> None:
    """Issue 23 item 3: a flag argparse has typed is a value, not a string parsed again (a
    model folder named "none" stays that name); ``--set`` comes last; the cache folder is an
    argument the command line fills from $M2IO_CACHE."""
    from m2io.cli.main import build_parser
    from m2io.cli.train_llm import _flags, _overrides
    from m2io.training import load_recipe
    from m2io.training.grpo import GRPORecipe
    from m2io.training.model import model_path

    argv = ["train", "grpo", "--model", "none", "--max-steps", "3", "--set", "max_steps=5"]
    args = build_parser(argv).parse_args(argv)
    assert _flags(args) == {"model": "none", "max_steps": 3}
    recipe = load_recipe(GRPORecipe, None, _overrides(args), values=_flags(args))
    assert (recipe.model, recipe.max_steps, recipe.model_cache_dir) == ("none", 5, None)
    build_tiny_llama(tmp_path / "models" / "smollm2-135m")  # as if converted there already
    smol = load_recipe(GRPORecipe, None, [f"model_cache_dir={tmp_path}"])
    assert model_path(smol) == str(tmp_path / "models" / "smollm2-135m")
