"""The learned inserter: a GRPO-trained placement policy (:mod:`m2io.learned`).

It embeds the answer's sentences, the candidates' texts (caption plus nearest source text,
:func:`m2io.embed.text.image_text`, exactly what the index stores, so inside a pipeline the
image vectors come from the index) and the question with the text embedder the policy was
trained with, computes the (image, slot) features — including where the candidate came from:
its retrieval rank, whether answer sentences were taken from its chunk, whether they surround it
in its source — and takes the policy's greedy decision: for each candidate, keep it or not, and
if kept, the sentence it follows. Deciding takes well under a millisecond; embedding is timed
apart (``last_timing``).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np

from m2io.embed.text import LazyEmbedder, TextEmbedder
from m2io.learned.artifact import DEFAULT_MODEL_DIR, ModelCard, load_model
from m2io.learned.features import candidate_texts, option_features
from m2io.learned.policy import LEAVE, OptionBatch, Policy
from m2io.learned.profile import CorpusProfile, load_profile
from m2io.types import Candidate, Placement, Slot, TextAnswer

logger = logging.getLogger(__name__)


class LearnedInserter(LazyEmbedder):
    """Place images with a trained placement policy.

    Args:
        model: A model folder written by ``m2io train inserter-policy`` (or
            :func:`m2io.learned.save_model`); None loads the policy that ships with m2io.
        embedder: A :class:`~m2io.embed.text.TextEmbedder` or a model name/path; None uses the
            one the policy was trained with (its ``config.json``).
        profile: Where this corpus's authors put their figures (:mod:`m2io.learned.profile`):
            a corpus folder (MRAMG or documents), ``demo``, an index folder (its corpus is
            measured once, here), a profile JSON, or a
            :class:`~m2io.learned.profile.CorpusProfile`. None is neutral: placement then rests
            on the answer's own text (similarity, figure references, steps, source context).
        fallback: When the policy keeps no image at all, keep up to this many of those it came
            closest to keeping (highest keep score), each at its best slot, provided the
            image's text is at least ``threshold`` like some answer sentence and like the
            question; the result's notes say so. 0 keeps none (the policy's decision as is).
            The same guarantee as the anchored inserter's (docs/design.md): an answer without
            a figure when a relevant one was retrieved is the worse failure.
        threshold: The cosine similarity floor for ``fallback``.

    Attributes:
        last_timing: Milliseconds of the last :meth:`insert`: ``embed_ms`` (text embedding),
            ``policy_ms`` (features + decision) and ``total_ms``.

    Raises:
        m2io.learned.ModelError: ``model`` is not a usable model folder.

    Example (embeds with the default sentence embedder)::

        ins = LearnedInserter()                        # the shipped policy
        placement = ins.insert(answer, candidates)
        ins.last_timing["policy_ms"]                   # 0.3
    """

    def __init__(
        self,
        model: str | Path | None = None,
        *,
        embedder: TextEmbedder | str | None = None,
        profile: str | Path | CorpusProfile | None = None,
        fallback: int = 3,
        threshold: float = 0.4,
    ) -> None:
        if fallback < 0:
            raise ValueError(f"fallback must be >= 0, got {fallback}")
        if not -1.0 <= threshold <= 1.0:
            raise ValueError(f"threshold is a cosine similarity in [-1, 1], got {threshold}")
        self.fallback = fallback
        self.threshold = threshold
        self.model = model  # as given (None: the shipped policy), for to_config
        self.model_dir = Path(model) if model is not None else DEFAULT_MODEL_DIR
        self.policy: Policy
        self.card: ModelCard
        self.policy, self.card = load_model(self.model_dir)
        self._embedder = embedder if embedder is not None else self.card.embedder
        if not isinstance(self._embedder, str) and self._embedder.name != self.card.embedder:
            logger.warning(
                "policy %s was trained on %s vectors but runs with %s",
                self.model_dir,
                self.card.embedder,
                self._embedder.name,
            )
        self.profile = load_profile(profile)
        self.last_timing: dict[str, float] = {}

    def _vectors(self, texts: list[str]) -> np.ndarray:
        """Embed the non-empty texts in one call; empty ones get a zero vector."""
        idx = [i for i, t in enumerate(texts) if t]
        vecs = np.zeros((len(texts), self.embedder.dim), dtype=np.float32)
        if idx:
            vecs[idx] = self.embedder.encode([texts[i] for i in idx])
        return vecs

    def insert(self, answer: TextAnswer, candidates: tuple[Candidate, ...]) -> Placement:
        self.last_timing = {"embed_ms": 0.0, "policy_ms": 0.0, "total_ms": 0.0}
        if not answer.sentences or not candidates:
            return Placement()
        t0 = time.perf_counter()
        seen: set[str] = set()
        unique = [c for c in candidates if not (c.image_id in seen or seen.add(c.image_id))]
        texts = candidate_texts(answer, unique)
        vecs = self._vectors(texts.all)
        t1 = time.perf_counter()
        feats = option_features(answer, unique, vecs, texts, profile=self.profile)
        batch = OptionBatch.from_features([feats])
        fwd = self.policy.forward(batch)
        slots = np.argmax(fwd.slot_logp, axis=-1)
        actions = np.where(fwd.keep_logit >= 0, slots, LEAVE)
        notes: list[str] = []
        if self.fallback and not (actions != LEAVE).any():
            kept = self._closest(vecs, len(texts.sentences), fwd.keep_logit)
            actions[kept] = slots[kept]
            if kept:
                notes.append(
                    f"learned inserter: the policy kept no image; {len(kept)} it came closest "
                    "to keeping placed"
                )
        chosen = sorted(
            (int(a), i, c.image_id)
            for i, (a, c) in enumerate(zip(actions, unique, strict=True))
            if a != LEAVE
        )
        t2 = time.perf_counter()
        self.last_timing = {
            "embed_ms": 1000 * (t1 - t0),
            "policy_ms": 1000 * (t2 - t1),
            "total_ms": 1000 * (t2 - t0),
        }
        if len(unique) < len(candidates):
            notes.append("duplicate candidate ids were considered once")
        return Placement(
            slots=tuple(Slot(image_id, after) for after, _, image_id in chosen),
            notes=tuple(notes),
        )

    def _closest(self, vecs: np.ndarray, n: int, keep_logit: np.ndarray) -> list[int]:
        """Up to ``fallback`` candidates with the highest keep score whose text is at least
        ``threshold`` like some sentence and like the question (``vecs``: sentences,
        candidates, question, as :func:`~m2io.learned.features.candidate_texts` orders them)."""
        sent, cand, question = vecs[:n], vecs[n:-1], vecs[-1]
        like_sentence = (cand @ sent.T).max(axis=1) >= self.threshold
        like_question = cand @ question >= self.threshold
        ok = np.flatnonzero(like_sentence & like_question & cand.any(axis=1))
        return [int(i) for i in ok[np.argsort(-keep_logit[ok], kind="stable")][: self.fallback]]
