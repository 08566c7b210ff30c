"""Fuzz the corpus loaders: thousands of mutated Markdown, HTML and MRAMG JSONL inputs.

A fixed seed, so a failure is reproducible with ``run_fuzz(CASES, seed=SEED)``; the longer run is
``benchmarks/fuzz_loaders.py``. Allowed outcomes are success and ``CorpusError``; anything else
(and any case slower than a few seconds, which would mean a super-linear pattern) fails.
"""

from __future__ import annotations

import random

from m2io.testing.fuzz import KINDS, mutate, run_fuzz

SEED = 20240610
CASES = 6000  # about 15-25 s on two cores


def test_loaders_survive_mutated_input() -> None:
    result = run_fuzz(CASES, seed=SEED, slow_s=5.0)
    samples = "\n".join(f"{c.kind} #{c.case}: {c.error} at {c.where}" for c in result.crashes[:5])
    assert result.unhandled == 0, f"{result.unhandled} unhandled exceptions:\n{samples}"
    assert result.slow == [], f"cases slower than 5 s: {result.slow[:5]}"
    assert set(result.cases) == set(KINDS)  # every loader was fed
    assert result.handled.get("mramg_docs", 0) > 0  # broken JSONL is a CorpusError, not a crash


def test_mutations_are_reproducible() -> None:
    seed = KINDS["markdown"][1][0]
    first = mutate(seed, random.Random(3), (seed,))
    assert first == mutate(seed, random.Random(3), (seed,)) and first != seed
