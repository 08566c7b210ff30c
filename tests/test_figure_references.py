"""Issue 21, item 3: figures only where they belong. A figure numbered "Figure N" goes after the
answer sentence that names it and stays out of an answer that names other figures but not it; a
sentence announcing "the screenshot below" gets the figure that followed it in its source; the
learned inserter's no-figure fallback takes a figure from a page the answer does not quote only
when it is about what the answer says."""

from __future__ import annotations

from dataclasses import replace

import pytest
from builders import BagOfWords, NoEmbedding, candidate, text_answer

from m2io.inserters.anchored import AnchoredInserter, figure_references
from m2io.learned.cues import figure_label, figure_refs
from m2io.testing.hash_embedder import HashEmbedder
from m2io.types import Candidate, ImageRef, Sentence, Source, TextAnswer

# A PDF page of a lab manual: two experiments, each with its figure and a caption under it.
LEMON_SETUP = "Connect the copper and zinc plates of the lemon to A1 and GND."
LEMON_READ = "Figure 2.3 shows the lemon cell; read the voltage on A1."
COIL_SETUP = "Wind the coil on the plastic tube and connect it to A2."
COIL_READ = "Drop the magnet through the coil and capture the induced voltage."

LEMON_FIG = candidate(
    "lemon.png",
    context_before=LEMON_SETUP,
    context_after="A1 GND Figure 2.3: Lemon cell. " + COIL_SETUP,
    doc_id="manual.pdf#page=12",
)
# the next experiment's figure, printed right after the text the lemon answer quotes
COIL_FIG = candidate(
    "coil.png",
    context_before=LEMON_READ,
    context_after="A2 Figure 2.4: Induction coil. " + COIL_READ,
    doc_id="manual.pdf#page=12",
)


@pytest.mark.parametrize(
    ("caption", "after", "label"),
    [
        ("Figure 3.2: The print dialog", "", "3.2"),
        ("Fig. 7 Layers", "", "7"),
        ("", "WG GND MIC Figure 5.1 (a) schematic", "5.1"),
        ("", "Figure 2-4 Lemon cell", "2.4"),
        ("", "as shown in Figure 5.1 the waves", None),  # a pointer, not a caption
        ("", "Press OK. " + "x" * 200 + " Figure 9: far below", None),
        ("The print dialog", "Click Print.", None),
    ],
)
def test_a_figure_number_comes_from_the_caption_or_the_caption_printed_under_it(
    caption: str, after: str, label: str | None
) -> None:
    assert figure_label(caption, after) == label


def test_sentences_name_figures_by_number() -> None:
    assert figure_refs("As Figure 3.2 shows, and see fig. 4.") == {"3.2", "4"}
    assert figure_refs("The screenshot below shows the dialog.") == frozenset()


def test_the_answer_naming_figure_n_gets_it_after_that_sentence_not_its_neighbour() -> None:
    answer = text_answer("How do I make a lemon cell?", LEMON_SETUP, LEMON_READ)
    # provenance alone would put both images in: the lemon after LEMON_SETUP, the coil after
    # LEMON_READ (the text just above it); the numbers say the coil belongs to another answer
    got = AnchoredInserter(embedder=NoEmbedding()).insert(answer, (LEMON_FIG, COIL_FIG))
    assert got.as_dict() == {"lemon.png": 2}
    # without figure numbers in the answer, provenance decides as before (recall kept)
    plain = text_answer("How do I make a lemon cell?", LEMON_SETUP, "Read the voltage on A1.")
    got = AnchoredInserter(embedder=NoEmbedding()).insert(plain, (LEMON_FIG, COIL_FIG))
    assert got.as_dict() == {"lemon.png": 1, "coil.png": 2}


def test_a_quoted_caption_has_its_figure_just_above_it() -> None:
    caption = "Figure 5.1 (a) schematic (b) compressions along the direction of sound."
    fig = candidate("sound.png", "", context_after="Mic " + caption)
    answer = text_answer("What is sound?", "Sound travels as compressions.", caption, "Next.")
    assert figure_references(answer, [fig]).placed == {0: 1}
    # a sentence that talks about the figure has it after itself
    talk = text_answer("What is sound?", "Sound travels.", "Figure 5.1 shows the schematic.")
    assert figure_references(talk, [fig]).placed == {0: 2}


def test_a_numbered_figure_without_source_text_follows_the_sentence_naming_it() -> None:
    answer = text_answer(
        "How do I print?",
        "Open the print dialog from the File menu.",
        "Figure 3 shows where the page size is set.",
        "Press Print.",
    )
    fig = candidate("print.png", "Figure 3: page setup")
    other = candidate("export.png", "Figure 4: print dialog from the File menu")
    refs = figure_references(answer, [fig, other])
    assert refs.placed == {0: 2} and refs.excluded == {1}
    # similarity would put the caption-alike Figure 4 after sentence 1; it stays out
    got = AnchoredInserter(embedder=BagOfWords(), fallback=3).insert(answer, (fig, other))
    assert got.as_dict() == {"print.png": 2}


def test_a_sentence_announcing_the_screenshot_below_gets_the_figure_that_followed_it() -> None:
    announce = "The screenshot below shows the Preferences dialog."
    steps = ["Pick a theme.", "Pick a font size.", "Choose the icon size."]
    shot = candidate(
        "prefs.png",
        context_before=" ".join([announce, *steps]),
        context_after="The dialog has six tabs.",
        doc_id="prefs",
    )
    answer = text_answer("How do I change the theme?", "Open Edit > Preferences.", announce)
    got = AnchoredInserter(embedder=NoEmbedding(), reach=2).insert(answer, (shot,))
    assert got.as_dict() == {"prefs.png": 2}
    # an answer that does not quote the announcement does not get the figure through it
    other = text_answer("How do I change the theme?", "Open Edit > Preferences.", "Pick one.")
    assert AnchoredInserter(embedder=NoEmbedding(), fallback=0).insert(other, (shot,)).slots == ()


def _learned(tmp_path, **kwargs):
    # the policy that never keeps an image on its own (its fallback decides)
    from test_learned_inserter import _shy_policy

    from m2io.inserters.learned import LearnedInserter
    from m2io.learned import ModelCard, save_model

    model = save_model(tmp_path / "shy", _shy_policy(), ModelCard(embedder="hash-16"))
    return LearnedInserter(model, embedder=HashEmbedder(), **kwargs)


def test_the_learned_inserter_follows_figure_numbers_too(tmp_path) -> None:
    answer = text_answer("How do I make a lemon cell?", LEMON_SETUP, LEMON_READ)
    assert _learned(tmp_path).insert(answer, (LEMON_FIG, COIL_FIG)).as_dict() == {"lemon.png": 2}
    # a numbered figure without source text: placed by its number, not by the policy
    answer = text_answer("crop tool options", "Open crop tool options", "Figure 2 shows it:")
    cands = (
        Candidate(ImageRef("two", caption="Figure 2: crop tool options")),
        Candidate(ImageRef("one", caption="Figure 1: crop tool options")),
    )
    assert _learned(tmp_path).insert(answer, cands).as_dict() == {"two": 2}


def test_the_fallback_takes_another_pages_figure_only_when_it_is_about_the_answer(
    tmp_path,
) -> None:
    def answer() -> TextAnswer:
        src = Source("crop.html")  # untitled, as the MRAMG dev fragments: no quoted-only rule
        texts = ("Open crop tool options", "Its options look like this:", "Drag")
        return TextAnswer("crop tool options", tuple(Sentence(t, "crop#0", src) for t in texts))

    near = Candidate(ImageRef("near", caption="crop tool options"), doc_id="print.html")
    loose = Candidate(ImageRef("loose", caption="crop tool options print"), doc_id="print.html")
    own = Candidate(ImageRef("own", caption="crop tool options print"), doc_id="crop.html")
    floor = _learned(tmp_path, fallback_floor=0.8)
    # from another page: only the figure that says what the answer says
    assert floor.insert(answer(), (near, loose)).as_dict() == {"near": 2}
    # the quoted page's own figure needs only the usual threshold
    assert floor.insert(answer(), (loose, own)).as_dict() == {"own": 2}
    # no floor: the old rule
    assert set(_learned(tmp_path).insert(answer(), (near, loose)).as_dict()) == {"near", "loose"}
    with pytest.raises(ValueError):
        _learned(tmp_path, fallback_floor=2.0)


def test_an_announcement_does_not_reach_past_a_heading() -> None:
    announce = "A typical example is shown below."
    dialog = candidate(
        "dialog.png",
        context_before=f"{announce} Can you find the route? Open the Filters menu. Options",
        context_after="Width sets the number of paths.",
        doc_id="maze",
    )
    answer = text_answer("What does Maze do?", "This filter draws a maze.", announce)
    ins = AnchoredInserter(embedder=NoEmbedding(), fallback=0)
    # the "Options" heading starts the dialog's own section: the example was announced, not it
    assert ins.insert(answer, (dialog,)).slots == ()
    same_section = replace(dialog, context_before=dialog.context_before.removesuffix(" Options"))
    same_section = replace(same_section, context_before=same_section.context_before + " Go on.")
    assert ins.insert(answer, (same_section,)).as_dict() == {"dialog.png": 2}


def test_running_text_pointing_at_a_figure_is_not_the_image_caption() -> None:
    # "Look at fig.1" under an image is the text pointing at a later figure, not its caption:
    # the image stays where its source put it, not after the sentence naming fig.1
    intro = "Edge filters find the borders of objects."
    look = "Look at fig.1 which shows the colour intensity."
    shot = candidate("edges.png", context_before=intro, context_after=look, doc_id="edges")
    answer = text_answer("What do edge filters do?", intro, "They make selections.", look)
    assert AnchoredInserter(embedder=NoEmbedding()).insert(answer, (shot,)).as_dict() == {
        "edges.png": 1
    }
