"""Features of the learned inserter, on hand-built answers with hand-built vectors."""

from __future__ import annotations

import numpy as np
import pytest
from builders import text_answer

from m2io.learned.features import (
    KEEP_FEATURES,
    N_KEEP,
    N_SLOT,
    SLOT_FEATURES,
    candidate_texts,
    option_features,
)
from m2io.learned.profile import CorpusProfile
from m2io.types import Candidate, ImageRef, Sentence, TextAnswer

ANSWER = text_answer(
    "How do I open the Levels dialog?",
    "Levels adjusts the brightness of an image.",
    "The dialog looks like this:",
    "Input levels",
)
CANDS = (
    Candidate(ImageRef("levels", caption="The Levels dialog"), doc_position=0.4),
    Candidate(ImageRef("blank", caption="")),
)


def _vectors(n_sent: int, rows: dict[int, np.ndarray], dim: int = 8) -> np.ndarray:
    """Sentence k gets unit vector e_k; other rows as given (question = e_7)."""
    vecs = np.zeros((n_sent + len(CANDS) + 1, dim), dtype=np.float32)
    for k in range(n_sent):
        vecs[k, k] = 1.0
    for r, v in rows.items():
        vecs[r] = v
    vecs[-1, 7] = 1.0
    return vecs


def col(name: str) -> int:
    return SLOT_FEATURES.index(name)


def kcol(name: str) -> int:
    return KEEP_FEATURES.index(name)


def test_shapes_and_texts():
    texts = candidate_texts(ANSWER, CANDS)
    assert texts.candidates == ("The Levels dialog", "")
    assert len(texts.all) == 3 + 2 + 1
    cap = np.zeros(8, dtype=np.float32)
    cap[2] = 1.0  # the caption is sentence 3 ("Input levels")
    f = option_features(ANSWER, CANDS, _vectors(3, {3: cap}), texts)
    assert f.slots.shape == (2, 4, N_SLOT)  # K candidates × (n + 1) slots
    assert f.keep.shape == (2, N_KEEP)
    assert np.isfinite(f.slots).all() and np.isfinite(f.keep).all()


def test_slot_values_follow_the_sentences_around_each_slot():
    cap = np.zeros(8, dtype=np.float32)
    cap[2] = 1.0  # identical to sentence 3
    f = option_features(ANSWER, CANDS, _vectors(3, {3: cap}))
    x = f.slots[0]
    # slot j sits after sentence j and before sentence j + 1
    np.testing.assert_allclose(x[:, col("sim_next")], [0, 0, 1, 0])
    np.testing.assert_allclose(x[:, col("sim_prev")], [0, 0, 0, 1])
    np.testing.assert_allclose(x[:, col("best_next")], [0, 0, 1, 0])
    # issue 11: no feature marks "before the first sentence" on its own any more (that was one
    # manual's habit); the slot's kind enters only times the corpus profile (prior_*)
    for gone in ("is_first", "is_last", "rel_pos", "first_x_doc_pos", "first_x_question_z"):
        assert gone not in SLOT_FEATURES
    # "The dialog looks like this:" announces a figure: slot 2 follows it
    np.testing.assert_allclose(x[:, col("colon_prev")], [0, 0, 1, 0])
    np.testing.assert_allclose(x[:, col("cue_prev")], [0, 0, 1, 0])
    np.testing.assert_allclose(x[:, col("colon_x_best_next")], [0, 0, 1, 0])
    np.testing.assert_allclose(x[:, col("heading_next")], [0, 0, 1, 0])  # "Input levels"
    np.testing.assert_allclose(
        x[:, col("doc_pos_gap")], np.abs(np.array([0, 1 / 3, 2 / 3, 1]) - 0.4), rtol=1e-6
    )


def test_empty_caption_is_flagged_and_has_no_similarity():
    f = option_features(ANSWER, CANDS, _vectors(3, {}))
    assert f.keep[1, kcol("caption_empty")] == 1.0
    assert f.keep[0, kcol("caption_empty")] == 0.0
    assert np.all(f.slots[1, :, col("sim_next")] == 0)
    np.testing.assert_allclose(f.slots[1, :, col("empty_x_colon_prev")], [0, 0, 1, 0])


def test_keep_features_compare_candidates():
    good = np.zeros(8, dtype=np.float32)
    good[0] = 1.0  # matches sentence 1
    f = option_features(ANSWER, CANDS, _vectors(3, {3: good}))
    assert f.keep[0, kcol("max_sim")] == pytest.approx(1.0)
    assert f.keep[0, kcol("max_sim_z")] > 0 > f.keep[1, kcol("max_sim_z")]
    assert f.keep[0, kcol("max_sim_rank")] == 0.0
    np.testing.assert_allclose(f.keep[:, kcol("keep_bias")], 1.0)


def test_wrong_number_of_vectors_is_an_error():
    with pytest.raises(ValueError, match="vectors"):
        option_features(ANSWER, CANDS, np.zeros((3, 8), dtype=np.float32))


def test_figure_references_and_steps_mark_their_slots():
    answer = TextAnswer(
        "q",
        (
            Sentence("1. Open the dialog shown below."),
            Sentence("The figure above shows the result."),
            Sentence("2. Click OK."),
        ),
    )
    f = option_features(answer, CANDS, _vectors(3, {}))
    x = f.slots[0]
    np.testing.assert_allclose(x[:, col("fwd_prev")], [0, 1, 0, 0])  # after "shown below"
    np.testing.assert_allclose(x[:, col("back_next")], [0, 1, 0, 0])  # before "figure above"
    np.testing.assert_allclose(x[:, col("step_prev")], [0, 1, 0, 1])
    np.testing.assert_allclose(x[:, col("step_next")], [1, 0, 1, 0])


def test_corpus_profile_turns_slot_kinds_into_priors():
    """A corpus whose figures sit under headings favours slot 0; one that announces them
    favours the slot after the announcement; no profile is neutral."""
    under = CorpusProfile({"start": 1.5, "forward": -1.0, "back": 0.0, "end": 0.0})
    after = CorpusProfile({"start": -2.0, "forward": 1.6, "back": 0.0, "end": 0.0})
    neutral = option_features(ANSWER, CANDS, _vectors(3, {})).slots[0]
    assert not neutral[:, col("prior_sum")].any()
    x = option_features(ANSWER, CANDS, _vectors(3, {}), profile=under).slots[0]
    # slot 0 starts the answer; slot 2 follows "…looks like this:" and precedes the heading-like
    # "Input levels"; slot 3 ends the answer (inside an answer only its ends are start/end)
    np.testing.assert_allclose(x[:, col("prior_start")], [1.5, 0, 0, 0])
    np.testing.assert_allclose(x[:, col("prior_forward")], [0, 0, -1.0, 0])
    assert x[0, col("prior_sum")] == x[:, col("prior_sum")].max() > x[2, col("prior_sum")]
    y = option_features(ANSWER, CANDS, _vectors(3, {}), profile=after).slots[0]
    assert int(np.argmax(y[:, col("prior_sum")])) == 2


# --- provenance: what a pipeline knows about where sentences and images came from -------------

PIPE_ANSWER = TextAnswer(
    "How do I open the Levels dialog?",
    (
        Sentence("Open the Colors menu and pick Levels from the list.", source_chunk_id="d1#0"),
        Sentence("The dialog shows a histogram of the active layer.", source_chunk_id="d1#0"),
        Sentence("Curves is a more flexible tool than Levels.", source_chunk_id="d2#3"),
    ),
)
PIPE_CANDS = (
    Candidate(
        ImageRef("levels", caption="The Levels dialog"),
        context_before="To start, open the Colors menu and pick Levels from the list.",
        context_after="The dialog shows a histogram of the active layer.",
        score=0.9,
        doc_id="d1",
        chunk_id="d1#0",
    ),
    Candidate(ImageRef("other", caption="Curves"), score=0.1, doc_id="d3", chunk_id="d3#1"),
)


def test_provenance_features_mark_the_chunk_and_context_of_an_image():
    f = option_features(PIPE_ANSWER, PIPE_CANDS, _vectors(3, {}))
    x, z = f.slots, f.keep
    # slot 1 = after sentence 1 (found just above the image) and before sentence 2 (just below)
    # (other sentences share a word or two with the context: "the", "of")
    ctx_prev, ctx_next = x[0, :, col("ctx_prev")], x[0, :, col("ctx_next")]
    assert ctx_prev[1] == pytest.approx(1) and ctx_prev[0] == 0 and max(ctx_prev[2:]) < 0.5
    assert ctx_next[1] == pytest.approx(1) and ctx_next[3] == 0 and max(ctx_next[[0, 2]]) < 0.5
    np.testing.assert_allclose(x[0, :, col("src_prev")], [0, 1, 1, 0])
    np.testing.assert_allclose(x[0, :, col("src_next")], [1, 1, 0, 0])
    assert x[1, :, [col("src_prev"), col("ctx_prev"), col("ctx_next")]].sum() == 0
    np.testing.assert_allclose(z[:, kcol("src_share")], [2 / 3, 0], atol=1e-6)
    np.testing.assert_allclose(z[:, kcol("src_any")], [1, 0])
    np.testing.assert_allclose(z[:, kcol("ctx_best")], [1, 0], atol=1e-6)
    np.testing.assert_allclose(z[:, kcol("retrieved")], [1, 1])
    np.testing.assert_allclose(z[:, kcol("retrieval_rr")], [1, 0.5])  # retrieval order
    assert z[0, kcol("retrieval_score_z")] > 0 > z[1, kcol("retrieval_score_z")]


def test_provenance_features_are_zero_without_a_pipeline():
    """Inserter-only candidates (no chunk, no context) leave every provenance feature at 0."""
    f = option_features(ANSWER, CANDS, _vectors(3, {}))
    for name in ("src_prev", "src_next", "ctx_prev", "ctx_next"):
        assert not f.slots[:, :, col(name)].any(), name
    for name in ("retrieved", "retrieval_rr", "retrieval_score_z", "src_share", "ctx_best"):
        assert not f.keep[:, kcol(name)].any(), name


def test_candidate_text_is_what_the_index_embeds():
    from m2io.embed.text import image_text

    texts = candidate_texts(PIPE_ANSWER, PIPE_CANDS)
    assert texts.candidates == tuple(image_text(c) for c in PIPE_CANDS)
    assert "Colors menu" in texts.candidates[0]  # caption + nearest source text
