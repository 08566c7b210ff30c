"""HybridRetriever: dense + BM25 fused by RRF, candidates from the retrieved chunks."""

from __future__ import annotations

import pytest
from builders import document, tiny_index, web_image

from m2io.testing.hash_embedder import HashEmbedder

pytest.importorskip("faiss")
pytest.importorskip("bm25s")

from m2io.index import Index, build_index  # noqa: E402
from m2io.retrievers.base import RETRIEVERS  # noqa: E402
from m2io.retrievers.hybrid import HybridRetriever, rrf  # noqa: E402

DOCS = [
    document(
        "crop",
        "The crop tool cuts an image down to a rectangle. Drag the rectangle with the crop tool. "
        "Press Enter to crop the image.",
        [
            ("rectangle.", web_image("crop-icon", "Crop tool icon")),
            ("Press Enter to crop the image.", web_image("crop-done", "The cropped image")),
        ],
    ),
    document(
        "toolbox",
        "The toolbox holds every tool: the crop tool, the text tool and the paint brush.",
        [
            ("paint brush.", web_image("toolbox", "The toolbox window")),
            ("paint brush.", web_image("crop-icon", "Crop tool icon")),
        ],
    ),
    document(
        "blur",
        "Gaussian blur softens the picture. Set the blur radius in the dialog.",
        [("dialog.", web_image("blur-dialog", "Gaussian blur dialog"))],
    ),
    document(
        "layers",
        "Layers are stacked like transparent sheets. Each layer has an opacity.",
        [("opacity.", web_image("layers-dialog", "The layers dialog"))],
    ),
    document("paths", "Paths are Bezier curves. A path can be stroked with a brush.", []),
]


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    out = tmp_path_factory.mktemp("hybrid") / "idx"
    return tiny_index(DOCS, out)


def test_keeps_the_retriever_contract_and_is_registered(index):
    # the contract (retrievers/base.py): the top_k best chunks for the question, and candidate
    # images only from those chunks
    got = HybridRetriever(index, expand=False, image_neighbours=0).retrieve(
        "How do I crop an image?", top_k=2
    )
    assert got.query == "How do I crop an image?"
    assert len(got.chunks) == 2 and got.chunks[0].chunk.doc_id == "crop"
    kept = {c.chunk.chunk_id for c in got.chunks}
    assert got.candidates and {c.chunk_id for c in got.candidates} <= kept
    assert RETRIEVERS.get("hybrid") is HybridRetriever


@pytest.mark.parametrize("mode", ["hybrid", "dense", "lexical"])
def test_finds_the_crop_page_in_every_mode(index, mode):
    res = HybridRetriever(index, mode=mode, top_k=3).retrieve("how do I crop an image")
    assert res.query == "how do I crop an image"
    assert res.chunks[0].chunk.doc_id == "crop"
    scores = [c.score for c in res.chunks]
    assert scores == sorted(scores, reverse=True)
    top = res.chunks[0]
    assert (top.dense_score is None) == (mode == "lexical")
    assert (top.lexical_score is None) == (mode == "dense")
    if mode != "hybrid":
        assert top.score == pytest.approx(1 / 61)  # one list, rank 1


def test_fused_score_is_reciprocal_rank_fusion(index):
    # the two text lists only, chunks fused as chunks: image votes, the headings list,
    # section fusion and feedback are switched off
    hyb = HybridRetriever(
        index,
        top_k=5,
        rrf_k=10,
        image_votes=False,
        heading_weight=0,
        fuse_sections=False,
        prf_weight=0,
    ).retrieve("crop tool rectangle")
    dense = HybridRetriever(index, top_k=5, mode="dense").retrieve("crop tool rectangle")
    lex = HybridRetriever(index, top_k=5, mode="lexical").retrieve("crop tool rectangle")
    rank = {}
    for w, res in ((1.5, dense), (1.0, lex)):  # the dense list weighs dense_weight (1.5)
        for r, c in enumerate(res.chunks, start=1):
            rank.setdefault(c.chunk.chunk_id, []).append(w / (10 + r))
    for c in hyb.chunks:
        assert c.score == pytest.approx(sum(rank[c.chunk.chunk_id]))
        assert c.dense_score is not None and c.lexical_score is not None
    assert rrf([[7, 3], [3]], 60) == {7: 1 / 61, 3: 1 / 62 + 1 / 61}
    # a weighted list (the dense one, 1.5 by default) counts more: its top chunk wins here
    assert rrf([[7, 3], [3, 7]], 60, [1.5, 1.0]) == {7: 1.5 / 61 + 1 / 62, 3: 1.5 / 62 + 1 / 61}


def test_candidates_follow_chunk_rank_then_chunk_order_deduplicated(index):
    res = HybridRetriever(index, top_k=2, mode="lexical", image_neighbours=0).retrieve("crop tool")
    assert [c.chunk.doc_id for c in res.chunks] == ["crop", "toolbox"]
    # crop-icon sits in both chunks: kept once, from the better chunk
    assert [c.image_id for c in res.candidates] == ["crop-icon", "crop-done", "toolbox"]
    first, _, last = res.candidates
    assert first.score == res.chunks[0].score and first.chunk_id == res.chunks[0].chunk.chunk_id
    assert last.score == res.chunks[1].score and last.doc_id == "toolbox"
    assert first.context_before.startswith("The crop tool cuts")
    assert 0 < first.doc_position < 1


def test_max_candidates_caps_the_images(index):
    res = HybridRetriever(index, top_k=5, max_candidates=2, image_neighbours=0).retrieve(
        "crop tool"
    )
    assert len(res.candidates) == 2
    assert (
        not HybridRetriever(index, max_candidates=0, image_neighbours=0)
        .retrieve("crop tool")
        .candidates
    )


def test_image_neighbours_add_images_from_outside_the_chunks(index):
    base = HybridRetriever(index, top_k=1, mode="lexical", image_neighbours=0).retrieve(
        "Gaussian blur dialog"
    )
    assert [c.image_id for c in base.candidates] == ["blur-dialog"]
    more = HybridRetriever(index, top_k=1, mode="lexical", image_neighbours=2).retrieve(
        "Gaussian blur dialog"
    )
    ids = [c.image_id for c in more.candidates]
    assert ids[0] == "blur-dialog" and len(ids) == 3 and len(set(ids)) == 3
    assert "layers-dialog" in ids[1:]  # "dialog" in its caption
    assert all(0 < c.score <= 1 / 61 for c in more.candidates[1:])


def test_top_k_per_call_and_no_match(index):
    # issue 9: by default the retriever returns an assembled context; expand=False keeps the
    # top_k ranked chunks this test counts
    r = HybridRetriever(index, top_k=2, expand=False)
    assert len(r.retrieve("layers", top_k=4).chunks) == 4
    assert len(r.retrieve("layers").chunks) == 2
    assert HybridRetriever(index, mode="lexical").retrieve("zebra").chunks == ()
    empty = r.retrieve("   ")
    assert empty.chunks == () and empty.candidates == ()


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"top_k": 0}, "top_k"),
        ({"mode": "sparse"}, "mode must be one of hybrid, dense, lexical"),
        ({"rrf_k": 0}, "rrf_k"),
        ({"dense_weight": 0}, "dense_weight"),
        ({"dense_weight": "high"}, "dense_weight"),
        ({"max_candidates": -1}, "max_candidates"),
        ({"image_neighbours": 1.5}, "image_neighbours"),
        ({"pool_size": 0}, "pool_size"),
        ({"top_k": True}, "top_k"),
        ({"use_pixels": True}, "image embedder"),
    ],
)
def test_bad_arguments_are_refused_up_front(index, kwargs, message):
    with pytest.raises(ValueError, match=message):
        HybridRetriever(index, **kwargs)


def test_bad_top_k_per_call(index):
    with pytest.raises(ValueError, match="top_k"):
        HybridRetriever(index).retrieve("crop", top_k=0)


def test_opens_an_index_folder(index):
    r = HybridRetriever(str(index.folder), embedder=HashEmbedder())
    assert r.retrieve("crop").chunks[0].chunk.doc_id == "crop"


@pytest.mark.slow
def test_dev_set_crop_question_with_the_default_embedder(dev_data, embedder, tmp_path):
    """Real MiniLM on the GIMP pages that mention cropping, plus 30 others as distractors.

    (Latency is measured outside the suite: timings on a shared 2-core machine are too noisy
    to assert.)
    """
    from m2io.corpus import load_corpus

    docs = load_corpus(dev_data).documents
    croppy = [d for d in docs if "crop" in d.text.lower()]
    others = [d for d in docs if "crop" not in d.text.lower()][:30]
    build_index(croppy + others, tmp_path / "idx", embedder=embedder, progress=False)
    r = HybridRetriever(Index.open(tmp_path / "idx", embedder=embedder), top_k=5)
    res = r.retrieve("How do I crop an image?")
    assert all("crop" in c.chunk.text.lower() for c in res.chunks[:3])
    assert any("crop" in c.image.caption.lower() for c in res.candidates)
