"""Doc trees read as their reader sees them (issue 20): main content, no generator furniture,
tables kept row by row, admonitions with their label, include/exclude and the skip report."""

from __future__ import annotations

from pathlib import Path

import pytest

from m2io.corpus import chunk_corpus, load_folder
from m2io.corpus.htmldoc import html_to_text
from m2io.corpus.skips import choose, skipped_lines
from m2io.index.sections import sections

SPHINX_PAGE = """<html lang="en"><head><title>Clips &#8212; Editor 3.0 documentation</title></head>
<body>
<div class="related" role="navigation"><a href="genindex.html">index</a> | <a href="x.html">next</a></div>
<div class="document"><div class="body" role="main">
<section id="clips"><h1>Clips<a class="headerlink" href="#clips" title="Permalink">\u00b6</a></h1>
<p>A clip is a piece of media on the timeline.</p>
<table class="docutils"><thead><tr><th><p>Property</p></th><th><p>Description</p></th></tr></thead>
<tbody><tr><td><p>Time</p></td><td><p>Reverse and speed up or slow down video</p></td></tr>
<tr><td><p>Volume</p></td><td><p>Fade in or out the volume for a clip</p></td></tr></tbody></table>
<div class="admonition note"><p class="admonition-title">Note</p><p>Keyframes are copied too.</p></div>
<h2>Trimming<a class="headerlink" href="#trim">\uf0c1</a></h2><p>Drag the edge of a clip.</p>
</section></div></div>
<div class="sphinxsidebar" role="navigation"><h3>Quick search</h3><form><input name="q"></form></div>
<div class="footer">&#169; Copyright 2008-2022, The Team. Created using Sphinx.</div>
</body></html>"""


def test_a_sphinx_page_reads_as_its_reader_sees_it() -> None:
    parsed = html_to_text(SPHINX_PAGE)
    text = parsed.text
    assert parsed.title == "Clips"
    for furniture in ("\u00b6", "\uf0c1", "Quick search", "Copyright", "next", "index |"):
        assert furniture not in text
    # each row whole, with its headers, on one line
    assert "Property: Time; Description: Reverse and speed up or slow down video" in text
    assert "Property: Volume; Description: Fade in or out the volume for a clip" in text
    assert "Note: Keyframes are copied too." in text
    doc_titles = [s.title for s in sections(_doc(text))]
    assert doc_titles == ["Clips", "Trimming"]  # rows and the note are not headings


def _doc(text: str):
    from m2io.types import Document

    return Document("a.html", text, (), "Clips")


def test_a_table_without_headers_keeps_its_cells_apart() -> None:
    text = html_to_text("<table><tr><td>Ctrl+Z</td><td>Undo</td></tr></table>").text
    assert text == "Ctrl+Z | Undo"


def test_generator_furniture_and_source_copies_are_skipped_and_reported() -> None:
    rels = [
        "index.html",
        "usage/clips.html",
        "_sources/usage/clips.rst.txt",
        "_static/basic.html",
        "genindex.html",
        "search.html",
        "404.html",
        "notes.txt",
        "clips.txt",
        "clips.html",
    ]
    kept, skipped = choose(rels)
    assert kept == ["index.html", "usage/clips.html", "notes.txt", "clips.html"]
    lines = skipped_lines(skipped)
    assert len(lines) == 2
    assert any(line.startswith("2 files skipped: copies of HTML pages") for line in lines)
    kept, skipped = choose(rels, include=["usage/*", "*.txt"], exclude=["notes*"])
    assert kept == ["usage/clips.html"]


def _site(tmp_path: Path, pages: int) -> Path:
    banner = "<div><p>Editor 3.0 manual</p><p>Report a bug on the tracker</p></div>"
    for i in range(pages):
        body = f"<h1>Page {i}</h1><p>Unique text number {i} about feature {i}.</p>"
        (tmp_path / f"p{i}.html").write_text(f"<html><body>{banner}{body}</body></html>")
    (tmp_path / "_sources").mkdir()
    (tmp_path / "_sources" / "p0.rst.txt").write_text(".. _p0:\n\nPage 0\n======\n")
    return tmp_path


def test_lines_repeated_on_most_pages_are_dropped(tmp_path: Path) -> None:
    corpus = load_folder(_site(tmp_path, 8))
    assert len(corpus.documents) == 8
    texts = [d.text for d in corpus.documents]
    assert all("Editor 3.0 manual" not in t and "Report a bug" not in t for t in texts)
    assert corpus.documents[0].text == "Page 0\n\nUnique text number 0 about feature 0."
    assert list(corpus.skipped.values()) == [["_sources/p0.rst.txt"]]
    chunks = chunk_corpus(corpus.documents)
    assert not any(".. _p0" in c.text for c in chunks)


def test_include_and_exclude_on_the_folder_loader(tmp_path: Path) -> None:
    corpus = load_folder(_site(tmp_path, 3), include=["p1*", "p2*"], exclude=["p2.html"])
    assert [d.doc_id for d in corpus.documents] == ["p1.html"]
    assert "Editor 3.0 manual" in corpus.documents[0].text  # too few pages to call it furniture


@pytest.mark.parametrize("share_pages", [8])
def test_images_keep_their_place_when_furniture_lines_go(tmp_path: Path, share_pages: int) -> None:
    from PIL import Image

    Image.new("RGB", (60, 40), "red").save(tmp_path / "shot.png")
    _site(tmp_path, share_pages)
    (tmp_path / "p3.html").write_text(
        "<html><body><div><p>Editor 3.0 manual</p><p>Report a bug on the tracker</p></div>"
        "<h1>Page 3</h1><p>Open the dialog.</p><img src='shot.png' alt='The dialog'>"
        "<p>Then close it.</p></body></html>"
    )
    doc = load_folder(tmp_path).get("p3.html")
    assert doc is not None
    (anchor,) = doc.images
    assert doc.text[: anchor.offset].endswith("Open the dialog.")


def test_unmarked_icon_navigation_bars_and_code_line_numbers_are_left_out() -> None:
    bar = (
        '<table><tr><td><a href="n.html"><img src="figures/next.png" alt="Ray"></a></td>'
        '<td><a href="u.html"><img src="figures/up.png" alt="Line Tools"></a></td>'
        "<td><b>Straight Line</b></td></tr></table>"
    )
    page = (
        f"<html><body>{bar}<h4>Straight Line</h4><p>Select two points.</p>"
        '<div class="highlight"><pre><span class="linenos">1</span>x = 1\n'
        '<span class="linenos">2</span>y = 2</pre></div>'
        '<dl><dt>f(x)<a class="reference internal" href="_modules/m.html">'
        '<span class="viewcode-link">[source]</span></a></dt><dd>Does f.</dd></dl>'
        f"{bar}</body></html>"
    )
    parsed = html_to_text(page)
    assert parsed.text == (
        "Straight Line\n\nSelect two points.\n\n```\nx = 1\ny = 2\n```\n\nf(x): Does f."
    )
    assert parsed.images == []


def test_a_pdf_beside_an_html_tree_is_flagged_as_a_possible_second_copy(tmp_path: Path) -> None:
    pytest.importorskip("pypdfium2")
    from m2io.testing.pdfmake import make_pdf

    _site(tmp_path, 6)
    (tmp_path / "manual.pdf").write_bytes(make_pdf([[("Installing", 18), ("Run setup.", 10)]]))
    corpus = load_folder(tmp_path)
    assert any(d.doc_id.startswith("manual.pdf#") for d in corpus.documents)
    (warning,) = [w for w in corpus.warnings if w.startswith("manual.pdf:")]
    assert "beside 6 HTML pages" in warning and "--exclude 'manual.pdf'" in warning


def test_a_glossary_entry_reads_term_colon_definition(tmp_path) -> None:
    """A definition list (a glossary) kept its terms as bare lines, and answers glued a term to
    the definition before it ("… for reading. Privacy (GPG) A more modern …")."""
    from m2io.corpus import load_corpus

    (tmp_path / "g.html").write_text(
        "<html lang='en'><body><main><h1>Glossary</h1><dl>"
        "<DT><A NAME='gt_enc'></A>Encryption (GPG)</DT><DD><P>Scrambling a message so only "
        "the recipient can read it.</P></DD>"
        "<dt>Face</dt><dd>A coloured image in the message headers.</dd>"
        "</dl></main></body></html>"
    )
    text = load_corpus(tmp_path).documents[0].text
    assert "Encryption (GPG): Scrambling a message so only the recipient can read it." in text
    assert "Face: A coloured image in the message headers." in text


# An AsciiDoc manual page (git-doc's layout, written here): the page's <h1> and its one-line
# summary sit in div#header, the rest in div#content, the element the loader reads.
ASCIIDOC_PAGE = """<html><head><title>tool-reset(1)</title></head><body class="manpage">
<div id="header"><h1>tool-reset(1) Manual Page</h1><h2>NAME</h2>
<div class="sectionbody"><p>tool-reset - Move the current head to another state</p></div></div>
<div id="content"><div class="sect1"><h2 id="_synopsis">SYNOPSIS</h2>
<div class="sectionbody"><pre>tool reset [--soft | --hard] [commit]</pre></div></div>
<div class="sect1"><h2 id="_examples">EXAMPLES</h2>
<div class="sectionbody"><p>Undo the last commit and keep its changes.</p></div></div></div>
<div id="footer"><div id="footer-text">Last updated 2025-10-07</div></div>
</body></html>"""


def test_a_manual_pages_title_and_summary_outside_its_content_are_read() -> None:
    parsed = html_to_text(ASCIIDOC_PAGE)
    # the title is the page's own, not its first section's ("SYNOPSIS" before the change)
    assert parsed.title == "tool-reset(1) Manual Page"
    # the one-line summary is the page's best description of what it is about
    assert "tool-reset - Move the current head to another state" in parsed.text
    assert parsed.text.index("Move the current head") < parsed.text.index("SYNOPSIS")
    titles = [s.title for s in sections(_doc(parsed.text))]
    assert titles[:2] == ["tool-reset(1) Manual Page", "NAME"]
    assert titles.index("SYNOPSIS") < titles.index("EXAMPLES")


def test_a_site_banner_before_the_content_is_not_read_as_the_pages_lead() -> None:
    page = ASCIIDOC_PAGE.replace(
        '<div id="header">', '<div id="header" role="banner"><nav><a href="/">home</a></nav>'
    )
    parsed = html_to_text(page)
    assert "Move the current head" not in parsed.text
    assert parsed.title == "SYNOPSIS"  # the content's first heading, as before


_TEXINFO_NODE = """<html><head><title>Terminal Output (Manual)</title></head><body>
<div class="section" id="Terminal-Output">
<div class="header"><p>Next: <a href="Terminal-Input.html" accesskey="n" rel="next">Terminal
Input</a>, Up: <a href="Basic-IO.html" accesskey="u" rel="up">Basic Input and Output</a>
&nbsp; [<a href="index.html#SEC_Contents" rel="contents">Contents</a>][<a href="Index.html"
rel="index">Index</a>]</p></div><hr>
<h4 class="subsection">14.1.1 Terminal Output</h4>
<p>To print the value of a variable without its name, use the function disp.</p>
<ul class="section-toc"><li><a href="Paging.html">Paging Screen Output</a></li></ul>
<table class="menu"><tr><td><a href="Paging.html">Paging</a></td></tr></table>
<div class="contents"><h2>Table of Contents</h2><ul><li><a href="Paging.html">Paging</a></li></ul></div>
<p>See the next section for paging; the previous one covers expressions.</p>
<hr><div class="header"><p>Next: <a href="Terminal-Input.html">Terminal Input</a>, Up:
<a href="Basic-IO.html">Basic Input and Output</a> [<a href="index.html#SEC_Contents"
rel="contents">Contents</a>]</p></div>
</div></body></html>"""

_TEXINFO_REDIRECT = """<html><head><title>XREFdisp</title>
<meta http-equiv="Refresh" content="0; url=Terminal-Output.html#XREFdisp"></head>
<body><p>The node you are looking for is at <a href="Terminal-Output.html#XREFdisp">XREFdisp</a>.
</p></body></html>"""


def test_texinfo_step_links_and_node_menus_are_navigation_not_text() -> None:
    parsed = html_to_text(_TEXINFO_NODE)
    assert parsed.title == "14.1.1 Terminal Output"
    assert parsed.text.startswith("14.1.1 Terminal Output\n\nTo print the value")
    for furniture in ("Next:", "Up:", "[Contents]", "Paging", "Table of Contents"):
        assert furniture not in parsed.text
    # running prose that names the next section is not a step link: it stays
    assert parsed.text.endswith(
        "See the next section for paging; the previous one covers expressions."
    )
    assert parsed.redirect == ""


def test_redirect_pages_are_skipped_and_reported_not_indexed(tmp_path: Path) -> None:
    (tmp_path / "Terminal-Output.html").write_text(_TEXINFO_NODE)
    for name in ("XREFdisp.html", "XREFfdisp.html"):
        (tmp_path / name).write_text(_TEXINFO_REDIRECT)
    # a page that forwards but has a body of its own is still a page
    long_body = "<p>" + "This page moved but still explains the setup in full. " * 10 + "</p>"
    (tmp_path / "moved.html").write_text(
        _TEXINFO_REDIRECT.replace("<body>", "<body><h1>Setup</h1>" + long_body)
    )
    corpus = load_folder(tmp_path)
    assert sorted(d.doc_id for d in corpus.documents) == ["Terminal-Output.html", "moved.html"]
    lines = skipped_lines(corpus.skipped)
    assert lines == [
        "2 files skipped: redirect pages (each forwards to a page read in its own right) "
        "(XREFdisp.html, XREFfdisp.html)"
    ]


def test_a_texinfo_definition_reads_without_its_empty_category() -> None:
    page = (
        '<dl class="def"><dt><span class="category">: </span><strong>disp</strong> '
        '<em>(x)</em></dt><dt><span class="category">: </span><em>str =</em> <strong>disp'
        "</strong> <em>(x)</em></dt><dd><p>Display the value of x.</p></dd></dl>"
    )
    text = html_to_text(f"<html><body><h3>Output</h3>{page}</body></html>").text
    assert text == "Output\n\ndisp (x)\n\nstr = disp (x): Display the value of x."


def test_docbook_xhtml_pages_are_read_like_html(tmp_path: Path) -> None:
    page = (
        '<?xml version="1.0" encoding="UTF-8"?>\n<html xmlns="http://www.w3.org/1999/xhtml">'
        "<head><title>Triggers</title></head><body><h2>Triggers</h2>"
        "<p>A trigger runs an action when a line from the world matches.</p></body></html>"
    )
    (tmp_path / "ch05.xhtml").write_text(page)
    corpus = load_folder(tmp_path)
    assert [(d.doc_id, d.title) for d in corpus.documents] == [("ch05.xhtml", "Triggers")]
    assert corpus.documents[0].text.endswith("when a line from the world matches.")


def test_a_docbook_xhtml5_figure_title_is_the_caption_and_one_sentence() -> None:
    from m2io.text import split_sentences

    page = (
        '<html><body><h2>3.4. Reviewing Text</h2><div class="figure"><div class="figure-title">'
        'Figure 3.3. A typical session with two open Worlds</div><div class="figure-contents">'
        '<div class="mediaobject"><img src="images/typical.png" alt="Two Worlds."/></div></div>'
        "</div><p>The main box keeps the last lines.</p></body></html>"
    )
    parsed = html_to_text(page)
    assert parsed.images[0][1].best_caption.startswith("A typical session with two open Worlds")
    # the figure's number never stands alone as a sentence ("Figure 3.3." opened an answer)
    assert "Figure 3.3." not in split_sentences(parsed.text)
    assert "Figure 3.3. A typical session with two open Worlds" in split_sentences(parsed.text)
