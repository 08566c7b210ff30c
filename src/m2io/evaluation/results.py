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

Example::

    with ItemLog("out/run.items.jsonl") as log:
        log.write({"id": "q1", "scores": {"image_f1": 50.0}})
    write_results("out/run.json", results)
"""

from __future__ import annotations

import json
import math
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from tqdm import tqdm

from m2io import __version__
from m2io.evaluation.prices import PRICES, PRICES_DATE, Price, estimate_cost
from m2io.llm.notes import TRUNCATED, note_flags
from m2io.types import Usage

T = TypeVar("T")

KINDS = ("e2e", "inserter")
REQUIRED_KEYS = ("subset", "n", "kind", "system", "config", "metrics", "latency_ms")

# One name per metric (docs/design.md, Metrics). Older files and model cards also used the bare
# names of :mod:`m2io.metrics.images` and, for pipeline items, a ``pipeline_`` prefix; they are
# read under these names.
IMAGE_SET_METRICS = ("image_precision", "image_recall", "image_f1", "image_ordering")
OLD_METRIC_NAMES = {
    **{name.removeprefix("image_"): name for name in IMAGE_SET_METRICS},
    **{"pipeline_" + name.removeprefix("image_"): name for name in IMAGE_SET_METRICS},
}


def metric_names(scores: Mapping[str, float]) -> dict[str, float]:
    """``scores`` under the one name of each metric: ``f1`` and ``pipeline_f1`` are
    ``image_f1`` (…); a name already in use is kept, and other keys pass unchanged."""
    out = {k: v for k, v in scores.items() if k not in OLD_METRIC_NAMES}
    for k, v in scores.items():
        if k in OLD_METRIC_NAMES:
            out.setdefault(OLD_METRIC_NAMES[k], v)
    return out


@dataclass
class ItemRecord:
    """One scored item: a line of ``NAME.items.jsonl`` (see the module docstring).

    Attributes:
        id: The question id.
        scores: The item's scores ×100, under the names of the run's metrics.
        prediction: What the system produced (text and images end to end; the placement and
            reading order inserter-only).
        gold: What it is scored against (gold image ids; inserter-only also their positions).
        latency_ms: Milliseconds per stage.
        usage: Tokens spent on the item.
        notes: What the answer or placement says about itself (fallbacks, repairs).
        question: The question (end to end).
        candidates: The candidate image ids offered (inserter-only).
        n_sentences: Sentences of the answer (inserter-only).
        raw: The inserter model's raw reply, where it has one (inserter-only).
    """

    id: str
    scores: dict[str, float]
    prediction: dict[str, Any]
    gold: dict[str, Any]
    latency_ms: dict[str, float] = field(default_factory=dict)
    usage: Usage = field(default_factory=Usage)
    notes: list[str] = field(default_factory=list)
    question: str | None = None
    candidates: list[str] | None = None
    n_sentences: int | None = None
    raw: str | None = None

    @property
    def flags(self) -> dict[str, list[str]]:
        """``{"fallback": [stages], "truncated": [...], "timed_out": [...]}`` from the notes."""
        return note_flags(self.notes)

    def to_dict(self) -> dict[str, Any]:
        """The JSONL line; optional fields appear only when set."""
        out: dict[str, Any] = {"id": self.id}
        if self.question is not None:
            out["question"] = self.question
        out |= {"prediction": self.prediction, "gold": self.gold}
        if self.candidates is not None:
            out["candidates"] = self.candidates
        if self.n_sentences is not None:
            out["n_sentences"] = self.n_sentences
        out |= {
            "scores": self.scores,
            "latency_ms": self.latency_ms,
            "usage": {
                "prompt_tokens": self.usage.prompt_tokens,
                "completion_tokens": self.usage.completion_tokens,
            },
            "notes": list(self.notes),
            "flags": self.flags,
        }
        if self.raw is not None:
            out["raw"] = self.raw
        return out

    @classmethod
    def from_dict(cls, line: Mapping[str, Any]) -> ItemRecord:
        """A record from a JSONL line (older metric names are read as the current ones)."""
        usage = line.get("usage") or {}
        return cls(
            id=str(line["id"]),
            scores=metric_names(line.get("scores") or {}),
            prediction=dict(line.get("prediction") or {}),
            gold=dict(line.get("gold") or {}),
            latency_ms=dict(line.get("latency_ms") or {}),
            usage=Usage(int(usage.get("prompt_tokens", 0)), int(usage.get("completion_tokens", 0))),
            notes=list(line.get("notes") or ()),
            question=line.get("question"),
            candidates=line.get("candidates"),
            n_sentences=line.get("n_sentences"),
            raw=line.get("raw"),
        )


def _line(record: ItemRecord | Mapping[str, Any]) -> dict[str, Any]:
    return record.to_dict() if isinstance(record, ItemRecord) else dict(record)


@dataclass
class RunOptions:
    """How a run is recorded and shown, shared by both evaluations.

    Attributes:
        out: Results JSON path; ``<out stem>.items.jsonl`` goes beside it.
        subset: The subset scored (recorded).
        system: A short label of what is scored (recorded, shown in reports).
        config: The pipeline or inserter config and the evaluation flags (recorded).
        setup_s: One-off timings to record (loading, index or item building).
        progress: Show a progress bar on stderr.
        warmup: Run the system once before timing, so lazy loading is not counted.
        price_model, base_url, prices: What the tokens cost (see :func:`cost_summary`).
        skipped: Questions the caller left out, by reason (recorded with the run's own).
        gold_gaps: Questions scored although part of their gold lies outside the corpus, by
            reason (see :func:`~m2io.evaluation.items.question_gaps`).
    """

    out: str | Path
    subset: str
    system: str
    config: dict[str, Any] = field(default_factory=dict)
    setup_s: dict[str, float] = field(default_factory=dict)
    progress: bool = True
    warmup: bool = True
    price_model: str | None = None
    base_url: str | None = None
    prices: dict[str, Price] | None = None
    skipped: dict[str, int] = field(default_factory=dict)
    gold_gaps: dict[str, int] = field(default_factory=dict)


def stage_samples(records: Sequence[ItemRecord]) -> dict[str, list[float]]:
    """``{stage: [ms per record]}`` over every stage the records timed."""
    stages: dict[str, list[float]] = {}
    for r in records:
        for stage, ms in r.latency_ms.items():
            stages.setdefault(stage, []).append(ms)
    return stages


def run_evaluation(
    items: Sequence[T],
    score_one: Callable[[T], ItemRecord],
    options: RunOptions,
    *,
    kind: str,
    summarise: Callable[[list[ItemRecord]], dict[str, float]],
    warm_up: Callable[[], object] | None = None,
    finish: Callable[[ItemRun, ItemLog, list[str], dict[str, float]], None] | None = None,
    stages: Callable[[list[ItemRecord]], Mapping[str, list[float]]] = stage_samples,
) -> RunResults:
    """The one evaluation loop (``m2io eval`` and ``m2io eval-inserter``): warm up, score every
    item with ``score_one`` (appending each record to the per-item JSONL as it exists), let
    ``finish`` add batch-only scores (it gets the run, the log to rewrite, the notes and the
    setup timings to add to), summarise, and write the results JSON.

    On Ctrl-C the results are written over the items done so far, with ``interrupted: true``.
    The results count, per stage, the items whose LLM call fell back, was truncated or timed
    out (read from their notes); a run where most fell back is marked ``mostly_fallback``.
    """
    unit = "questions" if kind == "e2e" else "items"
    setup = dict(options.setup_s)
    if options.warmup and warm_up is not None and items:
        t_warm = time.perf_counter()
        warm_up()
        setup["warmup"] = time.perf_counter() - t_warm
    elif options.warmup and warm_up is not None:
        setup["warmup"] = 0.0
    t0 = time.perf_counter()
    with ItemLog(items_path(options.out)) as log:
        run = run_items(
            items,
            score_one,
            log=log,
            progress=options.progress,
            desc=f"{'eval' if kind == 'e2e' else 'eval-inserter'} {options.system}",
            total=len(items),
        )
        records: list[ItemRecord] = run.records
        notes = run_notes(records, len(items), run.interrupted, unit=unit)
        if finish is not None:
            finish(run, log, notes, setup)
    wall = time.perf_counter() - t0
    results = RunResults(
        subset=options.subset,
        kind=kind,
        system=options.system,
        n=len(records),
        config=dict(options.config),
        metrics=summarise(records),
        latency_ms=latency_stats(stages(records)),
        cost=cost_summary(
            (r.usage for r in records),
            model=options.price_model,
            base_url=options.base_url,
            prices=options.prices,
        ),
        setup_s=setup,
        wall_s=wall,
        interrupted=run.interrupted,
        notes=notes,
        skipped=dict(options.skipped),
        gold_gaps=dict(options.gold_gaps),
    )
    results.count_flags(records)
    write_results(options.out, results)
    return results


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


def _git(where: Path, *args: str) -> str:
    """What ``git ARGS`` prints in ``where``, stripped (raises when git fails or is missing)."""
    done = subprocess.run(
        ["git", *args], cwd=where, capture_output=True, text=True, timeout=5, check=True
    )
    return done.stdout.strip()


def code_info() -> dict[str, Any]:
    """m2io's version and, in a git checkout, the commit (``+dirty`` with local changes): results
    move when defaults change, so a results file says which code produced it."""
    info: dict[str, Any] = {"m2io": __version__, "commit": None}
    try:
        where = Path(__file__).resolve().parent
        sha = _git(where, "rev-parse", "--short", "HEAD")
        dirty = _git(where, "status", "--porcelain", "--untracked-files=no")
        info["commit"] = sha + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        pass
    return info


def run_notes(
    records: Sequence[ItemRecord], total: int, interrupted: bool, *, unit: str
) -> list[str]:
    """The notes every run states: where Ctrl-C stopped it, and how many ``unit`` (answers,
    items) carry notes of their own (fallbacks, format errors)."""
    notes = []
    if interrupted:
        notes.append(f"interrupted after {len(records)} of {total} {unit}")
    flagged = sum(1 for r in records if r.notes)
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


def flag_counts(records: Sequence[ItemRecord | Mapping[str, Any]]) -> dict[str, Any]:
    """Per-stage counts of the items that fell back, were truncated or timed out.

    ``records`` are :class:`ItemRecord` or lines read back from a per-item JSONL (older files
    may lack ``flags``: they are read from the notes). Returns ``{"fallbacks": {stage: n}, "truncated": {...}, "timed_out": {...}, "fell_back": n,
    "mostly_fallback": bool}``; ``mostly_fallback`` when more than half of the items fell back.
    """
    out: dict[str, Any] = {"fallbacks": {}, "truncated": {}, "timed_out": {}}
    fell_back = 0
    for r in records:
        if isinstance(r, ItemRecord):
            flags = r.flags
        else:
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

    def count_flags(self, records: Sequence[ItemRecord | Mapping[str, Any]]) -> None:
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
    if isinstance(data["metrics"], dict):
        data["metrics"] = metric_names(data["metrics"])
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

    def write(self, record: ItemRecord | Mapping[str, Any]) -> None:
        self._fh.write(json.dumps(_finite(_line(record)), ensure_ascii=False) + "\n")
        self._fh.flush()
        self.count += 1

    def rewrite(self, records: Iterable[ItemRecord | Mapping[str, Any]]) -> None:
        """Replace the file's content with ``records`` (atomically)."""
        self.close()
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        with tmp.open("w", encoding="utf-8", newline="\n") as fh:
            for rec in records:
                fh.write(json.dumps(_finite(_line(rec)), ensure_ascii=False) + "\n")
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

    records: list[Any]
    interrupted: bool = False


def run_items(
    items: Iterable[T],
    score_one: Callable[[T], Any],
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
