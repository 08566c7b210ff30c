"""The four-stage pipeline, in plain Python: retrieve → generate → insert → merge.

Example::

    from m2io.pipeline import Pipeline

    pipe = Pipeline(retriever, ExtractiveGenerator(), RuleInserter())
    answer = pipe.run("How do I crop an image?")
    answer.timings_ms
    # {'retrieve': 12.1, 'generate': 3.0, 'insert': 21.7, 'merge': 0.1, 'total': 36.9}
"""

from __future__ import annotations

import os
import time
from dataclasses import replace
from typing import Any

from m2io.config import PipelineConfig, default_index_dir, stage_config
from m2io.generators.base import GENERATORS, Generator
from m2io.inserters.base import INSERTERS, Inserter
from m2io.mergers.base import MERGERS, Merger
from m2io.mergers.default import DefaultMerger
from m2io.retrievers.base import RETRIEVERS, Retriever
from m2io.types import MultimodalAnswer, Retrieval


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

    def run(self, question: str) -> MultimodalAnswer:
        retrieval, t0, t1 = retrieve_timed(self.retriever, question)
        answer = self.generator.generate(question, retrieval)
        t2 = time.perf_counter()
        placement = self.inserter.insert(answer, retrieval.candidates)
        t3 = time.perf_counter()
        result = self.merger.merge(answer, placement, retrieval.candidates)
        marks = {"retrieve": t1, "generate": t2, "insert": t3, "merge": time.perf_counter()}
        return finish(result, self.retriever, t0, marks)


def retrieve_timed(retriever: Retriever, question: str) -> tuple[Retrieval, float, float]:
    """The first stage of a run: ``question`` checked and retrieved, with the ``perf_counter``
    readings before and after (the start of :func:`finish`'s marks)."""
    if not question.strip():
        raise ValueError("question is empty")
    t0 = time.perf_counter()
    retrieval = retriever.retrieve(question)
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
    return default_index_dir(), ()
