"""Provenance matching over arrays gives the scalar definitions' scores, pair for pair."""

from __future__ import annotations

import random
from collections import Counter

import numpy as np

from m2io.inserters.anchored import AnchoredInserter, AnswerWords, match_score
from m2io.text import tokenize
from m2io.types import Candidate, ImageRef, Sentence, TextAnswer

WORDS = "open the layer dialog click ok image menu select tool crop scale a an to of".split()


def _text(rng: random.Random, lo: int, hi: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(lo, hi))) + "."


def _answer(rng: random.Random, n: int) -> TextAnswer:
    return TextAnswer("q?", tuple(Sentence(_text(rng, 0, 14)) for _ in range(n)))


def test_piece_scores_equal_match_score_for_every_pair() -> None:
    rng = random.Random(7)
    for _ in range(40):
        words = AnswerWords.of(_answer(rng, rng.randint(1, 9)))
        pieces = [tokenize(_text(rng, 0, 16)) for _ in range(rng.randint(0, 6))]
        pieces.append(list(words.tokens[: words.ends[0]]))  # an exact quote scores 1.0
        got = words.matrix.scores(pieces)
        want = [[match_score(s, Counter(p)) for s in words.sentences] for p in pieces]
        assert got.shape == (len(pieces), len(words.sentences))
        assert got.tolist() == want  # exactly: the same arithmetic, the same placements
    assert got[-1, 0] == (1.0 if words.sentences[0] else 0.0)


def test_boundary_scores_equal_boundary_score_at_every_sentence() -> None:
    rng = random.Random(11)
    hits = 0
    for _ in range(60):
        answer = _answer(rng, rng.randint(1, 8))
        words = AnswerWords.of(answer)
        context = tokenize(_text(rng, 0, 20))
        if rng.random() < 0.5 and words.tokens:  # a context that ends where a sentence ends
            context = context + list(words.tokens[: words.ends[-1]])
        for before in (True, False):
            got = words.matrix.boundary(context, before=before)
            want = [
                words.boundary_score(context, i, before=before) for i in range(len(words.sentences))
            ]
            assert got.tolist() == want
            hits += sum(w > 0 for w in want)
    assert hits  # some boundaries agree, so the shared share was compared too


def test_anchors_of_all_candidates_match_one_at_a_time() -> None:
    steps = ("Open the Layers dialog.", "Click the eye icon to hide a layer.", "Press OK.")
    answer = TextAnswer("How?", tuple(Sentence(s) for s in steps))
    shot = Candidate(ImageRef("a"), context_before="Intro text. " + steps[1], doc_id="d")
    after = Candidate(ImageRef("b"), context_after=steps[2] + " More text.", doc_id="d")
    none = Candidate(ImageRef("c"), context_before="Something else entirely here now.")
    ins, words = AnchoredInserter(), AnswerWords.of(answer)
    batch = ins.anchors([shot, after, none], words, skip=frozenset({2}))
    assert [a.after_sentence if a else None for a in batch] == [2, 2, None]
    assert [ins.anchor(c, words) for c in (shot, after)] == batch[:2]
    assert np.isclose(batch[0].score, 1.0)
