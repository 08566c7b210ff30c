"""Folder loader: Markdown and HTML pages with their images, captions, and decoration left out."""

from __future__ import annotations

from pathlib import Path

import pytest
from fixtures_corpus import build_folder, make_corrupt, make_png

from m2io.corpus import CorpusError, load_folder
from m2io.corpus.htmldoc import html_to_text
from m2io.corpus.markdown import markdown_to_text
from m2io.corpus.parsed import combine_captions, looks_like_icon, strip_figure_number
from m2io.types import Document


def _images(doc: Document) -> list[tuple[str, str]]:
    return [(a.image.image_id, a.image.caption) for a in doc.images]


def _before(doc: Document, k: int, n: int = 30) -> str:
    offset = doc.images[k].offset
    return doc.text[max(offset - n, 0) : offset]


@pytest.fixture()
def corpus(tmp_path: Path):
    return load_folder(build_folder(tmp_path))


def test_loads_every_page_with_stable_ids(corpus) -> None:
    assert [d.doc_id for d in corpus.documents] == ["layers.md", "notes.txt", "guide/filters.html"]
    assert corpus.warnings == []
    assert all(Path(d.source).is_file() for d in corpus.documents)
    # an image referenced as ../img/blur.png from guide/ has the root-relative id
    assert "img/blur.png" in corpus.images
    assert corpus.get("notes.txt").text == "Plain notes.\n\nSecond paragraph."


def test_markdown_inline_reference_and_raw_images(corpus) -> None:
    doc = corpus.get("layers.md")
    assert doc.title == "Working with layers"  # front matter wins over the first heading
    assert _images(doc) == [
        ("img/layers.png", "The Layers dialog. Layers dialog screenshot"),
        ("img/modes.png", "Layer modes menu. Mode menu"),
        ("img/raw.png", "Raw tag title. Raw tag image"),
    ]
    assert _before(doc, 0).endswith("The dialog below shows them.")
    assert _before(doc, 1).endswith("Each layer has a mode.")
    assert "![" not in doc.text and "](" not in doc.text and "[modes]" not in doc.text
    assert "Back to top" in doc.text  # link text kept, target and emphasis marks dropped
    assert "# Layers" not in doc.text and doc.text.startswith("Layers\n\n")
    assert "icons/prev.png" not in corpus.images  # an icon with an icon's alt text


def test_html_figures_captions_and_text(corpus) -> None:
    doc = corpus.get("guide/filters.html")
    assert doc.title == "Blur filters"
    assert _images(doc) == [
        ("img/blur.png", "Gaussian blur result. blurred photo"),
        ("img/pixelize.png", "The Pixelize filter"),  # DocBook title, number stripped
        ("img/mosaic.png", "Mosaic applied to a photo"),  # mediaobject caption block
    ]
    assert _before(doc, 0).endswith("They reduce detail.")
    assert _before(doc, 1, 40).endswith("Figure 16.2. The Pixelize filter")
    assert "Blur filters soften an image. They reduce detail.\n\nGaussian blur result" in doc.text
    assert "var x" not in doc.text and "color: red" not in doc.text
    assert "code  line 1\n    indented" in doc.text  # <pre> keeps its layout


def test_navigation_and_decoration_are_skipped(corpus) -> None:
    doc = corpus.get("guide/filters.html")
    assert not any(i.startswith("icons/") for i in corpus.images)
    assert "img/spacer.png" not in corpus.images  # 10x10 px
    assert "img/deco.png" not in corpus.images  # role="presentation"
    assert "Site menu" not in doc.text and "Prev" not in doc.text  # navigation text removed
    assert "Icons are not content." in doc.text
    assert "Spacer and end." in doc.text
    assert [a.image.image_id for a in doc.images].count("img/blur.png") == 1  # not the nav copy


def test_missing_and_corrupt_images_are_reported_and_text_kept(tmp_path: Path) -> None:
    make_png(tmp_path / "ok.png")
    make_corrupt(tmp_path / "bad.png")
    (tmp_path / "page.md").write_text(
        "Intro.\n\n![gone](nothere.png)\n\nMiddle.\n\n![broken](bad.png)\n\n![fine](ok.png)\n"
    )
    corpus = load_folder(tmp_path)
    doc = corpus.get("page.md")
    assert doc.text == "Intro.\n\nMiddle."
    assert [a.image.image_id for a in doc.images] == ["ok.png"]
    assert any(
        w.startswith("missing image nothere.png") and "page.md" in w for w in corpus.warnings
    )
    assert any(w.startswith("corrupt image bad.png") and "page.md" in w for w in corpus.warnings)


def test_non_utf8_file_is_replaced_and_reported(tmp_path: Path) -> None:
    (tmp_path / "a.html").write_bytes(b"<p>caf\xe9 au lait</p>")
    (tmp_path / "b.md").write_text("# Fine\n\nAll good.")
    corpus = load_folder(tmp_path)
    assert corpus.get("a.html").text == "caf\ufffd au lait"
    assert any(w.startswith("a.html: invalid UTF-8") for w in corpus.warnings)
    assert corpus.get("b.md").title == "Fine"


def test_empty_folder_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "image.png").write_bytes(b"")
    (tmp_path / "empty.md").write_text("   \n")
    with pytest.raises(CorpusError, match=r"no documents found \(looked for \*\.md"):
        load_folder(tmp_path)
    with pytest.raises(CorpusError, match="not a folder"):
        load_folder(tmp_path / "absent")


def test_exclude_and_hidden_files(tmp_path: Path) -> None:
    (tmp_path / "keep.md").write_text("Kept.")
    (tmp_path / "LICENSE-images.md").write_text("Licence text.")
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".hidden" / "x.md").write_text("Hidden.")
    corpus = load_folder(tmp_path, exclude=["LICENSE*"])
    assert [d.doc_id for d in corpus.documents] == ["keep.md"]


def test_remote_images_are_kept_by_url() -> None:
    parsed = markdown_to_text("See this.\n\n![A chart](https://example.org/chart.png)\n")
    assert [(o, i.src) for o, i in parsed.images] == [(9, "https://example.org/chart.png")]


def test_markdown_code_fences_and_setext_title() -> None:
    parsed = markdown_to_text(
        "Guide\n=====\n\nRun it:\n\n```sh\n![not an image](x.png)\n```\n\nDone *now*.\n"
    )
    assert parsed.title == "Guide"
    assert parsed.images == []
    # the code keeps its lines between fence lines: one unit for the splitter, shown as code
    assert parsed.text == "Guide\n\nRun it:\n\n```\n![not an image](x.png)\n```\n\nDone now."


def test_markdown_figure_block_caption() -> None:
    parsed = markdown_to_text(
        'Text.\n\n<figure><img src="a.png" alt="alt a"><figcaption>The caption</figcaption>'
        "</figure>\n\nAfter."
    )
    [(offset, image)] = parsed.images
    assert (offset, image.best_caption) == (5, "The caption. alt a")
    assert parsed.text == "Text.\n\nThe caption\n\nAfter."


def test_html_inline_icon_keeps_the_sentence_whole() -> None:
    parsed = html_to_text('<p>Click the <img src="eye.png" alt="eye"> button to hide it.</p>')
    assert parsed.text == "Click the eye button to hide it."  # the icon, named, is a word
    assert [(o, i.alt) for o, i in parsed.images] == [(9, "eye")]


def test_html_title_falls_back_to_title_element() -> None:
    assert html_to_text("<title>Page  title</title><p>x</p>").title == "Page title"


def test_caption_helpers() -> None:
    assert combine_captions("The Layers dialog", "", "Layers dialog") == "The Layers dialog"
    assert combine_captions("dialog", "The dialog window") == "The dialog window"
    assert combine_captions("Blur.", "Gauss") == "Blur. Gauss"
    # a title and an alt text saying the same in other words: the fuller one, once
    title, alt = "The window to configure style", "The window to configure the style to be applied."
    assert combine_captions("", title, alt) == alt
    assert combine_captions("", alt, title) == alt
    # different words are both kept
    assert combine_captions("Style window", "Colour picker") == "Style window. Colour picker"
    assert strip_figure_number("Figure 3.14. The Toolbox") == "The Toolbox"
    assert looks_like_icon("../images/prev.png") and looks_like_icon("nav-home_icon.gif")
    assert not looks_like_icon("update-dialog.png") and not looks_like_icon("layers.png")


def test_html_navigation_tables_are_removed() -> None:
    parsed = html_to_text(
        '<table class="nav" summary="Navigation footer"><tr><td><img src="images/prev.png">'
        "</td><td>Previous page</td></tr></table><p>Body text.</p>"
        '<table class="navigation"><tr><td><img src="left.png" alt="Prev"></td></tr></table>'
    )
    assert parsed.text == "Body text."
    assert parsed.images == []


def test_files_parsed_through_another_map_give_the_same_corpus(tmp_path):
    """`parse_map` is how `m2io index --ray` parses files on Ray workers: whatever runs the
    parsing, the documents, images and warnings are those of the plain load, and a file that
    fails to parse there is still reported and skipped."""
    from m2io.corpus.folder import load_folder
    from m2io.demo import corpus_path

    calls: list[int] = []

    def batches(fn, items):
        calls.append(len(items))
        return [fn(x) for x in reversed(items)][::-1]  # results in order, computed elsewhere

    plain = load_folder(corpus_path())
    mapped = load_folder(corpus_path(), parse_map=batches)
    assert calls and sum(calls) == len(plain.documents)
    assert mapped.documents == plain.documents and mapped.warnings == plain.warnings
    assert mapped.images == plain.images

    (tmp_path / "ok.md").write_text("# Fine\n\nText.\n")
    (tmp_path / "bad.html").write_bytes(b"<p>x</p>")

    def failing(fn, items):
        return [
            (None, [], "ValueError: boom") if item[2] == "bad.html" else fn(item) for item in items
        ]

    corpus = load_folder(tmp_path, parse_map=failing)
    assert [d.doc_id for d in corpus.documents] == ["ok.md"]
    assert any("bad.html: could not be parsed (ValueError: boom)" in w for w in corpus.warnings)


def test_markdown_list_items_stay_sentences_of_their_own() -> None:
    from m2io.text import split_sentences

    text = markdown_to_text(
        "Your options are to:\n\n* import data from files on your computer\n"
        "* import data from links on the web\n  (any URL)\n- paste text\n\n* * *\n"
    ).text
    assert split_sentences(text) == [
        "Your options are to:",
        "• import data from files on your computer",
        "• import data from links on the web (any URL)",
        "• paste text",
    ]
