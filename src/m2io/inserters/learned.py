"""The learned inserter: a GRPO-trained placement policy (:mod:`m2io.learned`).

It embeds the answer's sentences, the candidates' texts (caption plus nearest source text,
:func:`m2io.embed.text.image_text`, exactly what the index stores, so inside a pipeline the
image vectors come from the index) and the question with the text embedder the policy was
trained with, computes the (image, slot) features — including where the candidate came from:
its retrieval rank, whether answer sentences were taken from its chunk, whether they surround it
in its source — and takes the policy's greedy decision: for each candidate, keep it or not, and
if kept, the sentence it follows. Deciding takes well under a millisecond; embedding is timed
apart (``last_timing``).

Provenance first (``provenance=True``, the default): an image whose source text the answer
quotes goes where that text puts it, by the anchored inserter's matching and its cap on images
per sentence (:mod:`m2io.inserters.anchored`), and one whose source text the answer leaves out
stays out; the policy decides the images that carry no source text, and, when nothing else is
placed, which images go in and where (``fallback``). String matching is more precise than any
policy where it applies, and it applies in every corpus; the policy carries what it cannot
settle. An answer whose images provenance places embeds nothing; one that needs the policy finds
an extractive answer's sentence vectors in the index (:mod:`m2io.index.sentences`) and the
question's where the retriever left it (the hybrid retriever embeds the whole question beside
its search text, :func:`m2io.retrievers.query.search_text`), so it embeds at most a generated
answer's own sentences.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from pathlib import Path

import numpy as np

from m2io.embed.text import LazyEmbedder, TextEmbedder
from m2io.inserters.anchored import AnchoredInserter, figure_references
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
        fallback_quoted: ``fallback`` keeps only images of the documents the answer quotes
            (when the answer's sentences and the images know their documents): a figure from a
            page the answer does not use is about something else (a cover page, an LED curve
            for a diode answer, a QR code for a configuration file: docs/RESULTS.md). Only
            where the quoted documents carry titles (pages and sections of a manual): the
            untitled MRAMG dev documents are fragments of a page whose figures often sit in a
            sibling fragment, and there the restriction cost GnuCash 9 image F1 points.
        fallback_floor: ``fallback`` takes an image from a document the answer does not quote
            only when its text is at least this like some answer sentence (about the same thing
            as the answer, not only like the question); None: ``threshold`` as for the others.
        provenance: Provenance first (see the module docstring); False lets the policy decide
            every image.
        max_per_sentence: With ``provenance``, most images after one sentence (provenance
            moves or drops the extra ones like the anchored inserter; the policy's least sure
            ones are left out).

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
        provenance: bool = True,
        max_per_sentence: int = 2,
        fallback_quoted: bool = True,
        fallback_floor: float | None = None,
    ) -> None:
        if fallback < 0:
            raise ValueError(f"fallback must be >= 0, got {fallback}")
        if not -1.0 <= threshold <= 1.0:
            raise ValueError(f"threshold is a cosine similarity in [-1, 1], got {threshold}")
        if fallback_floor is not None and not -1.0 <= fallback_floor <= 1.0:
            raise ValueError(
                f"fallback_floor is a cosine similarity in [-1, 1], got {fallback_floor}"
            )
        self.fallback = fallback
        self.fallback_floor = fallback_floor
        self.fallback_quoted = fallback_quoted
        self.threshold = threshold
        self.provenance = provenance
        self.max_per_sentence = max_per_sentence
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
        # provenance matching only: it embeds for moving an image off a full sentence, with the
        # same embedder (loaded once per process by name)
        self._anchored = AnchoredInserter(
            max_per_sentence=max_per_sentence,
            threshold=threshold,
            fallback=0,
            embedder=self._embedder,
        )

    def use_backend(self, backend: str | None) -> None:
        super().use_backend(backend)
        self._anchored.use_backend(backend)  # the same name: the same loaded embedder

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
        notes: list[str] = []
        if len(unique) < len(candidates):
            notes.append("duplicate candidate ids were considered once")
        refs = figure_references(answer, unique)
        # provenance settles the images with source text and those the answer names by number
        # ("Figure 3.2"); one whose number the answer does not name while it names others is out
        sourced = [
            bool(c.context_before or c.context_after) or i in refs.placed
            for i, c in enumerate(unique)
        ]
        settled = Placement()
        if self.provenance and any(sourced):
            settled = self._anchored.insert(
                answer, tuple(c for c, s in zip(unique, sourced, strict=True) if s)
            )
            notes += settled.notes
            if settled.slots and all(sourced):  # provenance settled everything: no embedding
                self.last_timing["total_ms"] = 1000 * (time.perf_counter() - t0)
                return Placement(slots=settled.slots, notes=tuple(notes))
        texts = candidate_texts(answer, unique)
        vecs = self._vectors(texts.all)
        t1 = time.perf_counter()
        feats = option_features(answer, unique, vecs, texts, profile=self.profile)
        fwd = self.policy.forward(OptionBatch.from_features([feats]))
        slots = np.argmax(fwd.slot_logp, axis=-1)
        actions = np.where(fwd.keep_logit >= 0, slots, LEAVE)
        if self.provenance:
            actions[np.array(sourced)] = LEAVE  # provenance decided these (above)
        actions[sorted(refs.excluded)] = LEAVE
        if self.fallback and not settled.slots and not (actions != LEAVE).any():
            allowed = np.array([i not in refs.excluded for i in range(len(unique))], dtype=bool)
            sources = [s.source for s in answer.sentences if s.source is not None]
            quoted = {src.doc_id for src in sources}
            if self.fallback_quoted and sources and all(src.title for src in sources):
                allowed &= np.array([c.doc_id in (None, *quoted) for c in unique], dtype=bool)
            elsewhere = np.array([c.doc_id not in (None, *quoted) for c in unique], dtype=bool)
            if not quoted:
                elsewhere[:] = False
            kept = self._closest(vecs, len(texts.sentences), fwd.keep_logit, allowed, elsewhere)
            actions[kept] = slots[kept]
            if kept:
                notes.append(
                    f"learned inserter: no image placed; {len(kept)} the policy came closest "
                    "to keeping placed"
                )
        # no stacks: the policy's images join a sentence only while it has room, surest first
        count = Counter(s.after_sentence for s in settled.slots)
        chosen = [(s.after_sentence, 0, s.image_id) for s in settled.slots]
        capped = 0
        for i in sorted(np.flatnonzero(actions != LEAVE), key=lambda i: -fwd.keep_logit[i]):
            after = int(actions[i])
            if self.provenance and count[after] >= self.max_per_sentence:
                capped += 1
                continue
            count[after] += 1
            chosen.append((after, 1 + int(i), unique[i].image_id))
        chosen.sort()
        if capped:
            notes.append(
                f"learned inserter: at most {self.max_per_sentence} images after one sentence; "
                f"{capped} left out"
            )
        t2 = time.perf_counter()
        self.last_timing = {
            "embed_ms": 1000 * (t1 - t0),
            "policy_ms": 1000 * (t2 - t1),
            "total_ms": 1000 * (t2 - t0),
        }
        return Placement(
            slots=tuple(Slot(image_id, after) for after, _, image_id in chosen),
            notes=tuple(notes),
        )

    def _closest(
        self,
        vecs: np.ndarray,
        n: int,
        keep_logit: np.ndarray,
        allowed: np.ndarray,
        elsewhere: np.ndarray,
    ) -> list[int]:
        """Up to ``fallback`` of the ``allowed`` candidates with the highest keep score whose
        text is at least ``threshold`` like some sentence (``fallback_floor`` for those from
        documents the answer does not quote, ``elsewhere``) and like the question (``vecs``:
        sentences, candidates, question, as :func:`~m2io.learned.features.candidate_texts`
        orders them)."""
        sent, cand, question = vecs[:n], vecs[n:-1], vecs[-1]
        floor = np.full(len(cand), self.threshold, dtype=np.float32)
        if self.fallback_floor is not None:
            floor[elsewhere] = max(self.threshold, self.fallback_floor)
        like_sentence = (cand @ sent.T).max(axis=1) >= floor
        like_question = cand @ question >= self.threshold
        ok = np.flatnonzero(like_sentence & like_question & cand.any(axis=1) & allowed)
        return [int(i) for i in ok[np.argsort(-keep_logit[ok], kind="stable")][: self.fallback]]
