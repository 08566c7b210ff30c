"""Builders shared by the tests: answers, candidates, retrievals, documents, stub stages and tiny
indexes made with the hash embedder.

Each test file keeps its own data (the sentences and captions its assertions are about); these
functions only spell the typed records (``m2io/types.py``) once. Import them as
``from builders import answer, candidates, ...`` (the tests folder is on ``sys.path``).
"""

from __future__ import annotations

import json
import re
import zlib
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

from m2io.evaluation.results import items_path, read_items
from m2io.llm.base import ChatResult
from m2io.testing.fake_openai import FakeOpenAIServer
from m2io.testing.hash_embedder import HashEmbedder
from m2io.types import (
    Candidate,
    Chunk,
    Document,
    ImageAnchor,
    ImageRef,
    Placement,
    Retrieval,
    RetrievedChunk,
    Sentence,
    TextAnswer,
    Usage,
)

# --- answers and candidates ---------------------------------------------------------------------


def text_answer(question: str, *sentences: str) -> TextAnswer:
    """A generated answer: the question and its sentences, in order."""
    return TextAnswer(question, tuple(Sentence(s) for s in sentences))


def candidate(image_id: str, caption: str = "", **fields: Any) -> Candidate:
    """One candidate image; ``fields`` are :class:`~m2io.types.Candidate`'s other fields."""
    return Candidate(ImageRef(image_id, caption=caption), **fields)


def candidates(*captioned: tuple[str, str]) -> tuple[Candidate, ...]:
    """Candidates from ``(image_id, caption)`` pairs, in order."""
    return tuple(candidate(image_id, caption) for image_id, caption in captioned)


def retrieval(
    question: str,
    *texts: str,
    cands: tuple[Candidate, ...] = (),
    doc_id: str = "d",
    title: str = "",
) -> Retrieval:
    """A retrieval of one document's chunks ``d#0``, ``d#1``, … (score 1.0) and ``cands``."""
    chunks = tuple(
        RetrievedChunk(Chunk(f"{doc_id}#{k}", doc_id, text, title=title), 1.0)
        for k, text in enumerate(texts)
    )
    return Retrieval(question, chunks, cands)


# Data several files share: a short answer about cropping with two captioned candidates (the
# LLM stages), and an answer about edges and histograms whose candidates only similarity can place.
CROP_ANSWER = text_answer("How do I crop?", "Pick the crop tool.", "Drag a box.")
CROP_CANDS = candidates(("x1", "crop tool"), ("x2", "layers"))
EDGES_ANSWER = text_answer(
    "How do I find edges?",
    "Edge detection finds the borders of objects.",
    "A histogram shows how many pixels have each brightness.",
    "Equalization spreads the brightness values to improve contrast.",
)
EDGES_CANDS = candidates(
    ("hist", "Histogram of pixel brightness values"),
    ("edges", "Sobel edge map showing object borders"),
    ("cat", "A cat sitting on a sofa"),
)


# --- stub stages and models ---------------------------------------------------------------------


class FixedRetriever:
    """A retriever that returns the same chunks and candidates for every question.

    Args:
        result: The retrieval to return (its question is replaced by the one asked).
        image_root: Set as ``image_root`` when given (what the Single-Shot fallback reads).
    """

    def __init__(self, result: Retrieval, image_root: str | None = None) -> None:
        self.result = result
        if image_root is not None:
            self.image_root = image_root

    def retrieve(self, query: str, top_k: int | None = None) -> Retrieval:
        return Retrieval(query, self.result.chunks, self.result.candidates, self.result.notes)


class FixedGenerator:
    """A generator that answers every question with the same sentences."""

    def __init__(self, *sentences: str) -> None:
        self.sentences = sentences

    def generate(self, question: str, retrieval: Retrieval) -> TextAnswer:
        return text_answer(question, *self.sentences)


class InterruptingInserter:
    """Raises KeyboardInterrupt on its 4th call (warm-up + 2 items done, the 3rd in flight); a
    test sets ``calls = 0`` first and names it ``builders:InterruptingInserter`` to the CLI."""

    calls = 0

    def insert(self, answer: TextAnswer, candidates: tuple[Candidate, ...]) -> Placement:
        type(self).calls += 1
        if type(self).calls == 4:
            raise KeyboardInterrupt
        return Placement()


class FakePixels:
    """Image embedder: a vector from eight bytes of each file (the last eight with ``last``, as
    PNG files all start alike; else the first), zeros for a file it cannot read; records the
    files it embedded in ``seen``."""

    name, dim = "fake-pixels", 8

    def __init__(self, *, last: bool = False) -> None:
        self.last = last
        self.seen: list[str] = []

    def encode_images(self, paths: list[str]) -> np.ndarray:
        self.seen.extend(paths)
        out = np.zeros((len(paths), self.dim), dtype=np.float32)
        for i, p in enumerate(paths):
            data = Path(p).read_bytes() if Path(p).is_file() else b""
            if data:
                part = data[-self.dim :] if self.last else data[: self.dim]
                out[i] = np.frombuffer(part.ljust(self.dim, b"\0"), np.uint8) + 1.0
        return out

    def encode_texts(self, texts: list[str]) -> np.ndarray:
        return np.ones((len(texts), self.dim), dtype=np.float32) / np.sqrt(self.dim)


class ScriptedChat:
    """A chat model that answers from a script (text, or an exception to raise) and records
    every call; it satisfies :class:`~m2io.llm.base.ChatModel` without inheriting from it.

    ``answer``, when given, replies to every call from its messages instead (for calls made in
    any order); ``usage`` is what each reply reports (default 7 prompt, 3 completion tokens).
    """

    def __init__(
        self,
        *replies: str | Exception,
        finish_reason: str = "stop",
        answer: Callable[[list[dict[str, Any]]], str] | None = None,
        usage: Usage | None = None,
    ) -> None:
        self.replies = list(replies)
        self.finish_reason = finish_reason
        self.answer = answer
        self.usage = usage or Usage(7, 3)
        self.calls: list[dict[str, Any]] = []

    def chat(
        self,
        messages: list[dict[str, Any]],
        *,
        temperature: float = 0.0,
        max_tokens: int | None = None,
    ) -> ChatResult:
        self.calls.append({"messages": messages, "temperature": temperature, "max": max_tokens})
        reply = self.answer(messages) if self.answer is not None else self.replies.pop(0)
        if isinstance(reply, Exception):
            raise reply
        return ChatResult(reply, self.usage, "scripted", self.finish_reason)


class NoEmbedding:
    """A text embedder that fails the test if it is used at all."""

    name, dim = "none", 8

    def __init__(self, why: str = "nothing here should need similarity") -> None:
        self.why = why

    def encode(self, texts, **_):
        raise AssertionError(f"embedded {texts!r}: {self.why}")


class BagOfWords:
    """A deterministic stand-in for a sentence embedder: hashed word counts, L2-normalised.

    Unlike :class:`~m2io.testing.hash_embedder.HashEmbedder` it counts only words of three or
    more letters, so stop words like "a" and "to" do not make sentences look alike.
    """

    name = "bow"

    def __init__(self, dim: int = 512) -> None:
        self.dim = dim

    def encode(self, texts, **_):
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"[a-z]{3,}", text.lower()):
                out[row, zlib.crc32(word.encode()) % self.dim] += 1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.where(norms == 0, 1.0, norms)


def dead_url() -> str:
    """The base URL of an OpenAI-compatible server that has just stopped: connections are
    refused."""
    with FakeOpenAIServer(lambda r: "") as srv:
        url = srv.base_url
    return url


# --- documents and tiny indexes -----------------------------------------------------------------


def web_image(image_id: str, caption: str = "") -> ImageRef:
    """An image known only by its URL ``http://x/<id>.png``."""
    return ImageRef(image_id, None, f"http://x/{image_id}.png", caption)


def document(
    doc_id: str,
    text: str,
    figures: Iterable[tuple[str, ImageRef]] = (),
    title: str | None = None,
    **fields: Any,
) -> Document:
    """A document whose figures sit right after the quoted text.

    Args:
        doc_id: The document id.
        text: The document's text.
        figures: ``(text the image follows, image)`` pairs; the quoted text must occur in
            ``text`` (its first occurrence is used).
        title: The title (default: the id).
        fields: :class:`~m2io.types.Document`'s other fields (``source``, …).
    """
    anchors = sorted(
        (ImageAnchor(im, text.index(after) + len(after)) for after, im in figures),
        key=lambda a: a.offset,
    )
    return Document(
        doc_id, text, tuple(anchors), title=doc_id if title is None else title, **fields
    )


def tiny_index(
    documents: list[Document],
    out: Path,
    *,
    embedder: Callable[[], Any] | None = None,
    **build_options: Any,
):
    """Build an index of ``documents`` into ``out`` with the hash embedder and open it.

    Args:
        documents: What to index.
        out: The index folder.
        embedder: Makes the text embedder (called once to build, once to open); default
            ``HashEmbedder()``.
        build_options: More keyword arguments for :func:`m2io.index.build_index`.
    """
    from m2io.index import Index, build_index

    make = embedder or HashEmbedder
    build_index(documents, out, embedder=make(), progress=False, **build_options)
    return Index.open(out, embedder=make())


# --- the evaluation commands ---------------------------------------------------------------------


# The keys every results file has (the end-to-end one adds ``cost``).
RESULT_KEYS = (
    "subset",
    "n",
    "config",
    "metrics",
    "latency_ms",
    "system",
    "kind",
    "machine",
    "date",
    "wall_s",
    "setup_s",
    "interrupted",
    "code",
)


def run_interrupted(command: str, data: Path, out: Path, *extra: str) -> dict:
    """Run ``command`` with :class:`InterruptingInserter` and check what Ctrl-C keeps: exit 130,
    the two answers scored before it, in the results and in the per-item file."""
    InterruptingInserter.calls = 0
    rc, res = run_eval(command, data, out, *extra, "--inserter", "builders:InterruptingInserter")
    assert rc == 130
    assert res["interrupted"] is True and res["n"] == 2
    assert len(read_items(items_path(out))) == 2
    return res


def run_eval(command: str, data: Path, out: Path | None, *extra: str) -> tuple[int, dict]:
    """Run ``m2io COMMAND --data DATA --subset toy --no-progress [--out OUT] EXTRA…`` on the
    evaluation fixture corpus (``test_eval_fixtures.py``).

    Returns:
        The exit code and the results JSON the command wrote (``{}`` when it wrote none).
    """
    from test_eval_fixtures import SUBSET

    from m2io.cli.main import main

    argv = [command, "--data", str(data), "--subset", SUBSET, "--no-progress", *extra]
    if out is not None:
        argv += ["--out", str(out)]
    rc = main(argv)
    return rc, json.loads(out.read_text()) if out is not None and out.exists() else {}


def stub_retriever_options(data: Path) -> list[str]:
    """Options that make ``m2io eval`` retrieve with ``test_eval_e2e.StubRetriever`` from DATA's
    pages (no index is built)."""
    return ["--retriever", "test_eval_e2e:StubRetriever", "--set", f"retriever.data={data}"]
