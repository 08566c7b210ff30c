"""Issue 11: training corpora re-authored with another figure habit (m2io.learned_training.reauthor) keep
every word and image, move only where the images sit, and their profile says so."""

from __future__ import annotations

import pytest

from m2io.corpus.mramg import QAItem
from m2io.corpus.report import Corpus
from m2io.learned.profile import corpus_profile
from m2io.learned_training.corpora import load_corpus_data
from m2io.learned_training.reauthor import habit_of, reauthor, reauthor_answer, reauthor_document
from m2io.text import PIC, split_with_images
from m2io.types import Document, ImageAnchor, ImageRef

TEXT = (
    "Cropping\n\nChoose the crop tool. Drag a rectangle as shown below:\n\nPress Enter.\n\n"
    "Saving\n\nChoose File, Export. Pick a format."
)


def _doc() -> Document:
    at = TEXT.index("Press Enter")
    save = TEXT.index("Pick a format")
    anchors = (ImageAnchor(ImageRef("rect"), at), ImageAnchor(ImageRef("export"), save))
    return Document("d", TEXT, anchors, title="Crop")


def test_start_moves_each_image_under_its_heading_and_end_after_its_section():
    start = reauthor_document(_doc(), "start")
    assert start.text == TEXT
    offsets = {a.image.image_id: a.offset for a in start.images}
    assert TEXT[offsets["rect"] :].lstrip().startswith("Choose the crop tool")
    assert TEXT[offsets["export"] :].lstrip().startswith("Choose File, Export")
    end = reauthor_document(_doc(), "end")
    offsets = {a.image.image_id: a.offset for a in end.images}
    assert TEXT[: offsets["rect"]].rstrip().endswith("Press Enter.")
    assert offsets["export"] == len(TEXT)


def test_gold_answers_move_their_markers_in_order_and_keep_every_word():
    truth = f"Choose the tool.\n\n{PIC}\n\nDrag a rectangle.\n\n{PIC}\n\nPress Enter."
    for habit, positions in (("start", [0, 0]), ("end", [3, 3])):
        moved = reauthor_answer(truth, habit)
        sentences, got = split_with_images(moved)
        assert got == positions
        assert sentences == split_with_images(truth)[0]
    assert reauthor_answer("No images here.", "start") == "No images here."


def test_corpus_and_questions_are_renamed_and_the_profile_follows_the_habit():
    text = "Part {}\n\nFirst sentence here. Second one here:\n\nThird one."
    docs = [
        Document(
            f"d{k}",
            text.format(k),
            (ImageAnchor(ImageRef(f"i{k}"), text.format(k).index("Third")),),
        )
        for k in range(8)
    ]
    q = QAItem("q1", "Part 0", f"First sentence here. Second one here:\n\n{PIC}\n\nThird one.")
    corpus = Corpus(documents=docs)
    moved, (mq,) = reauthor(corpus, [q], "start")
    assert mq.qid == "q1@start" and mq.ground_truth.startswith(PIC)
    before, after = corpus_profile(corpus.documents), corpus_profile(moved.documents)
    assert after.lift["start"] > 0 > before.lift["start"]
    assert after.lift["forward"] < before.lift["forward"]


def test_data_names_carry_the_habit():
    assert habit_of("/data/gnucash@end") == ("/data/gnucash", "end")
    assert habit_of("/data/me@home") == ("/data/me@home", None)
    demo = load_corpus_data("demo@start")
    assert demo.name == "demo@start" and demo.habit == "start"
    assert demo.describe()["data"] == "demo@start"
    assert all(q.ground_truth.startswith(PIC) for q in demo.questions)
    with pytest.raises(ValueError):
        reauthor_answer(PIC, "middle")
