"""The cheaper :func:`m2io.learned.features.option_features` gives the trained policy the same
inputs as before, bit for bit: compared with the reference copy in tests/features_reference.py
on random answers (words with capitals and non-ASCII letters, colons, figure references, steps,
candidates with and without chunk, context, caption, position) and, where the dev data is on
the machine, on real GIMP dev answers (slow)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from features_reference import reference_option_features

from m2io.learned.features import _word_set, candidate_texts, option_features
from m2io.learned.profile import KINDS, CorpusProfile
from m2io.text import tokenize
from m2io.types import Candidate, ImageRef, Sentence, TextAnswer

WORDS = (
    "Levels dialog Layer mask crop İmage Kelvin K straße Œuvre café naïve 3.2 GIMP's "
    "colour color brush tool window menu options the a of to as shown below figure Figure 2 "
    "following: Click Select Open File > Export… step 1. 2) above Original Result"
).split()
PROFILE = CorpusProfile(lift={kind: 0.3 * (i - 1.5) for i, kind in enumerate(KINDS)})


def _sentence(rng: np.random.Generator) -> str:
    text = " ".join(rng.choice(WORDS, size=int(rng.integers(1, 14))))
    return text + str(rng.choice([".", ":", "", "?", " (see the figure below)."]))


def _case(rng: np.random.Generator) -> tuple[TextAnswer, tuple[Candidate, ...], np.ndarray]:
    n, k, dim = int(rng.integers(1, 10)), int(rng.integers(1, 14)), 16
    chunks = [f"c{i}" for i in range(4)]
    sentences = tuple(
        Sentence(_sentence(rng), source_chunk_id=rng.choice([None, *chunks])) for _ in range(n)
    )
    cands = tuple(
        Candidate(
            ImageRef(f"img{i}", caption=_sentence(rng) if rng.random() < 0.8 else ""),
            context_before=" ".join(_sentence(rng) for _ in range(int(rng.integers(0, 5)))),
            context_after=" ".join(_sentence(rng) for _ in range(int(rng.integers(0, 5)))),
            score=float(rng.normal()),
            doc_id=str(rng.choice(["d1", "d2"])),
            chunk_id=rng.choice([None, *chunks]),
            doc_position=float(rng.random()) if rng.random() < 0.7 else None,
        )
        for i in range(k)
    )
    answer = TextAnswer(question=_sentence(rng), sentences=sentences)
    vecs = rng.normal(size=(n + k + 1, dim)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    vecs[n + 1] = vecs[0]  # a caption exactly like a sentence: ties in the ranks
    texts = candidate_texts(answer, cands)
    for i, t in enumerate(texts.candidates):
        if not t:
            vecs[n + i] = 0.0  # as the inserter embeds an empty text
    return answer, cands, vecs


def _same(answer, cands, vecs, profile) -> None:
    old = reference_option_features(answer, cands, vecs, profile=profile)
    new = option_features(answer, cands, vecs, profile=profile)
    for a, b in ((old.slots, new.slots), (old.keep, new.keep)):
        assert a.dtype == b.dtype and a.shape == b.shape
        assert a.tobytes() == b.tobytes(), np.argwhere(a != b)[:5]


@pytest.mark.parametrize("seed", range(6))
def test_random_answers_give_the_same_arrays(seed):
    rng = np.random.default_rng(seed)
    for _ in range(40):
        answer, cands, vecs = _case(rng)
        _same(answer, cands, vecs, PROFILE if rng.random() < 0.5 else None)


def test_the_tokenizer_is_its_regular_expression_on_every_character():
    # every character of the Basic Multilingual Plane (surrogates included) between letters
    # and digits: one that lower-cases to ASCII ("İ", the Kelvin sign) must still split words
    chars = [chr(c) for c in range(0x10000)]
    for start in range(0, len(chars), 4096):
        text = "".join(f"Ab{c}9z" for c in chars[start : start + 4096])
        assert tokenize(text) == [w.lower() for w in re.findall("[A-Za-z0-9]+", text)]


def test_word_sets_are_the_tokenizers():
    for text in (
        "İmage KELVIN Kelvin",
        "Straße ÉTÉ naïve",
        "Export…File>Open",
        "",
        "a-b_c 3.2\tx\x00y",
        "bad \udcff surrogate\u00a0space",
    ):
        assert _word_set(text) == set(tokenize(text))


REPO = Path(__file__).resolve().parents[1]
DEV_DATA, DEV_INDEX = REPO.parent / "shared/bench/gimp", REPO.parent / "idx/dev/gimp"


@pytest.mark.slow
@pytest.mark.skipif(
    not (DEV_DATA.is_dir() and DEV_INDEX.is_dir()), reason="the GIMP dev data is not here"
)
def test_real_gimp_dev_answers_give_the_same_arrays(tmp_path):
    from m2io.config import PipelineConfig
    from m2io.corpus.mramg import load_questions
    from m2io.factory import build_generator, build_retriever
    from m2io.inserters.learned import LearnedInserter

    shutil.copytree(DEV_INDEX, tmp_path / "gimp")  # never written where it lies
    cfg = PipelineConfig()
    cfg.index = str(tmp_path / "gimp")
    retriever, generator = build_retriever(cfg), build_generator(cfg)
    inserter = LearnedInserter(profile=DEV_DATA)
    compared = 0
    for q in load_questions(DEV_DATA, "gimp")[:60]:
        retrieval = retriever.retrieve(q.question)
        answer = generator.generate(q.question, retrieval)
        cands = tuple({c.image_id: c for c in retrieval.candidates}.values())
        if answer.sentences and cands:
            vecs = inserter._vectors(candidate_texts(answer, cands).all)
            _same(answer, cands, vecs, inserter.profile)
            compared += 1
    assert compared >= 50
