"""Issue 9, item 3: the default inserter puts each image back where it sat in its source (the
sentence just before it, else the one just after), falls back to similarity only when the source
says nothing, never stacks more than a few images after one sentence, and leaves out images whose
source text is not in the answer."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from builders import EDGES_ANSWER, EDGES_CANDS, BagOfWords, NoEmbedding, candidate, text_answer

from m2io.config import PipelineConfig
from m2io.inserters.anchored import AnchoredInserter
from m2io.inserters.base import INSERTERS
from m2io.inserters.rule import RuleInserter
from m2io.types import Candidate, Sentence, TextAnswer

# The source page, as a retriever cuts it around each image (context up to ~300 characters).
INTRO = "The Crop tool removes the borders of an image."
STEP1 = "1. Open the image and choose Tools > Transform > Crop."
STEP2 = "2. Drag a rectangle over the part of the image you want to keep."
STEP3 = "3. Adjust the handles until the rectangle fits the subject."
STEP4 = "4. Press Enter to crop the image to the rectangle."
OUTRO = "The canvas now has the size of the rectangle."

ANSWER = text_answer("How do I crop an image?", INTRO, STEP1, STEP2, STEP3, STEP4, OUTRO)


def _cand(image_id: str, before: str, after: str, pos: float, caption: str = "") -> Candidate:
    return candidate(
        image_id,
        caption,
        context_before=before,
        context_after=after,
        doc_id="crop",
        doc_position=pos,
    )


# menu: after step 1; rect: after step 2; handles: after step 3; result: before the outro
SOURCE_CANDS = (
    _cand("menu", f"{INTRO} {STEP1}", f"{STEP2} {STEP3}", 0.2, "The Transform menu"),
    _cand("rect", f"{STEP1} {STEP2}", f"{STEP3} {STEP4}", 0.4, "crop_rect.png"),
    _cand("handles", f"{STEP2} {STEP3}", f"{STEP4} {OUTRO}", 0.6),
    _cand("result", "", f"{OUTRO} Save it with File > Export.", 0.9, "The cropped photo"),
)


def _no_embedding() -> NoEmbedding:
    return NoEmbedding("provenance placed every image")


def test_each_image_goes_after_its_source_sentence_without_embedding():
    placement = AnchoredInserter(embedder=_no_embedding()).insert(ANSWER, SOURCE_CANDS)
    assert placement.as_dict() == {"menu": 2, "rect": 3, "handles": 4, "result": 5}
    assert [s.image_id for s in placement.slots] == ["menu", "rect", "handles", "result"]
    assert placement.notes == ()


def test_provenance_survives_light_rewording():
    reworded = text_answer(
        ANSWER.question,
        "Cropping removes the borders of an image.",
        "1. Open the image, then choose Tools > Transform > Crop.",
        "2. Drag a rectangle over the part of the picture that you want to keep.",
        "3. Adjust its handles until the rectangle fits your subject.",
    )
    placement = AnchoredInserter(embedder=_no_embedding()).insert(reworded, SOURCE_CANDS[:3])
    assert placement.as_dict() == {"menu": 2, "rect": 3, "handles": 4}


def test_answer_split_differently_and_repeated_sentences_still_anchor():
    # the answer's splitter cut the source sentence at the menu path; a sentence repeats
    answer = text_answer(
        "How do I enter a bill?",
        "To create a new bill use the",
        "Business → Vendor → New Bill",
        "menu item, and fill in the resulting window.",
        "Your register should now look like this:",
        "Then post the bill to the Accounts Payable account.",
        "Your register should now look like this:",
        "This image shows the register after posting.",
    )
    cands = (
        _cand(
            "new-bill",
            "To create a new bill use the Business → Vendor → New Bill menu item, and fill in "
            "the resulting window.",
            "",
            0.1,
        ),
        _cand(
            "posted",
            "Then post the bill to the Accounts Payable account. Your register should now look "
            "like this:",
            "This image shows the register after posting.",
            0.5,
        ),
        # from elsewhere, sharing only boilerplate with the answer ("This image shows the")
        _cand("other", "Open the Reports menu.", "This image shows the register of reports.", 0.9),
    )
    got = AnchoredInserter(embedder=BagOfWords(), stray_threshold=1.0).insert(answer, cands)
    assert got.as_dict() == {"new-bill": 3, "posted": 6}


def test_image_whose_source_text_is_not_in_the_answer_is_left_out(embedder):
    short = text_answer(ANSWER.question, INTRO, STEP1, STEP2)
    distractors = (
        # from another page: its context shares nothing with the answer, its caption is unrelated
        _cand("cat", "Our cat sleeps all day.", "She likes the sofa best.", 0.5, "A cat on a sofa"),
        # no context at all and an unrelated caption
        candidate("chart", "Quarterly revenue by region"),
    )
    placement = AnchoredInserter(embedder=embedder).insert(short, (*SOURCE_CANDS[:2], *distractors))
    assert placement.as_dict() == {"menu": 2, "rect": 3}


def test_no_stacks_extra_images_move_to_the_step_they_show_or_are_dropped():
    answer = text_answer(
        "How do I set up the printer?",
        "The printer dialog has four tabs for setting up a printer.",
        "The General tab sets the printer name and the default paper size.",
        "The Color tab chooses between color and grayscale printing.",
        "The Quality tab sets the resolution in dots per inch.",
    )
    # every screenshot sat right after the overview sentence in the source page
    before = "The printer dialog has four tabs for setting up a printer."
    shots = (
        _cand("dialog", before, "", 0.10, "The printer dialog"),
        _cand("general", before, "", 0.11, "General tab with printer name and paper size"),
        _cand("color", before, "", 0.12, "Color tab: color or grayscale printing"),
        _cand("quality", before, "", 0.13, "Quality tab: resolution in dots per inch"),
        _cand("misc", before, "", 0.14, "Advanced spooler queue options"),
    )
    placement = AnchoredInserter(embedder=BagOfWords(), max_per_sentence=2).insert(answer, shots)
    got = placement.as_dict()
    per_sentence = [list(got.values()).count(k) for k in range(5)]
    assert max(per_sentence) <= 2
    assert got["dialog"] == 1 and got["general"] == 1  # the first two in source order stay
    assert got["color"] == 3 and got["quality"] == 4  # the rest go to the step they show
    assert "misc" not in got  # similar to nothing nearby: dropped
    assert placement.notes == (
        "anchored inserter: at most 2 images after one sentence; 2 moved to a later sentence, "
        "1 left out",
    )
    # the Rule-Based baseline (unchanged) has no such cap
    assert RuleInserter(threshold=-1.0, embedder=BagOfWords()).insert(answer, shots).slots


def test_images_sharing_a_sentence_keep_their_source_order():
    cands = (
        _cand("second", STEP1, "", 0.3, "b"),
        _cand("first", STEP1, "", 0.2, "a"),
    )
    placement = AnchoredInserter(embedder=_no_embedding()).insert(ANSWER, cands)
    assert [(s.image_id, s.after_sentence) for s in placement.slots] == [
        ("first", 2),
        ("second", 2),
    ]


def test_without_context_it_falls_back_to_similarity(embedder):
    first_two = [s.text for s in EDGES_ANSWER.sentences[:2]]
    answer = text_answer(EDGES_ANSWER.question, *first_two)
    got = AnchoredInserter(embedder=embedder).insert(answer, EDGES_CANDS).as_dict()
    assert got == {"edges": 1, "hist": 2}


def test_anchored_and_rule_stay_one_flag_away_from_the_learned_default():
    # issue 11, item 4: the learned policy (provenance first) is the default inserter
    assert PipelineConfig().inserter.name == "learned"
    assert INSERTERS.get("anchored") is AnchoredInserter
    assert INSERTERS.get("rule") is RuleInserter


@pytest.mark.parametrize(
    "kwargs",
    [
        {"match": 0},
        {"max_per_sentence": 0},
        {"reach": 0},
        {"spread": -1},
        {"threshold": 2},
        {"fallback": -1},
    ],
)
def test_options_are_validated(kwargs):
    with pytest.raises(ValueError):
        AnchoredInserter(**kwargs)


class _Fixed:
    """Cosine 0.5 between the 'lens' image and STEP2, 0.87 with the crop question, 0 with
    everything else."""

    name, dim = "fixed", 3

    def encode(self, texts, **_):
        def vec(t: str) -> list[float]:
            if "lens" in t:
                return [0.5, 0.0, 0.866]
            if t.startswith("How do I crop"):
                return [0.0, 0.0, 1.0]
            return [1.0, 0.0, 0.0] if t == STEP2 else [0.0, 1.0, 0.0]

        return np.array([vec(t) for t in texts], dtype=np.float32)


# Changed for issue 9 (item 8, image F1): an image whose source text is known but not in the
# answer is left out by default, from a quoted chunk too (on the dev manuals about one in six such
# images placed by similarity was a gold one); ``stray_threshold`` brings similarity back.
@pytest.mark.parametrize(
    ("chunk", "stray", "placed"),
    [
        ("crop#0", None, {}),
        ("crop#7", None, {}),
        ("crop#0", 0.4, {"lens": 3}),
        ("crop#7", 0.65, {}),
    ],
)
def test_an_unanchored_image_with_known_source_text_is_left_out_by_default(chunk, stray, placed):
    answer = TextAnswer(
        ANSWER.question, tuple(Sentence(s.text, source_chunk_id="crop#0") for s in ANSWER.sentences)
    )
    lens = candidate(
        "lens",
        "A lens hood",
        context_before="Zebras graze on the plain.",
        context_after="They drink at dusk.",
        doc_id="crop",
        chunk_id=chunk,
    )
    # its similarity (0.5) counts only when the caller asks for similarity placement
    got = AnchoredInserter(embedder=_Fixed(), stray_threshold=stray, fallback=0).insert(
        answer, (lens,)
    )
    assert got.as_dict() == placed


# Issue 9 (item 3 and 8): when provenance places nothing at all, an answer without a figure is the
# worse failure; the most similar candidates go in by similarity, and the result says so.
def test_when_provenance_places_nothing_the_most_similar_images_go_in_and_it_is_noted():
    answer = TextAnswer(ANSWER.question, tuple(Sentence(s.text) for s in ANSWER.sentences))
    lens = candidate(
        "lens",
        "A lens hood",
        context_before="Zebras graze on the plain.",
        context_after="They drink at dusk.",
        doc_id="zoo",
    )
    got = AnchoredInserter(embedder=_Fixed()).insert(answer, (lens,))
    assert got.as_dict() == {"lens": 3}  # after STEP2, its only similar sentence
    assert got.notes == (
        "anchored inserter: the answer quotes no image's source text; 1 placed by similarity",
    )
    # below the similarity floor nothing goes in; fallback=0 turns it off
    assert AnchoredInserter(embedder=_Fixed(), threshold=0.6).insert(answer, (lens,)).slots == ()
    assert AnchoredInserter(embedder=_Fixed(), fallback=0).insert(answer, (lens,)).slots == ()


def test_fallback_places_at_most_its_count_most_similar_first():
    question = "How do I crop with a drag of the rectangle tool?"
    answer = text_answer(question, "Choose the crop tool.", "Drag a rectangle.")
    cands = tuple(
        candidate(f"c{k}", caption, context_before="Unrelated words here.", doc_id="elsewhere")
        for k, caption in enumerate(
            ["crop tool chosen", "drag rectangle", "crop tool", "choose crop tool icon"]
        )
    )
    got = AnchoredInserter(embedder=BagOfWords(), fallback=2, threshold=0.28).insert(answer, cands)
    # bag-of-words cosines: c1 0.63 with sentence 2, c3 0.57, c2 0.45, c0 0.41 with sentence 1;
    # with the question all about 0.3 (c3 0.286)
    assert got.as_dict() == {"c3": 1, "c1": 2}
    # an image unlike the question is no figure for it, however like a sentence
    got = AnchoredInserter(embedder=BagOfWords(), fallback=2, threshold=0.3).insert(answer, cands)
    assert got.as_dict() == {"c2": 1, "c1": 2}


def test_provenance_that_places_one_image_turns_the_fallback_off():
    cands = (
        *SOURCE_CANDS[:1],
        candidate(
            "cat", "Transform menu crop", doc_id="zoo", context_before="Our cat sleeps all day."
        ),
    )
    got = AnchoredInserter(embedder=BagOfWords()).insert(ANSWER, cands)
    assert got.as_dict() == {"menu": 2}


def test_fallback_prefers_the_better_retrieved_image_over_the_more_similar_one():
    answer = text_answer("How do I crop?", "Choose the crop tool.", "Drag a rectangle.")
    # "near" is very like the answer but was offered only for looking like the question
    section = candidate("section", "crop tool", context_before="Other words.", doc_id="a")
    near = candidate("near", "choose crop tool icon", context_before="Other words.", doc_id="b")
    cands = (replace(section, score=0.03), replace(near, score=0.01))
    got = AnchoredInserter(embedder=BagOfWords(), fallback=1, threshold=0.3).insert(answer, cands)
    assert got.as_dict() == {"section": 1}


def test_shared_words_are_counted_as_a_counter_intersection_counts_them():
    """The faster count (issue 24 item 2) scores exactly what ``Counter &`` scored."""
    import random
    from collections import Counter

    from m2io.inserters.anchored import shared_count

    rng = random.Random(7)
    words = "the crop tool image layer press enter to a".split()
    for _ in range(2000):
        a = Counter(rng.choices(words, k=rng.randint(0, 14)))
        b = Counter(rng.choices(words, k=rng.randint(0, 14)))
        assert shared_count(a, b) == sum((a & b).values())
