"""Issue 9 retrieval: section expansion, near-duplicate pages, decorative images, chunk sources
and the "nothing relevant found" floor."""

from __future__ import annotations

import json
import logging

import pytest
from builders import tiny_index
from PIL import Image

from m2io.testing.hash_embedder import HashEmbedder as _HashEmbedder
from m2io.types import Candidate, Document, ImageAnchor, ImageRef

pytest.importorskip("faiss")
pytest.importorskip("bm25s")

from m2io.index import Index, build_index  # noqa: E402
from m2io.retrievers.hybrid import HybridRetriever  # noqa: E402


class HashEmbedder(_HashEmbedder):
    """The shared test embedder at this file's vector size."""

    def __init__(self, dim: int = 256, name: str = "test-hash") -> None:
        super().__init__(dim, name)


def _doc(doc_id: str, parts: list[str | ImageRef], title: str = "", source: str = "") -> Document:
    """A document from text parts and images (each image sits where it appears)."""
    text, anchors = "", []
    for part in parts:
        if isinstance(part, ImageRef):
            anchors.append(ImageAnchor(part, len(text)))
        else:
            text += part
    return Document(doc_id, text, tuple(anchors), title=title or doc_id, source=source)


def _img(image_id: str, path: str | None = None) -> ImageRef:
    return ImageRef(image_id, path, None if path else f"http://x/{image_id}.png", image_id)


FILLER = (
    "The program keeps the settings you chose last time and shows them again in the window. "
    "Nothing changes in the picture until you press the button that applies the change. "
)

PROCEDURE = _doc(
    "manual",
    [
        "Export an image\n\n",
        "Use the export command to write the picture as a PNG file for the web. ",
        _img("export-menu"),
        FILLER,
        "Pick the folder where the file should go and type the file name in the name field. ",
        _img("export-folder"),
        FILLER,
        "Press the final button and wait until the progress bar is full before closing. ",
        _img("export-done"),
        "\n\nPrint an image\n\n",
        "Printing sends the picture to a printer attached to the computer. ",
        FILLER * 3,
        _img("print-dialog"),
    ],
    title="Manual",
)


@pytest.fixture(scope="module")
def procedure_index(tmp_path_factory):
    out = tmp_path_factory.mktemp("sections") / "idx"
    others = [
        _doc("colors", ["Colors are mixed in the palette window. " + FILLER]),
        _doc("brushes", ["Brushes paint strokes of color on a layer. " + FILLER]),
    ]
    return tiny_index([PROCEDURE, *others], out, embedder=HashEmbedder, max_words=35)


def test_section_expansion_brings_the_whole_procedure_and_its_screenshots(procedure_index):
    query = "export command PNG file for the web"
    plain = HybridRetriever(procedure_index, top_k=1, expand=False, image_neighbours=0).retrieve(
        query
    )
    assert [c.image_id for c in plain.candidates] == ["export-menu"]  # one chunk, one screenshot

    res = HybridRetriever(
        procedure_index, max_sections=1, context_words=400, image_neighbours=0
    ).retrieve(query)
    ids = [c.chunk.chunk_id for c in res.chunks]
    assert len(ids) >= 3 and ids == sorted(ids, key=lambda i: int(i.split("#")[1]))
    assert {c.chunk.doc_id for c in res.chunks} == {"manual"}
    assert all(c.chunk.source.section == "Export an image" for c in res.chunks)
    text = " ".join(c.chunk.text for c in res.chunks)
    assert "Press the final button" in text and "Printing sends" not in text
    assert [c.image_id for c in res.candidates] == ["export-menu", "export-folder", "export-done"]
    assert len({c.score for c in res.chunks}) == 1  # neighbours carry the section's score
    # with room for more sections, the best one still comes first and whole
    wide = HybridRetriever(procedure_index).retrieve(query)
    assert [c.chunk.chunk_id for c in wide.chunks][: len(ids)] == ids
    assert [c.image_id for c in wide.candidates][:3] == [
        "export-menu",
        "export-folder",
        "export-done",
    ]


def test_context_words_bounds_the_assembled_context(procedure_index):
    query = "export command PNG file for the web"
    small = HybridRetriever(procedure_index, top_k=1, context_words=40).retrieve(query)
    assert len(small.chunks) == 1
    assert small.chunks[0].chunk.text.startswith("Export an image")


AGG_TOPICS = {
    "crop": "Cropping removes the outer parts of an image so only the middle rectangle stays.",
    "blur": "A gaussian blur softens every edge of the picture by averaging nearby pixels.",
    "rotate": "Rotating turns the whole canvas around its centre by the angle you enter.",
    "scale": "Scaling changes the number of pixels so the picture becomes larger or smaller.",
}


def _page(topic: str, first: str) -> str:
    return f"{first} The {topic} tool lives in the tools menu of the main window. " + " ".join(
        f"Step {n} of the {topic} procedure uses setting {topic}{n} with value {n * 7}."
        for n in range(1, 6)
    )


@pytest.fixture(scope="module")
def aggregate_index(tmp_path_factory):
    pages = [_doc(t, [_page(t, first), _img(f"{t}-shot")]) for t, first in AGG_TOPICS.items()]
    whole = _doc(
        "all-in-one",
        [
            part
            for t, first in AGG_TOPICS.items()
            for part in (_page(t, first) + "\n\n", _img(f"{t}-shot"))
        ],
        title="The whole manual in one page",
    )
    out = tmp_path_factory.mktemp("agg") / "idx"
    return [*pages, whole], out


def test_aggregate_page_is_reported_and_does_not_crowd_out_originals(aggregate_index, caplog):
    docs, out = aggregate_index
    with caplog.at_level(logging.WARNING, logger="m2io.index"):
        manifest = build_index(docs, out, embedder=HashEmbedder(), max_words=30, progress=False)
    warnings = [r.getMessage() for r in caplog.records if "near-duplicate" in r.getMessage()]
    assert len(warnings) == 1 and "all-in-one" in warnings[0] and "repeats 4" in warnings[0]
    assert manifest.near_duplicates["all-in-one"]["kind"] == "aggregate"
    assert sorted(manifest.near_duplicates["all-in-one"]["of"]) == sorted(AGG_TOPICS)
    index = Index.open(out, embedder=HashEmbedder())
    query = "gaussian blur softens every edge by averaging nearby pixels"
    crowded = HybridRetriever(index, top_k=5, expand=False, skip_duplicates=False).retrieve(query)
    assert "all-in-one" in {c.chunk.doc_id for c in crowded.chunks}  # what the flag prevents
    res = HybridRetriever(index, top_k=5).retrieve(query)
    assert res.chunks[0].chunk.doc_id == "blur"
    assert "all-in-one" not in {c.chunk.doc_id for c in res.chunks}
    top5 = HybridRetriever(index, top_k=5, expand=False).retrieve(query)
    assert "all-in-one" not in {c.chunk.doc_id for c in top5.chunks}


def test_decorative_images_are_flagged_and_never_candidates(tmp_path, caplog):
    from PIL import Image

    root = tmp_path / "corpus"
    (root / "img").mkdir(parents=True)
    Image.new("RGB", (16, 16), "red").save(root / "img" / "bullet.png")
    Image.new("RGB", (200, 120), "blue").save(root / "img" / "dialog.png")
    logo = _img("logo")
    docs = [
        _doc(
            f"page{n}",
            [logo, f"Page {n} explains feature number {n} of the levels dialog in detail. "]
            + ([_img("bullet", str(root / "img" / "bullet.png"))] if n == 0 else [])
            + ([_img("dialog", str(root / "img" / "dialog.png"))] if n == 0 else []),
        )
        for n in range(4)
    ]
    out = tmp_path / "idx"
    with caplog.at_level(logging.WARNING, logger="m2io.index"):
        manifest = build_index(docs, out, embedder=HashEmbedder(), corpus_root=root, progress=False)
    msgs = [r.getMessage() for r in caplog.records if "decorative" in r.getMessage()]
    assert len(msgs) == 1 and "logo" in msgs[0] and "bullet" in msgs[0]
    assert manifest.n_decorative == 5  # four logo occurrences and the tiny bullet
    rows = [json.loads(line) for line in (out / "images.jsonl").read_text().splitlines()]
    assert {r["image_id"] for r in rows if r["decorative"]} == {"logo", "bullet"}
    index = Index.open(out, embedder=HashEmbedder())
    for expand in (True, False):
        r = HybridRetriever(index, expand=expand, image_neighbours=3)
        res = r.retrieve("feature number 0 of the levels dialog")
        ids = [c.image_id for c in res.candidates]
        assert "dialog" in ids and "logo" not in ids and "bullet" not in ids


def test_chunk_sources_round_trip_with_a_relative_location(tmp_path):
    root = tmp_path / "corpus"
    (root / "guide").mkdir(parents=True)
    page = root / "guide" / "install.md"
    page.write_text("x")
    docs = [
        _doc(
            "install",
            ["Install\n\nDownload the package.\n\nConfigure\n\nEdit the settings file by hand."],
            title="Installing",
            source=str(page),
        ),
        _doc("web", ["A page fetched from the web."], title="Web", source="https://ex.org/p#top"),
        _doc("elsewhere", ["A file outside the corpus."], source=str(tmp_path / "other.md")),
    ]
    out = tmp_path / "idx"
    build_index(docs, out, embedder=HashEmbedder(), max_words=4, corpus_root=root, progress=False)
    moved = tmp_path / "moved"  # index and corpus moved together: sources still resolve
    moved.mkdir()
    root.rename(moved / "corpus")
    out.rename(moved / "idx")
    index = Index.open(moved / "idx", embedder=HashEmbedder())
    by_id = {c.chunk_id: c for c in index.chunks}
    src = by_id["install#0"].source
    assert (src.doc_id, src.title, src.location, src.section) == (
        "install",
        "Installing",
        "guide/install.md",
        "Install",
    )
    last = [c for c in index.chunks if c.doc_id == "install"][-1]
    assert last.source.section == "Configure"
    assert by_id["web#0"].source.location == "https://ex.org/p#top"
    assert by_id["elsewhere#0"].source.location == ""
    res = HybridRetriever(index).retrieve("edit the settings file")
    assert res.chunks and all(c.chunk.source is not None for c in res.chunks)


def test_punctuation_only_question_is_refused_without_searching(procedure_index):
    for query in ("???", "... !!! --"):
        res = HybridRetriever(procedure_index).retrieve(query)
        assert res.chunks == () and res.candidates == ()
        assert res.notes and res.notes[0].startswith("nothing relevant found")


def test_off_topic_question_is_refused_with_the_default_embedder(embedder, tmp_path):
    docs = [
        _doc(
            "crop",
            [
                "Crop an image\n\nSelect the crop tool in the toolbox, drag a rectangle over the "
                "part of the image to keep and press Enter to crop the image. ",
                _img("crop-shot"),
            ],
        ),
        _doc(
            "layers",
            ["Layers are stacked like transparent sheets; each layer has its own opacity."],
        ),
    ]
    out = tmp_path / "idx"
    build_index(docs, out, embedder=embedder, progress=False)
    r = HybridRetriever(Index.open(out, embedder=embedder))
    answered = r.retrieve("How do I crop an image?")
    assert answered.chunks[0].chunk.doc_id == "crop" and not answered.notes
    for query in ("What is the capital of Peru?", "Best pizza recipe", "Wie spät ist es?"):
        res = r.retrieve(query)
        assert res.chunks == () and res.candidates == (), query
        assert res.notes[0].startswith("nothing relevant found:"), query


def test_a_natural_question_that_scores_low_but_shares_words_is_answered(embedder, tmp_path):
    from m2io.corpus import load_corpus
    from m2io.demo import corpus_path

    corpus = load_corpus(corpus_path(), exclude=("LICENSE*",))
    out = tmp_path / "demo-idx"
    build_index(corpus.documents, out, embedder=embedder, progress=False, corpus_root=corpus.root)
    r = HybridRetriever(Index.open(out, embedder=embedder))
    # below the dense floor (about 0.29), yet the thresholding page shares most of its words:
    # refusing it was the single floor's false refusal
    q = "My scanned page has a shadow on one side; how do I turn it into clean black and white?"
    res = r.retrieve(q)
    assert res.chunks and not res.notes
    assert any(c.chunk.doc_id == "06-thresholding.md" for c in res.chunks)
    # an unrelated question with a similar cosine shares no informative word
    refused = r.retrieve("Who painted the Mona Lisa?")
    assert refused.chunks == () and "informative" in refused.notes[0]


def test_a_captioned_figure_shared_by_many_pages_is_content_not_decoration(tmp_path):
    from m2io.index.decorative import find_decorative

    big, icon = tmp_path / "photo.png", tmp_path / "arrow.png"
    logo = tmp_path / "logo.png"
    Image.new("RGB", (400, 300), "green").save(big)
    Image.new("RGB", (64, 64), "blue").save(icon)
    Image.new("RGB", (374, 48), "red").save(logo)
    cands = []
    for d in range(6):
        cands.append(
            Candidate(ImageRef("photo", str(big), caption="Original image"), doc_id=f"d{d}")
        )
        cands.append(Candidate(ImageRef("arrow", str(icon), caption="Arrow"), doc_id=f"d{d}"))
        cands.append(Candidate(ImageRef("banner", str(big), caption=""), doc_id=f"d{d}"))
        # a site logo in every page header, with the product's name as alt text
        cands.append(Candidate(ImageRef("logo", str(logo), caption="Double Tool"), doc_id=f"d{d}"))
    found = find_decorative(cands, n_documents=6)
    flagged = {cands[r].image.image_id for r in found.rows}
    # the shared captioned photo stays; a small shared icon, a captionless image and a wide,
    # short logo (captioned or not) do not
    assert flagged == {"arrow", "banner", "logo"}
