"""Hand-written and generated HTML manuals as their reader sees them: title banners, frame
pages, latex2html's cross-references and math placeholders, a translation in its own folder."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from m2io.corpus import load_folder
from m2io.corpus.htmldoc import html_to_text
from m2io.corpus.latex2html import read_images_pl
from m2io.corpus.skips import FRAMESET, NO_TEXT
from m2io.language import from_path

_BANNER = '<a href="contents.html"><img src="images/title.png" alt="DRAW Users Manual"></a>'


def _page(title: str, body: str) -> str:
    return f"<html><body>{_BANNER}<h1>{title}</h1>{body}</body></html>"


def test_a_title_banner_linking_to_the_contents_is_decoration_a_figure_is_not() -> None:
    page = _page(
        "Lines",
        '<p>The line panel:</p><p><a href="index.html"><img src="images/panel.png"'
        ' alt="Line panel"></a></p><p>Pick a width.</p>',
    )
    images = [image for _, image in html_to_text(page).images]
    assert [(i.src, i.decorative) for i in images] == [
        ("images/title.png", True),
        ("images/panel.png", False),  # after the heading: a figure, though it links home
    ]
    # a link with words, or to another page, is not a banner
    other = (
        '<a href="drawing.html"><img src="a.png"></a><a href="toc.html">Top <img src="b.png"></a>'
    )
    assert [i.decorative for _, i in html_to_text(other + "<h1>X</h1>").images] == [False, False]


def test_a_large_repeated_banner_is_not_offered_as_a_figure(tmp_path: Path) -> None:
    (tmp_path / "images").mkdir()
    Image.new("RGB", (500, 86), "red").save(tmp_path / "images" / "title.png")
    Image.new("RGB", (400, 300), "green").save(tmp_path / "images" / "panel.png")
    for name in ("lines", "boxes", "text", "arcs"):
        body = f'<p>How to draw {name}.</p><p><img src="images/panel.png" alt="The panel"></p>'
        (tmp_path / f"{name}.html").write_text(_page(name.title(), body))
    shown = {a.image.image_id for d in load_folder(tmp_path).documents for a in d.images}
    assert shown == {"images/panel.png"}


_FRAMESET = """<html><head><title>Manual</title></head>
<frameset cols="172,*"><frame src="but_frm_lines.html"><frame src="lines.html" name="contents">
<noframes>Jump to <a href="contents.html">no frame version</a>.</noframes></frameset></html>"""
_BUTTONS = """<html><body><img src="buttons.gif" usemap="#m"><map name="m">
<area shape="rect" coords="0,0,9,9" href="frm_lines.html" alt="Lines"></map></body></html>"""


def test_frame_sets_and_button_bars_are_skipped_and_reported(tmp_path: Path) -> None:
    Image.new("RGB", (140, 600), "blue").save(tmp_path / "buttons.gif")
    (tmp_path / "index.html").write_text(_FRAMESET)
    (tmp_path / "frm_lines.html").write_text(_FRAMESET)
    (tmp_path / "but_frm_lines.html").write_text(_BUTTONS)
    (tmp_path / "lines.html").write_text("<h1>Lines</h1><p>Click the line button.</p>")
    corpus = load_folder(tmp_path)
    assert [d.doc_id for d in corpus.documents] == ["lines.html"]
    assert corpus.skipped[FRAMESET] == ["frm_lines.html", "index.html"]
    assert corpus.skipped[NO_TEXT] == ["but_frm_lines.html"]
    assert "Jump to" not in " ".join(d.text for d in corpus.documents)


def test_latex2html_cross_reference_icons_leave_no_empty_page_reference() -> None:
    page = (
        '<p>See <b>canvas (p.&nbsp;<a href="node33.html"><img alt="[*]" src="crossref.png">'
        '</a>)<a id="7"></a></b> and <b>set size (p.&nbsp;<a href="node9.html"><img alt="[*]"'
        ' src="crossref.png"></a>)</b>. The table (p. 12) is printed.</p>'
    )
    text = html_to_text(page).text
    assert text == "See canvas and set size. The table (p. 12) is printed."


_IMAGES_PL = """# LaTeX2HTML 2022.2 (Released July 1, 2022)
# Associate images original text with physical files.


$key = q/<;MSF=1.6;AAT/;
$cached_env_img{$key} = q|4#4|;

$key = q/>;MSF=1.6;AAT/;
$cached_env_img{$key} = q|5#5|;

$key = q/backslash;MSF=1.6;AAT/;
$cached_env_img{$key} = q|2#2|;

1;
"""
_MATH_PAGE = (
    '<h1>Size</h1><p>Syntax: set size <span class="MATH">4#4</span>x,y<span class="MATH">'
    '5#5</span> and "<span class="MATH">2#2</span>n" ends a line; <span class="MATH">x</span>'
    " stays.</p><div>11#11</div>"
)


def test_latex2html_math_placeholders_read_as_their_formula(tmp_path: Path) -> None:
    assert read_images_pl(_IMAGES_PL) == {"4": "<", "5": ">", "2": "\\"}
    (tmp_path / "images.pl").write_text(_IMAGES_PL)
    (tmp_path / "node1.html").write_text(_MATH_PAGE)
    (text,) = [d.text for d in load_folder(tmp_path).documents]
    assert 'set size <x,y> and "\\n" ends a line; x stays.' in text
    assert "#" not in text
    # without the formulas file a placeholder is dropped, never shown as "4#4"
    bare = html_to_text(_MATH_PAGE).text
    assert "set size x,y and" in bare and "4#4" not in bare


def test_a_translation_in_a_folder_named_for_its_language_is_that_language(
    tmp_path: Path,
) -> None:
    assert (from_path("japanese/libraries.html"), from_path("doc/french.html")) == ("ja", "")
    (tmp_path / "japanese").mkdir()
    english = "<h1>Object libraries</h1><p>The libraries of objects are available to you.</p>"
    (tmp_path / "libraries.html").write_text(english)
    (tmp_path / "japanese" / "libraries.html").write_text(english)  # not translated yet
    langs = {d.doc_id: d.language for d in load_folder(tmp_path).documents}
    assert langs == {"libraries.html": "en", "japanese/libraries.html": "ja"}


def test_unclosed_definition_terms_read_one_term_and_definition_per_line() -> None:
    page = (
        '<dl><dt><img src="ball.png" alt="-"> <i>Length</i><dd>The length of the arrowheads'
        '<dt><img src="ball.png" alt="-"> <i>Width</i><dd>The width of the arrowheads</dl>'
        "<p>Box - This is the box drawn around the text.</p>"
    )
    # one line each, in one paragraph: a paragraph of its own would read as a section heading
    assert html_to_text(page).text == (
        "Length: The length of the arrowheads\nWidth: The width of the arrowheads\n\n"
        "Box - This is the box drawn around the text."
    )


def test_addresses_setting_values_and_log_lines_do_not_title_sections() -> None:
    from m2io.index.sections import is_heading

    not_headings = [
        "Default: 0",
        "bgpd: sockopt_tcp_signature: setsockopt(23): Cannot allocate memory",
        "<https://tools.ietf.org/id/draft-ietf-idr-accept-own-00.html>",
        "written by Josselin Mouette (jmouette@ens-lyon.fr)",
    ]
    headings = [
        "Step 1: Install",
        "Sphinx.add_builder(builder: Type[Builder], override: bool = False) → None",
        "Layers (Depths)",
    ]
    assert [is_heading(t) for t in not_headings + headings] == [False] * 4 + [True] * 3


def test_an_unclosed_term_over_paragraphs_stays_their_heading() -> None:
    page = (
        "<dl><dt><a name='rotate'></a>Rotate object<dd><p>Clicking an object rotates it.</p>"
        "<p>Button 2 makes copies.</p><dt>Width<dd>The width of the line</dl>"
    )
    text = html_to_text(page).text
    assert text.startswith("Rotate object\n")
    assert "Width: The width of the line" in text


def test_footnote_marks_leave_the_sentence_and_the_note_keeps_its_text() -> None:
    docbook = (
        '<h1>Options</h1><p>Switches<a href="#ftn.i4" class="footnote" id="i4"><sup'
        ' class="footnote">[4]</sup></a>. Then <a href="#ftn.i5" class="footnote"><sup>[5]</sup>'
        '</a> purge it.</p><div class="footnotes"><div id="ftn.i4" class="footnote"><p><a'
        ' href="#i4" class="para"><sup class="para">[4] </sup></a>Long and short forms.</p>'
        "</div></div>"
    )
    assert (
        html_to_text(docbook).text == "Options\n\nSwitches. Then purge it.\n\nLong and short forms."
    )
    sphinx = (
        '<p>It builds docs <a class="footnote-reference brackets" href="#id7" id="id2"'
        ' role="doc-noteref"><span class="fn-bracket">[</span>1<span class="fn-bracket">]</span>'
        '</a>.</p><aside class="footnote brackets" id="id7"><span class="label"><span'
        ' class="fn-bracket">[</span><a href="#id2" role="doc-backlink">1</a><span'
        ' class="fn-bracket">]</span></span><span class="backrefs">(<a href="#id2"'
        ' role="doc-backlink">1</a>,<a href="#id3" role="doc-backlink">2</a>)</span><p>A note.'
        "</p></aside>"
    )
    assert html_to_text(sphinx).text == "It builds docs.\n\nA note."
    texinfo = '<p>An inefficient<a id="DOCF4" href="#FOOT4"><sup>4</sup></a> way.</p>'
    assert html_to_text(texinfo).text == "An inefficient way."
    # a link to a section, a numbered step linking to its anchor, and a mark to another page stay
    kept = (
        '<p>See <a href="#setup">Setup</a>, step <a href="#s2">2</a> and'
        ' <a href="notes.html#n1"><sup>1</sup></a>.</p>'
    )
    assert html_to_text(kept).text == "See Setup, step 2 and 1."
