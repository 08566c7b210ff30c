"""The inserter's output protocol: one tolerant parser that also reports every format error.

docs/design.md, "The inserter protocol" (after M2IO-R1, arXiv 2508.06328): a model answers ::

    <think>…</think><answer>{"<img2>": 1, "<img5>": 3}</answer>

mapping each selected candidate to the sentence it follows (0 = before the first sentence);
unselected images are left out. :func:`parse_placement_output` is the only parser of that
output: the LLM inserters use it to build a :class:`~m2io.types.Placement`, and the GRPO
format reward (:mod:`m2io.rewards`) is its ``format_ok``.

Near-misses (a code fence, single quotes, a trailing comma, ``img2`` without brackets, ``"3"``
for ``3``, a missing ``<think>``) are repaired so the placement is not lost, but each one is
recorded in ``errors`` and makes ``format_ok`` False. Entries that cannot be used (an image that
is not a candidate, an index out of range, an image placed twice) are dropped from the mapping
and recorded too.

Example:
    >>> p = parse_placement_output(
    ...     '<think>fig 2 shows the menu</think><answer>{"<img2>": 1}</answer>',
    ...     ["<img1>", "<img2>"], n_sentences=3)
    >>> p.mapping, p.format_ok
    ({'<img2>': 1}, True)
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from m2io.types import Placement, Slot

_STRICT = re.compile(r"^<think>.*?</think>\s*<answer>(.*?)</answer>$", re.DOTALL)
_ANSWER = re.compile(r"<answer>(.*?)(?:</answer>|$)", re.DOTALL)
_FENCE = re.compile(r"^```[A-Za-z0-9_-]*\s*(.*?)\s*```$", re.DOTALL)
_TAG = re.compile(r"^<img(\d+)>$")
_LOOSE_TAG = re.compile(r"^\W*(?:img|image|pic)[\s_-]*(\d+)\W*$", re.IGNORECASE)
_TRAILING_COMMA = re.compile(r",(\s*[}\]])")
_BARE_KEY = re.compile(r"([{,]\s*)(<?[A-Za-z_][\w\s-]*>?)(\s*:)")
_PAIR = re.compile(r"[\"']?([^\"'{},:\s]+)[\"']?\s*:\s*[\"']?(-?\d+(?:\.\d+)?)[\"']?")
_INT = re.compile(r"^\s*-?\d+\s*$")


class _Pairs(list):
    """A JSON object read as its (key, value) pairs, so a repeated key is seen."""


@dataclass(frozen=True)
class ParsedPlacement:
    """What :func:`parse_placement_output` read.

    Attributes:
        mapping: ``{candidate_id: after_sentence}`` of every usable entry, in output order; keys
            are spelled as in ``candidate_ids``.
        format_ok: True only when the output followed the protocol exactly (no errors).
        errors: One line per deviation, repaired or not, in the order found.
    """

    mapping: dict[str, int] = field(default_factory=dict)
    format_ok: bool = True
    errors: list[str] = field(default_factory=list)

    def to_placement(self, raw: str | None = None) -> Placement:
        """The :class:`~m2io.types.Placement` it describes (slots by sentence, then output order)."""
        order = sorted(enumerate(self.mapping.items()), key=lambda t: (t[1][1], t[0]))
        return Placement(
            slots=tuple(Slot(image_id, sentence) for _, (image_id, sentence) in order),
            format_ok=self.format_ok,
            notes=tuple(f"format: {e}" for e in self.errors),
            raw=raw,
        )


def render_placement_output(mapping: dict[str, int], think: str = "") -> str:
    """The protocol's canonical output for ``mapping`` (e.g. for SFT targets or fakes).

    Example:
        >>> render_placement_output({"<img2>": 1}, think="fits step 1")
        '<think>fits step 1</think><answer>{"<img2>": 1}</answer>'
    """
    return f"<think>{think}</think><answer>{json.dumps(mapping)}</answer>"


def resolve_image_key(key: str, candidate_ids: Sequence[str]) -> tuple[str | None, bool]:
    """Map an image name written by a model (or found in gold data) to a candidate id.

    Exact candidate ids win. Otherwise ``<imgK>`` names the K-th candidate (1-based) when the
    candidates are plain ids; when the candidates are themselves ``<imgK>`` tags, a tag must be
    one of them. Loose spellings (``img2``, ``Image 2``, ``[img2]``, a bare ``2``) are read as
    ``<img2>``.

    Returns:
        ``(candidate_id or None, near_miss)``; ``near_miss`` is True when the spelling was loose.
    """
    if key in candidate_ids:
        return key, False
    stripped = key.strip()
    if stripped in candidate_ids:
        return stripped, True
    near_miss = False
    match = _TAG.match(stripped)
    if match is None:
        match = _LOOSE_TAG.match(stripped) or (re.match(r"^(\d+)$", stripped))
        near_miss = True
    if match is None:
        return None, False
    k = int(match.group(1))
    if any(_TAG.match(c) for c in candidate_ids):
        tag = f"<img{k}>"
        return (tag if tag in candidate_ids else None), near_miss
    if 1 <= k <= len(candidate_ids):
        return candidate_ids[k - 1], near_miss
    return None, near_miss


def _answer_body(text: str, errors: list[str]) -> str:
    """The text inside ``<answer>``, recording every structural deviation."""
    strict = _STRICT.match(text)
    if strict:
        return strict.group(1)
    before = len(errors)
    if "<think>" not in text or "</think>" not in text:
        errors.append("missing <think>…</think>")
    elif not text.startswith("<think>"):
        errors.append("text before <think>")
    answers = _ANSWER.findall(text)
    if not answers:
        errors.append("missing <answer>…</answer>")
        tail = text.rsplit("</think>", 1)[-1]
        start, end = tail.find("{"), tail.rfind("}")
        return tail[start : end + 1] if 0 <= start < end else ""
    if len(answers) > 1:
        errors.append(f"{len(answers)} <answer> blocks; the last one is used")
    if "</answer>" not in text.rsplit("<answer>", 1)[-1]:
        errors.append("missing </answer>")
    elif not text.endswith("</answer>"):
        errors.append("text after </answer>")
    if "</think>" in text and text.find("</think>") > text.rfind("<answer>"):
        errors.append("<answer> comes before </think>")
    if len(errors) == before:
        errors.append("text between </think> and <answer>")
    return answers[-1]


def _read_pairs(body: str, errors: list[str]) -> list[tuple[Any, Any]]:
    """The answer's ``(key, value)`` pairs, repairing near-misses of JSON."""
    body = body.strip()
    fence = _FENCE.match(body)
    if fence:
        errors.append("answer wrapped in a code fence")
        body = fence.group(1).strip()
    if not body:
        errors.append("empty answer (write {} to select no image)")
        return []
    start, end = body.find("{"), body.rfind("}")
    if 0 <= start < end and (start > 0 or end < len(body) - 1):
        errors.append("text around the JSON object in <answer>")
        body = body[start : end + 1]

    def loads(s: str) -> Any:
        return json.loads(s, object_pairs_hook=_Pairs)

    try:
        value = loads(body)
    except json.JSONDecodeError:
        repaired = body
        if "'" in repaired:
            repaired = repaired.replace("'", '"')
            errors.append("single quotes instead of double quotes")
        fixed = _TRAILING_COMMA.sub(r"\1", repaired)
        if fixed != repaired:
            errors.append("trailing comma")
        unquoted = _BARE_KEY.sub(r'\1"\2"\3', fixed)
        if unquoted != fixed:
            errors.append("unquoted image name")
        try:
            value = loads(unquoted)
        except json.JSONDecodeError:
            pairs = [(k, v) for k, v in _PAIR.findall(body)]
            errors.append(
                f"answer is not valid JSON; {len(pairs)} pair(s) recovered by pattern"
                if pairs
                else "answer is not a JSON object and holds no image: index pair"
            )
            return [(k, json.loads(v)) for k, v in pairs]
    if not isinstance(value, _Pairs):
        errors.append(f"answer is a JSON {type(value).__name__}, not an object")
        return []
    return list(value)


def _sentence_index(value: Any, errors: list[str], key: str) -> int | None:
    if isinstance(value, bool):
        errors.append(f"{key}: sentence index {value!r} is not an integer")
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        errors.append(f"{key}: sentence index written as a float ({value!r})")
        return int(value)
    if isinstance(value, str) and _INT.match(value):
        errors.append(f"{key}: sentence index written as a string ({value!r})")
        return int(value)
    errors.append(f"{key}: sentence index {value!r} is not an integer")
    return None


def parse_placement_output(
    text: str, candidate_ids: Sequence[str], n_sentences: int
) -> ParsedPlacement:
    """Read an inserter's ``<think>…</think><answer>{…}</answer>`` output.

    Args:
        text: The model's raw output.
        candidate_ids: The candidates offered, in prompt order: ``<imgK>`` tags, or image ids
            (then ``<imgK>`` in the output names ``candidate_ids[K-1]``).
        n_sentences: Number of answer sentences; valid indices are ``0..n_sentences``.

    Returns:
        A :class:`ParsedPlacement`. ``format_ok`` is True only when the structure is present,
        the answer is a JSON object, it names only candidates, every index is an integer in
        range, and no image appears twice; ``errors`` says what was wrong or repaired.
    """
    if n_sentences < 0:
        raise ValueError(f"n_sentences must be >= 0, got {n_sentences}")
    candidates = list(candidate_ids)
    errors: list[str] = []
    body = _answer_body((text or "").strip(), errors)
    mapping: dict[str, int] = {}
    for raw_key, value in _read_pairs(body, errors):
        key = str(raw_key)
        image_id, near_miss = resolve_image_key(key, candidates)
        if image_id is None:
            errors.append(f"{key!r} is not a candidate image")
            continue
        if near_miss:
            errors.append(f"image name {key!r} read as {image_id!r}")
        sentence = _sentence_index(value, errors, key)
        if sentence is None:
            continue
        if not 0 <= sentence <= n_sentences:
            errors.append(f"{key}: sentence index {sentence} outside 0..{n_sentences}")
            continue
        if image_id in mapping:
            errors.append(f"{image_id!r} placed more than once; the first placement is kept")
            continue
        mapping[image_id] = sentence
    return ParsedPlacement(mapping=mapping, format_ok=not errors, errors=errors)
