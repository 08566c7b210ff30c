"""The sentence splitter keeps list items, inline image tags and code spans whole (issue 9).

Cutting ``1. Use Sobel.`` into ``1.`` and ``Use Sobel.`` doubled the sentences of a list answer
and shifted every image position after it; an image tag cut in two showed as broken text.
"""

from __future__ import annotations

import time

import pytest

from m2io.text import is_list_item, split_sentences, split_with_images

CASES = {
    "a numbered item stays whole with its marker": ("1. Use Sobel.", ["1. Use Sobel."]),
    "steps after their sentence": (
        "Steps:\n1. Open the image.\n2. Select Filters > Edge-Detect.",
        ["Steps:", "1. Open the image.", "2. Select Filters > Edge-Detect."],
    ),
    "items written on one line are still separate items": (
        "1. Use Sobel. 2. Apply the filter.",
        ["1. Use Sobel.", "2. Apply the filter."],
    ),
    "an inline image tag stays inside its sentence": (
        'Click the icon <img src="a.png" alt="Fig. A. Brush"> and drag. Next step.',
        ['Click the icon <img src="a.png" alt="Fig. A. Brush"> and drag.', "Next step."],
    ),
    "a wrapped image tag too": (
        'Click the\n<img src="icon.png">\nbutton to start. Then go.',
        ['Click the <img src="icon.png"> button to start.', "Then go."],
    ),
    "a Markdown image's alt text is not cut": (
        "See ![Step 1. Open](open.png) first. Then go.",
        ["See ![Step 1. Open](open.png) first.", "Then go."],
    ),
    "a code span is never cut": (
        "Write `<img src=x>. Then` in the file. Done.",
        ["Write `<img src=x>. Then` in the file.", "Done."],
    ),
    # a hard-wrapped line starting with "+ " or a year is a continuation, not a list item
    "wrapped prose is split as before": (
        "Press Shift\n+ Ctrl to intersect. Then release.",
        ["Press Shift + Ctrl to intersect.", "Then release."],
    ),
    "a number ending a sentence is not an item": (
        "Version 2. The next one.",
        ["Version 2.", "The next one."],
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_items_tags_and_code_spans_stay_whole(case: str) -> None:
    text, sentences = CASES[case]
    assert split_sentences(text) == sentences


def test_bulleted_items_are_separate_and_whole() -> None:
    text = "* Item one\n* Item two\n- Apply it. Then save."
    assert split_sentences(text) == ["* Item one", "* Item two", "- Apply it. Then save."]
    assert all(is_list_item(s) for s in split_sentences(text))


def test_image_positions_in_a_list_answer_count_items_not_halves() -> None:
    sentences, positions = split_with_images("Drag it.<PIC>\n1. Open it.<PIC>\n2. Close it.")
    assert sentences == ["Drag it.", "1. Open it.", "2. Close it."]
    assert positions == [1, 2]


def test_list_heavy_and_tag_heavy_text_stays_linear() -> None:
    for hostile in ("1. a. " * 20_000, "- x\n" * 40_000, "<img a. B " * 10_000, "`a. B " * 10_000):
        t0 = time.perf_counter()
        assert split_sentences(hostile)
        assert time.perf_counter() - t0 < 1.0


def test_an_inline_numbered_list_is_cut_into_its_items() -> None:
    # issue 22, item 6: "Steps: 1." was left as a fragment
    assert split_sentences("Steps: 1. Open the image. 2. Click Crop. 3. Drag a box.") == [
        "Steps:",
        "1. Open the image.",
        "2. Click Crop.",
        "3. Drag a box.",
    ]
    assert split_sentences("To crop: 1. Open the image 2. Click Crop") == [
        "To crop:",
        "1. Open the image",
        "2. Click Crop",
    ]
    # numbers that are not a list stay text
    assert split_sentences("Use version 2 of it. Press 1 and 2 to zoom.") == [
        "Use version 2 of it.",
        "Press 1 and 2 to zoom.",
    ]


def test_long_list_items_without_a_full_stop_stay_apart() -> None:
    first = "Open the image in the editor window and choose the layer you want to crop"
    second = "click the crop tool in the toolbox on the left side of the screen"
    for marker in ("- ", "* "):
        assert split_sentences(f"{marker}{first}\n{marker}{second}") == [
            f"{marker}{first}",
            f"{marker}{second}",
        ]
    assert split_sentences(f"1. {first}\n2. {second}") == [f"1. {first}", f"2. {second}"]
