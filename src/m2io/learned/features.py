"""Features of the learned inserter: one vector per (candidate image, option).

For a candidate image ``i`` and an answer of ``n`` sentences, the options are the slots
``j = 0..n`` ("after sentence j", 0 = before the first) and "leave the image out". A slot is
described by the sentence it follows (``prev`` = sentence j) and the one it precedes
(``next`` = sentence j+1): their similarity to the image's caption, how that ranks among the
answer's sentences, lexical overlap, figure references ("as shown below", "the following
figure", a sentence ending with ":" before the slot; "the figure above" after it), numbered
steps, heading-like and legend-like sentences (the local shape of the text), how close each
neighbour is to the question, and the image's position in its source document. Nothing names
one manual's layout: what a corpus's authors habitually do (a figure under each heading, or after
each announcement) enters only through the corpus's own profile (:mod:`m2io.learned.profile`),
measured on its documents, times the slot's kind (``prior_*``). "Leave out" is described by
candidate-level statistics: how well the caption matches the answer and the question compared
with the *other* candidates (distractors match worse).

Inside a pipeline, candidates also carry where they came from, and the policy uses it: the
retrieval rank of the image's chunk, whether answer sentences were taken from that chunk
(``Sentence.source_chunk_id``; extractive generators and attributing LLM generators set it), and
how much of a sentence reappears in the text just above or below the image in its source
(``context_before``/``context_after``). In inserter-only items these are absent (no chunk,
no context) and the features are 0, so one policy serves both settings.

The policy (:mod:`m2io.learned.policy`) scores slots from the slot features and decides
keep/leave from the candidate features.

Example::

    texts = candidate_texts(answer, candidates)
    vecs = embedder.encode(texts.all)
    f = option_features(answer, candidates, vecs, texts)
    f.slots.shape, f.keep.shape          # (K, n + 1, N_SLOT), (K, N_KEEP)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from m2io.embed.text import image_text
from m2io.learned.cues import (
    sentence_cues,
)
from m2io.learned.profile import KINDS, NEUTRAL, CorpusProfile, boundary_kinds
from m2io.text import tokenize
from m2io.types import Candidate, TextAnswer

FEATURE_VERSION = 3

SLOT_FEATURES = (
    "slot_bias",
    "sim_prev",
    "sim_next",
    "margin_prev",
    "margin_next",
    "best_prev",
    "best_next",
    "inv_rank_prev",
    "inv_rank_next",
    "sim_prev2",
    "sim_next2",
    "lex_prev",
    "lex_next",
    "doc_pos_gap",
    "doc_rank_gap",
    "colon_prev",
    "cue_prev",
    "ui_prev",
    "short_prev",
    "heading_next",
    "short_next",
    "legend_prev",
    "legend_next",
    "topic_break",
    "cand_best_next",
    "cand_best_prev",
    "colon_x_best_next",
    "colon_x_sim_near",
    "empty_x_legend_next",
    "empty_x_colon_prev",
    "src_prev",
    "src_next",
    "ctx_prev",
    "ctx_next",
    "fwd_prev",
    "back_next",
    "step_prev",
    "step_next",
    "fwd_x_sim_prev",
    "fwd_x_best_prev",
    "plain_x_best_next",
    "back_x_sim_next",
    "q_sent_prev",
    "q_sent_next",
    "prior_start",
    "prior_forward",
    "prior_back",
    "prior_end",
    "prior_sum",
)
KEEP_FEATURES = (
    "keep_bias",
    "max_sim",
    "max_sim_z",
    "max_sim_rank",
    "mean_sim",
    "mean_sim_z",
    "question_sim",
    "question_sim_z",
    "max_lex",
    "caption_empty",
    "n_candidates",
    "retrieved",
    "retrieval_rr",
    "retrieval_score_z",
    "src_share",
    "src_any",
    "ctx_best",
    "n_forward_refs",
    "sim_clears",
    "inv_candidates",
    "doc_quoted",
)
FEATURE_NAMES = SLOT_FEATURES + KEEP_FEATURES
N_SLOT = len(SLOT_FEATURES)
N_KEEP = len(KEEP_FEATURES)

_Z_EPS = 0.05
_CLEAR = 0.4  # the Rule-Based baseline's similarity threshold
_MIN_WORDS = 3  # shorter sentences ("Note.") are found in any context


def candidate_text(c: Candidate) -> str:
    """What stands for an image: :func:`m2io.embed.text.image_text` (caption, then the nearest
    source text when known), the text the rule inserter and the index embed too, so a pipeline
    reuses the index's stored image vectors and an evaluation embeds each text once."""
    return image_text(c)


@dataclass(frozen=True)
class ItemTexts:
    """The texts to embed for one decision, in the order :func:`option_features` expects."""

    sentences: tuple[str, ...]
    candidates: tuple[str, ...]
    question: str

    @property
    def all(self) -> list[str]:
        """Sentences, then candidate texts, then the question (empty texts included)."""
        return [*self.sentences, *self.candidates, self.question]


def candidate_texts(answer: TextAnswer, candidates: Sequence[Candidate]) -> ItemTexts:
    return ItemTexts(
        sentences=tuple(s.text for s in answer.sentences),
        candidates=tuple(candidate_text(c) for c in candidates),
        question=answer.question,
    )


def _word_set(text: str) -> set[str]:
    return set(tokenize(text))


def _word_overlaps(
    texts: ItemTexts, candidates: Sequence[Candidate]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per (candidate, sentence), each ``(K, n)`` float32: the share of the candidate text's word
    types found in the sentence (``lex``), and the share of the sentence's word types found in
    the text just above / below the image (0 for sentences under ``_MIN_WORDS`` word types).

    The sentences are a sentences x vocabulary 0/1 matrix and every other text a row of marks
    over that vocabulary, so all the shared-word counts are one product (integer counts: the
    shares are the divisions done one pair at a time before, to the bit)."""
    words = [_word_set(s) for s in texts.sentences]
    vocab: dict[str, int] = {}
    cells = [(i, vocab.setdefault(w, len(vocab))) for i, ws in enumerate(words) for w in ws]
    matrix = np.zeros((len(words), len(vocab)), dtype=np.float64)
    if cells:
        matrix[tuple(np.array(cells).T)] = 1.0
    others = [_word_set(t) for t in texts.candidates]
    others += [_word_set(c.context_before) for c in candidates]
    others += [_word_set(c.context_after) for c in candidates]
    rows: list[int] = []
    cols: list[int] = []
    known = vocab.keys()
    for r, t in enumerate(others):
        common = [vocab[w] for w in t & known]
        cols += common
        rows += [r] * len(common)
    marks = np.zeros((len(others), len(vocab)), dtype=np.float64)
    marks[rows, cols] = 1.0
    shared = marks @ matrix.T  # (3K, n) counts
    k = len(texts.candidates)
    sizes = np.array([len(w) for w in others[:k]], dtype=np.float64)
    lex = (shared[:k] / np.maximum(sizes, 1.0)[:, None]).astype(np.float32)
    lengths = np.array([len(w) for w in words], dtype=np.float64)
    counted = lengths >= _MIN_WORDS
    ctx = np.where(counted, shared[k:] / np.where(counted, lengths, 1.0), 0.0).astype(np.float32)
    return lex, ctx[:k], ctx[k:]


def _provenance(
    answer: TextAnswer, candidates: Sequence[Candidate], n: int
) -> dict[str, np.ndarray]:
    """Where-it-came-from signals: per (candidate, sentence) ``src`` (the sentence was taken from
    the candidate's chunk); per candidate the retrieval rank and score."""
    src = np.zeros((len(candidates), n), dtype=np.float32)
    sources = [s.source_chunk_id for s in answer.sentences]
    for i, c in enumerate(candidates):
        if c.chunk_id is not None:
            src[i] = [s == c.chunk_id for s in sources]
    retrieved = np.array([c.chunk_id is not None for c in candidates], dtype=bool)
    scores = np.array([c.score for c in candidates], dtype=np.float32)
    return {"src": src, "retrieved": retrieved, "score": scores}


def _zscore(values: np.ndarray) -> np.ndarray:
    if len(values) < 2:
        return np.zeros_like(values)
    return (values - values.mean()) / (values.std() + _Z_EPS)


@dataclass(frozen=True)
class OptionFeatures:
    """Features of one decision: ``slots`` ``(K, n + 1, N_SLOT)``, ``keep`` ``(K, N_KEEP)``."""

    slots: np.ndarray
    keep: np.ndarray


def option_features(
    answer: TextAnswer,
    candidates: Sequence[Candidate],
    vectors: np.ndarray,
    texts: ItemTexts | None = None,
    *,
    profile: CorpusProfile | None = None,
) -> OptionFeatures:
    """Feature tensor of one decision.

    Args:
        answer: The answer, split into ``n`` sentences (``n`` >= 1).
        candidates: The ``K`` candidate images.
        vectors: L2-normalised embeddings of ``texts.all`` (sentences, candidates, question).
        texts: The texts behind ``vectors``; recomputed from ``answer``/``candidates`` if None.
        profile: Where the corpus's images usually sit (:mod:`m2io.learned.profile`); None
            is neutral (the ``prior_*`` features are 0).

    Returns:
        Slot features ``(K, n + 1, N_SLOT)`` (slot j = after sentence j) and keep/leave
        features ``(K, N_KEEP)``.
    """
    texts = texts or candidate_texts(answer, candidates)
    n, k = len(texts.sentences), len(texts.candidates)
    if n == 0:
        raise ValueError("option_features needs at least one sentence")
    if vectors.shape[0] != n + k + 1:
        raise ValueError(f"expected {n + k + 1} vectors, got {vectors.shape[0]}")
    sent, cand, question = vectors[:n], vectors[n : n + k], vectors[n + k]
    empty = np.array([not t for t in texts.candidates], dtype=bool)
    sims = (cand @ sent.T).astype(np.float32)  # (K, n)
    sims[empty] = 0.0
    best = sims.max(axis=1, keepdims=True)
    ranks = np.argsort(np.argsort(-sims, axis=1, kind="stable"), axis=1)  # 0 = most similar
    lex, ctx_before, ctx_after = _word_overlaps(texts, candidates)
    if not k:
        lex = sims
    cues = sentence_cues(texts.sentences)
    col_best = (sims >= sims.max(axis=0, keepdims=True) - 1e-6) & (sims > 0)  # best candidate
    q_sim = (cand @ question).astype(np.float32)
    q_sim[empty] = 0.0
    q_z = _zscore(q_sim)
    prov = _provenance(answer, candidates, n)
    adjacent = np.einsum("nd,nd->n", sent[:-1], sent[1:]) if n > 1 else np.zeros(0)

    j = np.arange(n + 1)
    q_sent = (sent @ question).astype(np.float32)
    # every feature of the sentence before / after a slot, as one (feature, K, n) array gathered
    # at the slots at once; float32, the type each was stored in one at a time
    per_sentence = {
        "sim": sims,
        "margin": sims - best,
        "best": (ranks == 0).astype(np.float32),
        "inv_rank": 1.0 / (1.0 + ranks),
        "lex": lex,
        "col_best": col_best,
        "src": prov["src"],
        "before": ctx_before,
        "after": ctx_after,
        "q_sent": np.broadcast_to(q_sent, (k, n)),
        **{f"cue{c}": np.broadcast_to(cues[:, c], (k, n)) for c in range(cues.shape[1])},
    }
    names = list(per_sentence)
    stacked = np.empty((len(names), k, n), dtype=np.float32)
    for f, name in enumerate(names):
        stacked[f] = per_sentence[name]
    fill = np.array([-1.0 if name == "margin" else 0.0 for name in names], dtype=np.float32)

    def near(offset: int) -> dict[str, np.ndarray]:
        """Each feature of sentence ``j + offset`` at slot ``j`` (0-based sentences; slot j
        follows sentence j - 1), ``fill`` where there is no such sentence."""
        at = j + offset
        has = (at >= 0) & (at < n)
        got = np.where(has, stacked[:, :, np.clip(at, 0, n - 1)], fill[:, None, None])
        return dict(zip(names, got, strict=True))

    prev, nxt = near(-1), near(0)
    s_prev, s_next = prev["sim"], nxt["sim"]
    colon_prev, fwd_prev, back_next = prev["cue0"], prev["cue6"], nxt["cue7"]
    best_prev, best_next = prev["best"], nxt["best"]
    legend_next = nxt["cue5"]
    empty_col = empty.astype(np.float32)[:, None]
    doc_pos = np.array(
        [c.doc_position if c.doc_position is not None else np.nan for c in candidates],
        dtype=np.float32,
    )
    rel = j / n
    gap = np.abs(rel[None, :] - doc_pos[:, None])
    known = ~np.isnan(doc_pos)
    doc_rank = np.zeros(k, dtype=np.float32)
    if known.sum() > 1:
        r = np.argsort(np.argsort(doc_pos[known], kind="stable"), kind="stable")
        doc_rank[known] = r / (known.sum() - 1)
    lift = np.array([(profile or NEUTRAL).lift[kind] for kind in KINDS], dtype=np.float32)
    # an answer is one section (its heading became the question): slot 0 is its start
    prior = boundary_kinds(texts.sentences, headings=False, cues=cues) * lift  # (n + 1, 4)
    has_prev, has_next = j > 0, j < n
    columns = {
        "slot_bias": np.ones(n + 1),
        "sim_prev": s_prev,
        "sim_next": s_next,
        "margin_prev": prev["margin"],
        "margin_next": nxt["margin"],
        "best_prev": best_prev,
        "best_next": best_next,
        "inv_rank_prev": prev["inv_rank"],
        "inv_rank_next": nxt["inv_rank"],
        "sim_prev2": near(-2)["sim"],
        "sim_next2": near(1)["sim"],
        "lex_prev": prev["lex"],
        "lex_next": nxt["lex"],
        "doc_pos_gap": np.where(np.isnan(gap), 0.0, gap),
        "doc_rank_gap": np.where(known[:, None], np.abs(rel[None, :] - doc_rank[:, None]), 0.0),
        "colon_prev": colon_prev,
        "cue_prev": prev["cue1"],
        "ui_prev": prev["cue2"],
        "short_prev": prev["cue3"],
        "heading_next": nxt["cue4"],
        "short_next": nxt["cue3"],
        "legend_prev": prev["cue5"],
        "legend_next": legend_next,
        "topic_break": np.where(
            has_prev & has_next, 1.0 - adjacent[np.clip(j - 1, 0, max(n - 2, 0))], 0.0
        )
        if n > 1
        else np.zeros(n + 1),
        "cand_best_next": nxt["col_best"],
        "cand_best_prev": prev["col_best"],
        "colon_x_best_next": colon_prev * best_next,
        "colon_x_sim_near": colon_prev * np.maximum(s_prev, s_next),
        "empty_x_legend_next": empty_col * legend_next,
        "empty_x_colon_prev": empty_col * colon_prev,
        "src_prev": prev["src"],
        "src_next": nxt["src"],
        "ctx_prev": prev["before"],
        "ctx_next": nxt["after"],
        "fwd_prev": fwd_prev,
        "back_next": back_next,
        "step_prev": prev["cue8"],
        "step_next": nxt["cue8"],
        "fwd_x_sim_prev": fwd_prev * s_prev,
        "fwd_x_best_prev": fwd_prev * best_prev,
        "plain_x_best_next": (1.0 - fwd_prev) * best_next,
        "back_x_sim_next": back_next * s_next,
        "q_sent_prev": prev["q_sent"],
        "q_sent_next": nxt["q_sent"],
        "prior_start": prior[:, 0],
        "prior_forward": prior[:, 1],
        "prior_back": prior[:, 2],
        "prior_end": prior[:, 3],
        "prior_sum": prior.sum(axis=1),
    }
    x = np.empty((k, n + 1, N_SLOT), dtype=np.float32)
    for f, name in enumerate(SLOT_FEATURES):
        x[:, :, f] = columns[name]

    max_sim = sims.max(axis=1) if k else np.zeros(0)
    quoted_chunks = {s.source_chunk_id for s in answer.sentences}
    quoted_docs = {c.doc_id for c in candidates if c.chunk_id and c.chunk_id in quoted_chunks}
    doc_quoted = np.array(
        [c.chunk_id is not None and c.doc_id in quoted_docs for c in candidates], dtype=np.float32
    )
    mean_sim = sims.mean(axis=1) if k else np.zeros(0)
    order = np.argsort(np.argsort(-max_sim, kind="stable"), kind="stable")
    keep = {
        "keep_bias": np.ones(k),
        "max_sim": max_sim,
        "max_sim_z": _zscore(max_sim),
        "max_sim_rank": order / max(k - 1, 1),
        "mean_sim": mean_sim,
        "mean_sim_z": _zscore(mean_sim),
        "question_sim": q_sim,
        "question_sim_z": q_z,
        "max_lex": lex.max(axis=1) if k else np.zeros(0),
        "caption_empty": empty.astype(np.float32),
        "n_candidates": np.full(k, min(k, 20) / 10.0),
        # candidates come in retrieval order inside a pipeline (rank 0 = best chunk)
        "retrieved": prov["retrieved"].astype(np.float32),
        "retrieval_rr": prov["retrieved"] / (1.0 + np.arange(k)),
        "retrieval_score_z": np.where(prov["retrieved"], _zscore(prov["score"]), 0.0),
        "src_share": prov["src"].mean(axis=1) if n else np.zeros(k),
        "src_any": prov["src"].max(axis=1) if n else np.zeros(k),
        "ctx_best": np.maximum(ctx_before, ctx_after).max(axis=1) if n else np.zeros(k),
        "n_forward_refs": np.full(k, min(float(cues[:, 6].sum()), 5.0) / 5.0),
        "sim_clears": (max_sim >= _CLEAR).astype(np.float32),
        "inv_candidates": np.full(k, 1.0 / max(k, 1)),
        "doc_quoted": doc_quoted,
    }
    z = np.stack([np.asarray(keep[name], dtype=np.float32) for name in KEEP_FEATURES], axis=1)
    return OptionFeatures(x, z.reshape(k, N_KEEP))
