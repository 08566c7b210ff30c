"""The learned inserter's option features as computed before they were made cheaper (issue 24,
item 2, 2026-12-08c): one scalar step per feature, kept here only so that
tests/test_features_identical.py can check that :func:`m2io.learned.features.option_features`
still gives the same arrays, bit for bit. Not imported by the package."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from m2io.learned.cues import sentence_cues
from m2io.learned.features import (
    _CLEAR,
    _MIN_WORDS,
    KEEP_FEATURES,
    N_KEEP,
    N_SLOT,
    SLOT_FEATURES,
    ItemTexts,
    OptionFeatures,
    _zscore,
    candidate_texts,
)
from m2io.learned.profile import KINDS, NEUTRAL, CorpusProfile, boundary_kinds
from m2io.text import tokenize
from m2io.types import Candidate, TextAnswer


def _lexical(caption: str, sentence_words: Sequence[set[str]]) -> np.ndarray:
    """Share of the caption's word types found in each sentence."""
    cap = set(tokenize(caption))
    if not cap:
        return np.zeros(len(sentence_words), dtype=np.float32)
    return np.array([len(cap & words) / len(cap) for words in sentence_words], dtype=np.float32)


def _containment(sentence_words: Sequence[set[str]], context: str) -> np.ndarray:
    """Share of each sentence's word types found in ``context`` (0 for very short sentences)."""
    ctx = set(tokenize(context))
    if not ctx:
        return np.zeros(len(sentence_words), dtype=np.float32)
    return np.array(
        [len(w & ctx) / len(w) if len(w) >= _MIN_WORDS else 0.0 for w in sentence_words],
        dtype=np.float32,
    )


def _provenance(
    answer: TextAnswer, candidates: Sequence[Candidate], words: Sequence[set[str]]
) -> dict[str, np.ndarray]:
    """Where-it-came-from signals: per (candidate, sentence) ``src`` (the sentence was taken from
    the candidate's chunk), ``ctx_before``/``ctx_after`` (the sentence's words found in the text
    just above/below the image); per candidate the retrieval rank and score."""
    k, n = len(candidates), len(words)
    src = np.zeros((k, n), dtype=np.float32)
    before = np.zeros((k, n), dtype=np.float32)
    after = np.zeros((k, n), dtype=np.float32)
    sources = [s.source_chunk_id for s in answer.sentences]
    for i, c in enumerate(candidates):
        if c.chunk_id is not None:
            src[i] = [float(s == c.chunk_id) for s in sources]
        before[i] = _containment(words, c.context_before)
        after[i] = _containment(words, c.context_after)
    retrieved = np.array([c.chunk_id is not None for c in candidates], dtype=bool)
    scores = np.array([c.score for c in candidates], dtype=np.float32)
    return {"src": src, "before": before, "after": after, "retrieved": retrieved, "score": scores}


def reference_option_features(
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
    words = [set(tokenize(s)) for s in texts.sentences]
    lex = np.stack([_lexical(t, words) for t in texts.candidates]) if k else sims
    cues = sentence_cues(texts.sentences)
    col_best = (sims >= sims.max(axis=0, keepdims=True) - 1e-6) & (sims > 0)  # best candidate
    q_sim = (cand @ question).astype(np.float32)
    q_sim[empty] = 0.0
    q_z = _zscore(q_sim)
    prov = _provenance(answer, candidates, words)
    adjacent = np.einsum("nd,nd->n", sent[:-1], sent[1:]) if n > 1 else np.zeros(0)

    x = np.zeros((k, n + 1, N_SLOT), dtype=np.float32)
    j = np.arange(n + 1)
    has_prev, has_next = j > 0, j < n
    prev_idx, next_idx = np.clip(j - 1, 0, n - 1), np.clip(j, 0, n - 1)
    prev2_idx, next2_idx = np.clip(j - 2, 0, n - 1), np.clip(j + 1, 0, n - 1)
    has_prev2, has_next2 = j > 1, j < n - 1

    def pick(values: np.ndarray, idx: np.ndarray, mask: np.ndarray, fill: float = 0.0):
        return np.where(mask, values[..., idx], fill)

    s_prev, s_next = pick(sims, prev_idx, has_prev), pick(sims, next_idx, has_next)
    colon_prev = pick(cues[:, 0], prev_idx, has_prev)
    heading_next = pick(cues[:, 4], next_idx, has_next)
    legend_next = pick(cues[:, 5], next_idx, has_next)
    empty_col = empty.astype(np.float32)[:, None]
    best_next = pick((ranks == 0).astype(np.float32), next_idx, has_next)
    best_prev = pick((ranks == 0).astype(np.float32), prev_idx, has_prev)
    fwd_prev = pick(cues[:, 6], prev_idx, has_prev)
    back_next = pick(cues[:, 7], next_idx, has_next)
    q_sent = (sent @ question).astype(np.float32)
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
    prior = boundary_kinds(texts.sentences, headings=False) * lift  # (n + 1, 4)
    columns = {
        "slot_bias": np.ones(n + 1),
        "sim_prev": s_prev,
        "sim_next": s_next,
        "margin_prev": pick(sims - best, prev_idx, has_prev, -1.0),
        "margin_next": pick(sims - best, next_idx, has_next, -1.0),
        "best_prev": best_prev,
        "best_next": best_next,
        "inv_rank_prev": pick(1.0 / (1.0 + ranks), prev_idx, has_prev),
        "inv_rank_next": pick(1.0 / (1.0 + ranks), next_idx, has_next),
        "sim_prev2": pick(sims, prev2_idx, has_prev2),
        "sim_next2": pick(sims, next2_idx, has_next2),
        "lex_prev": pick(lex, prev_idx, has_prev),
        "lex_next": pick(lex, next_idx, has_next),
        "doc_pos_gap": np.where(np.isnan(gap), 0.0, gap),
        "doc_rank_gap": np.where(known[:, None], np.abs(rel[None, :] - doc_rank[:, None]), 0.0),
        "colon_prev": colon_prev,
        "cue_prev": pick(cues[:, 1], prev_idx, has_prev),
        "ui_prev": pick(cues[:, 2], prev_idx, has_prev),
        "short_prev": pick(cues[:, 3], prev_idx, has_prev),
        "heading_next": heading_next,
        "short_next": pick(cues[:, 3], next_idx, has_next),
        "legend_prev": pick(cues[:, 5], prev_idx, has_prev),
        "legend_next": legend_next,
        "topic_break": np.where(
            has_prev & has_next, 1.0 - adjacent[np.clip(j - 1, 0, max(n - 2, 0))], 0.0
        )
        if n > 1
        else np.zeros(n + 1),
        "cand_best_next": pick(col_best.astype(np.float32), next_idx, has_next),
        "cand_best_prev": pick(col_best.astype(np.float32), prev_idx, has_prev),
        "colon_x_best_next": colon_prev * best_next,
        "colon_x_sim_near": colon_prev * np.maximum(s_prev, s_next),
        "empty_x_legend_next": empty_col * legend_next,
        "empty_x_colon_prev": empty_col * colon_prev,
        "src_prev": pick(prov["src"], prev_idx, has_prev),
        "src_next": pick(prov["src"], next_idx, has_next),
        "ctx_prev": pick(prov["before"], prev_idx, has_prev),
        "ctx_next": pick(prov["after"], next_idx, has_next),
        "fwd_prev": fwd_prev,
        "back_next": back_next,
        "step_prev": pick(cues[:, 8], prev_idx, has_prev),
        "step_next": pick(cues[:, 8], next_idx, has_next),
        "fwd_x_sim_prev": fwd_prev * s_prev,
        "fwd_x_best_prev": fwd_prev * best_prev,
        "plain_x_best_next": (1.0 - fwd_prev) * best_next,
        "back_x_sim_next": back_next * s_next,
        "q_sent_prev": pick(q_sent, prev_idx, has_prev),
        "q_sent_next": pick(q_sent, next_idx, has_next),
        "prior_start": prior[:, 0],
        "prior_forward": prior[:, 1],
        "prior_back": prior[:, 2],
        "prior_end": prior[:, 3],
        "prior_sum": prior.sum(axis=1),
    }
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
        "ctx_best": np.maximum(prov["before"], prov["after"]).max(axis=1) if n else np.zeros(k),
        "n_forward_refs": np.full(k, min(float(cues[:, 6].sum()), 5.0) / 5.0),
        "sim_clears": (max_sim >= _CLEAR).astype(np.float32),
        "inv_candidates": np.full(k, 1.0 / max(k, 1)),
        "doc_quoted": doc_quoted,
    }
    z = np.stack([np.asarray(keep[name], dtype=np.float32) for name in KEEP_FEATURES], axis=1)
    return OptionFeatures(x, z.reshape(k, N_KEEP))
