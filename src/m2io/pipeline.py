"""The four-stage pipeline, in plain Python: retrieve → generate → insert → merge.

Example::

    from m2io.pipeline import Pipeline

    pipe = Pipeline(retriever, ExtractiveGenerator(), RuleInserter())
    answer = pipe.run("How do I crop an image?")
    answer.timings_ms
    # {'retrieve': 12.1, 'generate': 3.0, 'insert': 21.7, 'merge': 0.1, 'total': 36.9}

    for step in pipe.walk("How do I crop an image?", top_k=8):   # each stage as it ends
        print(step.stage, round(step.ms, 1))

:meth:`Pipeline.walk` is the one walk of the stages: :meth:`Pipeline.run`, the server's routes
(streamed or not), ``m2io ask`` on a terminal and Single-Shot's fallback all take it, so the
stages are called and timed in one place (docs/design.md, The spine).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

from m2io.config import DEFAULT_INDEX, PipelineConfig, stage_config
from m2io.generators.base import GENERATORS, Generator
from m2io.inserters.base import INSERTERS, Inserter
from m2io.mergers.base import MERGERS, Merger
from m2io.mergers.default import DefaultMerger
from m2io.retrievers.base import RETRIEVERS, Retriever
from m2io.types import MultimodalAnswer, Retrieval, Step


class Pipeline:
    """Runs the four stages and records each stage's wall time in ``timings_ms``."""

    def __init__(
        self,
        retriever: Retriever,
        generator: Generator,
        inserter: Inserter,
        merger: Merger | None = None,
    ) -> None:
        self.retriever = retriever
        self.generator = generator
        self.inserter = inserter
        self.merger = merger or DefaultMerger()
        self.sentence_fill: Any = None  # set by fill_sentence_vectors

    def fill_sentence_vectors(self, *, background: bool = True, write: bool = True) -> Any:
        """Embed and store the sentence vectors the retriever's index lacks, so the inserters
        stop embedding answers' sentences (:class:`m2io.index.sentence_fill.SentenceFill`: low
        priority, a few texts per model call, the files written by temporary file and rename;
        ``write=False`` or a read-only folder: in memory only). ``m2io serve`` calls this.

        Returns:
            The :class:`~m2io.index.sentence_fill.SentenceFill` (started on a thread when
            ``background``, else run to the end here), or None when the retriever holds no
            index or its index has no chunks.
        """
        from m2io.index.sentence_fill import SentenceFill

        index = getattr(self.retriever, "index", None)
        if index is None or not hasattr(index, "sentence_vectors") or not len(index.chunks):
            return None
        fill = SentenceFill(index, write=write)
        self.sentence_fill = fill  # a server that reopens the index starts one for the new one
        if background:
            fill.start()
        else:
            fill.run()
        return fill

    def to_config(self) -> PipelineConfig:
        """The recipe that builds this pipeline again (``m2io.factory.build_pipeline``).

        Every stage is written with its registered name (or the dotted path of a user class)
        and every constructor option it keeps; the retriever's index as its folder, not the
        loaded index. See docs/design.md, The spine.

        Raises:
            ValueError: a stage does not keep its options (the message names it).
        """
        index, skip = _index_folder(self.retriever)
        return PipelineConfig(
            index=index,
            retriever=stage_config(self.retriever, RETRIEVERS, skip=skip),
            generator=stage_config(self.generator, GENERATORS),
            inserter=stage_config(self.inserter, INSERTERS),
            merger=stage_config(self.merger, MERGERS),
        )

    def to_dict(self) -> dict[str, Any]:
        """:meth:`to_config` as plain data."""
        return self.to_config().to_dict()

    def to_yaml(self) -> str:
        """:meth:`to_config` as a YAML recipe (``m2io ask --config FILE`` reads it)."""
        return self.to_config().to_yaml()

    def walk(
        self,
        question: str,
        *,
        top_k: int | None = None,
        on_text: Callable[[str], None] | None = None,
        retrieval: Retrieval | None = None,
    ) -> Iterator[Step]:
        """The stages one after another, each :class:`~m2io.types.Step` as soon as it ends:
        ``retrieve`` (a :class:`~m2io.types.Retrieval`), ``generate`` (the text), ``insert``
        (the placement), ``merge`` (the finished answer, with ``timings_ms``).

        Args:
            question: The question (not empty).
            top_k: Chunks to retrieve for this run (None: the retriever's own).
            on_text: Called with each piece of text as a streaming generator (an LLM
                endpoint) writes it; other generators ignore it.
            retrieval: A retrieval already made for ``question``: the walk starts at
                ``generate`` (Single-Shot's fallback answers from its own retrieval).

        Raises:
            ValueError: ``question`` is empty.
        """
        if not question.strip():
            raise ValueError("question is empty")
        t0 = time.perf_counter()
        marks: dict[str, float] = {}

        def ended(stage: str, value: Any) -> Step:
            start = max(marks.values(), default=t0)
            marks[stage] = time.perf_counter()
            return Step(stage, value, (marks[stage] - start) * 1e3)

        if retrieval is None:
            retrieval = self.retriever.retrieve(question, top_k=top_k)
            yield ended("retrieve", retrieval)
        stream = getattr(self.generator, "generate_streaming", None)
        if on_text is not None and stream is not None:
            text = stream(question, retrieval, on_text)
        else:
            text = self.generator.generate(question, retrieval)
        yield ended("generate", text)
        placement = self.inserter.insert(text, retrieval.candidates)
        yield ended("insert", placement)
        merged = self.merger.merge(text, placement, retrieval.candidates)
        marks["merge"] = time.perf_counter()
        result = finish(merged, self.retriever, t0, marks)
        yield Step("merge", result, result.timings_ms["merge"])

    def run(self, question: str, *, top_k: int | None = None) -> MultimodalAnswer:
        """The finished answer: the last step of :meth:`walk`."""
        *_, last = self.walk(question, top_k=top_k)
        return last.value


def retrieve_timed(
    retriever: Retriever, question: str, top_k: int | None = None
) -> tuple[Retrieval, float, float]:
    """Single-Shot's first stage: ``question`` checked and retrieved, with the ``perf_counter``
    readings before and after (the start of :func:`finish`'s marks)."""
    if not question.strip():
        raise ValueError("question is empty")
    t0 = time.perf_counter()
    retrieval = retriever.retrieve(question, top_k=top_k)
    return retrieval, t0, time.perf_counter()


def finish(
    result: MultimodalAnswer, retriever: Retriever, t0: float, marks: dict[str, float]
) -> MultimodalAnswer:
    """``result`` with its stage timings and the roots a renderer confines files to.

    ``marks`` maps each stage, in order, to the ``perf_counter`` reading when it ended; a stage ran
    from the previous mark (``t0`` for the first). The timings are milliseconds, plus ``total``.
    The corpus root (and the index's folder of added documents) travel with the answer so a
    renderer can confine the files it embeds. Used by :class:`Pipeline` and Single-Shot.
    """
    timings, previous = {}, t0
    for stage, end in marks.items():
        timings[stage] = (end - previous) * 1e3
        previous = end
    timings["total"] = (previous - t0) * 1e3
    return replace(
        result,
        timings_ms=timings,
        image_root=getattr(retriever, "image_root", None),
        added_root=getattr(retriever, "added_root", None),
    )


def _index_folder(retriever: Retriever) -> tuple[str, tuple[str, ...]]:
    """The retriever's index folder and the options the recipe's ``index`` key stands for."""
    index = getattr(retriever, "index", None)
    folder = getattr(index, "folder", None)
    if folder is not None:
        return str(folder), ("index",)
    if isinstance(index, str | os.PathLike):
        return str(index), ("index",)
    return DEFAULT_INDEX, ()
