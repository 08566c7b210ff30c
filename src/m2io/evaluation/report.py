"""Compare results files side by side: a Markdown table and PNG plots.

Results are grouped by subset, kind (end-to-end vs. inserter-only) and setting (distractor mode,
ratio, context, split), since numbers from different settings are not comparable. Each group gets
a table (systems as rows, the metrics any of them reports as columns, then latency and cost), a
grouped bar chart of its metrics and a bar chart of its stage latencies (p50 bars, p95 whiskers).

Example::

    report = write_report(["results/a.json", "results/b.json"], "results/report")
    print(report.markdown)
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from m2io.evaluation.results import by_reason, load_results, run_label

# Column order and short headers; anything else a results file reports comes after, as is.
METRIC_LABELS = {
    "image_precision": "Img P",
    "image_recall": "Img R",
    "image_f1": "Img F1",
    "image_ordering": "Order",
    "position_accuracy": "Pos acc",
    "format_error_rate": "Fmt err",
    "visual_recall": "Vis R",
    "rouge_l": "ROUGE-L",
    "bleu": "BLEU",
    "bert_score": "BERTScore",
    "judge_image_relevance": "J relev",
    "judge_image_effectiveness": "J effect",
    "judge_image_position": "J pos",
    "judge_overall_quality": "J overall",
}
# Metrics where lower is better (marked in headers and left out of "best" highlighting).
LOWER_IS_BETTER = {"format_error_rate"}
STAGE_ORDER = ["embed", "retrieve", "generate", "insert", "merge", "total"]
STAGE_LABELS = {"embed": "embed\n(batched, amortised)"}


@dataclass
class Group:
    """Results that can be compared: same subset, kind and setting."""

    subset: str
    kind: str
    setting: str
    results: list[dict[str, Any]] = field(default_factory=list)

    @property
    def title(self) -> str:
        kind = "end to end" if self.kind == "e2e" else "inserter only"
        return f"{self.subset} · {kind}" + (f" · {self.setting}" if self.setting else "")

    @property
    def slug(self) -> str:
        return re.sub(
            r"[^a-z0-9]+", "-", f"{self.subset} {self.kind} {self.setting}".lower()
        ).strip("-")

    def metric_keys(self) -> list[str]:
        present = {k for r in self.results for k, v in r["metrics"].items() if _num(v)}
        ordered = [k for k in METRIC_LABELS if k in present]
        return ordered + sorted(present - set(ordered))


@dataclass
class Report:
    """What :func:`write_report` produced."""

    markdown: str
    groups: list[Group]
    files: list[Path]
    skipped: list[str] = field(default_factory=list)


def _num(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def setting_of(result: dict[str, Any]) -> str:
    """A short label of the evaluation setting, e.g. ``hard distractors 1:1, val split`` or, end
    to end, ``val split, first 20``: runs on different questions are not put in one table."""
    ev = result.get("config", {}).get("eval", {})
    parts = []
    if result["kind"] == "inserter":
        ratio = ev.get("ratio", 1.0)
        parts.append(f"{ev.get('distractors', '?')} distractors {ratio:g}:1")
        if ev.get("with_context"):
            parts.append("with context")
    if ev.get("split", "all") not in ("all", None):
        parts.append(f"{ev['split']} split")
    if ev.get("limit"):
        parts.append(f"first {ev['limit']}")
    return ", ".join(parts)


def group_results(results: Sequence[dict[str, Any]]) -> list[Group]:
    """Groups in a stable order: subset, then e2e before inserter, then setting."""
    groups: dict[tuple[str, str, str], Group] = {}
    for r in results:
        key = (str(r["subset"]), str(r["kind"]), setting_of(r))
        groups.setdefault(key, Group(*key)).results.append(r)
    kind_rank = {"e2e": 0, "inserter": 1}
    ordered = sorted(groups.values(), key=lambda g: (g.subset, kind_rank.get(g.kind, 9), g.setting))
    for g in ordered:
        g.results.sort(key=lambda r: str(r["system"]))
    return ordered


def _main_stage(r: dict[str, Any]) -> str | None:
    lat = r.get("latency_ms") or {}
    for stage in ("total", "insert"):
        if stage in lat:
            return stage
    return next(iter(lat), None)


def _fmt(v: Any, digits: int = 1) -> str:
    return f"{v:.{digits}f}" if _num(v) else "–"


def _cost(r: dict[str, Any]) -> str:
    cost = r.get("cost") or {}
    usd = cost.get("usd_per_answer")
    if usd is None:
        return "?" if cost.get("prompt_tokens") else "0"
    return "0" if usd == 0 else f"{usd:.5f}"


def _most(per_stage: dict[str, int] | None) -> int:
    """Answers flagged in at least one stage (the largest per-stage count: a lower bound)."""
    return max((per_stage or {}).values(), default=0)


def _share(k: int, r: dict[str, Any]) -> str:
    return f"{k}/{r['n']}" if k else "0"


def group_table(group: Group) -> str:
    """One Markdown table: a row per system; the best value of each metric in bold.

    When a run's answers fell back or were truncated, ``Fell back``/``Truncated`` columns say how
    many, and a run where most fell back is labelled ``[fallback: k/n]`` after its name.
    """
    keys = group.metric_keys()
    best: dict[str, float] = {}
    for k in keys:
        values = [r["metrics"][k] for r in group.results if _num(r["metrics"].get(k))]
        if len(values) > 1 and len(set(values)) > 1:  # a tie across every row marks nothing
            best[k] = min(values) if k in LOWER_IS_BETTER else max(values)
    header = ["System", "n"]
    header += [METRIC_LABELS.get(k, k) + (" ↓" if k in LOWER_IS_BETTER else "") for k in keys]
    honesty = any(r.get("fell_back") or r.get("truncated") for r in group.results)
    if honesty:
        header += ["Fell back", "Truncated"]
    header += ["p50 ms", "p95 ms", "$/answer"]
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join(["---"] + ["--:"] * (len(header) - 1)) + "|",
    ]
    for r in group.results:
        name = run_label(r) + (" (interrupted)" if r.get("interrupted") else "")
        cells = [name, str(r["n"])]
        for k in keys:
            v = r["metrics"].get(k)
            cell = _fmt(v)
            cells.append(f"**{cell}**" if k in best and _num(v) and v == best[k] else cell)
        if honesty:
            cells += [_share(r.get("fell_back", 0), r), _share(_most(r.get("truncated")), r)]
        stage = _main_stage(r)
        lat = (r.get("latency_ms") or {}).get(stage or "", {})
        cells += [_fmt(lat.get("p50")), _fmt(lat.get("p95")), _cost(r)]
        lines.append("| " + " | ".join(cells) + " |")
    stages = sorted({_main_stage(r) for r in group.results} - {None}, key=STAGE_ORDER.index)
    note = (
        f"Latency: p50/p95 per item of the `{'` stage, or `'.join(reversed(stages))}` stage where "
        "a run has no other."
        if len(stages) > 1
        else f"Latency: p50/p95 per item of the `{stages[0]}` stage."
        if stages
        else ""
    )
    return "\n".join(lines) + ("\n\n" + note if note else "")


def markdown_report(groups: Sequence[Group], images: dict[str, list[str]] | None = None) -> str:
    """The whole report: a section per group with its table (and plot links when given)."""
    out = [
        "# m2io evaluation report",
        "",
        "Metrics ×100 (higher is better unless marked ↓); best of each column in bold.",
    ]
    for g in groups:
        out += ["", f"## {g.title}", "", group_table(g)]
        for name in (images or {}).get(g.slug, []):
            out += ["", f"![{g.title}]({name})"]
        notes = [f"- {r['system']}: {n}" for r in g.results for n in r.get("notes", [])]
        for r in g.results:
            if r.get("skipped"):
                n = sum(r["skipped"].values())
                notes.append(f"- {r['system']}: skipped {n} questions: {by_reason(r['skipped'])}")
            if r.get("gold_gaps"):
                notes.append(
                    f"- {r['system']}: scored with gold outside the corpus: "
                    f"{by_reason(r['gold_gaps'])}"
                )
        if notes:
            out += ["", *notes]
    return "\n".join(out) + "\n"


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _legend_name(r: dict[str, Any]) -> str:
    return run_label(r) + (" (interrupted)" if r.get("interrupted") else "")


def _color_of(results: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """One colour per system name, the same in every plot of a report."""
    plt = _plt()
    colors = plt.get_cmap("tab10").colors
    names = sorted({str(r["system"]) for r in results})
    return {name: colors[i % len(colors)] for i, name in enumerate(names)}


def plot_metrics(group: Group, path: Path, colors: dict[str, Any] | None = None) -> Path:
    """Grouped bars: one cluster per metric, one bar per system, value printed on each bar."""
    plt = _plt()
    colors = colors or _color_of(group.results)
    keys = group.metric_keys()
    systems = [str(r["system"]) for r in group.results]
    n_sys = max(len(systems), 1)
    width = 0.8 / n_sys
    fig_w = max(6.0, 0.9 + len(keys) * (0.45 * n_sys + 0.5))
    fig, ax = plt.subplots(figsize=(min(fig_w, 22.0), 4.8), dpi=110)
    for i, r in enumerate(group.results):
        xs = [j + (i - (n_sys - 1) / 2) * width for j in range(len(keys))]
        ys = [r["metrics"].get(k) if _num(r["metrics"].get(k)) else 0.0 for k in keys]
        bars = ax.bar(xs, ys, width * 0.95, label=_legend_name(r), color=colors[systems[i]])
        if n_sys * len(keys) <= 60:
            ax.bar_label(bars, labels=[f"{y:.0f}" for y in ys], fontsize=7, padding=1)
    ax.set_xticks(range(len(keys)))
    ax.set_xticklabels(
        [METRIC_LABELS.get(k, k) + (" ↓" if k in LOWER_IS_BETTER else "") for k in keys],
        fontsize=9,
    )
    ax.set_ylim(0, 110)
    ax.set_ylabel("score (×100)")
    ax.set_title(group.title, fontsize=11)
    return _save(fig, ax, path)


def plot_latency(group: Group, path: Path, colors: dict[str, Any] | None = None) -> Path:
    """Bars of p50 latency per stage and system, with a whisker up to p95; log scale when the
    stages differ by more than 100×."""
    plt = _plt()
    colors = colors or _color_of(group.results)
    stages_present = {s for r in group.results for s in (r.get("latency_ms") or {})}
    stages = [s for s in STAGE_ORDER if s in stages_present] + sorted(
        stages_present - set(STAGE_ORDER)
    )
    systems = [str(r["system"]) for r in group.results]
    n_sys = max(len(systems), 1)
    width = 0.8 / n_sys
    fig_w = max(6.0, 1.2 + len(stages) * (0.5 * n_sys + 0.6))
    fig, ax = plt.subplots(figsize=(min(fig_w, 22.0), 4.6), dpi=110)
    values = []
    for i, r in enumerate(group.results):
        lat = r.get("latency_ms") or {}
        xs = [j + (i - (n_sys - 1) / 2) * width for j in range(len(stages))]
        p50 = [lat.get(s, {}).get("p50") or 0.0 for s in stages]
        p95 = [lat.get(s, {}).get("p95") or 0.0 for s in stages]
        values += [v for v in p50 + p95 if v > 0]
        err = [[0.0] * len(stages), [max(b - a, 0.0) for a, b in zip(p50, p95, strict=True)]]
        ax.bar(
            xs,
            p50,
            width * 0.95,
            yerr=err,
            capsize=3,
            label=_legend_name(r),
            color=colors[systems[i]],
            error_kw={"elinewidth": 1, "alpha": 0.7},
        )
        for x, a, b in zip(xs, p50, p95, strict=True):
            if a > 0:  # the p50 value, printed above the p95 whisker
                ax.annotate(
                    _ms(a),
                    (x, max(a, b)),
                    xytext=(0, 3),
                    textcoords="offset points",
                    ha="center",
                    va="bottom",
                    fontsize=7,
                )
    if values and max(values) / max(min(values), 1e-3) > 100:
        ax.set_yscale("log")
    ax.margins(y=0.12)
    ax.set_xticks(range(len(stages)))
    ax.set_xticklabels([STAGE_LABELS.get(s, s) for s in stages], fontsize=9)
    ax.set_ylabel("ms per item (bar p50, whisker p95)")
    ax.set_title(f"Latency — {group.title}", fontsize=11)
    return _save(fig, ax, path)


def _ms(v: float) -> str:
    if v >= 1000:
        return f"{v / 1000:.1f}s"
    if v >= 10:
        return f"{v:.0f}"
    return f"{v:.1f}" if v >= 1 else f"{v:.2g}"


def write_report(paths: Sequence[str | Path], out_dir: str | Path, *, plots: bool = True) -> Report:
    """Read results files, write ``out_dir/report.md`` and one metrics and one latency PNG per
    group; return the report (its Markdown is also what ``m2io report`` prints).

    Files that are not m2io results (a glob such as ``results/*.json`` may catch other JSON) are
    skipped and listed in ``Report.skipped``.

    Raises:
        ValueError: No paths, or none of them is an m2io results file.
    """
    if not paths:
        raise ValueError("no results files given")
    results: list[dict[str, Any]] = []
    skipped: list[str] = []
    for p in paths:
        try:
            results.append(load_results(p))
        except ValueError as err:
            skipped.append(str(err))
    if not results:
        raise ValueError("; ".join(skipped))
    groups = group_results(results)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files: list[Path] = []
    images: dict[str, list[str]] = {}
    if plots:
        colors = _color_of(results)
        for g in groups:
            names = []
            if g.metric_keys():
                files.append(plot_metrics(g, out / f"metrics-{g.slug}.png", colors))
                names.append(files[-1].name)
            if any(r.get("latency_ms") for r in g.results):
                files.append(plot_latency(g, out / f"latency-{g.slug}.png", colors))
                names.append(files[-1].name)
            images[g.slug] = names
    markdown = markdown_report(groups, images)
    md = out / "report.md"
    md.write_text(markdown, encoding="utf-8")
    return Report(markdown=markdown, groups=groups, files=[md, *files], skipped=skipped)


def _save(fig: Any, ax: Any, path: Path) -> Path:
    """The grid, legend and layout both charts share; writes ``path`` and closes ``fig``."""
    ax.grid(axis="y", alpha=0.3)
    ax.set_axisbelow(True)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    fig.tight_layout()
    fig.savefig(path, bbox_inches="tight")
    _plt().close(fig)
    return path
