"""Manuals as their reader sees them, round 3 (issue 21): step lists in a "toc" list, file-name
alt texts, Markdown pipe tables and site syntax (heading ids, admonitions), inline icons,
non-headings as section titles, a licence's grant and "Back to top" links."""

from __future__ import annotations

from m2io.corpus.htmldoc import html_to_text
from m2io.corpus.markdown import markdown_to_text
from m2io.corpus.parsed import RawImage, names_its_file
from m2io.index.sections import sections
from m2io.types import Document

STEPS = """<html><body><h1>How to reconcile</h1>
<p>The process uses existing features.</p>
<ul class="toc">
  <li>Step 1: Get your statement</li>
  <li>Step 2: Open the corresponding account</li>
  <li>Step 3: <a href="#mark">Mark each transaction</a></li>
</ul>
<ul class="toc"><li><a href="a.html">Accounts</a></li><li><a href="b.html">Budget</a></li>
<li>Misc</li></ul>
<h3 id="mark">Mark each transaction</h3><p>Tick it.</p>
<p class="top"><a href="#top">&#8593; Back to Top</a></p>
</body></html>"""


def test_a_toc_list_of_plain_items_is_content_a_list_of_links_is_not() -> None:
    text = html_to_text(STEPS).text
    assert "Step 1: Get your statement\n\nStep 2: Open the corresponding account" in text
    assert "Step 3: Mark each transaction" in text
    assert "Accounts" not in text and "Budget" not in text  # two of three items link: contents


def test_a_back_to_top_link_is_navigation() -> None:
    text = html_to_text(STEPS).text
    assert "Back to Top" not in text and "\u2191" not in text
    assert text.endswith("Tick it.")
    kept = html_to_text('<p>See <a href="#top">the top section</a> first.</p>').text
    assert kept == "See the top section first."  # a sentence's own link stays


def test_an_alt_text_naming_the_image_file_is_no_caption() -> None:
    assert names_its_file("./onecontour", "./onecontour.png")
    assert names_its_file("Shot.PNG", "images/shot.png")
    assert not names_its_file("A contour plot", "./onecontour.png")
    html = (
        '<div class="float"><img src="./onecontour.png" alt="./onecontour"></div>'
        '<p>Text.</p><img src="b.png" alt="The layers dialog">'
    )
    captions = [image.best_caption for _, image in html_to_text(html).images]
    assert captions == ["", "The layers dialog"]
    assert RawImage("img/x.svg", alt="x").best_caption == ""


def test_an_inline_icon_named_by_its_sentence_stays_a_word() -> None:
    html = (
        '<ul><li><img src="images/hb-ope-edit.png" width="16" height="16"> = this icon shows '
        'the transaction you changed</li><li><img src="i/ok.png" alt="valid">: checked</li>'
        '<li><img src="pm-cash.png"> cash</li></ul>'
    )
    parsed = html_to_text(html)
    lines = parsed.text.split("\n\n")
    assert lines[0] == "hb ope edit = this icon shows the transaction you changed"
    assert lines[1] == "valid: checked"
    assert lines[2] == "cash"  # a label beside its icon says it already
    assert len(parsed.images) == 3


def test_a_licence_grant_is_furniture_like_the_copyright_line() -> None:
    html = (
        "<h1>Tool</h1><p>This file documents Tool 2.8.</p>"
        "<p>Copyright &copy; 2004-23 A. Author.</p>"
        "<blockquote><p>Permission is granted to copy, distribute and/or modify this document "
        "under the terms of the GNU Lesser General Public License.</p></blockquote>"
        "<p>Tool draws figures. Permission is granted to the user to skip checks.</p>"
    )
    text = html_to_text(html).text
    assert "modify this document" not in text and "Copyright" not in text
    assert "This file documents Tool 2.8." in text
    assert "Permission is granted to the user" in text  # inside a paragraph: content


PIPES = """# Transposing {#transposing}

Convert a column to rows.

|Column|
|---|
|ID|
|Friend|

| Expression | Result |
| - | :-: |
| `value.match(/a\\|b/)` | **null** |
| `value.length()` | 3 |

After the table.
"""


def test_markdown_pipe_tables_read_as_rows_never_as_headings() -> None:
    parsed = markdown_to_text(PIPES)
    assert parsed.title == "Transposing"
    assert "Column: ID\nColumn: Friend" in parsed.text
    assert (
        "Expression: value.match(/a|b/); Result: null\nExpression: value.length(); Result: 3"
        in (parsed.text)
    )
    assert "|Column|" not in parsed.text and "| - |" not in parsed.text
    titles = [s.title for s in sections(Document("t.md", parsed.text, title=parsed.title))]
    assert titles == ["Transposing"]


def test_markdown_heading_ids_and_admonitions_read_as_the_site_shows_them() -> None:
    md = (
        "## Install the tool {#install-the-tool}\n\n"
        ":::caution tool.exe not running?\n\nCheck the log first.\n\n:::\n\n"
        ":::info\nTimes are UTC.\n:::\n\n"
        '!!! note "Paths"\n    Use forward slashes.\n\n    ```\n    a/b\n    ```\n\nNext part.\n\n'
        "```\n:::kept in code\n```\n"
    )
    text = markdown_to_text(md).text
    assert text.startswith("Install the tool\n\n")
    assert "Caution: tool.exe not running? Check the log first." in text
    assert "Info: Times are UTC." in text
    assert "Note: Paths. Use forward slashes." in text
    assert "```\na/b\n```" in text  # the note's indented code is code
    assert ":::kept in code" in text and text.count(":::") == 1
    assert "{#" not in text


def test_lead_ins_and_one_line_definitions_do_not_title_sections() -> None:
    text = (
        "Axes\n\n"
        "Axes are drawn with axes3.\n\n"
        "The predefined three-dimensional axis types are\n\n"
        "```\naxis YZEquals(real y);\n```\n\n"
        "Keyboard bindings\n\n"
        "The keyboard bindings are:\n\n"
        "q: exit\n\nCtrl-q: exit\n\n"
        "Step 1: Get your statement\n\nStep 2: Open the account\n\nStep 3: Sort by date\n\n"
        "Step 4: Install\n\n"
        "Done.\n\n"
        "Part 2: Reference\n\n"
        "Tool lists the functions."
    )
    titles = [s.title for s in sections(Document("a", text, title="Axes"))]
    assert titles == ["Axes", "Keyboard bindings", "Part 2: Reference"]


def test_an_option_name_before_its_default_and_description_stays_a_heading() -> None:
    text = (
        "Options\n\n"
        "Option: Tool::Auto-Upgrade\n\n"
        "Default: false\n\n"
        "Description: If this option is true, the tool upgrades every package it can whenever "
        "it starts, as if the user had asked for it.\n\n"
        "Option: Tool::Clean\n\n"
        "Default: true\n\n"
        "Description: Whether downloaded files are deleted once they have been installed."
    )
    titles = [s.title for s in sections(Document("o", text, title="Options"))]
    assert titles == ["Options", "Option: Tool::Auto-Upgrade", "Option: Tool::Clean"]


def test_an_end_tag_br_breaks_the_line_as_browsers_do() -> None:
    html = '<p><img src="a/hb-new.png" width="16" height="16"> = added</br>'
    html += '<img src="a/hb-edit.png" width="16" height="16"> = modified<br></p>'
    assert html_to_text(html).text == "hb new = added\nhb edit = modified"
