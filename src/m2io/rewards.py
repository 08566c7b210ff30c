"""GRPO rewards for the image inserter, built on the evaluation metrics' own scorer.

docs/design.md, "Rewards" (after M2IO-R1, arXiv 2508.06328)::

    format   ∈ {0, 1}  the output follows the protocol (m2io.protocol.parse_placement_output)
    recall   = |selected ∩ gold| / |gold|
    position = images placed at their gold sentence / max(|selected|, |gold|)
    total    = format × (α·recall + (1 − α)·position)       α = 0.8 in the paper

``recall`` and ``position`` are :func:`m2io.metrics.images.placement_scores` — the function the
inserter metrics report — so a reward and its metric cannot drift apart. Edge cases follow it:
with no gold image, recall is 1 (MRAMG-Bench's convention, arXiv 2502.04176) and position is 1
only if nothing was selected (else 0), so an empty answer earns 1 and any selection earns at
most α.

The reward functions have TRL's signature ``(prompts, completions, **columns) -> list[float |
None]``. Completions are strings or chat messages (``[{"role": "assistant", "content": ...}]``).
The dataset columns they read, one value per completion:

- ``gold``: ``{"<imgK>" or image_id: sentence_index}``, a dict or its JSON string;
- ``candidates``: the candidate tags or ids in prompt order (a list or its JSON string);
- ``n_sentences``: the number of answer sentences.

An item whose ``gold`` is None gets None (TRL then ignores that reward for it).

Example:
    >>> reward_funcs = [make_total_reward(alpha=0.8), format_reward]  # for trl.GRPOTrainer
    >>> reward_funcs[0](
    ...     prompts=None,
    ...     completions=['<think>…</think><answer>{"<img2>": 1}</answer>'],
    ...     gold=['{"<img2>": 1, "<img4>": 3}'], candidates=[["<img2>", "<img4>"]],
    ...     n_sentences=[3])
    [0.5]
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from m2io.metrics.images import image_scores, placement_scores
from m2io.protocol import ParsedPlacement, parse_placement_output, resolve_image_key

RewardFunc = Callable[..., list[float | None]]

DEFAULT_ALPHA = 0.8
COLUMNS = ("gold", "candidates", "n_sentences")


def _check_alpha(alpha: float) -> None:
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha weighs recall against position and must be in [0, 1]: {alpha}")


def score_placement(
    pred: Mapping[str, int],
    gold: Mapping[str, int],
    alpha: float = DEFAULT_ALPHA,
    format_ok: bool = True,
) -> float:
    """Total reward of one placement: ``format × (α·recall + (1 − α)·position)``.

    For training loops that do not go through TRL (our numpy GRPO): ``pred`` and ``gold`` are
    ``{image_id: after_sentence}`` in the same id space.

    Example:
        >>> score_placement({"a": 1, "x": 2}, {"a": 1, "b": 3}, alpha=0.5)  # R=.5, pos=.5
        0.5
    """
    _check_alpha(alpha)
    return _total(placement_scores(pred, gold), alpha, format_ok)


def score_images_reward(pred_order: Sequence[str], gold_order: Sequence[str]) -> float:
    """Reward of an answer whose text is not the gold text (a generated answer in a pipeline):
    the mean of image F1 and the MRAMG ordering score, the two image metrics an end-to-end
    evaluation reports (:func:`m2io.metrics.images.image_scores`). There is no gold sentence to
    place an image after, so there is no position term.

    Example:
        >>> score_images_reward(["a", "x"], ["a"])  # F1 2/3, ordering 1 × (1 − (2/2)/3) = 2/3
        0.6666666666666667
    """
    scores = image_scores(pred_order, gold_order)
    return 0.5 * (scores["f1"] + scores["ordering"])


def _total(scores: Mapping[str, float], alpha: float, format_ok: bool) -> float:
    if not format_ok:
        return 0.0
    return alpha * scores["recall"] + (1.0 - alpha) * scores["position"]


def completion_text(completion: str | Sequence[Mapping[str, Any]]) -> str:
    """The text of a completion: a string, or the assistant messages of a chat completion.

    Message content may be a string or a list of parts (``{"type": "text", "text": ...}``).
    """
    if isinstance(completion, str):
        return completion
    texts: list[str] = []
    for message in completion:
        if message.get("role", "assistant") != "assistant":
            continue
        content = message.get("content", "")
        if isinstance(content, str):
            texts.append(content)
        else:
            texts.extend(str(p.get("text", "")) for p in content if p.get("type") == "text")
    return "".join(texts)


def _json_value(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _is_int_like(value: Any) -> bool:
    return isinstance(value, int) or (
        isinstance(value, str) and value.strip().lstrip("-").isdigit()
    )


def gold_mapping(gold: Mapping[str, int] | str, candidate_ids: Sequence[str]) -> dict[str, int]:
    """Gold ``{name: sentence}`` with names spelled as in ``candidate_ids``.

    ``<imgK>`` gold keys are resolved like model output (:func:`m2io.protocol.resolve_image_key`);
    a gold image that is not among the candidates keeps its name and counts as missed.
    """
    raw = _json_value(gold)
    if not isinstance(raw, Mapping):
        raise ValueError(f"gold must be a JSON object {{image: sentence_index}}, got {gold!r}")
    out: dict[str, int] = {}
    for key, sentence in raw.items():
        image_id, _ = resolve_image_key(str(key), candidate_ids)
        if isinstance(sentence, bool) or not _is_int_like(sentence):
            raise ValueError(f"gold sentence index of {key!r} must be an integer: {sentence!r}")
        out[image_id if image_id is not None else str(key)] = int(sentence)
    return out


def score_completion(
    completion: str | Sequence[Mapping[str, Any]],
    *,
    gold: Mapping[str, int] | str,
    candidates: Sequence[str] | str,
    n_sentences: int,
    alpha: float = DEFAULT_ALPHA,
) -> dict[str, float]:
    """Every reward component of one completion: ``format``, ``recall``, ``position``, ``total``.

    ``recall`` and ``position`` are computed on what the tolerant parser recovered even when the
    format is broken (useful to log); ``total`` is 0 then.
    """
    _check_alpha(alpha)
    candidate_ids = list(_json_value(candidates))
    parsed = parse_placement_output(completion_text(completion), candidate_ids, int(n_sentences))
    scores = placement_scores(parsed.mapping, gold_mapping(gold, candidate_ids))
    fmt = 1.0 if parsed.format_ok else 0.0
    return {
        "format": fmt,
        "recall": scores["recall"],
        "position": scores["position"],
        "total": _total(scores, alpha, parsed.format_ok),
    }


def _rows(completions: Sequence[Any], columns: Mapping[str, Any]) -> list[dict[str, Any] | None]:
    missing = [c for c in COLUMNS if c not in columns]
    if missing:
        raise KeyError(
            f"the dataset needs columns {', '.join(COLUMNS)}; missing: {', '.join(missing)}"
        )
    for c in COLUMNS:
        if len(columns[c]) != len(completions):
            raise ValueError(f"{len(completions)} completions but {len(columns[c])} {c!r} values")
    return [
        None
        if columns["gold"][i] is None
        else {
            "gold": columns["gold"][i],
            "candidates": columns["candidates"][i],
            "n_sentences": columns["n_sentences"][i],
        }
        for i in range(len(completions))
    ]


def _component_reward(component: str, alpha: float = DEFAULT_ALPHA) -> RewardFunc:
    def reward(
        prompts: Sequence[Any] | None, completions: Sequence[Any], **columns: Any
    ) -> list[float | None]:
        out: list[float | None] = []
        for completion, row in zip(completions, _rows(completions, columns), strict=True):
            out.append(
                None if row is None else score_completion(completion, alpha=alpha, **row)[component]
            )
        return out

    return reward


def format_reward(
    prompts: Sequence[Any] | None, completions: Sequence[Any], **columns: Any
) -> list[float | None]:
    """1.0 when a completion follows the inserter protocol exactly, else 0.0."""
    return _component_reward("format")(prompts, completions, **columns)


def recall_reward(
    prompts: Sequence[Any] | None, completions: Sequence[Any], **columns: Any
) -> list[float | None]:
    """|selected ∩ gold| / |gold| of each completion (1.0 when there is no gold image)."""
    return _component_reward("recall")(prompts, completions, **columns)


def position_reward(
    prompts: Sequence[Any] | None, completions: Sequence[Any], **columns: Any
) -> list[float | None]:
    """Images placed at their gold sentence / max(|selected|, |gold|) (1.0 when both empty)."""
    return _component_reward("position")(prompts, completions, **columns)


def make_total_reward(alpha: float = DEFAULT_ALPHA) -> RewardFunc:
    """The paper's reward, ``format × (α·recall + (1 − α)·position)``, as a TRL reward function.

    Its ``__name__`` is ``total_reward`` (TRL logs it under that name); ``alpha`` is kept as an
    attribute for the α ablation (α ∈ {0, 0.2, …, 1.0}, as in the paper).
    """
    _check_alpha(alpha)
    reward = _component_reward("total", alpha)
    reward.__name__ = reward.__qualname__ = "total_reward"
    reward.__doc__ = f"format × ({alpha}·recall + {1 - alpha:g}·position) of each completion."
    reward.alpha = alpha  # type: ignore[attr-defined]
    return reward


__all__ = [
    "ParsedPlacement",
    "completion_text",
    "format_reward",
    "gold_mapping",
    "make_total_reward",
    "parse_placement_output",
    "position_reward",
    "recall_reward",
    "score_completion",
    "score_placement",
]
