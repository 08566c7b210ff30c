"""The query-focused extractive generator and LLM citations (issue 9, item 2).

Before, the extractive stage took the top chunk's opening sentences, so answers were the page's
introduction, the steps the question asked for were lost, and some answers opened with a dangling
"These …". These tests use a small manual section: an intro, a numbered procedure with a command
in a code span, and a later paragraph.
"""

from __future__ import annotations

import pytest

from m2io.generators.extractive import NOTHING_FOUND, ExtractiveGenerator
from m2io.generators.focus import Line
from m2io.generators.openai import OpenAIGenerator
from m2io.testing.fake_openai import FakeOpenAIServer
from m2io.types import Chunk, Retrieval, RetrievedChunk, Source

INTRO = (
    "Edge detection\n"
    "Edge detection finds the boundaries of objects in a photo. It is often used before "
    "segmentation. This chapter explains the Sobel and Canny detectors."
)
SOBEL = (
    "Applying the Sobel filter\n"
    "To apply the Sobel filter to a photo:\n"
    "1. Open the photo with File > Open.\n"
    "2. Choose Filters > Edge-Detect > Sobel.\n"
    "3. Set Direction: Both and press OK.\n"
    "4. Export the result with `edge-export --tag <img src=x> out.png`.\n"
    "The edges then show as bright lines on a dark background."
)
CANNY = (
    "Tuning the Canny detector\n"
    "The Canny detector has two thresholds. The high threshold decides which edges start a line. "
    "The low threshold decides how far a line continues along weaker edges. These thresholds are "
    "set in the Canny dialog of the Edge-Detect menu."
)
OTHER = "Printing\nThe print dialog sends the photo to a printer. Paper size is chosen here."
SRC = Source("edges", "Edge detection", "manual/edges.html", "Applying the Sobel filter", "sobel")


def _src(text: str) -> Source:
    """Each chunk of the fixture is one section, named by its first line."""
    heading = text.split("\n", 1)[0]
    anchor = "sobel" if "Sobel" in heading else heading.split()[0].lower()
    return Source("edges", "Edge detection", "manual/edges.html", heading, anchor)


def _section(*texts: str, doc: str = "edges") -> Retrieval:
    """Consecutive chunks of one document, in document order (as the retriever hands on an
    assembled context)."""
    chunks = tuple(
        RetrievedChunk(
            Chunk(f"{doc}#{i}", doc, t, start=1000 * i, source=_src(t)), score=1.0 / (i + 1)
        )
        for i, t in enumerate(texts)
    )
    return Retrieval("q", chunks, ())


@pytest.fixture(scope="module")
def gen(embedder) -> ExtractiveGenerator:
    return ExtractiveGenerator(embedder=embedder)


def test_procedure_question_gets_every_step_in_order_with_code_verbatim(gen) -> None:
    ans = gen.generate("How do I apply the Sobel filter?", _section(INTRO, SOBEL, CANNY))
    texts = [s.text for s in ans.sentences]
    steps = [t for t in texts if t[:2] in ("1.", "2.", "3.", "4.")]
    assert [t[:2] for t in steps] == ["1.", "2.", "3.", "4."]
    assert "To apply the Sobel filter to a photo:" in texts
    assert "4. Export the result with `edge-export --tag <img src=x> out.png`." in texts
    assert not any("Canny" in t for t in texts)
    assert all(s.source == SRC and s.source_chunk_id == "edges#1" for s in ans.sentences)


def test_question_about_a_later_paragraph_gets_that_paragraph_not_the_intro(gen) -> None:
    ans = gen.generate(
        "What do the high and low thresholds of the Canny detector decide?",
        _section(INTRO, SOBEL, CANNY),
    )
    assert "The high threshold decides which edges start a line." in ans.text
    assert "Edge detection finds the boundaries" not in ans.text
    assert {s.source_chunk_id for s in ans.sentences} == {"edges#2"}


def test_answer_never_opens_with_a_dangling_sentence() -> None:
    gen = ExtractiveGenerator(max_words=12, embedder=None)
    ans = gen.generate("Where are the Canny thresholds set in the dialog?", _section(CANNY))
    first = ans.sentences[0].text
    assert not first.startswith(("These", "This", "It ", "However", "Also", "Then"))
    assert "set in the Canny dialog" in ans.text  # the sentence asked for stays, with its lead


def test_budget_fits_the_question() -> None:
    gen = ExtractiveGenerator(embedder=None)
    assert gen.budget("How do I apply the Sobel filter?") == 180
    assert gen.budget("What is edge detection?") == 80
    assert gen.budget("What does the manual say about edges?") == 140
    long = _section(INTRO + " " + CANNY.split("\n", 1)[1], SOBEL)
    short = gen.generate("What is edge detection?", long)
    assert sum(len(s.text.split()) for s in short.sentences) <= 80 + 10


def test_nothing_relevant_gives_no_sentences_and_says_so() -> None:
    retrieval = Retrieval("q", (), (), notes=("retrieval: nothing relevant (best 0.08 < 0.3)",))
    ans = ExtractiveGenerator(embedder=None).generate("¿Dónde está la biblioteca?", retrieval)
    assert ans.sentences == ()
    assert ans.notes == (*retrieval.notes, NOTHING_FOUND)
    assert "no relevant passage found in the corpus" in NOTHING_FOUND


def test_a_page_that_repeats_another_adds_nothing_twice() -> None:
    a = _section(SOBEL)
    b = _section(SOBEL, doc="whole-manual")
    both = Retrieval("q", (*a.chunks, *b.chunks), ())
    ans = ExtractiveGenerator(embedder=None).generate("How do I apply the Sobel filter?", both)
    texts = [s.text for s in ans.sentences]
    assert len(texts) == len(set(texts))


def test_openai_generator_cites_numbered_excerpts_and_sources_are_parsed() -> None:
    other_src = Source("print", "Printing", "manual/print.html")
    retrieval = Retrieval(
        "q",
        (
            RetrievedChunk(Chunk("edges#1", "edges", SOBEL, source=SRC), 0.9),
            RetrievedChunk(Chunk("print#0", "print", OTHER, source=other_src), 0.5),
        ),
        (),
    )
    reply = (
        "1. Open the photo [1].\n2. Choose Filters > Edge-Detect > Sobel. [1][2]\n"
        "You can then print it [2]. Good luck. Use `a[1]` in code."
    )
    with FakeOpenAIServer(lambda req: reply) as srv:
        gen = OpenAIGenerator(model="fake", base_url=srv.base_url, max_retries=0)
        ans = gen.generate("How do I apply the Sobel filter?", retrieval)
    prompt = srv.requests[0]["messages"][1]["content"]
    assert "[1] (Edge detection \u2014 Applying the Sobel filter)" in prompt
    assert "[2] (Printing)" in prompt
    assert "cite" in srv.requests[0]["messages"][0]["content"]
    texts = [s.text for s in ans.sentences]
    assert texts == [
        "1. Open the photo.",
        "2. Choose Filters > Edge-Detect > Sobel.",
        "You can then print it.",
        "Good luck.",
        "Use `a[1]` in code.",
    ]
    assert [s.source for s in ans.sentences] == [SRC, SRC, other_src, None, None]
    assert ans.sentences[2].source_chunk_id == "print#0"


def test_a_list_cut_by_a_chunk_boundary_does_not_open_the_answer() -> None:
    # the context starts at step 3: "3. …" alone would open the answer mid-procedure
    tail = SOBEL.split("\n", 4)[4]  # from "3. Set Direction…"
    ans = ExtractiveGenerator(embedder=None).generate(
        "What do the edges look like after the Sobel filter?",
        Retrieval("q", (RetrievedChunk(Chunk("edges#1", "edges", tail, source=SRC), 1.0),), ()),
    )
    assert ans.sentences
    assert not ans.sentences[0].text.startswith(("3.", "4."))


def test_a_lone_pointer_to_a_figure_elsewhere_is_not_picked() -> None:
    inpaint = (
        "Inpainting\n"
        "Inpainting repairs a scratched photograph from a mask of the damaged pixels. "
        "The algorithm fills the mask from the intact pixels around it."
    )
    deblur = (
        "Deconvolution\n"
        "Deconvolution undoes a known blur with the point spread function. "
        "The figure below shows the repaired scratched photograph."
    )
    gen = ExtractiveGenerator(embedder=None)
    question = "How do I repair a scratched photograph with a mask?"
    ans = gen.generate(question, _section(inpaint, deblur))
    assert "Inpainting repairs a scratched photograph" in ans.text
    # without its figure and the passage around it, "the figure below" points at nothing
    assert "figure below" not in ans.text


def test_another_page_joins_the_answer_only_when_it_nearly_matches_the_best_passage() -> None:
    edges = _section(
        "Finding edges\n"
        "To find the edges of objects, start with the Canny detector and raise sigma. "
        "Use the Sobel magnitude when you need edge strength."
    )
    seg = _section(
        "Segmentation summary\nWatershed splits touching objects along their edges.",
        doc="segmentation",
    )
    both = Retrieval("q", edges.chunks + seg.chunks, ())
    question = "How can I find the edges of objects?"
    strict = ExtractiveGenerator(embedder=None).generate(question, both)
    assert "Canny" in strict.text and "Watershed" not in strict.text
    # the old behaviour (any unit scoring 0.6 of the best) pulls the other page in
    loose = ExtractiveGenerator(embedder=None, other_passage_score=0.0).generate(question, both)
    assert "Watershed" in loose.text


def test_lines_of_only_section_numbers_never_reach_the_answer():
    """A page's table of contents leaves runs like "6.2. 6.2.1. 6.2.2." in the text (seen on
    an HTML manual that was not tuned on): they carry no word and are never answer sentences."""
    from m2io.generators.focus import has_words

    assert not has_words("6.2. 6.2.1. 6.2.2. 6.2.3.") and not has_words("1.")
    assert has_words("1. Open the Multi-Rename Tool.") and has_words("Größe: 3 px")
    text = (
        "6.1.\n\n6.2. 6.2.1. 6.2.2.\n\n"
        "The Multi-Rename Tool renames many selected files at once. "
        "Select the files, then press Ctrl+M to open it."
    )
    retrieval = _page("rename", text)
    ans = ExtractiveGenerator().generate("How do I rename many files at once?", retrieval)
    assert ans.sentences and all(has_words(s.text) for s in ans.sentences)
    assert any("Multi-Rename" in s.text for s in ans.sentences)


def test_a_pages_table_of_contents_and_back_links_are_not_answer_sentences():
    """An HTML manual page opens with its contents ("1. Introduction", "2. Commands") and repeats
    each entry as a heading, with "(back to top)" after each part: lines the page repeats that
    name its parts, not answers. A short line said once (a step without a full stop) stays."""
    text = (
        "2.7. Synchronize directories\n\nContent\n\n1. Introduction\n\n2. Commands\n\n"
        "1. Introduction\n\nThe synchronization tool compares two folders and makes them the "
        "same.\n\n(back to top)\n\n2. Commands\n\nPress Compare to scan both folders.\n\n"
        "Choose Synchronize to copy the differences\n\n(back to top)\n"
    )
    retrieval = _page("sync", text)
    ans = ExtractiveGenerator().generate("How do I synchronize two folders?", retrieval)
    texts = [s.text for s in ans.sentences]
    assert not any(t.endswith(("Introduction", "Commands", "(back to top)")) for t in texts), texts
    assert "Press Compare to scan both folders." in texts
    from m2io.generators.focus import passages

    offered = [ln.text for p in passages(retrieval) for ln in p]
    assert "Choose Synchronize to copy the differences" in offered
    assert not any(t.endswith(("Introduction", "(back to top)")) for t in offered)


def _page(doc_id: str, text: str) -> Retrieval:
    """A retrieval of one page, ``text``, as its only chunk."""
    chunk = Chunk(f"{doc_id}#0", doc_id, text, source=SRC)
    return Retrieval("q", (RetrievedChunk(chunk, 1.0, dense_score=0.8),), ())


def test_a_heading_said_once_stays_even_when_its_words_open_the_next_sentence():
    """Only a line a page repeats as a line is navigation: the heading "Inpainting" followed by
    "Inpainting fills in regions …" is said once, and its section keeps the heading's match
    (it was dropped once, and a question about scratches was answered from the page before)."""
    from m2io.generators.focus import passages

    text = (
        "Deconvolution\n\nDeconvolution sharpens a blurred photo.\n\n"
        "Inpainting\n\nInpainting fills in regions where the image content is missing.\n"
    )
    chunk = Chunk("restore#0", "restore", text, source=SRC)
    retrieval = Retrieval("q", (RetrievedChunk(chunk, 1.0, dense_score=0.8),), ())
    offered = [ln.text for p in passages(retrieval) for ln in p]
    assert "Inpainting" in offered and "Deconvolution" in offered


def test_an_answer_never_opens_on_the_tail_of_a_sentence_cut_at_an_abbreviation() -> None:
    # the splitter cuts "… of the DR. GEO figure." after "DR."; the answer must keep the
    # sentence whole, never "GEO figure." on its own
    grid = Chunk(
        "grid#0",
        "grid",
        "Display grid\nOther preferences are kept in the preferences dialog of the program. "
        "A unit grid can be drawn in the background of the DR. GEO figure. "
        "The corresponding command is Edition > Show or hide grid, or the Ctrl-G shortcut.",
    )
    for budget in (16, 30):
        ans = ExtractiveGenerator(max_words=budget, embedder=None).generate(
            "How do I show a grid in the background?",
            Retrieval("q", (RetrievedChunk(grid, 1.0),), ()),
        )
        texts = [s.text for s in ans.sentences]
        assert "A unit grid can be drawn in the background of the DR. GEO figure." in texts
        assert "GEO figure." not in texts and not texts[0].startswith("GEO")


def test_the_commands_a_procedure_introduces_come_with_their_sentences() -> None:
    """A build section shows each command on a line of its own after a sentence ending in ':'
    ("Build it:" then "make"), and the same commands again in a short summary block. Those lines
    read like headings (short, no full stop) and the page repeats them, so they were dropped:
    the answer said "Build it: Test that everything is okay: make test And finally install it:"
    (gammu-doc, a manual not tuned on). They are what the user came for. (The question names
    the build tool: a how-to answer opens on the section its title says, and "Building from
    source" would say "build … from source".)"""
    text = (
        "Building from source\n\nThe usual set of commands:\n\n./configure\nmake\n"
        "sudo make install\n\nUsing the build tool\n\nCreate a separate build folder first.\n\n"
        "Then configure the project:\n\nbuildtool ..\n\nBuild it:\n\nmake\n\n"
        "Test that everything is okay:\n\nmake test\n\nAnd finally install it:\n\n"
        "sudo make install\n"
    )
    ans = ExtractiveGenerator(embedder=None).generate(
        "How do I build and install it with the build tool?", _page("install", text)
    )
    texts = [s.text for s in ans.sentences]
    for intro, command in (
        ("Build it:", "make"),
        ("Test that everything is okay:", "make test"),
        ("And finally install it:", "sudo make install"),
    ):
        assert texts[texts.index(intro) + 1] == command, texts


def test_a_capitalised_line_after_a_colon_is_still_a_heading() -> None:
    from m2io.generators.focus import units

    lines = [Line(t, "d#0", 0, SRC) for t in ("Options:", "Advanced settings", "More text.")]
    assert [u.kind for u in units(lines)][1] == "heading"
    lines = [Line(t, "d#0", 0, SRC) for t in ("Build it:", "make", "More text.")]
    assert [u.kind for u in units(lines)][:1] == ["code"]  # one unit: the intro and its command
