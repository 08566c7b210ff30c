"""Checks of :class:`~m2io.retrievers.hybrid.HybridRetriever`'s options (clear errors that
name the option)."""

from __future__ import annotations

from typing import Literal

Mode = Literal["hybrid", "dense", "lexical"]
MODES = ("hybrid", "dense", "lexical")


def _weight(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name} must be a number; got {value!r}")
    if not 0 <= value < float("inf"):
        raise ValueError(f"{name} must be >= 0; got {value!r}")
    return float(value)


def _check_int(name: str, value: object, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}; got {value!r}")


def check_sizes(
    *,
    top_k: object,
    rrf_k: object,
    dense_weight: object,
    max_candidates: object,
    image_neighbours: object,
    pool_size: object,
    context_words: object,
    max_sections: object,
    section_words: object,
    mode: object,
    section_ratio: object,
    min_score: object,
) -> None:
    """Raise a ValueError naming the first option given out of its range (checked before the
    index is opened)."""
    _check_int("top_k", top_k, 1)
    _check_int("rrf_k", rrf_k, 1)
    if isinstance(dense_weight, bool) or not isinstance(dense_weight, int | float):
        raise ValueError(f"dense_weight must be a number; got {dense_weight!r}")
    if not 0 < dense_weight < float("inf"):
        raise ValueError(f"dense_weight must be > 0; got {dense_weight!r}")
    _check_int("max_candidates", max_candidates, 0)
    _check_int("image_neighbours", image_neighbours, 0)
    _check_int("pool_size", pool_size, 1)
    _check_int("context_words", context_words, 1)
    _check_int("max_sections", max_sections, 1)
    if section_words is not None:
        _check_int("section_words", section_words, 1)
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}; got {mode!r}")
    if not isinstance(section_ratio, int | float) or not 0 <= section_ratio <= 1:
        raise ValueError(f"section_ratio must be a number in [0, 1]; got {section_ratio!r}")
    if min_score is not None and (
        isinstance(min_score, bool) or not isinstance(min_score, int | float)
    ):
        raise ValueError(f"min_score must be a number or None; got {min_score!r}")
