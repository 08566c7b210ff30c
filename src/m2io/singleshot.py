"""The Single-Shot baseline: one (M)LLM call writes the answer with ``<imgN>`` placeholders inline.

M2IO-R1 (arXiv 2508.06328) compares its staged pipeline against this: the model sees the excerpts
and the numbered candidate images and emits prose with ``<img3>`` where an image belongs. The
output is parsed into the same :class:`~m2io.types.MultimodalAnswer` as the staged pipeline, so
both are scored by the same metrics.
"""

from __future__ import annotations

import re
import time
from dataclasses import replace

from m2io.generators.prompts import attribute, candidate_block, context_block
from m2io.llm.client import ChatClient, LLMError
from m2io.mergers.base import Merger
from m2io.mergers.default import DefaultMerger
from m2io.retrievers.base import Retriever
from m2io.text import PIC, split_with_images
from m2io.types import Candidate, MultimodalAnswer, Placement, Sentence, Slot, TextAnswer

_TAG = re.compile(r"<\s*img\s*(\d+)\s*>", re.IGNORECASE)

SYSTEM = (
    "You answer questions from document excerpts and may illustrate the answer with the listed "
    "images. Write concise plain prose. Put an image tag such as <img2> on its own right after "
    "the sentence the image illustrates. Use only listed tags, each at most once, and only "
    "images that help the answer."
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

    sentences, positions = split_with_images(_TAG.sub(repl, text))
    slots = [Slot(i, p) for i, p in zip(order, positions, strict=True)]
    return sentences, slots, problems


class SingleShotPipeline:
    """Retrieve, then one chat call that writes text and places images together.

    Args:
        retriever: Any :class:`~m2io.retrievers.base.Retriever`.
        client: An OpenAI-compatible :class:`~m2io.llm.client.ChatClient`.
        merger: Builds the final segments (default merger).
        max_tokens: Answer length cap.
    """

    def __init__(
        self,
        retriever: Retriever,
        client: ChatClient,
        merger: Merger | None = None,
        *,
        max_tokens: int = 500,
    ) -> None:
        self.retriever = retriever
        self.client = client
        self.merger = merger or DefaultMerger()
        self.max_tokens = max_tokens

    def run(self, question: str) -> MultimodalAnswer:
        if not question.strip():
            raise ValueError("question is empty")
        t0 = time.perf_counter()
        retrieval = self.retriever.retrieve(question)
        t1 = time.perf_counter()
        user = (
            f"Excerpts:\n{context_block(retrieval)}\n\n"
            f"Images:\n{candidate_block(retrieval.candidates) or '(none)'}\n\n"
            f"Question: {question}\nAnswer:"
        )
        notes: list[str] = []
        try:
            result = self.client.chat(
                [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}],
                max_tokens=self.max_tokens,
            )
            sentences, slots, problems = parse_inline(result.text, retrieval.candidates)
            usage = result.usage
            notes.extend(f"single-shot: {p}" for p in problems)
        except LLMError as err:
            sentences, slots, usage = [], [], None
            notes.append(f"single-shot: LLM call failed: {err}")
        t2 = time.perf_counter()
        answer = TextAnswer(
            question,
            tuple(Sentence(s, attribute(s, retrieval)) for s in sentences),
            **({"usage": usage} if usage else {}),
            notes=tuple(notes),
        )
        placement = Placement(slots=tuple(slots), format_ok=not notes)
        merged = self.merger.merge(answer, placement, retrieval.candidates)
        t3 = time.perf_counter()
        timings = {
            "retrieve": (t1 - t0) * 1e3,
            "generate": (t2 - t1) * 1e3,
            "merge": (t3 - t2) * 1e3,
            "total": (t3 - t0) * 1e3,
        }
        return replace(merged, timings_ms=timings)
