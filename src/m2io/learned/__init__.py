"""A learned image inserter: a compact placement policy trained with GRPO, in numpy.

M2IO-R1 (arXiv 2508.06328) shows that a small inserter trained with group-relative policy
optimisation on outcome rewards beats much larger training-free ones. This package pushes that
to the small end: a policy over hand-built features of (image, slot) pairs
(:mod:`~m2io.learned.features`), a keep/leave factor and a slot softmax
(:mod:`~m2io.learned.policy`), trained with GRPO on the SPEC rewards
(:mod:`~m2io.learned.grpo`) in seconds to minutes on two CPU cores, and deciding in well under a
millisecond once the sentences and captions are embedded. :mod:`~m2io.learned.artifact` saves
and loads it (safetensors + JSON); :class:`m2io.inserters.learned.LearnedInserter` serves it.

This module holds the end-to-end training recipe shared by ``m2io train inserter-policy`` and the benchmarks: one or more
corpora (:mod:`~m2io.learned.corpora`) → inserter and pipeline items → split → features → GRPO
→ held-out metrics.

Example:
    >>> data = load_training_data("../shared/bench/gimp", "gimp")           # doctest: +SKIP
    >>> run = train_inserter_policy(data, GRPOConfig(alpha=0.8))            # doctest: +SKIP
    >>> run.val_metrics["position_accuracy"]                                # doctest: +SKIP
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from m2io.learned.artifact import ModelCard, ModelError, load_model, save_model
from m2io.learned.corpora import CorpusData, load_corpus_data, pipeline_items
from m2io.learned.grpo import (
    CachedEmbedder,
    GRPOConfig,
    History,
    TrainItem,
    evaluate,
    prepare,
    train_grpo,
)
from m2io.learned.policy import Policy
from m2io.learned.profile import CorpusProfile, corpus_profile

if TYPE_CHECKING:
    from m2io.embed.text import TextEmbedder
    from m2io.evaluation.items import InserterItem, PipelineItem

logger = logging.getLogger(__name__)

DEFAULT_MODEL_DIR = Path(__file__).resolve().parent / "default_model"
SPLITS = ("doc", "none")

__all__ = [
    "CachedEmbedder",
    "DEFAULT_MODEL_DIR",
    "GRPOConfig",
    "History",
    "ModelCard",
    "ModelError",
    "CorpusProfile",
    "Policy",
    "TrainData",
    "TrainItem",
    "TrainRun",
    "load_model",
    "load_training_data",
    "save_model",
    "save_training_run",
    "train_inserter_policy",
    "corpus_profile",
    "write_model_readme",
]


@dataclass
class TrainData:
    """Inserter items on both sides of a split, and how they were made.

    ``train_corpus``/``val_corpus`` name each item's corpus (parallel lists; empty means one
    unnamed corpus) and ``profiles`` holds each corpus's profile
    (:func:`~m2io.learned.profile.corpus_profile`), which its items' features use.
    """

    train: list[InserterItem | PipelineItem]
    val: list[InserterItem | PipelineItem]
    description: dict[str, Any] = field(default_factory=dict)
    train_corpus: list[str] = field(default_factory=list)
    val_corpus: list[str] = field(default_factory=list)
    profiles: dict[str, CorpusProfile] = field(default_factory=dict)

    def profiles_of(self, side: str) -> list[CorpusProfile | None]:
        """The profile of every item on ``side`` (``"train"`` or ``"val"``), in order."""
        names = self.train_corpus if side == "train" else self.val_corpus
        items = self.train if side == "train" else self.val
        if len(names) != len(items):
            return [None] * len(items)
        return [self.profiles.get(name) for name in names]


@dataclass
class TrainRun:
    """A trained policy with its history and train / held-out metrics (×100, plus reward)."""

    policy: Policy
    history: History
    config: GRPOConfig
    train_metrics: dict[str, float]
    val_metrics: dict[str, float]
    data: dict[str, Any]
    seconds: dict[str, float]


HeldOut = Callable[["InserterItem", CorpusData], bool]


def load_training_data(
    data: str | Path | Sequence[str | Path],
    subset: str | None = None,
    *,
    distractors: str = "random",
    split: str | HeldOut = "doc",
    data_seed: int = 0,
    val_fraction: float = 0.2,
    embedder: TextEmbedder | None = None,
    cache_dir: str | Path | None = None,
    pipeline: bool = False,
    index_dir: str | Path | Mapping[str, str | Path] | None = None,
    progress: bool = False,
    balance: int = 1,
) -> TrainData:
    """Build inserter items (gold + 1:1 distractors) from one or more corpora and split them.

    Each corpus (an MRAMG folder, a document folder, or ``demo``:
    :mod:`~m2io.learned.corpora`) gives its own items, distractors drawn from its own images,
    split on its own; the sides are then pooled. With ``pipeline=True`` every question is also
    run through the default retriever and the extractive generator
    (:func:`~m2io.learned.corpora.pipeline_items`), so the policy also learns from what it meets
    end to end: generated sentences, up to a dozen retrieved candidates with their source
    neighbours and retrieval rank. Those items fall on the same side of the split as the
    question's inserter-only item.

    Args:
        data: One corpus or several (``--data`` repeated).
        subset: MRAMG subset (default: the only one in each folder); only with one corpus.
        distractors: ``"random"``, ``"hard"`` or ``"both"`` (each question twice, once with
            each kind; both copies land on the same side of the split).
        split: ``"doc"`` (:func:`~m2io.evaluation.items.split_by_document`, the split that
            ``m2io eval-inserter --split val`` uses), ``"none"`` (everything trains), or a
            function ``(item, corpus) -> held out?`` (benchmarks' own splits).
        data_seed: Seeds distractors and candidate order (``eval-inserter --seed``).
        val_fraction: Held-out share for the document split.
        embedder: For hard distractors (default: the offline MiniLM, disk-cached).
        cache_dir: Embedding cache (see :func:`m2io.learned.grpo.embed_cached`).
        pipeline: Add pipeline items (see above).
        index_dir: Index for the pipeline items, or ``{corpus name: folder}`` with several
            corpora (default: the one ``m2io eval`` uses, built there if missing).
        progress: Progress bars on stderr (index build, pipeline runs).
        balance: With several corpora, repeat a small corpus's training items up to this many
            times so that it weighs about as much as the largest one (1 = no repeat).
    """
    from m2io.evaluation.items import build_inserter_items, split_by_document

    if not callable(split) and split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS} or a function, got {split!r}")
    sources = [data] if isinstance(data, (str, Path)) else list(data)
    if not sources:
        raise ValueError("no training data")
    if subset is not None and len(sources) > 1:
        raise ValueError("--subset applies to one --data only")
    modes = ("random", "hard") if distractors == "both" else (distractors,)
    if "hard" in modes:
        embedder = _cached(embedder, cache_dir)
    if balance < 1:
        raise ValueError(f"balance must be >= 1, got {balance}")
    train: list[InserterItem | PipelineItem] = []
    val: list[InserterItem | PipelineItem] = []
    train_corpus: list[str] = []
    val_corpus: list[str] = []
    profiles: dict[str, CorpusProfile] = {}
    described: list[dict[str, Any]] = []
    for source in sources:
        cd = load_corpus_data(source, subset)
        if cd.name in profiles:
            raise ValueError(f"corpus {cd.name!r} given twice")
        profiles[cd.name] = corpus_profile(cd.corpus.documents)
        tr_n, va_n = len(train), len(val)
        for mode in modes:
            items = build_inserter_items(
                cd.questions, cd.corpus, distractors=mode, seed=data_seed, embedder=embedder
            )
            if callable(split):
                tr = [it for it in items if not split(it, cd)]
                va = [it for it in items if split(it, cd)]
            elif split == "doc":
                tr, va = split_by_document(items, val_fraction=val_fraction, seed=0)
            else:
                tr, va = list(items), []
            train += tr
            val += va
        n_pipeline = (0, 0)
        if pipeline:
            held_out = {it.qid for it in val[va_n:]}
            folder = index_dir.get(cd.name) if isinstance(index_dir, Mapping) else index_dir
            items = pipeline_items(cd, folder, progress=progress)
            train += [it for it in items if it.qid not in held_out]
            val += [it for it in items if it.qid in held_out]
            n_pipeline = (
                sum(it.qid not in held_out for it in items),
                sum(it.qid in held_out for it in items),
            )
        train_corpus += [cd.name] * (len(train) - tr_n)
        val_corpus += [cd.name] * (len(val) - va_n)
        described.append(
            {
                **cd.describe(),
                "profile": profiles[cd.name].as_dict()["lift"],
                "n_train": len(train) - tr_n,
                "n_val": len(val) - va_n,
                **(
                    {"pipeline_items": dict(zip(("train", "val"), n_pipeline, strict=True))}
                    if pipeline
                    else {}
                ),
            }
        )
    if balance > 1 and len(described) > 1:
        train, train_corpus = _balanced(train, train_corpus, balance)
        for d in described:
            d["repeat"] = train_corpus.count(d["name"]) // max(d["n_train"], 1)
    n_pipe = [d.get("pipeline_items", {}) for d in described]
    description = {
        "data": ", ".join(str(d["data"]) for d in described),
        "subset": ", ".join(str(d.get("subset", d["name"])) for d in described),
        "corpora": described,
        "distractors": distractors,
        "ratio": 1.0,
        "data_seed": data_seed,
        "with_context": False,
        "split": split if isinstance(split, str) else getattr(split, "__name__", "custom"),
        **({"val_fraction": val_fraction} if split == "doc" else {}),
        "balance": balance,
        "n_train": len(train),
        "n_val": len(val),
        "pipeline_items": {
            "train": sum(p.get("train", 0) for p in n_pipe),
            "val": sum(p.get("val", 0) for p in n_pipe),
        }
        if pipeline
        else None,
    }
    return TrainData(train, val, description, train_corpus, val_corpus, profiles)


def _balanced(items: list[Any], names: list[str], cap: int) -> tuple[list[Any], list[str]]:
    """Repeat each corpus's items ``round(largest / size)`` times (at most ``cap``)."""
    sizes = {n: names.count(n) for n in dict.fromkeys(names)}
    largest = max(sizes.values(), default=0)
    out: list[Any] = []
    out_names: list[str] = []
    for name, size in sizes.items():
        repeat = min(cap, max(1, round(largest / size)))
        mine = [it for it, n in zip(items, names, strict=True) if n == name]
        out += mine * repeat
        out_names += [name] * (size * repeat)
    return out, out_names


def train_inserter_policy(
    data: TrainData,
    config: GRPOConfig,
    *,
    embedder: TextEmbedder | None = None,
    cache_dir: str | Path | None = None,
) -> TrainRun:
    """Embed (cached), build features, train with GRPO and score both sides of the split."""
    embedder = _cached(embedder, cache_dir)
    t0 = time.perf_counter()
    prepared = prepare(
        [*data.train, *data.val],
        embedder,
        cache_dir=cache_dir,
        profile=[*data.profiles_of("train"), *data.profiles_of("val")],
    )
    train, val = prepared[: len(data.train)], prepared[len(data.train) :]
    t_prep = time.perf_counter() - t0
    policy, history = train_grpo(train, config, val=val)
    return TrainRun(
        policy=policy,
        history=history,
        config=config,
        train_metrics=evaluate(policy, train, config.alpha),
        val_metrics=evaluate(policy, val, config.alpha) if val else {},
        data={**data.description, "embedder": embedder.name},
        seconds={"features": round(t_prep, 2), "train": round(history.seconds, 2)},
    )


def save_training_run(
    folder: str | Path, run: TrainRun, *, extra: dict[str, Any] | None = None
) -> Path:
    """Save the policy, its card, ``history.json`` and (with matplotlib) ``reward_curve.png``."""
    card = ModelCard(
        alpha=run.config.alpha,
        seed=run.config.seed,
        embedder=run.data.get("embedder", ModelCard.embedder),
        training=asdict(run.config),
        data=run.data,
        metrics={
            "held_out": _rounded(run.val_metrics),
            "train": _rounded(run.train_metrics),
            "seconds": run.seconds,
        },
        extra=extra or {},
    )
    out = save_model(folder, run.policy, card)
    (out / "history.json").write_text(json.dumps(run.history.as_dict()) + "\n", "utf-8")
    try:
        plot_history(run.history, out / "reward_curve.png", title=f"GRPO, alpha={run.config.alpha}")
    except ImportError:
        logger.warning(
            "matplotlib is not installed: no reward_curve.png (pip install 'm2io[eval]')"
        )
    return out


def plot_history(history: History, path: str | Path, *, title: str = "") -> None:
    """Mean sampled reward per step and per epoch, and the held-out greedy reward per epoch."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.6))
    ax1.plot(history.step_reward, lw=0.8, color="tab:blue")
    ax1.set(xlabel="step", ylabel="mean reward of sampled plans", title="per step")
    epochs = range(1, len(history.epoch_reward) + 1)
    ax2.plot(epochs, history.epoch_reward, label="train (sampled)")
    if history.epoch_val:
        ax2.plot(epochs, [v["reward"] for v in history.epoch_val], label="held-out (greedy)")
    ax2.set(xlabel="epoch", ylabel="mean reward", title="per epoch")
    ax2.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


_METRIC_ROWS = (
    ("precision", "image precision"),
    ("recall", "image recall"),
    ("f1", "image F1"),
    ("ordering", "image ordering"),
    ("position_accuracy", "position accuracy"),
    ("position_within_1", "position accuracy ±1 sentence"),
    ("position", "position reward ×100"),
    ("pipeline_precision", "end-to-end image precision (pipeline items)"),
    ("pipeline_recall", "end-to-end image recall (pipeline items)"),
    ("pipeline_f1", "end-to-end image F1 (pipeline items)"),
    ("pipeline_ordering", "end-to-end image ordering (pipeline items)"),
)


def write_model_readme(folder: str | Path, run: TrainRun, *, command: str) -> Path:
    """Write ``README.md`` in a model folder: how it was made and what it scores."""
    import datetime
    import os
    import platform

    from m2io.learned.features import FEATURE_NAMES

    d = run.data
    sides = [("held out", run.val_metrics)] if run.val_metrics else []
    sides.append(("train", run.train_metrics))
    rows = "\n".join(
        f"| {label} | " + " | ".join(f"{m.get(key, float('nan')):.1f}" for _, m in sides) + " |"
        for key, label in _METRIC_ROWS
        if any(key in m for _, m in sides)
    )
    head = "| metric | " + " | ".join(name for name, _ in sides) + " |"
    rule = "|---|" + "---|" * len(sides)
    rewards = " | ".join(f"{m.get('reward', float('nan')):.3f}" for _, m in sides)
    split = {
        "doc": f"by document within each corpus (`split_by_document`, val_fraction "
        f"{d.get('val_fraction')}, seed 0 — the `m2io eval-inserter --split val` side is held out)",
        "none": "none (every answer trains; measure it on another corpus)",
    }.get(str(d.get("split")), f"{d.get('split')} (a benchmark's own split)")
    corpora = "; ".join(
        f"`{c.get('name')}` ({c.get('kind')}, {c.get('n_train')} train / {c.get('n_val')} held out)"
        for c in d.get("corpora", [])
    )
    profiles = "; ".join(
        f"`{c.get('name')}` "
        + ", ".join(f"{k} {v:+.2f}" for k, v in (c.get("profile") or {}).items())
        for c in d.get("corpora", [])
    )
    distractors = (
        "distractors, each answer twice (once random, once hard)"
        if d.get("distractors") == "both"
        else f"{d.get('distractors')} distractors"
    )
    pipe = d.get("pipeline_items")
    pipeline = (
        f"; plus pipeline items ({pipe['train']} train / {pipe['val']} held out): each question "
        "run through the default hybrid retriever and the extractive generator, the generated "
        "answer with its retrieved candidates (retrieval order, source context), rewarded with "
        "the mean of end-to-end image F1 and ordering"
        if pipe
        else ""
    )
    text = f"""# Learned inserter policy

A placement policy for `m2io`'s learned image inserter (`--inserter learned`), trained with
GRPO on the SPEC outcome reward `format × (α·recall + (1−α)·position)`, α = {run.config.alpha}.

## How it was made

- Date: {datetime.date.today().isoformat()}
- Command:

  ```
  {command}
  ```

- Data: {corpora or f"`{d.get('data')}`"}; inserter-only items (gold answer text
  without its images, candidates = gold images + 1:1 {distractors}, data
  seed {d.get("data_seed")}, captions only — no source context){pipeline}.
- Split: {split}; {d.get("n_train")} training answers, {d.get("n_val")} held out.
- Text embedder: `{d.get("embedder")}`; {len(FEATURE_NAMES)} features (listed in
  `config.json`).
- Corpus profiles (where each corpus's images sit, log-lift per boundary kind, measured on its
  documents: `m2io.learned.profile`): {profiles or "none"}. Give the policy the profile of the
  corpus it serves: `--set inserter.profile=CORPUS_OR_INDEX_DIR` (without one it is neutral).
- GRPO: {", ".join(f"{k}={v}" for k, v in asdict(run.config).items())}.
- Training took {run.seconds["train"]:.1f} s (+ {run.seconds["features"]:.1f} s for embeddings
  and features) on {os.cpu_count()} CPU cores ({platform.machine()}, {platform.system()}).

## Metrics (×100, greedy decoding)

{head}
{rule}
{rows}
| mean reward (α = {run.config.alpha}) | {rewards} |

`reward_curve.png` and `history.json` hold the reward per step and per epoch.
"""
    path = Path(folder) / "README.md"
    path.write_text(text, "utf-8")
    return path


def _cached(embedder: TextEmbedder | None, cache_dir: str | Path | None) -> CachedEmbedder:
    if isinstance(embedder, CachedEmbedder):
        return embedder
    if embedder is None:
        from m2io.embed.text import load_text_embedder

        embedder = load_text_embedder()
    return CachedEmbedder(embedder, cache_dir)


def _rounded(metrics: dict[str, float]) -> dict[str, float]:
    return {k: round(float(v), 4) for k, v in metrics.items()}
