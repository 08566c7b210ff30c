"""CLIPImageEmbedder on a tiny random CLIP saved to a folder, so the real loading path runs."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("transformers")

from m2io.testing.tiny_models import build_tiny_clip  # noqa: E402


@pytest.fixture(scope="module")
def tiny_clip(tmp_path_factory) -> Path:
    return build_tiny_clip(tmp_path_factory.mktemp("tiny-clip"))


@pytest.fixture(scope="module")
def clip(tiny_clip):
    from m2io.embed.image import CLIPImageEmbedder

    return CLIPImageEmbedder(str(tiny_clip), device="cpu", batch_size=2)


def _png(path: Path, colour: tuple[int, int, int], size=(40, 30)) -> str:
    from PIL import Image

    Image.new("RGB", size, colour).save(path)
    return str(path)


def test_loads_from_folder_with_the_model_dim_and_name(clip, tiny_clip):
    assert clip.dim == 16
    assert clip.name == str(tiny_clip)


def test_images_and_texts_are_unit_vectors_in_one_space(clip, tmp_path):
    paths = [
        _png(tmp_path / f"{i}.png", c)
        for i, c in enumerate([(255, 0, 0), (0, 0, 255), (9, 200, 9)])
    ]
    img = clip.encode_images(paths)
    txt = clip.encode_texts(["a red square", "a blue square that is rather long " * 5])
    assert img.shape == (3, 16) and txt.shape == (2, 16)
    assert img.dtype == np.float32 and txt.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(img, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(txt, axis=1), 1.0, rtol=1e-5)
    assert not np.allclose(img[0], img[1])  # different pixels, different vectors
    # batching (batch_size=2 over 3 images) does not change a vector
    np.testing.assert_allclose(clip.encode_images(paths[2:]), img[2:], atol=1e-5)


def test_unreadable_images_give_zero_vectors_and_a_warning(clip, tmp_path, caplog):
    good = _png(tmp_path / "ok.png", (10, 20, 30))
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a png")
    with caplog.at_level(logging.WARNING, logger="m2io.embed.image"):
        vecs = clip.encode_images([str(broken), good, str(tmp_path / "missing.png")])
    assert vecs.shape == (3, 16)
    assert not vecs[0].any() and not vecs[2].any()
    assert np.isclose(np.linalg.norm(vecs[1]), 1.0)
    assert "broken.png" in caplog.text and "missing.png" in caplog.text
    assert not clip.encode_images([str(broken)]).any()


def test_empty_inputs(clip):
    assert clip.encode_images([]).shape == (0, 16)
    assert clip.encode_texts([]).shape == (0, 16)


def test_missing_model_folder_is_a_clear_error(tmp_path):
    from m2io.embed.image import CLIPImageEmbedder

    with pytest.raises(OSError, match="cannot load CLIP model"):
        CLIPImageEmbedder(str(tmp_path / "nowhere"))


class _WordEmbedder:
    """Tiny deterministic text embedder: one bucket per word."""

    name, dim = "words", 32

    def encode(self, texts, *, batch_size=64, progress=False):
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in text.lower().split():
                out[i, sum(map(ord, word)) % self.dim] += 1.0
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9)


def test_index_with_clip_pixels_round_trips_through_the_retriever(clip, tiny_clip, tmp_path):
    from m2io.index import Index, build_index
    from m2io.retrievers.hybrid import HybridRetriever
    from m2io.types import Document, ImageAnchor, ImageRef

    red = ImageRef("red", _png(tmp_path / "red.png", (255, 0, 0)), caption="a red square")
    blue = ImageRef("blue", _png(tmp_path / "blue.png", (0, 0, 255)), caption="a blue square")
    gone = ImageRef("gone", str(tmp_path / "gone.png"), caption="a missing file")
    docs = [
        Document("r", "Red things. Paint it red.", (ImageAnchor(red, 11),)),
        Document(
            "b", "Blue things. Paint it blue.", (ImageAnchor(blue, 12), ImageAnchor(gone, 27))
        ),
    ]
    manifest = build_index(
        docs, tmp_path / "idx", embedder=_WordEmbedder(), image_embedder=clip, progress=False
    )
    assert (manifest.image_embedder, manifest.image_dim) == (str(tiny_clip), 16)

    # the image embedder is loaded back by the name in the manifest (the tiny model's folder)
    index = Index.open(tmp_path / "idx", embedder=_WordEmbedder())
    retriever = HybridRetriever(index, top_k=1, image_neighbours=2, use_pixels=True)
    res = retriever.retrieve("paint it red")
    assert res.chunks[0].chunk.doc_id == "r"
    assert [c.image_id for c in res.candidates][0] == "red"
    assert {c.image_id for c in res.candidates[1:]} <= {"blue", "gone"}
    assert len(res.candidates) == 3
