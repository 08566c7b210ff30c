"""Issue 9, item 8 (measured targets): the changes that moved visual recall and image F1.

- A question wrapped in words about the manual ("What does the X documentation say about …?")
  is searched by its topic alone; the wrapper used to pull the pages about *writing the
  documentation* to the top.
- A chunk is also represented by its figures' caption + context vectors, so a page whose figure
  title names the topic ranks with it; a chunk gains nothing merely for having a figure.
- The extractive answer's core comes from the retriever's best section, not from whichever
  sentence of a lower-ranked page shares the most words with the question.
- An image goes after an answer sentence only when that sentence came from the image's own
  document, and an image whose source text the answer left out is not placed by similarity.
"""

from __future__ import annotations

import pytest
from builders import NoEmbedding, document, tiny_index, web_image

from m2io.generators.extractive import ExtractiveGenerator
from m2io.inserters.anchored import AnchoredInserter
from m2io.retrievers.query import search_text
from m2io.testing.hash_embedder import HashEmbedder
from m2io.types import (
    Candidate,
    Chunk,
    Document,
    ImageAnchor,
    ImageRef,
    Retrieval,
    RetrievedChunk,
    Sentence,
    Source,
    TextAnswer,
)

pytest.importorskip("faiss")
pytest.importorskip("bm25s")

from m2io.retrievers.hybrid import HybridRetriever  # noqa: E402


@pytest.mark.parametrize(
    ("question", "topic"),
    [
        (
            'What does the GnuCash documentation say about "New" in Accounts Payable?',
            '"New" in Accounts Payable',
        ),
        ("What does the GIMP documentation say about Curves?", "Curves"),
        ("what does the user manual tell me about layer masks?", "layer masks"),
        ("Tell me about the toolbox", "the toolbox"),
        ("According to the guide, how do I back up my file?", "how do I back up my file"),
        # no wrapper: searched as asked
        ("How do I crop an image?", "How do I crop an image?"),
        ("What does the crop tool do?", "What does the crop tool do?"),
        # nothing left after the wrapper: the question itself
        ("What does the manual say about?", "What does the manual say about?"),
    ],
)
def test_search_text_drops_only_a_wrapper_about_the_documentation(question, topic):
    assert search_text(question) == topic


def _doc(doc_id: str, text: str, figures: tuple[tuple[str, ImageRef], ...] = ()) -> Document:
    """An untitled page: only its words and figures can rank it."""
    return document(doc_id, text, figures, title="")


DOCS = [
    _doc(
        "writing",
        "What the documentation should say: write about each dialog of the program, say what "
        "it does, and keep the documentation short. Documentation says about as much as needed.",
    ),
    _doc(
        "curves",
        "Curves change the tones of a photo. Drag a point of the curve up to lighten the tones.",
    ),
    # the figure's title names the topic; the prose words it differently
    _doc(
        "brushes",
        "Pick one of the shapes in the list to paint with it. The list shows each shape at its "
        "real size.",
        (("real size.", web_image("brush-dlg", "The brushes dialog")),),
    ),
    _doc(
        "palette",
        "A palette dialog lists colours. The colours are saved with the palette and shown as "
        "swatches in rows, with their names beside them.",
    ),
    # figures with unrelated captions: no boost for merely having one
    _doc(
        "stamp",
        "The stamp tool copies pixels. Hold Ctrl and click to pick the source.",
        (("source.", web_image("stamp-icon", "Stamp tool icon")),),
    ),
    _doc(
        "layers",
        "Layers stack like sheets of glass. Each layer has its own opacity.",
        (("opacity.", web_image("layer-stack", "Three layers stacked")),),
    ),
    _doc(
        "export",
        "Export writes the picture to a PNG or JPEG file. Pick the quality before saving.",
        (("saving.", web_image("export-win", "Export window with quality slider")),),
    ),
]


def _hash_1024() -> HashEmbedder:
    return HashEmbedder(dim=1024)


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    out = tmp_path_factory.mktemp("ranking") / "idx"
    return tiny_index(DOCS, out, embedder=_hash_1024)


def _top_doc(retriever: HybridRetriever, question: str) -> str:
    return retriever.retrieve(question).chunks[0].chunk.doc_id


def test_a_wrapped_question_finds_its_topic_not_the_page_about_the_documentation(index):
    question = "What does the Foo documentation say about curves?"
    assert _top_doc(HybridRetriever(index, min_score=0), question) == "curves"
    # before: the wrapper's words matched the page about writing documentation
    assert _top_doc(HybridRetriever(index, min_score=0, focus=False), question) == "writing"


def test_a_page_whose_figure_title_names_the_topic_ranks_first(index):
    question = "the brushes dialog"
    got = HybridRetriever(index, mode="dense", min_score=0).retrieve(question)
    assert got.chunks[0].chunk.doc_id == "brushes"
    assert got.candidates[0].image_id == "brush-dlg"
    # before: only the chunk texts were compared, and a page sharing "the" and "dialog" won
    off = HybridRetriever(index, mode="dense", min_score=0, image_votes=False)
    assert _top_doc(off, question) == "writing"


def test_a_figure_with_an_unrelated_caption_gives_its_page_no_boost(index):
    with_votes = HybridRetriever(index, mode="dense", min_score=0, expand=False, top_k=5)
    without = HybridRetriever(
        index, mode="dense", min_score=0, expand=False, top_k=5, image_votes=False
    )
    question = "lighten the tones of a photo"
    order = [c.chunk.doc_id for c in with_votes.retrieve(question).chunks]
    assert order[:2] == [c.chunk.doc_id for c in without.retrieve(question).chunks][:2]
    assert order[0] == "curves"


def _chunk(doc: str, text: str, score: float) -> RetrievedChunk:
    source = Source(doc, doc.title(), f"{doc}.html", doc.title())
    return RetrievedChunk(Chunk(f"{doc}#0", doc, text, start=0, source=source), score=score)


def test_the_answer_is_built_on_the_retrievers_best_section():
    # The retriever ranked the vendor page first (its figure, its words, its neighbours); a
    # lower-ranked page repeats the question's words in one sentence.
    best = _chunk(
        "vendor",
        "To register a vendor, open Business > Vendor > New Vendor. Fill in the company name "
        "and the address. Press OK to save the vendor.",
        1 / 61,
    )
    other = _chunk(
        "accounts",
        "A new account is created with New Account. New accounts appear in the account tree.",
        1 / 62,
    )
    question = 'What does the documentation say about "New"?'
    gen = ExtractiveGenerator(embedder=None)
    answer = gen.generate(question, Retrieval(question, (best, other), ()))
    assert [s.source_chunk_id for s in answer.sentences[:3]] == ["vendor#0"] * 3
    # before: the sentence with the most shared words chose the page
    old = ExtractiveGenerator(embedder=None, lead_passage=False)
    assert (
        old.generate(question, Retrieval(question, (best, other), ())).sentences[0].source_chunk_id
        == "accounts#0"
    )


STEP = "Choose Filters > Blur > Gaussian Blur to soften the photo."
NEXT = "Set the radius in the dialog and press OK to apply it."


def test_an_image_is_anchored_only_to_a_sentence_from_its_own_document():
    # the answer quotes the original page; a near-copy page holds the same words and a figure
    answer = TextAnswer(
        "How do I blur?",
        (
            Sentence(STEP, "orig#0", Source("orig", "Blur")),
            Sentence(NEXT, "orig#0", Source("orig", "Blur")),
        ),
    )

    def cand(image_id: str, doc: str) -> Candidate:
        return Candidate(
            ImageRef(image_id, caption="The blur dialog"),
            context_before=STEP,
            context_after=NEXT,
            doc_id=doc,
            chunk_id=f"{doc}#0",
        )

    got = AnchoredInserter(embedder=NoEmbedding()).insert(
        answer, (cand("own", "orig"), cand("copy-fig", "copy"))
    )
    # before: the copy's figure was anchored to the original's sentence as well
    assert got.as_dict() == {"own": 1}


def test_an_unanchored_image_with_source_text_needs_no_embedding_and_is_left_out():
    answer = TextAnswer("How do I blur?", (Sentence(STEP, "orig#0"), Sentence(NEXT, "orig#0")))
    stray = Candidate(
        ImageRef("sharpen", caption="The blur and sharpen dialog"),
        context_before="Sharpen makes edges crisp.",
        context_after="Use it after scaling.",
        doc_id="orig",
        chunk_id="orig#0",
    )
    # before: an image from a quoted chunk was placed by similarity (embedding the answer); the
    # fallback for answers where provenance places nothing at all is off here
    inserter = AnchoredInserter(embedder=NoEmbedding(), fallback=0)
    assert inserter.insert(answer, (stray,)).as_dict() == {}


def test_the_sentence_beside_an_offered_figure_is_kept_so_the_figure_has_its_anchor():
    text = (
        "The crop tool cuts the borders away. Pick a ratio in the options. "
        "The crop tool trims the edges off. Save the picture when done."
    )
    fig = ImageRef("crop-dialog", caption="Crop dialog")
    offset = text.index(" Save")
    src = Source("crop", "Crop", "crop.html", "Crop")
    chunk = Chunk("crop#0", "crop", text, (ImageAnchor(fig, offset),), start=0, source=src)
    cand = Candidate(
        fig,
        context_before=text[:offset],
        context_after="Save the picture when done.",
        doc_id="crop",
        chunk_id="crop#0",
    )
    retrieval = Retrieval("crop tool", (RetrievedChunk(chunk, 1.0),), (cand,))
    # a budget for one sentence: both first sentences match "crop tool" equally
    gen = ExtractiveGenerator(embedder=None, max_words=8, fill=False)
    answer = gen.generate("crop tool", retrieval)
    assert [s.text for s in answer.sentences] == ["The crop tool trims the edges off."]
    placed = AnchoredInserter(embedder=NoEmbedding()).insert(answer, (cand,))
    assert placed.as_dict() == {"crop-dialog": 1}
    # before: the tie went to the first sentence, and the figure had no anchor
    old = ExtractiveGenerator(embedder=None, max_words=8, fill=False, figure_bonus=0)
    first = old.generate("crop tool", retrieval)
    assert [s.text for s in first.sentences] == ["The crop tool cuts the borders away."]
    alone = AnchoredInserter(embedder=NoEmbedding(), fallback=0)  # provenance only
    assert alone.insert(first, (cand,)).as_dict() == {}


def _figure_corpus() -> list[Document]:
    topics = [
        "crop",
        "blur",
        "layers",
        "curves",
        "levels",
        "paths",
        "text",
        "brushes",
        "fonts",
        "colors",
        "grids",
        "guides",
    ]
    docs = [
        _doc(
            t,
            f"The {t} tool changes the picture. Open the {t} dialog from the Tools menu.",
            (("Tools menu.", web_image(f"{t}-fig", f"The {t} dialog window")),),
        )
        for t in topics
    ]
    # a page that lists every figure of the manual, as a "List of Figures" does
    listing = " ".join(f"{k + 1}. The {t} dialog window" for k, t in enumerate(topics))
    docs.append(_doc("figures", f"List of Figures {listing}"))
    # a page that mentions two other pages' figures stays a page
    docs.append(
        _doc(
            "news",
            "New in this release: The crop dialog window and The blur dialog "
            "window were redrawn, and the fonts tool is faster.",
        )
    )
    return docs


def test_a_page_listing_other_pages_figures_is_left_out_of_retrieval(tmp_path):
    from m2io.retrievers.figure_lists import figure_lists

    out = tmp_path / "idx"
    index = tiny_index(_figure_corpus(), out, embedder=_hash_1024)
    assert figure_lists(index) == {"figures"}
    question = "the layers dialog window"
    docs = [
        c.chunk.doc_id
        for c in HybridRetriever(index, min_score=0, expand=False, top_k=3)
        .retrieve(question)
        .chunks
    ]
    assert "figures" not in docs and docs[0] == "layers"
    # before: the list of figures matched the caption words and ranked among the pages
    kept = HybridRetriever(index, min_score=0, expand=False, top_k=3, skip_duplicates=False)
    assert "figures" in [c.chunk.doc_id for c in kept.retrieve(question).chunks]
