"""Code examples read as code: a preformatted block (``<pre>``, a fenced Markdown block) keeps
its lines between fence lines through loading, splitting, the extractive answer and every
renderer. Before, Octave's "For example, subplot (2, 1, 1) fplot (@sin, [-10, 10]); subplot (2,
1, 2) …" ran into the prose around it as one sentence (issue 21, item 2: a procedure comes whole;
Texinfo HTML, a manual not tuned on)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from m2io.corpus.htmldoc import html_to_text
from m2io.generators.focus import Line, units
from m2io.mergers.default import DefaultMerger
from m2io.mergers.render import to_html, to_markdown
from m2io.text import FENCE, code_lines, is_code_block, split_sentences
from m2io.types import Placement, Sentence, Source, TextAnswer

PAGE = """<html><body><h3>15.2.4 Multiple Plots on One Page</h3>
<p>The simplest way is the subplot function. For example,</p>
<pre class="example">subplot (2, 1, 1)
  fplot (@sin, [-10, 10]);

subplot (2, 1, 2)
  fplot (@cos, [-10, 10]);
</pre>
<p>creates a figure with two separate axes. It is shown at once.</p>
<table><tr><td><pre>cell code</pre></td><td>text</td></tr></table>
</body></html>"""

BLOCK = "```\nsubplot (2, 1, 1)\n  fplot (@sin, [-10, 10]);\nsubplot (2, 1, 2)\n  fplot (@cos, [-10, 10]);\n```"


def test_a_preformatted_block_is_one_unit_with_its_layout() -> None:
    text = html_to_text(PAGE).text
    assert BLOCK in text  # lines and indentation as written; the blank line inside dropped
    sentences = split_sentences(text)
    assert sentences[1:5] == [
        "The simplest way is the subplot function.",
        "For example,",
        BLOCK,
        "creates a figure with two separate axes.",
    ]
    assert is_code_block(BLOCK) and not is_code_block("Use ``` fences.")
    assert code_lines(BLOCK)[1] == "  fplot (@sin, [-10, 10]);"


def test_a_chunk_cut_inside_a_block_keeps_its_part_as_code() -> None:
    # the chunk began inside the block: code up to the closing fence, prose after it
    assert split_sentences("x = 1;\ny = 2;\n```\n\nThe end.") == ["x = 1;\ny = 2;\n```", "The end."]
    # an unclosed block runs to the end; a lone fence line says nothing
    assert split_sentences("Run:\n\n```\nmake\nmake test") == ["Run:", "```\nmake\nmake test"]
    assert split_sentences(f"Text.\n\n{FENCE}\n\nMore.") == ["Text.", "More."]


def test_the_generator_keeps_the_block_with_the_sentence_around_it() -> None:
    src = Source("d", "D", "d.html", "Plots", "")
    texts = [
        "The simplest way is the subplot function.",
        "For example,",
        BLOCK,
        "creates a figure with two separate axes.",
        "Printing is elsewhere.",
    ]
    got = [(u.kind, u.first, u.last) for u in units([Line(t, "d#0", 0, src) for t in texts])]
    assert got == [("sentence", 0, 0), ("code", 1, 3), ("sentence", 4, 4)]


def _merged(*texts: str):
    return DefaultMerger().merge(
        TextAnswer("q", tuple(Sentence(t, source=None) for t in texts)), Placement(), ()
    )


def test_markdown_and_html_show_the_block_as_code_and_escape_it() -> None:
    hostile = "```\necho <script>x</script>\nprintf ```not closed``` here\n```"
    answer = _merged("For example,", hostile, "prints it.")
    md = to_markdown(answer)
    # a fence longer than any backtick run inside: no line of the code closes it early
    assert (
        "For example,\n````\necho <script>x</script>\nprintf ```not closed``` here\n````\nprints it."
        in md
    )
    html = to_html(answer)
    assert "<p>For example,</p><pre><code>echo &lt;script&gt;" in html.replace("\n", "")
    assert "<script>" not in html
    assert "</code></pre>" in html and "<pre>" not in html.split("<p>For example,")[0]
    assert TextAnswer("q", (Sentence("Say:"), Sentence(BLOCK), Sentence("done."))).text == (
        f"Say:\n{BLOCK}\ndone."
    )


def test_the_api_hands_the_blocks_lines_to_front_ends() -> None:
    pytest.importorskip("fastapi")
    from m2io.serve.answer import Links, answer_out

    links = Links("http://h", SimpleNamespace(images={}, sources={}), None)  # type: ignore[arg-type]
    segments = answer_out(_merged("For example,", BLOCK, "creates a figure."), links)["segments"]
    code = [s for s in segments if "code" in s]
    assert len(code) == 1 and code[0]["command"] is True
    assert code[0]["code"].split("\n")[0] == "subplot (2, 1, 1)"
    assert "```" not in code[0]["code"]


def test_a_clause_around_a_code_block_is_not_a_section_heading() -> None:
    from m2io.index.sections import sections
    from m2io.types import Document

    text = (
        "Default Arguments\n\nA default value is given like this.\n\n"
        "When called without an input argument the function prints the following\n\n"
        "```\nhello ();\n```\n\nand when it is called with one it prints the following\n\n"
        "```\nhello (1);\n```\n\nor\n\n```\nhello (2);\n```\n\n"
        "subplot\n\nThe subplot function divides a figure."
    )
    titles = [s.title for s in sections(Document("d", text, (), "Functions"))]
    assert titles == ["Default Arguments", "subplot"]


def test_a_prompt_shows_the_model_the_code_as_written() -> None:
    from m2io.generators.prompts import excerpt_text

    text = "Plot   two\ncurves.  For example,\n\n" + BLOCK + "\n\ncreates a\nfigure."
    assert excerpt_text(text) == f"Plot two curves. For example,\n{BLOCK}\ncreates a figure."
    assert excerpt_text("no   code\nhere") == "no code here"


def _pdf_text(tmp_path, page: list) -> str:
    """The text of the one section of a one-page PDF whose first line is its outline title."""
    from m2io.corpus.pdf import read_pdf
    from m2io.testing.pdfmake import make_pdf

    path = tmp_path / "manual.pdf"
    path.write_bytes(make_pdf([page], outline=[(page[0][0], 0)]))
    return read_pdf(path, "manual.pdf", tmp_path)[0][0].text


def test_a_pdfs_fixed_pitch_lines_are_a_code_block_with_their_indentation(tmp_path) -> None:
    page = [
        ("Building the firmware", 18),
        ("To build the firmware, run these commands from its folder:", 10),
        ("./configure --prefix=/usr", 10, "mono"),
        ("make", 10, "mono"),
        ("if [ -x tests ]; then", 10, "mono"),
        ("    make test", 10, "mono"),
        ("fi", 10, "mono"),
        ("The binaries then sit in the build folder.", 10),
    ]
    text = _pdf_text(tmp_path, page)
    block = "```\n./configure --prefix=/usr\nmake\nif [ -x tests ]; then\n    make test\nfi\n```"
    assert block in text, text
    assert split_sentences(text)[2] == block
    assert text.endswith("```\n\nThe binaries then sit in the build folder.")
    # a PDF set in a typewriter face throughout: its lines are prose, not one code block
    typed = [(t, 10, "mono") for t in ("All of this manual is typed.", "Every line of it.")]
    assert FENCE not in _pdf_text(tmp_path, [("Typed", 18), *typed])


def test_a_word_processors_bullets_mark_list_items() -> None:
    from m2io.text import is_list_item

    text = "The settings include:\n● Economy Print rapidly. Grainy output.\n● Draft Print quickly.\n– Lower quality"
    assert split_sentences(text) == [
        "The settings include:",
        "● Economy Print rapidly. Grainy output.",
        "● Draft Print quickly.",
        "– Lower quality",
    ]
    assert all(is_list_item(f"{b} item") for b in "●▪■◆○–⁃•")
    assert not is_list_item("—an em dash opens a clause")


def test_a_pdfs_list_items_keep_a_line_each(tmp_path) -> None:
    page = [
        ("Print quality", 18),
        ("The most commonly used settings include:", 10),
        ("- Economy Print rapidly with less ink. This option will produce", 10),
        ("washed out colours.", 10),
        ("- Draft Print low quality output quickly.", 10),
    ]
    text = _pdf_text(tmp_path, page)
    assert (
        "include:\n- Economy Print rapidly with less ink. This option will produce washed" in text
    )
    assert "colours.\n- Draft Print" in text


def test_a_lone_fixed_pitch_line_inside_a_sentence_stays_in_it(tmp_path) -> None:
    page = [
        ("Installing", 18),
        ("The driver is most commonly installed in", 10),
        ("/usr/lib/cups/filter.", 10, "mono"),
        ("It converts raster data for the printer.", 10),
    ]
    text = _pdf_text(tmp_path, page)
    assert FENCE not in text
    assert "installed in /usr/lib/cups/filter. It converts" in text


def test_a_long_output_block_costs_the_budget_by_its_lines() -> None:
    from m2io.generators.focus import words

    output = (
        "```\n"
        + "\n".join(f"device for printer{i}: usb://EPSON/Stylus%20Photo" for i in range(4))
        + "\n```"
    )
    assert words(output) == 2 * 5 + 2  # four lines between two fences
    assert words("x = 1") == 3 and words("```\nmake\n```") == 3


def test_roman_numbered_sub_steps_are_list_items() -> None:
    from m2io.text import is_list_item

    text = "The steps are: i. Click Modify Printer to start. ii. The first screen shows the name."
    assert split_sentences(text) == [
        "The steps are:",
        "i. Click Modify Printer to start.",
        "ii. The first screen shows the name.",
    ]
    assert split_sentences("Then:\niii. The next screen matters.\niv. Select the device.")[1:] == [
        "iii. The next screen matters.",
        "iv. Select the device.",
    ]
    assert not is_list_item("i. e. a wrapped abbreviation") and is_list_item("xii. Twelve")
