import pytest
from builders import EDGES_ANSWER, EDGES_CANDS, candidate

from m2io.inserters.base import INSERTERS
from m2io.inserters.none import NoInserter
from m2io.inserters.rule import MostSimilarInserter, RuleInserter

ANSWER, CANDS = EDGES_ANSWER, EDGES_CANDS


def test_rule_places_each_image_after_its_most_similar_sentence(embedder):
    placement = RuleInserter(threshold=0.35, embedder=embedder).insert(ANSWER, CANDS)
    got = placement.as_dict()
    assert got == {"edges": 1, "hist": 2}
    assert [s.after_sentence for s in placement.slots] == sorted(got.values())


def test_most_similar_places_every_candidate(embedder):
    got = MostSimilarInserter(embedder=embedder).insert(ANSWER, CANDS).as_dict()
    assert set(got) == {"hist", "edges", "cat"}


def test_rule_uses_each_image_once_and_skips_captionless(embedder):
    dup = (*CANDS, CANDS[1], candidate("blank"))
    placement = MostSimilarInserter(embedder=embedder).insert(ANSWER, dup)
    ids = [s.image_id for s in placement.slots]
    assert len(ids) == len(set(ids))
    assert "blank" not in ids


def test_none_places_nothing():
    assert NoInserter().insert(ANSWER, CANDS).slots == ()


def test_threshold_is_validated():
    with pytest.raises(ValueError, match="threshold"):
        RuleInserter(threshold=2.0)


def test_registry_lists_valid_names_on_unknown():
    with pytest.raises(ValueError, match="rule"):
        INSERTERS.get("nope")
    assert INSERTERS.get("m2io.inserters.none:NoInserter") is NoInserter


def test_embedder_reuses_remembered_vectors(embedder):
    import numpy as np

    v = np.full((1, embedder.dim), 1 / np.sqrt(embedder.dim), dtype=np.float32)
    embedder.remember(["zz unique text remembered by the test"], v)
    out = embedder.encode(["zz unique text remembered by the test", "crop an image"])
    assert np.allclose(out[0], v[0])
    assert not np.allclose(out[1], v[0])
    assert np.isclose(np.linalg.norm(out[1]), 1.0, atol=1e-4)


def test_embedder_keeps_recent_small_batches_and_forgets_the_oldest(monkeypatch):
    """A question embedded by the retriever is free for the inserter; the cache is bounded and
    never holds a large batch (an index build)."""
    import numpy as np

    from m2io.embed.text import SentenceTransformerEmbedder

    emb = SentenceTransformerEmbedder(recent=2, small_batch=3)
    calls: list[list[str]] = []
    real = emb._encode

    def counting(texts, batch_size, progress):  # noqa: ANN001, ANN202
        calls.append(list(texts))
        return real(texts, batch_size, progress)

    monkeypatch.setattr(emb, "_encode", counting)
    first = emb.encode(["How do I crop?"])
    again = emb.encode(["How do I crop?", "How do I crop?", "Select a region."])
    assert calls == [["How do I crop?"], ["Select a region."]]  # cached, and deduplicated
    np.testing.assert_array_equal(again[0], first[0])
    np.testing.assert_array_equal(again[1], first[0])
    emb.encode(["a third text"])  # holds 2: the oldest ("How do I crop?") is dropped
    emb.encode(["How do I crop?"])
    assert calls[-1] == ["How do I crop?"]
    calls.clear()
    big = [f"text {i}" for i in range(4)]  # more than small_batch: not kept
    emb.encode(big)
    emb.encode(big[:1])
    assert calls == [big, big[:1]]
    emb.encode(["a third text"])
    emb.forget_recent()
    emb.encode(["a third text"])
    assert calls[-1] == ["a third text"]
    off = SentenceTransformerEmbedder(recent=0)
    assert np.allclose(off.encode(["How do I crop?"])[0], first[0], atol=1e-5)
