"""Group-relative policy optimisation (GRPO) of the placement policy, in numpy.

For every answer of a minibatch the policy samples a *group* of ``G`` plans (each candidate
picks a slot or "leave out"), each plan gets the outcome reward (docs/design.md, "Rewards")
``format × (α·recall + (1−α)·position)`` from :func:`m2io.rewards.score_placement` (the code the
evaluation metrics use; ``format`` is 1 by construction, since a plan names only candidates,
each at most once, at slots in range), and the advantage of a plan is its reward standardised within its group
(DeepSeekMath's GRPO, as M2IO-R1 uses it, arXiv 2508.06328). The loss is the policy gradient on
the plan's log-probability minus an entropy bonus; one Adam step per minibatch (on-policy, so
PPO's ratio clipping never triggers and is left out, and no KL anchor is needed to stay stable
at these sizes). Features are computed once (:func:`prepare`), so an epoch is pure numpy.

Example:
    >>> train = prepare(train_items, embedder)                   # doctest: +SKIP
    >>> policy, history = train_grpo(train, GRPOConfig(alpha=0.8))  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from m2io.embed.text import TextEmbedder, load_text_embedder
from m2io.evaluation.items import InserterItem, Item, ItemKind
from m2io.evaluation.results import metric_names
from m2io.learned.features import OptionFeatures, candidate_texts, option_features
from m2io.learned.policy import LEAVE, Forward, OptionBatch, Policy, plans, sample_actions
from m2io.learned.profile import CorpusProfile
from m2io.metrics.images import placement_order, score_images, score_placements
from m2io.rewards import score_images_reward, score_placement

ITEM_KINDS: tuple[ItemKind, ...] = ("inserter", "pipeline")

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainItem:
    """One answer ready for training: its feature tensor and what it is scored against.

    An inserter-only item (gold answer text) has ``gold`` placements and earns the reward of docs/design.md, "Rewards".
    A pipeline item (generated answer, retrieved candidates) has only the gold images in reading
    order, ``gold_order``, and earns :func:`m2io.rewards.score_images_reward` (mean of image F1
    and ordering, the end-to-end metrics).
    """

    qid: str
    features: OptionFeatures
    candidate_ids: tuple[str, ...]
    gold: dict[str, int]
    gold_order: tuple[str, ...] | None = None

    @property
    def kind(self) -> ItemKind:
        """``"pipeline"`` when scored on its image sequence, else ``"inserter"``."""
        return "pipeline" if self.gold_order is not None else "inserter"

    @property
    def is_pipeline(self) -> bool:
        return self.kind == "pipeline"

    def reward(self, mapping: dict[str, int], alpha: float) -> float:
        if self.gold_order is not None:
            return score_images_reward(placement_order(mapping), self.gold_order)
        return score_placement(mapping, self.gold, alpha)

    @property
    def n_sentences(self) -> int:
        return self.features.slots.shape[1] - 1


@dataclass
class GRPOConfig:
    """Hyper-parameters of :func:`train_grpo`.

    Attributes:
        alpha: Reward weight of recall against position (the paper's best is 0.8).
        group_size: Plans sampled per answer (G).
        epochs: Passes over the training answers.
        batch_items: Answers per Adam step.
        lr: Adam learning rate.
        entropy: Entropy bonus coefficient (keep/leave and slot entropies).
        hidden: Hidden units of the MLP part (0 = linear policy).
        seed: Seeds initialisation, shuffling and sampling: same seed, same weights.

    Each field's ``metadata["help"]`` is its one-line help: ``m2io train inserter-policy``
    derives its ``--alpha``, ``--group-size``, … flags (and recipe keys) from these fields.
    """

    alpha: float = field(default=0.8, metadata={"help": "reward weight of recall"})
    group_size: int = field(default=16, metadata={"help": "plans per answer (G)"})
    epochs: int = field(default=30, metadata={"help": "passes over the training set"})
    batch_items: int = field(default=32, metadata={"help": "answers per step"})
    lr: float = field(default=0.05, metadata={"help": "Adam learning rate"})
    entropy: float = field(default=0.01, metadata={"help": "entropy bonus"})
    hidden: int = field(default=0, metadata={"help": "MLP hidden units (0 = linear)"})
    seed: int = field(default=0, metadata={"help": "training seed (same seed, same weights)"})

    def __post_init__(self) -> None:
        if not 0.0 <= self.alpha <= 1.0:
            raise ValueError(f"alpha must be in [0, 1], got {self.alpha}")
        for name in ("group_size", "epochs", "batch_items"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.group_size < 2:
            raise ValueError("group_size must be >= 2: advantages are relative to the group")
        if self.lr <= 0 or self.entropy < 0 or self.hidden < 0:
            raise ValueError("lr must be > 0; entropy and hidden >= 0")


@dataclass
class History:
    """Mean reward per step and per epoch, plus held-out metrics per epoch when given
    (``{"reward": mean greedy reward, kind: metrics}``, see :func:`evaluate_by_kind`)."""

    step_reward: list[float] = field(default_factory=list)
    epoch_reward: list[float] = field(default_factory=list)
    epoch_val: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


# --- data -------------------------------------------------------------------------------------


def default_cache_dir() -> Path:
    """``~/.cache/m2io``, never the repository: where embeddings are cached when no
    ``cache_dir`` is given (the command line passes ``$M2IO_CACHE`` as one)."""
    return Path.home() / ".cache" / "m2io"


def embed_cached(
    embedder: TextEmbedder, texts: Sequence[str], cache_dir: str | Path | None = None
) -> dict[str, np.ndarray]:
    """Vectors of the distinct non-empty ``texts``, embedding only those not cached yet.

    The cache is a folder per embedder of ``.npz`` shards (``texts``, ``vecs``), each named by
    the hash of its texts, so runs on other splits or distractor modes reuse earlier work.
    """
    slug = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in embedder.name)
    folder = Path(cache_dir or default_cache_dir()) / "learned-embeddings" / slug
    wanted = sorted({t for t in texts if t})
    table: dict[str, np.ndarray] = {}
    if folder.is_dir():
        need = set(wanted)
        for shard in sorted(folder.glob("*.npz")):
            with np.load(shard) as data:
                for t, v in zip(data["texts"].tolist(), data["vecs"], strict=True):
                    if t in need:
                        table[t] = v
    missing = [t for t in wanted if t not in table]
    if missing:
        vecs = np.asarray(embedder.encode(missing), dtype=np.float32)
        key = hashlib.sha256("\0".join(missing).encode("utf-8")).hexdigest()[:24]
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f"{key}.{os.getpid()}.tmp"
        with open(tmp, "wb") as f:
            np.savez(f, texts=np.array(missing, dtype=np.str_), vecs=vecs)
        tmp.replace(folder / f"{key}.npz")
        table.update(zip(missing, vecs, strict=True))
    return table


class CachedEmbedder:
    """A :class:`~m2io.embed.text.TextEmbedder` backed by :func:`embed_cached`'s disk cache.

    Texts seen before (in memory or on disk) are served from the cache; the others are embedded
    by ``base`` in one call and written to the cache. Vectors are those of ``base``.
    """

    def __init__(self, base: TextEmbedder, cache_dir: str | Path | None = None) -> None:
        self.base, self.name, self.dim = base, base.name, base.dim
        self.cache_dir = cache_dir
        self.table: dict[str, np.ndarray] = {}

    def preload(self, texts: Sequence[str]) -> None:
        missing = [t for t in dict.fromkeys(texts) if t and t not in self.table]
        if missing:
            self.table.update(embed_cached(self.base, missing, self.cache_dir))

    def encode(
        self, texts: list[str], *, batch_size: int = 64, progress: bool = False
    ) -> np.ndarray:
        self.preload(texts)
        zero = np.zeros(self.dim, dtype=np.float32)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([self.table[t] if t else zero for t in texts]).astype(np.float32)


def cached_embedder(
    embedder: TextEmbedder | None, cache_dir: str | Path | None = None
) -> CachedEmbedder:
    """``embedder`` (default: the offline text embedder) behind :func:`embed_cached`'s disk
    cache; a :class:`CachedEmbedder` is returned as it is."""
    if isinstance(embedder, CachedEmbedder):
        return embedder
    return CachedEmbedder(embedder if embedder is not None else load_text_embedder(), cache_dir)


def vectors_for(texts: Sequence[str], table: dict[str, np.ndarray], dim: int) -> np.ndarray:
    """Stack vectors of ``texts``; an empty text gets a zero vector."""
    zero = np.zeros(dim, dtype=np.float32)
    return np.stack([table[t] if t else zero for t in texts]).astype(np.float32)


def prepare(
    items: Sequence[Item],
    embedder: TextEmbedder,
    *,
    cache_dir: str | Path | None = None,
    profile: CorpusProfile | Sequence[CorpusProfile | None] | None = None,
) -> list[TrainItem]:
    """Embed every text of ``items`` once (cached) and build their feature tensors.

    Inserter-only items keep their gold placements; pipeline items (those with ``gold_order``
    and no ``gold``) are scored on their image sequence. ``profile``: the corpus profile of all
    items, or one per item (items from several corpora), or None (neutral).
    """
    if profile is None or not isinstance(profile, Sequence):
        profiles: Sequence[CorpusProfile | None] = [profile] * len(items)
    else:
        profiles = profile
    if len(profiles) != len(items):
        raise ValueError(f"{len(items)} items but {len(profiles)} profiles")
    texts = [candidate_texts(it.answer, it.candidates) for it in items]
    table = embed_cached(embedder, [t for tx in texts for t in tx.all], cache_dir)
    out: list[TrainItem] = []
    for it, tx, prof in zip(items, texts, profiles, strict=True):
        vecs = vectors_for(tx.all, table, embedder.dim)
        feats = option_features(it.answer, it.candidates, vecs, tx, profile=prof)
        ids = tuple(c.image_id for c in it.candidates)
        if isinstance(it, InserterItem):
            out.append(TrainItem(it.qid, feats, ids, dict(it.gold)))
        else:
            out.append(TrainItem(it.qid, feats, ids, {}, tuple(it.gold_order)))
    return out


# --- rollouts, rewards, advantages ------------------------------------------------------------


def plan_to_mapping(item: TrainItem, plan: dict[int, int]) -> dict[str, int]:
    return {item.candidate_ids[c]: slot for c, slot in plan.items()}


def group_rewards(
    items: Sequence[TrainItem], batch: OptionBatch, actions: np.ndarray, alpha: float
) -> np.ndarray:
    """Reward of every sampled plan, shape ``(len(items), G)``."""
    rewards = np.zeros((len(items), actions.shape[0]))
    for g in range(actions.shape[0]):
        for b, plan in enumerate(plans(batch, actions[g], len(items))):
            rewards[b, g] = items[b].reward(plan_to_mapping(items[b], plan), alpha)
    return rewards


def group_advantages(rewards: np.ndarray, eps: float = 1e-4) -> np.ndarray:
    """``(r − mean_group) / (std_group + eps)``; a group with equal rewards teaches nothing."""
    mean = rewards.mean(axis=1, keepdims=True)
    std = rewards.std(axis=1, keepdims=True)
    return (rewards - mean) / (std + eps)


def loss_gradient(
    batch: OptionBatch,
    fwd: Forward,
    actions: np.ndarray,
    advantages: np.ndarray,
    *,
    entropy: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Gradient of the GRPO loss w.r.t. the keep logits ``(C,)`` and slot logits ``(C, S)``.

    ``loss = −mean_plans[A · log π(plan)] − entropy · mean_c[H(keep_c) + H(slot_c)]`` where
    ``log π(plan) = Σ_c log π_c(action_c)`` and
    ``log π_c(slot j) = log σ(k_c) + log softmax_j``, ``log π_c(leave) = log σ(−k_c)``.
    """
    n_items, group = advantages.shape
    n_cand = fwd.keep_logit.shape[0]
    p_keep = fwd.p_keep
    p_slot = np.exp(fwd.slot_logp)
    adv = advantages[batch.item].T  # (G, C): advantage of the plan each action belongs to
    kept = actions != LEAVE
    scale = n_items * group
    d_keep = -(adv * (kept - p_keep[None, :])).sum(axis=0) / scale
    chosen = np.zeros_like(p_slot)
    kept_adv = np.where(kept, adv, 0.0)
    for g in range(group):
        np.add.at(chosen, (np.arange(n_cand), np.where(kept[g], actions[g], 0)), kept_adv[g])
    d_slot = -(chosen - kept_adv.sum(axis=0)[:, None] * p_slot) / scale
    if entropy:
        # dH/dk of a Bernoulli(σ(k)) is −k·σ(1−σ); dH/dz of a softmax is −p(log p + H).
        d_keep += entropy * fwd.keep_logit * p_keep * (1.0 - p_keep) / n_cand
        logp = np.where(batch.mask, fwd.slot_logp, 0.0)
        h = -(p_slot * logp).sum(axis=1, keepdims=True)
        d_slot += entropy * p_slot * (logp + h) / n_cand
    return d_keep, np.where(batch.mask, d_slot, 0.0)


class Adam:
    """Adam on a dict of numpy arrays (in place)."""

    def __init__(
        self, params: dict[str, np.ndarray], lr: float, betas=(0.9, 0.999), eps=1e-8
    ) -> None:
        self.params, self.lr, self.betas, self.eps = params, lr, betas, eps
        self.m = {k: np.zeros_like(v) for k, v in params.items()}
        self.v = {k: np.zeros_like(v) for k, v in params.items()}
        self.t = 0

    def step(self, grads: dict[str, np.ndarray]) -> None:
        self.t += 1
        b1, b2 = self.betas
        for k, g in grads.items():
            self.m[k] = b1 * self.m[k] + (1 - b1) * g
            self.v[k] = b2 * self.v[k] + (1 - b2) * g * g
            m_hat = self.m[k] / (1 - b1**self.t)
            v_hat = self.v[k] / (1 - b2**self.t)
            self.params[k] -= self.lr * m_hat / (np.sqrt(v_hat) + self.eps)


# --- evaluation and the loop ------------------------------------------------------------------


def greedy_mappings(policy: Policy, items: Sequence[TrainItem]) -> list[dict[str, int]]:
    """The policy's greedy placement ``{image_id: slot}`` of every item."""
    if not items:
        return []
    batch = OptionBatch.from_features([it.features for it in items])
    chosen = plans(batch, policy.greedy(batch), len(items))
    return [plan_to_mapping(it, plan) for it, plan in zip(items, chosen, strict=True)]


def evaluate(policy: Policy, items: Sequence[TrainItem], alpha: float = 0.8) -> dict[str, float]:
    """Greedy-decoding metrics ×100 of items of one kind, and their mean ``reward``.

    The names are the evaluations' (:func:`m2io.evaluation.items.score_inserter` gives the same
    keys for an inserter on the same items): inserter-only items give ``image_precision`` …
    ``image_ordering``, ``position_accuracy``, ``position_within_1`` and ``position``; pipeline
    items the image metrics of end-to-end evaluation. Items of both kinds:
    :func:`evaluate_by_kind`.
    """
    kinds = {it.kind for it in items}
    if len(kinds) > 1:
        raise ValueError("evaluate needs items of one kind; use evaluate_by_kind")
    preds = greedy_mappings(policy, items)
    if kinds == {"pipeline"}:
        golds = [list(it.gold_order or ()) for it in items]
        scores = score_images([placement_order(p) for p in preds], golds).aggregate
    else:
        scores = score_placements(preds, [it.gold for it in items]).aggregate if items else {}
    return {**metric_names(scores), "reward": _mean_reward(preds, items, alpha)}


def evaluate_by_kind(
    policy: Policy, items: Sequence[TrainItem], alpha: float = 0.8
) -> dict[str, dict[str, float]]:
    """``{kind: evaluate(items of that kind)}``, ``"inserter"`` before ``"pipeline"``, for the
    kinds present: one name per metric, the item set saying which items it was measured on."""
    out: dict[str, dict[str, float]] = {}
    for kind in ITEM_KINDS:
        mine = [it for it in items if it.kind == kind]
        if mine:
            out[kind] = evaluate(policy, mine, alpha)
    return out


def mean_reward(policy: Policy, items: Sequence[TrainItem], alpha: float = 0.8) -> float:
    """The mean reward of the greedy plans over ``items`` (of any kinds)."""
    return _mean_reward(greedy_mappings(policy, items), items, alpha)


def _mean_reward(preds: list[dict[str, int]], items: Sequence[TrainItem], alpha: float) -> float:
    return float(np.mean([it.reward(p, alpha) for p, it in zip(preds, items, strict=True)]))


def train_grpo(
    train: Sequence[TrainItem],
    config: GRPOConfig,
    *,
    val: Sequence[TrainItem] = (),
    on_epoch: Callable[[int, History], None] | None = None,
) -> tuple[Policy, History]:
    """Train a policy from scratch with GRPO; deterministic for a given ``config.seed``."""
    if not train:
        raise ValueError("no training item")
    slots, keep = train[0].features.slots.shape[2], train[0].features.keep.shape[1]
    rng = np.random.default_rng(config.seed)
    policy = Policy.init(slots, keep, hidden=config.hidden, seed=config.seed)
    adam = Adam(policy.params, config.lr)
    history = History()
    start = time.perf_counter()
    for epoch in range(config.epochs):
        order = rng.permutation(len(train))
        epoch_rewards: list[float] = []
        for lo in range(0, len(order), config.batch_items):
            items = [train[i] for i in order[lo : lo + config.batch_items]]
            batch = OptionBatch.from_features([it.features for it in items])
            fwd = policy.forward(batch)
            actions = sample_actions(fwd, batch, config.group_size, rng)
            rewards = group_rewards(items, batch, actions, config.alpha)
            d_keep, d_slot = loss_gradient(
                batch, fwd, actions, group_advantages(rewards), entropy=config.entropy
            )
            adam.step(policy.backward(batch, fwd, d_keep, d_slot))
            history.step_reward.append(float(rewards.mean()))
            epoch_rewards.append(float(rewards.mean()) * len(items))
        history.epoch_reward.append(sum(epoch_rewards) / len(train))
        if val:
            history.epoch_val.append(
                {
                    "reward": mean_reward(policy, val, config.alpha),
                    **evaluate_by_kind(policy, val, config.alpha),
                }
            )
        logger.info(
            "epoch %d: mean sampled reward %.3f%s",
            epoch + 1,
            history.epoch_reward[-1],
            f", held-out greedy reward {history.epoch_val[-1]['reward']:.3f}" if val else "",
        )
        if on_epoch is not None:
            on_epoch(epoch, history)
    history.seconds = time.perf_counter() - start
    return policy, history
