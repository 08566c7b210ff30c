"""The Single-Shot baseline: one (M)LLM call writes the answer with ``<imgN>`` placeholders inline.

M2IO-R1 (arXiv 2508.06328) compares its staged pipeline against this: the model sees the excerpts
and the numbered candidate images and emits prose with ``<img3>`` where an image belongs. The
output is parsed into the same :class:`~m2io.types.MultimodalAnswer` as the staged pipeline, so
both are scored by the same metrics.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import replace
from typing import Any

from m2io.generators.base import Generator
from m2io.generators.extractive import ExtractiveGenerator
from m2io.generators.prompts import (
    CITE,
    candidate_block,
    cited,
    cites_before_stop,
    context_block,
    fitted_chars,
)
from m2io.inserters.base import Inserter
from m2io.inserters.rule import RuleInserter
from m2io.llm.base import ChatModel, LLMError
from m2io.llm.notes import FELL_BACK, TRUNCATED
from m2io.mergers.base import Merger
from m2io.mergers.default import DefaultMerger
from m2io.pipeline import Pipeline, finish, retrieve_timed
from m2io.retrievers.base import Retriever
from m2io.text import PIC, split_with_images
from m2io.types import (
    Candidate,
    MultimodalAnswer,
    Placement,
    Retrieval,
    Slot,
    TextAnswer,
    Usage,
)

log = logging.getLogger(__name__)

_TAG = re.compile(r"<\s*img\s*(\d+)\s*>", re.IGNORECASE)

SYSTEM = (
    "You answer questions from document excerpts and may illustrate the answer with the listed "
    "images. Write concise plain prose. Put an image tag such as <img2> on its own right after "
    "the sentence the image illustrates. Use only listed tags, each at most once, and only "
    "images that help the answer. " + CITE
)


def parse_inline(
    text: str, candidates: tuple[Candidate, ...]
) -> tuple[list[str], list[Slot], list[str]]:
    """Split LLM output with ``<imgN>`` tags into sentences and slots.

    Returns:
        ``(sentences, slots, problems)``: unknown or repeated tags are dropped and listed in
        ``problems``.
    """
    problems: list[str] = []
    order: list[str] = []
    seen: set[str] = set()

    def repl(m: re.Match[str]) -> str:
        k = int(m.group(1))
        if not 1 <= k <= len(candidates):
            problems.append(f"unknown image tag <img{k}>")
            return " "
        image_id = candidates[k - 1].image_id
        if image_id in seen:
            problems.append(f"image tag <img{k}> used twice")
            return " "
        seen.add(image_id)
        order.append(image_id)
        return f"\n\n{PIC}\n\n"

    sentences, positions = split_with_images(_TAG.sub(repl, cites_before_stop(text)))
    slots = [Slot(i, p) for i, p in zip(order, positions, strict=True)]
    return sentences, slots, problems


class SingleShotPipeline:
    """Retrieve, then one chat call that writes text and places images together.

    When the call fails (unreachable, timed out, malformed reply) or returns no text, the answer
    comes from the staged pipeline on the same retrieval instead (``fallback_generator`` →
    ``fallback_inserter`` → merger, by default extractive → rule), and a note says so: the
    answer is never empty because the model was.

    Args:
        retriever: Any :class:`~m2io.retrievers.base.Retriever`.
        client: Any :class:`~m2io.llm.base.ChatModel`: an OpenAI-compatible endpoint, a local
            model (:func:`m2io.llm.models.make_chat_model` builds either).
        merger: Builds the final segments (default merger).
        max_tokens: Answer length cap.
        fallback_generator: Text stage of the fallback (default: extractive).
        fallback_inserter: Image stage of the fallback (default: rule, loaded on first use).
    """

    def __init__(
        self,
        retriever: Retriever,
        client: ChatModel,
        merger: Merger | None = None,
        *,
        max_tokens: int = 500,
        fallback_generator: Generator | None = None,
        fallback_inserter: Inserter | None = None,
    ) -> None:
        self.retriever = retriever
        self.client = client
        self.merger = merger or DefaultMerger()
        self.max_tokens = max_tokens
        self._fallback_generator = fallback_generator
        self._fallback_inserter = fallback_inserter

    @property
    def fallback_generator(self) -> Generator:
        if self._fallback_generator is None:
            self._fallback_generator = ExtractiveGenerator()
        return self._fallback_generator

    @property
    def fallback_inserter(self) -> Inserter:
        if self._fallback_inserter is None:
            self._fallback_inserter = RuleInserter()
        return self._fallback_inserter

    def run(self, question: str, *, top_k: int | None = None) -> MultimodalAnswer:
        """Retrieve (``top_k`` chunks; None: the retriever's own), then one chat call."""
        retrieval, t0, t1 = retrieve_timed(self.retriever, question, top_k)
        rest = (
            f"\n\nImages:\n{candidate_block(retrieval.candidates) or '(none)'}\n\n"
            f"Question: {question}\nAnswer:"
        )
        room = fitted_chars(self.client, SYSTEM + rest, self.max_tokens, 6000)
        user = f"Excerpts:\n{context_block(retrieval, max_chars=room)}{rest}"
        try:
            result = self.client.chat(
                [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}],
                max_tokens=self.max_tokens,
            )
        except LLMError as err:  # the detail is for the log; the note is short and safe
            log.warning("single-shot: %s", err)
            answer, placement = self._staged(question, retrieval, f"LLM call failed ({err.public})")
        else:
            sentences, slots, problems = parse_inline(result.text, retrieval.candidates)
            if sentences:
                notes = [f"single-shot: {n}" for n in result.notes]
                if result.truncated:
                    notes.append(f"single-shot: answer {TRUNCATED} ({self.max_tokens})")
                notes.extend(f"single-shot: {p}" for p in problems)
                answer = TextAnswer(
                    question,
                    tuple(cited(s, retrieval) for s in sentences),
                    usage=result.usage,
                    notes=tuple(notes),
                )
                placement = Placement(slots=tuple(slots), format_ok=not problems)
            else:
                answer, placement = self._staged(
                    question, retrieval, "the model returned no answer text", result.usage
                )
        t2 = time.perf_counter()
        merged = self.merger.merge(answer, placement, retrieval.candidates)
        marks = {"retrieve": t1, "generate": t2, "merge": time.perf_counter()}
        return finish(merged, self.retriever, t0, marks)  # as the staged pipeline does

    def _staged(
        self, question: str, retrieval: Retrieval, why: str, usage: Usage | None = None
    ) -> tuple[TextAnswer, Placement]:
        """The staged pipeline's answer on the same retrieval, noted as a fallback (its walk
        from ``generate`` on: :meth:`m2io.pipeline.Pipeline.walk`)."""
        staged = Pipeline(
            self.retriever, self.fallback_generator, self.fallback_inserter, self.merger
        )
        made: dict[str, Any] = {}
        for step in staged.walk(question, retrieval=retrieval):
            made[step.stage] = step.value
            if step.stage == "insert":  # this pipeline merges, with the note
                break
        text, placement = made["generate"], made["insert"]
        stages = (
            f"{type(self.fallback_generator).__name__} + {type(self.fallback_inserter).__name__}"
        )
        note = f"single-shot: {why}; {FELL_BACK} to the staged pipeline ({stages})"
        answer = replace(text, usage=text.usage + (usage or Usage()), notes=(note, *text.notes))
        return answer, replace(placement, format_ok=False)
