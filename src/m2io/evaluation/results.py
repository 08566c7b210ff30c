"""The results format shared by ``m2io eval``, ``m2io eval-inserter`` and ``m2io report``.

One run writes two files side by side:

- ``NAME.json``: one object — ``subset``, ``n``, ``kind`` (``"e2e"`` | ``"inserter"``),
  ``system`` (a short label such as ``"extractive+rule"``), ``config`` (the pipeline or inserter
  config and the eval flags), ``metrics`` (all ×100), ``latency_ms`` (``{stage: {"p50", "p95"}}``),
  ``cost`` (tokens and estimated USD), ``setup_s`` (one-off work such as index or item building),
  ``machine``, ``code`` (m2io version and git commit), ``date``, ``wall_s`` and ``interrupted``;
  and what a score alone would hide: ``fallbacks``/``truncated``/``timed_out`` (``{stage: answers}``
  whose LLM call fell back, stopped at ``max_tokens`` or timed out), ``fell_back`` (answers with
  any fallback), ``mostly_fallback`` (more than half of them), ``skipped`` (``{reason:
  questions}`` not scored) and ``gold_gaps`` (``{reason: questions}`` scored although part of
  their gold lies outside the corpus).
- ``NAME.items.jsonl``: one line per scored item — ``id``, ``prediction``, ``gold``, ``scores``,
  ``latency_ms``, ``notes``, ``flags`` (``{"fallback": [stages], ...}`` read from the notes) —
  appended as the run goes, so an interrupted run keeps what it did.

Example:
    >>> with ItemLog("out/run.items.jsonl") as log:          # doctest: +SKIP
    ...     log.write({"id": "q1", "scores": {"image_f1": 50.0}})
    >>> write_results("out/run.json", results)              # doctest: +SKIP
"""

from __future__ import annotations

import json
import math
import os
import platform
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from m2io.evaluation.prices import PRICES, PRICES_DATE, Price, estimate_cost
from m2io.llm.notes import TRUNCATED, note_flags
from m2io.types import Usage

KINDS = ("e2e", "inserter")
REQUIRED_KEYS = ("subset", "n", "kind", "system", "config", "metrics", "latency_ms")


def items_path(results_path: str | Path) -> Path:
    """``results.json`` → ``results.items.jsonl`` in the same folder."""
    p = Path(results_path)
    stem = p.name[: -len(p.suffix)] if p.suffix else p.name
    return p.with_name(f"{stem}.items.jsonl")


def percentile(values: list[float], q: float) -> float:
    """Linear-interpolated percentile ``q`` (0–100) of ``values``; nan when empty."""
    if not values:
        return math.nan
    xs = sorted(values)
    pos = (len(xs) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def latency_stats(samples: Mapping[str, list[float]]) -> dict[str, dict[str, float]]:
    """``{stage: [ms, ...]}`` → ``{stage: {"p50": ms, "p95": ms}}``, stages with samples only."""
    return {
        stage: {"p50": round(percentile(v, 50), 3), "p95": round(percentile(v, 95), 3)}
        for stage, v in samples.items()
        if v
    }


def machine_info() -> dict[str, Any]:
    """CPU count and platform, so timings from different machines are not compared blindly."""
    return {
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "python": platform.python_version(),
    }


def code_info() -> dict[str, Any]:
    """m2io's version and, in a git checkout, the commit (``+dirty`` with local changes): results
    move when defaults change, so a results file says which code produced it."""
    import subprocess

    from m2io import __version__

    info: dict[str, Any] = {"m2io": __version__, "commit": None}
    try:
        where = Path(__file__).resolve().parent
        sha = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=where,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=where,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
        info["commit"] = sha + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        pass
    return info


def records_cost(
    records: Iterable[dict[str, Any]],
    *,
    model: str | None,
    base_url: str | None = None,
    prices: dict[str, Price] | None = None,
) -> dict[str, Any]:
    """:func:`cost_summary` of per-item records (each with a ``usage`` dict)."""
    return cost_summary(
        (Usage(**r["usage"]) for r in records), model=model, base_url=base_url, prices=prices
    )


def run_notes(
    records: Sequence[dict[str, Any]], total: int, interrupted: bool, *, unit: str
) -> list[str]:
    """The notes every run states: where Ctrl-C stopped it, and how many ``unit`` (answers,
    items) carry notes of their own (fallbacks, format errors)."""
    notes = []
    if interrupted:
        notes.append(f"interrupted after {len(records)} of {total} {unit}")
    flagged = sum(1 for r in records if r["notes"])
    if flagged:
        notes.append(f"{flagged} {unit} carry notes (fallbacks, format errors)")
    counts = flag_counts(records)
    for key, what in (
        ("fallbacks", "fell back"),
        ("truncated", f"were {TRUNCATED}"),
        ("timed_out", "timed out"),
    ):
        if counts[key]:
            notes.append(f"{unit} whose LLM call {what}: {per_stage(counts[key])}")
    if counts["mostly_fallback"]:
        notes.append(
            f"MOSTLY FALLBACK: {counts['fell_back']} of {len(records)} {unit} fell back; the "
            "scores are the fallback's, not the configured model's"
        )
    return notes


def flag_counts(records: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Per-stage counts of the items that fell back, were truncated or timed out.

    Returns ``{"fallbacks": {stage: n}, "truncated": {...}, "timed_out": {...}, "fell_back": n,
    "mostly_fallback": bool}``; ``mostly_fallback`` when more than half of the items fell back.
    """
    out: dict[str, Any] = {"fallbacks": {}, "truncated": {}, "timed_out": {}}
    fell_back = 0
    for r in records:
        flags = r.get("flags")
        if flags is None:
            flags = note_flags(r.get("notes", ()))
        for flag, key in (
            ("fallback", "fallbacks"),
            ("truncated", "truncated"),
            ("timed_out", "timed_out"),
        ):
            for stage in flags.get(flag, ()):
                out[key][stage] = out[key].get(stage, 0) + 1
        fell_back += bool(flags.get("fallback"))
    out["fell_back"] = fell_back
    out["mostly_fallback"] = bool(records) and 2 * fell_back > len(records)
    return out


def per_stage(counts: Mapping[str, int]) -> str:
    """``{"generate": 12, "insert": 3}`` → ``"generate 12, insert 3"``."""
    return ", ".join(f"{stage} {n}" for stage, n in counts.items())


def by_reason(counts: Mapping[str, int]) -> str:
    """``{"no gold image": 3}`` → ``"no gold image (3)"``, most frequent first."""
    return ", ".join(f"{k} ({n})" for k, n in sorted(counts.items(), key=lambda kv: -kv[1]))


def run_label(result: Mapping[str, Any]) -> str:
    """The system name, with ``[fallback: k/n]`` when most answers fell back."""
    label = str(result.get("system", "?"))
    if result.get("mostly_fallback"):
        label += f" [fallback: {result.get('fell_back', 0)}/{result.get('n', 0)}]"
    return label


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def cost_summary(
    usages: Iterable[Usage],
    *,
    model: str | None,
    base_url: str | None = None,
    prices: dict[str, Price] | None = None,
) -> dict[str, Any]:
    """Token totals and the estimated cost, total and per answer (the "cost table" of a run).

    ``usd_total``/``usd_per_answer`` are None when the model is hosted but has no price (pass a
    price file); 0 for local or offline runs.
    """
    usages = list(usages)
    total = sum(usages, Usage())
    table = PRICES if prices is None else prices
    usd = estimate_cost(
        model, total.prompt_tokens, total.completion_tokens, base_url=base_url, prices=table
    )
    price = None
    if model and usd:
        entry = table.get(model) or table.get(model.rsplit("/", 1)[-1])
        price = asdict(entry) if entry else None
    n = len(usages)
    return {
        "model": model,
        "prompt_tokens": total.prompt_tokens,
        "completion_tokens": total.completion_tokens,
        "tokens_per_answer": round((total.prompt_tokens + total.completion_tokens) / n, 1)
        if n
        else 0.0,
        "usd_total": None if usd is None else round(usd, 6),
        "usd_per_answer": None if usd is None or not n else round(usd / n, 8),
        "price_usd_per_1m": price,
        "price_table_date": PRICES_DATE,
    }


@dataclass
class RunResults:
    """One evaluation run, as written to ``NAME.json`` (see the module docstring).

    ``metrics`` are ×100; ``notes`` lists caveats (skipped metrics, fallbacks).
    """

    subset: str
    kind: str
    system: str
    n: int
    config: dict[str, Any]
    metrics: dict[str, float]
    latency_ms: dict[str, dict[str, float]]
    cost: dict[str, Any] = field(default_factory=dict)
    setup_s: dict[str, float] = field(default_factory=dict)
    machine: dict[str, Any] = field(default_factory=machine_info)
    code: dict[str, Any] = field(default_factory=code_info)
    date: str = field(default_factory=now_iso)
    wall_s: float = 0.0
    interrupted: bool = False
    notes: list[str] = field(default_factory=list)
    fallbacks: dict[str, int] = field(default_factory=dict)
    truncated: dict[str, int] = field(default_factory=dict)
    timed_out: dict[str, int] = field(default_factory=dict)
    fell_back: int = 0
    mostly_fallback: bool = False
    skipped: dict[str, int] = field(default_factory=dict)
    gold_gaps: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {self.kind!r}")

    def count_flags(self, records: Sequence[Mapping[str, Any]]) -> None:
        """Fill ``fallbacks``, ``truncated``, ``timed_out``, ``fell_back``, ``mostly_fallback``."""
        counts = flag_counts(records)
        self.fallbacks = counts["fallbacks"]
        self.truncated = counts["truncated"]
        self.timed_out = counts["timed_out"]
        self.fell_back = counts["fell_back"]
        self.mostly_fallback = counts["mostly_fallback"]

    @property
    def label(self) -> str:
        """``system``, with ``[fallback: k/n]`` when most answers fell back."""
        return run_label(asdict(self))

    def to_dict(self) -> dict[str, Any]:
        return _finite(asdict(self))


def _finite(value: Any) -> Any:
    """Round floats to 4 decimals and turn nan/inf into None (strict JSON has no NaN)."""
    if isinstance(value, float):
        return round(value, 4) if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def write_results(path: str | Path, results: RunResults | Mapping[str, Any]) -> Path:
    """Write the results JSON atomically (a reader never sees half a file)."""
    data = results.to_dict() if isinstance(results, RunResults) else _finite(dict(results))
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(f".{p.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, p)
    return p


def load_results(path: str | Path) -> dict[str, Any]:
    """Read a results JSON and check it has the keys ``m2io report`` needs.

    Raises:
        ValueError: Not JSON, or not a results file (the message names the missing keys).
    """
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise ValueError(f"cannot read results {p}: {err}") from err
    missing = [k for k in REQUIRED_KEYS if not isinstance(data, dict) or k not in data]
    if missing:
        raise ValueError(f"{p} is not an m2io results file (missing {', '.join(missing)})")
    return data


class ItemLog:
    """Per-item JSONL, written one flushed line at a time.

    Use as a context manager. ``rewrite`` replaces the whole file at the end of a run when
    batch-only scores (BERTScore) have been added to the records.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = self.path.open("w", encoding="utf-8", newline="\n")
        self.count = 0

    def write(self, record: Mapping[str, Any]) -> None:
        self._fh.write(json.dumps(_finite(dict(record)), ensure_ascii=False) + "\n")
        self._fh.flush()
        self.count += 1

    def rewrite(self, records: Iterable[Mapping[str, Any]]) -> None:
        """Replace the file's content with ``records`` (atomically)."""
        self.close()
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        with tmp.open("w", encoding="utf-8", newline="\n") as fh:
            for rec in records:
                fh.write(json.dumps(_finite(dict(rec)), ensure_ascii=False) + "\n")
        os.replace(tmp, self.path)

    def close(self) -> None:
        if not self._fh.closed:
            self._fh.close()

    def __enter__(self) -> ItemLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_items(path: str | Path) -> list[dict[str, Any]]:
    """The records of a per-item JSONL (a torn last line from a killed run is skipped)."""
    out: list[dict[str, Any]] = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if line.strip():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return out


@dataclass
class ItemRun:
    """What :func:`run_items` gathered: one record per item done, and whether Ctrl-C cut it short."""

    records: list[dict[str, Any]]
    interrupted: bool = False


def run_items(
    items: Iterable[Any],
    score_one: Callable[[Any], dict[str, Any]],
    *,
    log: ItemLog | None = None,
    progress: bool = True,
    desc: str = "eval",
    total: int | None = None,
) -> ItemRun:
    """Score items one by one, appending each record to ``log`` as soon as it exists.

    A progress bar with ETA goes to stderr. Ctrl-C (KeyboardInterrupt) stops the loop and keeps
    every record finished so far; the item in flight is dropped.
    """
    from tqdm import tqdm

    run = ItemRun(records=[])
    bar = tqdm(
        items,
        total=total,
        desc=desc,
        unit="item",
        file=sys.stderr,
        disable=not progress,
        mininterval=0.5,
        dynamic_ncols=True,
    )
    try:
        for item in bar:
            record = score_one(item)
            run.records.append(record)
            if log is not None:
                log.write(record)
    except KeyboardInterrupt:
        run.interrupted = True
    finally:
        bar.close()
    return run
