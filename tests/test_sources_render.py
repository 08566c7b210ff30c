"""Issue 9, items 3-5: an answer cites its sources (JSON ``sources`` and numbered text segments,
a linked "Sources" list in Markdown and HTML, a ``[n]`` after each paragraph), file-name captions
are not shown as captions, and "nothing relevant found" is said plainly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from m2io.mergers.default import DefaultMerger
from m2io.mergers.render import NOTHING_FOUND, looks_like_file_name, to_html, to_markdown
from m2io.types import (
    Candidate,
    ImageRef,
    MultimodalAnswer,
    Placement,
    Sentence,
    Slot,
    Source,
    TextAnswer,
)

CROP = Source("crop", "Cropping", "guide/crop.html", "Crop an image", "crop-an-image")
CROP_TIPS = Source("crop", "Cropping", "guide/crop.html", "Tips", "tips")
LAYERS = Source("layers", "Layers", "https://docs.example.org/layers.html", "Layer basics")


def _corpus(tmp_path: Path) -> Path:
    root = tmp_path / "corpus"
    (root / "guide").mkdir(parents=True)
    (root / "guide" / "crop.html").write_text("<h1>Cropping</h1>")
    with (root / "guide" / "shot.png").open("wb") as fh:
        Image.new("RGB", (4, 4), "green").save(fh, format="PNG")
    return root


def _merged(
    tmp_path: Path, *sentences: Sentence, caption: str = "The crop tool"
) -> MultimodalAnswer:
    root = _corpus(tmp_path)
    answer = TextAnswer("How do I crop?", sentences)
    cands = (Candidate(ImageRef("shot", str(root / "guide" / "shot.png"), caption=caption)),)
    out = DefaultMerger().merge(answer, Placement((Slot("shot", 1),)), cands)
    return MultimodalAnswer(**{**out.__dict__, "image_root": str(root)})


def _cited(tmp_path: Path) -> MultimodalAnswer:
    return _merged(
        tmp_path,
        Sentence("Choose the Crop tool.", "c1", CROP),
        Sentence("Drag a rectangle.", "c1", CROP),
        Sentence("Press Enter.", "c2", CROP_TIPS),
        Sentence("A layer holds pixels.", "c9", LAYERS),
        Sentence("An unsourced remark."),
    )


def test_json_lists_sources_in_first_use_order_and_numbers_each_segment(tmp_path):
    data = json.loads(json.dumps(_cited(tmp_path).to_dict()))
    assert [(s["doc_id"], s["section"]) for s in data["sources"]] == [
        ("crop", "Crop an image"),
        ("crop", "Tips"),
        ("layers", "Layer basics"),
    ]
    assert data["sources"][0]["location"] == "guide/crop.html"
    texts = [s for s in data["segments"] if s["type"] == "text"]
    assert [s["source"] for s in texts] == [1, 1, 2, 3, None]
    assert [s["sentence_index"] for s in texts] == [1, 2, 3, 4, 5]  # existing fields kept


def test_markdown_cites_each_paragraph_and_lists_linked_sources(tmp_path):
    answer = _cited(tmp_path)
    md = to_markdown(answer, relative_to=tmp_path)
    assert md.startswith("Choose the Crop tool. [1]\n\n![The crop tool](<corpus/guide/shot.png>")
    assert (
        "Drag a rectangle. Press Enter. A layer holds pixels. An unsourced remark. [1, 2, 3]" in md
    )
    sources = md.split("Sources:", 1)[1]
    assert "1. [Cropping › Crop an image](<corpus/guide/crop.html#crop-an-image>)" in sources
    assert "2. [Cropping › Tips](<corpus/guide/crop.html#tips>)" in sources
    assert "3. [Layers › Layer basics](<https://docs.example.org/layers.html>)" in sources
    # written elsewhere, the link still reaches the file
    out = tmp_path / "out"
    out.mkdir()
    assert "](<../corpus/guide/crop.html#crop-an-image>)" in to_markdown(answer, relative_to=out)


def test_html_lists_sources_with_escaped_links_and_superscript_markers(tmp_path):
    page = to_html(_cited(tmp_path), relative_to=tmp_path)
    assert '<sup class="cite"><a href="#source-1">[1]</a></sup>' in page
    assert '<li id="source-1"><a href="corpus/guide/crop.html#crop-an-image"' in page
    assert '<a href="https://docs.example.org/layers.html" rel="noreferrer noopener">' in page
    assert "Layers › Layer basics" in page


def test_hostile_source_titles_and_locations_stay_inert(tmp_path):
    markdown_it = pytest.importorskip("markdown_it")
    hostile = (
        Source("x", "<script>alert(1)</script>", "javascript:alert(2)", "S"),
        Source("y", "Escape](javascript:alert(3))", "../../outside/secret.html", ""),
        Source("z", "Data", "data:text/html,<b>x</b>", ""),
    )
    answer = _merged(
        tmp_path, *(Sentence(f"Sentence {i}.", None, src) for i, src in enumerate(hostile))
    )
    md = to_markdown(answer, relative_to=tmp_path)
    page = to_html(answer, relative_to=tmp_path)
    assert "<script>" not in md and "<script>" not in page.split("<body>", 1)[1]
    rendered = markdown_it.MarkdownIt("commonmark", {"html": True}).render(md)
    assert "<script" not in rendered and 'href="' not in rendered  # none of the three links
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert 'href="javascript' not in page and 'href="data:' not in page
    assert 'href="../' not in page and 'secret.html"' not in page
    assert "(javascript:alert(2))" in page  # shown as plain text, not linked


@pytest.mark.parametrize(
    "caption", ["radicale_web.png", "IMG_0042.JPG", "screenshot-1", "images/foo.gif"]
)
def test_file_name_captions_are_not_shown_as_captions(tmp_path, caption):
    answer = _merged(tmp_path, Sentence("Open the web view."), caption=caption)
    md = to_markdown(answer, relative_to=tmp_path)
    page = to_html(answer)
    assert caption not in md
    assert "![figure](<corpus/guide/shot.png>)" in md
    shown = page.split("<body>", 1)[1].split("<details>", 1)[0]  # the candidate table keeps it
    assert caption not in shown and "<figcaption>" not in shown
    assert "(after sentence" not in md and "(after sentence" not in page
    assert answer.to_dict()["segments"][1]["caption"] == caption  # the JSON keeps it


@pytest.mark.parametrize(
    ("caption", "is_name"),
    [("The Radicale web interface", False), ("Histogram", False), ("DSC1234", True)],
)
def test_file_name_heuristic(caption, is_name):
    assert looks_like_file_name(caption) is is_name


def test_nothing_relevant_is_said_plainly():
    answer = MultimodalAnswer(
        "¿Dónde está la biblioteca?",
        (),
        notes=("retriever: nothing relevant found (best score 0.12 below the floor 0.35)",),
    )
    md = to_markdown(answer)
    page = to_html(answer)
    assert md.startswith(NOTHING_FOUND)
    assert NOTHING_FOUND in page
    assert NOTHING_FOUND == "No relevant passage was found in the corpus for this question."


def test_code_spans_stay_verbatim_and_list_items_start_lines():
    markdown_it = pytest.importorskip("markdown_it")
    from m2io.types import TextSegment

    answer = MultimodalAnswer(
        "How do I embed an image?",
        (
            TextSegment("Write the tag as follows:", 1),
            TextSegment("1. Type `<img src=x onerror=alert(1)>` in the page.", 2),
            TextSegment("2. Save it; a stray ` stays text and <b>this</b> is escaped.", 3),
        ),
    )
    md = to_markdown(answer)
    assert md.startswith(
        "Write the tag as follows:\n1. Type `<img src=x onerror=alert(1)>` in the page.\n2. Save"
    )
    rendered = markdown_it.MarkdownIt("commonmark", {"html": True}).render(md)
    assert "<code>&lt;img src=x onerror=alert(1)&gt;</code>" in rendered
    assert "<li>" in rendered and "<img" not in rendered and "<b>" not in rendered
    page = to_html(answer).split("<body>", 1)[1]
    assert "<code>&lt;img src=x onerror=alert(1)&gt;</code>" in page
    assert "follows:<br>1. Type" in page and "<b>" not in page and "<img" not in page


def test_a_document_that_is_a_jsonl_line_links_to_the_file_with_a_line_anchor(tmp_path):
    from m2io.index.sections import chunk_sources
    from m2io.types import Chunk, Document, TextSegment

    (tmp_path / "doc_toy.jsonl").write_text("[]\n")
    doc = Document("7", "Some text.", source=str(tmp_path / "doc_toy.jsonl") + ":12")
    [(src, _, _)] = chunk_sources(doc, [Chunk("7#0", "7", "Some text.")], tmp_path)
    assert (src.location, src.anchor) == ("doc_toy.jsonl", "L12")
    answer = MultimodalAnswer(
        "q",
        (TextSegment("Some text.", 1, source=1),),
        sources=(src,),
        image_root=str(tmp_path),
    )
    md = to_markdown(answer, relative_to=tmp_path)
    # a link to a file that exists, not to "doc_toy.jsonl:12"; untitled reads "document 7"
    assert "[document 7](<doc_toy.jsonl#L12>)" in md
