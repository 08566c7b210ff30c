"""A learned image inserter: a compact placement policy trained with GRPO, in numpy.

M2IO-R1 (arXiv 2508.06328) shows that a small inserter trained with group-relative policy
optimisation on outcome rewards beats much larger training-free ones. This package pushes that
to the small end: a policy over hand-built features of (image, slot) pairs
(:mod:`~m2io.learned.features`), a keep/leave factor and a slot softmax
(:mod:`~m2io.learned.policy`), trained with GRPO on the SPEC rewards
(:mod:`~m2io.learned.grpo`) in seconds to minutes on two CPU cores, and deciding in well under a
millisecond once the sentences and captions are embedded. :mod:`~m2io.learned.artifact` saves
and loads it (safetensors + JSON); :class:`m2io.inserters.learned.LearnedInserter` serves it.

This module holds the end-to-end training recipe shared by ``m2io train inserter-policy`` and
``benchmarks/ablation_alpha.py``: MRAMG folder → inserter items → split (by document, or by
chapter) → features → GRPO → held-out metrics.

Example:
    >>> data = load_training_data("../shared/bench/gimp", "gimp")           # doctest: +SKIP
    >>> run = train_inserter_policy(data, GRPOConfig(alpha=0.8))            # doctest: +SKIP
    >>> run.val_metrics["position_accuracy"]                                # doctest: +SKIP
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from m2io.learned.artifact import ModelCard, ModelError, load_model, save_model
from m2io.learned.features import CHAPTERS, document_chapter
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

if TYPE_CHECKING:
    from m2io.corpus.report import Corpus
    from m2io.embed.text import TextEmbedder
    from m2io.evaluation.items import InserterItem, PipelineItem

logger = logging.getLogger(__name__)

DEFAULT_MODEL_DIR = Path(__file__).resolve().parent / "default_model"
SPLITS = ("doc", "chapter")

__all__ = [
    "CHAPTERS",
    "CachedEmbedder",
    "DEFAULT_MODEL_DIR",
    "GRPOConfig",
    "History",
    "ModelCard",
    "ModelError",
    "Policy",
    "TrainData",
    "TrainItem",
    "TrainRun",
    "load_model",
    "load_training_data",
    "save_model",
    "save_training_run",
    "split_by_chapter",
    "train_inserter_policy",
    "write_model_readme",
]


@dataclass
class TrainData:
    """Inserter items on both sides of a split, and how they were made."""

    train: list[InserterItem | PipelineItem]
    val: list[InserterItem | PipelineItem]
    description: dict[str, Any] = field(default_factory=dict)


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


def split_by_chapter(
    items: Sequence[InserterItem], corpus: Corpus, train_chapters: Sequence[str]
) -> tuple[list[InserterItem], list[InserterItem]]:
    """Items whose first source document is in ``train_chapters`` vs. all the others.

    Chapters come from :func:`~m2io.learned.features.document_chapter` (GIMP-manual rule).
    """
    unknown = set(train_chapters) - set(CHAPTERS)
    if unknown:
        raise ValueError(f"unknown chapters {sorted(unknown)}; valid: {', '.join(CHAPTERS)}")
    docs = {d.doc_id: d for d in corpus.documents}
    train: list[InserterItem] = []
    val: list[InserterItem] = []
    for it in items:
        doc = docs.get(it.doc_ids[0]) if it.doc_ids else None
        chapter = document_chapter(doc.text) if doc is not None else "other"
        (train if chapter in train_chapters else val).append(it)
    return train, val


def load_training_data(
    data: str | Path,
    subset: str | None = None,
    *,
    distractors: str = "random",
    split: str = "doc",
    data_seed: int = 0,
    val_fraction: float = 0.2,
    train_chapters: Sequence[str] = ("filters",),
    embedder: TextEmbedder | None = None,
    cache_dir: str | Path | None = None,
    pipeline: bool = False,
    index_dir: str | Path | None = None,
    progress: bool = False,
) -> TrainData:
    """Build inserter items (gold + 1:1 distractors) from an MRAMG folder and split them.

    With ``pipeline=True`` every question is also run through the default retriever and the
    extractive generator (:func:`~m2io.evaluation.items.build_pipeline_items`), so the policy
    also learns from what it meets end to end: generated sentences, up to a dozen retrieved
    candidates, their source context and retrieval rank. Those items fall on the same side of
    the split as the question's inserter-only item.

    Args:
        data: MRAMG-layout folder.
        subset: Subset name (default: the only one in ``data``).
        distractors: ``"random"``, ``"hard"`` or ``"both"`` (each question twice, once with
            each kind; both copies land on the same side of the split).
        split: ``"doc"`` (:func:`~m2io.evaluation.items.split_by_document`, the split that
            ``m2io eval-inserter --split val`` uses) or ``"chapter"``.
        data_seed: Seeds distractors and candidate order (``eval-inserter --seed``).
        val_fraction: Held-out share for the document split.
        train_chapters: Chapters to train on for the chapter split; the rest is held out.
        embedder: For hard distractors (default: the offline MiniLM, disk-cached).
        cache_dir: Embedding cache (see :func:`m2io.learned.grpo.embed_cached`).
        pipeline: Add pipeline items (see above).
        index_dir: Index for the pipeline items (default: the one ``m2io eval`` uses, built
            there if missing).
        progress: Progress bars on stderr (index build, pipeline runs).
    """
    from m2io.corpus.mramg import load_mramg, load_questions, resolve_subset
    from m2io.evaluation.items import build_inserter_items, split_by_document

    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    modes = ("random", "hard") if distractors == "both" else (distractors,)
    if "hard" in modes:
        embedder = _cached(embedder, cache_dir)
    root = Path(data).resolve()
    subset = resolve_subset(root, subset)
    corpus = load_mramg(root, subset)
    questions = load_questions(root, subset)
    train: list[InserterItem | PipelineItem] = []
    val: list[InserterItem | PipelineItem] = []
    for mode in modes:
        items = build_inserter_items(
            questions, corpus, distractors=mode, seed=data_seed, embedder=embedder
        )
        if split == "doc":
            tr, va = split_by_document(items, val_fraction=val_fraction, seed=0)
        else:
            tr, va = split_by_chapter(items, corpus, train_chapters)
        train += tr
        val += va
    n_pipeline = (0, 0)
    if pipeline:
        held_out = {it.qid for it in val}
        ptr, pva = _pipeline_items(root, subset, corpus, questions, index_dir, progress, held_out)
        train += ptr
        val += pva
        n_pipeline = (len(ptr), len(pva))
    description = {
        "data": str(root),
        "subset": subset,
        "distractors": distractors,
        "ratio": 1.0,
        "data_seed": data_seed,
        "with_context": False,
        "split": split,
        **({"val_fraction": val_fraction} if split == "doc" else {}),
        **({"train_chapters": list(train_chapters)} if split == "chapter" else {}),
        "n_train": len(train),
        "n_val": len(val),
        "pipeline_items": {"train": n_pipeline[0], "val": n_pipeline[1]} if pipeline else None,
    }
    return TrainData(train, val, description)


def _pipeline_items(
    root: Path,
    subset: str,
    corpus: Corpus,
    questions: Sequence[Any],
    index_dir: str | Path | None,
    progress: bool,
    held_out: set[str],
) -> tuple[list[PipelineItem], list[PipelineItem]]:
    """Pipeline items of every question, split as the inserter-only items were (by qid)."""
    from m2io.config import PipelineConfig
    from m2io.evaluation.e2e import ensure_index, eval_index_dir
    from m2io.evaluation.items import build_pipeline_items
    from m2io.factory import build_generator, build_retriever

    folder, _ = ensure_index(
        corpus.documents, index_dir or eval_index_dir(root, subset), progress=progress
    )
    cfg = PipelineConfig()
    cfg.index = str(folder)
    items = build_pipeline_items(
        questions, build_retriever(cfg), build_generator(cfg), progress=progress
    )
    train = [it for it in items if it.qid not in held_out]
    val = [it for it in items if it.qid in held_out]
    return train, val


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
    prepared = prepare([*data.train, *data.val], embedder, cache_dir=cache_dir)
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
    rows = "\n".join(
        f"| {label} | {run.val_metrics.get(key, float('nan')):.1f} | "
        f"{run.train_metrics.get(key, float('nan')):.1f} |"
        for key, label in _METRIC_ROWS
        if key in run.val_metrics or key in run.train_metrics
    )
    split = (
        f"by document (`split_by_document`, val_fraction {d.get('val_fraction')}, seed 0 — the "
        "`m2io eval-inserter --split val` side is held out)"
        if d.get("split") == "doc"
        else f"by chapter: trained on {', '.join(d.get('train_chapters', []))}, the other "
        "chapters held out (rule: `m2io.learned.features.document_chapter`)"
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

- Data: `{d.get("data")}`, subset `{d.get("subset")}`; inserter-only items (gold answer text
  without its images, candidates = gold images + 1:1 {distractors}, data
  seed {d.get("data_seed")}, captions only — no source context){pipeline}.
- Split: {split}; {d.get("n_train")} training answers, {d.get("n_val")} held out.
- Text embedder: `{d.get("embedder")}`; {len(FEATURE_NAMES)} features (listed in
  `config.json`).
- GRPO: {", ".join(f"{k}={v}" for k, v in asdict(run.config).items())}.
- Training took {run.seconds["train"]:.1f} s (+ {run.seconds["features"]:.1f} s for embeddings
  and features) on {os.cpu_count()} CPU cores ({platform.machine()}, {platform.system()}).

## Metrics (×100, greedy decoding)

| metric | held out | train |
|---|---|---|
{rows}
| mean reward (α = {run.config.alpha}) | {run.val_metrics.get("reward", float("nan")):.3f} | {run.train_metrics.get("reward", float("nan")):.3f} |

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
