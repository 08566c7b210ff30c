"""A source opens as a readable page (issue 20 item 7): the document rebuilt from its chunks,
escaped, headings anchored, images by id."""

from __future__ import annotations

from m2io.corpus import chunk_document
from m2io.index.source_page import document_of, render_source, section_anchor
from m2io.types import Document, ImageAnchor, ImageRef


def test_the_page_is_escaped_anchored_and_shows_images_in_place() -> None:
    text = (
        "Clips\n\nA clip <script>alert(1)</script> sits on the timeline. "
        + "Words go on. " * 150
        + "\n\nTrimming clips\n\nDrag the edge of a clip to trim it."
    )
    offset = text.index("sits on the timeline.") + len("sits on the timeline.")
    image = ImageRef("img/clip.png", None, None, 'The "clip" menu')
    doc = Document("clips.html", text, (ImageAnchor(image, offset),), "Clips")
    chunks = chunk_document(doc, max_words=60)
    assert len(chunks) > 2
    rebuilt, images = document_of(chunks)
    assert rebuilt == text and images == [(offset, "img/clip.png", 'The "clip" menu')]
    page = render_source("Clips", chunks, lambda i: f"/v1/images/{i}")
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert f'<h2 id="{section_anchor("Trimming clips")}">Trimming clips</h2>' in page
    assert page.index('<img src="/v1/images/img/clip.png" alt="The &quot;clip&quot; menu">') < (
        page.index("Trimming clips")
    )


def test_a_pdf_section_page_carries_its_page_as_the_fragment_target() -> None:
    doc = Document("manual.pdf#page=12", "Cropping\n\nDrag the handles.", (), "Cropping")
    page = render_source(
        "Cropping", chunk_document(doc, max_words=60), lambda i: None, top_id="page=12"
    )
    assert '<h1 id="page=12">Cropping</h1>' in page


def test_two_figures_at_one_place_keep_the_document_order() -> None:
    """The demo's "Erosion and dilation" page showed dilation before erosion: images at one
    offset were sorted by id."""
    text = "Morphology\n\nThe two figures below show the horse after erosion and dilation."
    end = len(text)
    eroded = ImageRef("images/horse-eroded.png", None, None, "Erosion")
    dilated = ImageRef("images/horse-dilated.png", None, None, "Dilation")
    doc = Document("m.md", text, (ImageAnchor(eroded, end), ImageAnchor(dilated, end)), "M")
    _, images = document_of(chunk_document(doc, max_words=60))
    assert [i[1] for i in images] == ["images/horse-eroded.png", "images/horse-dilated.png"]
