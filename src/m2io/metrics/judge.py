"""Optional LLM-judge of multimodal answers, on MRAMG-Bench's scales (arXiv 2502.04176).

Any :class:`~m2io.llm.base.ChatModel` works (an OpenAI-compatible endpoint by default, a local
model, a scripted fake); the judge always samples at temperature 0. One request per answer
asks for four ratings, reported ×100:

- ``image_relevance``, ``image_effectiveness``, ``overall_quality``: 1–5, reported as score/5×100;
- ``image_position``: 0/1 per image in the answer, reported as the mean ×100.

The prompts are m2io's own (MRAMG-Bench's are not copied). The judge sees the question, the answer
as Markdown with each image as a placeholder ``[image ID: caption]`` where it sits, the list of
those images with captions, and the gold answer. It never sees pixels, so it judges images by
caption and placement only: an image with a poor caption is judged poorly whatever it shows.

An answer with no image gets only ``overall_quality``; the image keys are absent from its
``per_item`` entry and the image aggregates average over the answers that have images. A reply
that cannot be read is re-asked once (saying what was wrong); every unreadable reply is counted in
``parse_failures`` and an answer still unread after the re-ask is listed in ``unscored``.

Example (needs a running endpoint)::

    judge = LLMJudge(base_url="http://localhost:8000/v1", model="qwen2.5-7b")
    result = judge.score([JudgeItem("How do I crop?", "Use the Crop tool.", "Select Crop ...")])
    result.aggregate["overall_quality"], result.parse_failures
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from m2io.llm.base import ChatModel, LLMError, Message
from m2io.llm.models import ChatModelSpec, make_chat_model
from m2io.metrics.result import MetricResult
from m2io.text import PIC
from m2io.types import ImageRef, ImageSegment, MultimodalAnswer, TextSegment, Usage

log = logging.getLogger(__name__)

SCALE_KEYS = ("image_relevance", "image_effectiveness", "overall_quality")
JUDGE_KEYS = ["image_relevance", "image_effectiveness", "image_position", "overall_quality"]

SYSTEM_PROMPT = """\
You are a strict grader of answers that combine text and images.
An assistant answered a user's question. In its answer every image appears as a placeholder
[image ID: caption] at the exact point where the image is shown. You cannot see the pixels: judge
each image from its caption and from where it is placed. A reference answer written by a person
is given for comparison; [image] marks where its author showed an image.

Rate the answer on these scales:
- image_relevance (integer 1-5): do the images shown belong to this question and to the text
  around them? 1 = unrelated, 3 = loosely related, 5 = every image clearly belongs.
- image_effectiveness (integer 1-5): do the images help a reader understand or carry out the
  answer? 1 = no help or confusing, 3 = some help, 5 = they make the answer clearly better.
- image_position (0 or 1 for each image ID): 1 if the image sits next to the text it
  illustrates, 0 if it is in the wrong place.
- overall_quality (integer 1-5): correctness, completeness and clarity of the whole answer,
  images included, measured against the reference. 1 = wrong or unusable, 3 = partly right,
  5 = as good as the reference.

Reply with one JSON object and nothing else."""

_FORMAT_WITH_IMAGES = (
    '{{"image_relevance": <1-5>, "image_effectiveness": <1-5>, '
    '"image_position": {{{positions}}}, "overall_quality": <1-5>}}'
)
_FORMAT_NO_IMAGES = (
    '{"image_relevance": null, "image_effectiveness": null, "image_position": {}, '
    '"overall_quality": <1-5>}'
)


@dataclass(frozen=True)
class JudgeItem:
    """One answer to judge.

    Attributes:
        question: The user's question.
        answer: The answer as Markdown, each image as a placeholder such as
            ``[image ID: caption]`` where it is shown (:meth:`from_answer` writes these).
        gold_answer: The reference answer; ``<PIC>`` markers are shown to the judge as ``[image]``.
        images: The images in the answer, in reading order (id and caption).
    """

    question: str
    answer: str
    gold_answer: str
    images: tuple[ImageRef, ...] = ()

    @classmethod
    def from_answer(cls, answer: MultimodalAnswer, gold_answer: str) -> JudgeItem:
        """Build the judge's view of a pipeline answer."""
        parts: list[str] = []
        for seg in answer.segments:
            if isinstance(seg, TextSegment):
                parts.append(seg.text)
            elif isinstance(seg, ImageSegment):
                parts.append(f"\n\n{image_placeholder(seg.image_id, seg.caption)}\n\n")
        text = re.sub(r"\n{3,}", "\n\n", " ".join(parts).replace(" \n", "\n").replace("\n ", "\n"))
        images = tuple(ImageRef(s.image_id, caption=s.caption) for s in answer.images)
        return cls(answer.question, text.strip(), gold_answer, images)


def image_placeholder(image_id: str, caption: str = "") -> str:
    """How an image is shown to the judge: ``[image ID: caption]``."""
    caption = " ".join(caption.split())
    return f"[image {image_id}: {caption}]" if caption else f"[image {image_id}]"


@dataclass(frozen=True)
class JudgeResult(MetricResult):
    """Judge scores plus what the judging cost and what went wrong.

    Attributes:
        parse_failures: Replies that could not be read (re-asks included).
        unscored: Indices of items with no score (still unreadable after the re-ask, or the
            endpoint failed); they are absent from the aggregates, and their ``per_item`` is {}.
        usage: Tokens spent by the judge.
    """

    parse_failures: int = 0
    unscored: tuple[int, ...] = ()
    usage: Usage = field(default_factory=Usage)


class JudgeParseError(ValueError):
    """The judge's reply is not the JSON object asked for."""


def build_messages(item: JudgeItem) -> list[Message]:
    """The judge's chat messages for one item."""
    if item.images:
        listing = "\n".join(f"- {image_placeholder(im.image_id, im.caption)}" for im in item.images)
        positions = ", ".join(f'"{im.image_id}": <0 or 1>' for im in item.images)
        reply = _FORMAT_WITH_IMAGES.format(positions=positions)
    else:
        listing = "(the answer shows no image; rate only overall_quality)"
        reply = _FORMAT_NO_IMAGES
    gold = item.gold_answer.replace(PIC, "[image]")
    user = (
        f"Question:\n{item.question}\n\n"
        f"Reference answer:\n{gold}\n\n"
        f"Answer to grade:\n{item.answer}\n\n"
        f"Images in the answer:\n{listing}\n\n"
        f"Reply with exactly this JSON shape:\n{reply}"
    )
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": user}]


def _scale(value: Any, name: str, low: int, high: int) -> int:
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise JudgeParseError(f"{name} must be an integer from {low} to {high}, got {value!r}")
    return value


def parse_judgement(text: str, item: JudgeItem) -> dict[str, float]:
    """Scores (×100) from a judge reply; raises :class:`JudgeParseError` when it cannot.

    Tolerates a code fence or prose around the JSON object; requires every scale asked for.
    """
    start, end = text.find("{"), text.rfind("}")
    if not 0 <= start < end:
        raise JudgeParseError("no JSON object in the reply")
    try:
        data = json.loads(text[start : end + 1])
    except json.JSONDecodeError as err:
        raise JudgeParseError(f"the JSON object does not parse: {err}") from err
    if not isinstance(data, dict):
        raise JudgeParseError("the reply is not a JSON object")
    scores = {"overall_quality": _scale(data.get("overall_quality"), "overall_quality", 1, 5)}
    if not item.images:
        return {"overall_quality": scores["overall_quality"] / 5 * 100}
    for key in SCALE_KEYS[:2]:
        scores[key] = _scale(data.get(key), key, 1, 5)
    positions = data.get("image_position")
    if not isinstance(positions, dict):
        raise JudgeParseError("image_position must be an object {image ID: 0 or 1}")
    marks = [
        _scale(positions.get(im.image_id), f"image_position[{im.image_id}]", 0, 1)
        for im in item.images
    ]
    out = {key: scores[key] / 5 * 100 for key in SCALE_KEYS}
    out["image_position"] = 100.0 * sum(marks) / len(marks)
    return out


@dataclass(frozen=True)
class _Outcome:
    scores: dict[str, float] | None
    failures: int
    usage: Usage
    error: Exception | None = None


class LLMJudge:
    """Rates answers with an LLM on MRAMG-Bench's judge scales (temperature 0).

    Args:
        client: Any :class:`~m2io.llm.base.ChatModel`; ``None`` builds one from ``base_url``
            and ``model`` (an OpenAI-compatible endpoint unless ``model`` names a local model:
            :func:`m2io.llm.models.make_chat_model`).
        base_url: Endpoint root for the default client (e.g. ``http://localhost:8000/v1``).
        model: Judge model name for the default client.
        max_tokens: Reply length limit.
        workers: Items judged concurrently (requests in flight).

    Example (needs a running endpoint)::

        judge = LLMJudge(base_url="http://127.0.0.1:8000/v1", model="judge", workers=4)
        judge.score(items).aggregate["overall_quality"]
    """

    def __init__(
        self,
        client: ChatModel | None = None,
        *,
        base_url: str | None = None,
        model: str = "gpt-4o-mini",
        max_tokens: int = 400,
        workers: int = 1,
    ) -> None:
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        if max_tokens < 1:
            raise ValueError(f"max_tokens must be >= 1, got {max_tokens}")
        if client is None:
            client = make_chat_model(ChatModelSpec(model=model, base_url=base_url))
        self.client: ChatModel = client
        self.max_tokens = max_tokens
        self.workers = workers

    def _ask(self, messages: list[Message]) -> tuple[str, Usage]:
        reply = self.client.chat(messages, temperature=0.0, max_tokens=self.max_tokens)
        return reply.text, reply.usage

    def _judge_one(self, item: JudgeItem) -> _Outcome:
        messages = build_messages(item)
        usage, failures = Usage(), 0
        try:
            for attempt in range(2):
                text, spent = self._ask(messages)
                usage = usage + spent
                try:
                    return _Outcome(parse_judgement(text, item), failures, usage)
                except JudgeParseError as err:
                    failures += 1
                    log.warning("judge reply unreadable (attempt %d): %s", attempt + 1, err)
                    messages = [
                        *messages,
                        {"role": "assistant", "content": text},
                        {
                            "role": "user",
                            "content": f"That reply could not be read ({err}). Reply again "
                            "with only the JSON object, in the shape asked for.",
                        },
                    ]
        except LLMError as err:
            log.warning("judge request failed: %s", err)
            return _Outcome(None, failures, usage, err)
        return _Outcome(None, failures, usage)

    def score(self, items: Sequence[JudgeItem]) -> JudgeResult:
        """Judge a batch; see the module docstring for the keys and the edge cases.

        Raises:
            m2io.llm.base.LLMError: When every request failed (endpoint down or misconfigured).
        """
        if self.workers == 1:
            outcomes = [self._judge_one(it) for it in items]
        else:
            with ThreadPoolExecutor(max_workers=self.workers) as pool:
                outcomes = list(pool.map(self._judge_one, items))
        errors = [o.error for o in outcomes if o.error is not None]
        if items and len(errors) == len(items):
            raise errors[-1]
        per_item = [o.scores or {} for o in outcomes]
        aggregate = {}
        for key in JUDGE_KEYS:
            values = [s[key] for s in per_item if key in s]
            aggregate[key] = sum(values) / len(values) if values else math.nan
        usage = Usage()
        for o in outcomes:
            usage = usage + o.usage
        return JudgeResult(
            aggregate=aggregate,
            per_item=per_item,
            parse_failures=sum(o.failures for o in outcomes),
            unscored=tuple(i for i, o in enumerate(outcomes) if o.scores is None),
            usage=usage,
        )


def judge_answers(
    items: Sequence[JudgeItem], client: ChatModel | None = None, **kwargs: Any
) -> JudgeResult:
    """One-call form of ``LLMJudge(client, **kwargs).score(items)``."""
    return LLMJudge(client, **kwargs).score(items)
