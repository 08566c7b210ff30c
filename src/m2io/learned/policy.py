"""The placement policy: for each candidate image, keep it or not, and if kept, where.

Each candidate decides on its own, in two factors::

    P(keep i)          = sigmoid(u · z_i)                     z_i: candidate features
    P(slot j | keep i) = softmax_j(w · x_ij + v · tanh(W1ᵀ x_ij + b1))   x_ij: slot features

(the tanh part only when ``hidden > 0``). An image is therefore placed at most once by
construction, and a plan's log-probability is the sum over candidates. Keeping "whether" apart
from "where" matters for learning: with one softmax over slots ∪ {leave out}, the leave-out
probability shrinks whenever a slot gets sharper, and GRPO stops exploring leaving images out.
Everything is numpy; deciding for one answer takes well under a millisecond.

Actions are encoded as the slot index ``0..n``, or :data:`LEAVE` (-1).

Example:
    >>> policy = Policy.init(n_slot=27, n_keep=11, hidden=0)
    >>> batch = OptionBatch.from_features([features])       # doctest: +SKIP
    >>> policy.greedy(batch)                                # action per candidate  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from m2io.learned.features import OptionFeatures

LEAVE = -1
NEG = -1e9


@dataclass(frozen=True)
class OptionBatch:
    """Candidates of one or more decisions, slots padded to a common count.

    Attributes:
        x: Slot features ``(C, S, Ds)``; padded slots are zero.
        mask: ``(C, S)``, True for real slots.
        z: Keep features ``(C, Dk)``.
        item: ``(C,)``, the decision each candidate belongs to (0-based, non-decreasing).
    """

    x: np.ndarray
    mask: np.ndarray
    z: np.ndarray
    item: np.ndarray

    @classmethod
    def from_features(cls, features: Sequence[OptionFeatures]) -> OptionBatch:
        if not features:
            raise ValueError("no decision to batch")
        width = max(f.slots.shape[1] for f in features)
        total = sum(f.slots.shape[0] for f in features)
        x = np.zeros((total, width, features[0].slots.shape[2]), dtype=np.float32)
        mask = np.zeros((total, width), dtype=bool)
        item = np.zeros(total, dtype=np.int64)
        row = 0
        for b, f in enumerate(features):
            k, s = f.slots.shape[:2]
            x[row : row + k, :s] = f.slots
            mask[row : row + k, :s] = True
            item[row : row + k] = b
            row += k
        z = np.concatenate([f.keep for f in features]).astype(np.float32)
        return cls(x, mask, z, item)


def log_softmax(logits: np.ndarray, mask: np.ndarray) -> np.ndarray:
    z = np.where(mask, logits, NEG)
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def sigmoid(k: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * k))


@dataclass(frozen=True)
class Forward:
    """One forward pass: keep logits ``(C,)``, slot log-probabilities ``(C, S)``, activations."""

    keep_logit: np.ndarray
    slot_logp: np.ndarray
    hidden: np.ndarray | None

    @property
    def p_keep(self) -> np.ndarray:
        return sigmoid(self.keep_logit)


class Policy:
    """Parameters and forward/backward pass of the two-factor policy.

    Args:
        params: ``u`` (Dk,) and ``w`` (Ds,); an MLP slot scorer adds ``W1`` (Ds, H), ``b1`` (H,)
            and ``v`` (H,).
    """

    def __init__(self, params: dict[str, np.ndarray]) -> None:
        if not {"u", "w"} <= set(params):
            raise ValueError(f"policy parameters need 'u' and 'w'; got {sorted(params)}")
        hidden = {"W1", "b1", "v"} & set(params)
        if hidden and hidden != {"W1", "b1", "v"}:
            raise ValueError(f"an MLP policy needs W1, b1 and v; got {sorted(params)}")
        self.params = {k: np.asarray(v, dtype=np.float64) for k, v in params.items()}
        if hidden and self.params["W1"].shape != (self.n_slot, self.hidden):
            raise ValueError(
                f"W1 has shape {self.params['W1'].shape}, expected ({self.n_slot}, {self.hidden})"
            )

    @classmethod
    def init(cls, n_slot: int, n_keep: int, hidden: int = 0, seed: int = 0) -> Policy:
        """P(keep) = 1/2 and uniform slots; small random first-layer weights if ``hidden``."""
        params: dict[str, np.ndarray] = {"u": np.zeros(n_keep), "w": np.zeros(n_slot)}
        if hidden:
            rng = np.random.default_rng(seed)
            params["W1"] = rng.normal(0.0, 1.0 / np.sqrt(n_slot), (n_slot, hidden))
            params["b1"] = np.zeros(hidden)
            params["v"] = np.zeros(hidden)
        return cls(params)

    @property
    def n_slot(self) -> int:
        return int(self.params["w"].shape[0])

    @property
    def n_keep(self) -> int:
        return int(self.params["u"].shape[0])

    @property
    def hidden(self) -> int:
        return int(self.params["v"].shape[0]) if "v" in self.params else 0

    def copy(self) -> Policy:
        return Policy({k: v.copy() for k, v in self.params.items()})

    def forward(self, batch: OptionBatch) -> Forward:
        if batch.x.shape[-1] != self.n_slot or batch.z.shape[-1] != self.n_keep:
            raise ValueError(
                f"features have {batch.x.shape[-1]}/{batch.z.shape[-1]} dims, the policy "
                f"{self.n_slot}/{self.n_keep}"
            )
        logits = batch.x @ self.params["w"]
        h = None
        if self.hidden:
            h = np.tanh(batch.x @ self.params["W1"] + self.params["b1"])
            logits = logits + h @ self.params["v"]
        return Forward(batch.z @ self.params["u"], log_softmax(logits, batch.mask), h)

    def backward(
        self, batch: OptionBatch, fwd: Forward, d_keep: np.ndarray, d_slot: np.ndarray
    ) -> dict[str, np.ndarray]:
        """Parameter gradients of a scalar loss, given its gradient w.r.t. the keep logits
        ``(C,)`` and the slot logits ``(C, S)``."""
        d_slot = np.where(batch.mask, d_slot, 0.0)
        grads = {"u": batch.z.T @ d_keep, "w": np.einsum("cs,csd->d", d_slot, batch.x)}
        if self.hidden and fwd.hidden is not None:
            h = fwd.hidden
            grads["v"] = np.einsum("cs,csh->h", d_slot, h)
            dpre = d_slot[..., None] * self.params["v"] * (1.0 - h * h)
            grads["W1"] = np.einsum("csd,csh->dh", batch.x, dpre)
            grads["b1"] = dpre.sum(axis=(0, 1))
        return grads

    def greedy(self, batch: OptionBatch) -> np.ndarray:
        """Most likely action of each candidate: its best slot if P(keep) >= 1/2, else LEAVE."""
        fwd = self.forward(batch)
        return np.where(fwd.keep_logit >= 0, np.argmax(fwd.slot_logp, axis=-1), LEAVE)

    def sample(self, batch: OptionBatch, group: int, rng: np.random.Generator) -> np.ndarray:
        """``group`` independent plans: actions of shape ``(group, C)``."""
        return sample_actions(self.forward(batch), batch, group, rng)


def sample_actions(
    fwd: Forward, batch: OptionBatch, group: int, rng: np.random.Generator
) -> np.ndarray:
    """Sample ``group`` plans from a forward pass: actions ``(group, C)``.

    Every candidate takes exactly one action, so no image is placed twice.
    """
    n = fwd.keep_logit.shape[0]
    keep = rng.random((group, n)) < fwd.p_keep[None, :]
    cdf = np.cumsum(np.exp(fwd.slot_logp), axis=-1)
    u = rng.random((group, n, 1))
    # Rounding can leave the last cdf entry just under u: clamp to the last real slot.
    last = batch.mask.sum(axis=1) - 1
    slot = np.minimum((u > cdf[None]).sum(axis=-1), last[None, :])
    return np.where(keep, slot, LEAVE)


def plans(batch: OptionBatch, actions: np.ndarray, n_items: int) -> list[dict[int, int]]:
    """Per decision, ``{candidate row within the decision: slot}`` of the kept candidates."""
    out: list[dict[int, int]] = [{} for _ in range(n_items)]
    starts = np.searchsorted(batch.item, np.arange(n_items))
    for c in np.flatnonzero(actions != LEAVE):
        b = batch.item[c]
        out[b][int(c - starts[b])] = int(actions[c])
    return out
