"""The answer's first words: never a sentence that only makes sense after another.

An extractive answer quotes sentences out of their pages, so a quoted sentence may point at
something the answer does not say: "This…", "However,…" open on another sentence, and "Use this
dialog to…", "The corresponding command…" point at a dialog or a command named before them
(issue 21: such fragments opened answers on manuals nobody tuned on).
:func:`no_dangling_openers` gives each passage's opener the sentence before it, or drops it;
:func:`name_the_referent` gives the answer's first sentence the line that names what it points
at: the sentence before it, or the section's heading when it names the thing ("Layers Dialog"
above "Use this dialog to …"), shown.
"""

from __future__ import annotations

import re

from m2io.generators.focus import Line, Unit, dangling

# A noun phrase that points back at something named before: "this dialog", "these options",
# "the corresponding command", within a sentence's first words.
_POINTS_BACK = re.compile(
    r"^(?:[\w'’-]+[ ,]+){0,4}?(?:(?:this|these|those)\s+(?!is\b|was\b|way\b|will\b|can\b|"
    r"may\b|means\b|allows\b|lets\b|also\b|has\b|have\b|are\b|were\b)(?P<a>[a-z]+)"
    r"|the\s+(?:corresponding|above|aforementioned|same|latter|former)\s+(?P<b>[a-z]+))",
    re.IGNORECASE,
)


def refers_back(text: str) -> bool:
    """Whether ``text`` opens by pointing at something named before it ("Use this dialog to
    …", "This option …", "The corresponding command …")."""
    return _POINTS_BACK.match(text.lstrip()) is not None


def _pointed(text: str) -> str:
    """The noun ``text`` points at ("Use this dialog to …" → "dialog"), or ""."""
    m = _POINTS_BACK.match(text.lstrip())
    return (m.group("a") or m.group("b") or "").lower() if m else ""


def _names(heading: str, noun: str) -> bool:
    """Whether ``heading`` names ``noun`` ("Layers Dialog" names "dialog"; "Introduction" does
    not name "filters"), compared without a final "s"."""
    stem = noun.rstrip("s")
    return bool(stem) and any(w.lower().rstrip("s") == stem for w in re.findall(r"\w+", heading))


def name_the_referent(
    chosen: list[Unit],
    all_units: list[Unit],
    ps: list[list[Line]],
    budget: int,
    *,
    heading: bool = True,
) -> list[Unit]:
    """``chosen`` (in answer order) with the line before its first sentence put first when
    that sentence points at something it does not name: the sentence before it (within the
    budget, with a little slack), or the heading above it, shown, when it names the thing
    pointed at ("Layers Dialog" above "Use this dialog to …") and ``heading`` allows it."""
    first = next((u for u in chosen if u.kind != "heading"), None)
    if first is None or not refers_back(ps[first.passage][first.first].text):
        return chosen
    prev = prev_unit(first, all_units)
    if prev is None:
        return chosen
    if prev.kind == "heading":
        if not heading or not _names(
            ps[prev.passage][prev.first].text, _pointed(ps[first.passage][first.first].text)
        ):
            return chosen  # "Introduction" above "These filters …" names nothing
        prev.kind = "sentence"  # shown: it names what the sentence points at
    elif prev in chosen:
        return chosen
    else:
        words = sum(u.words for u in chosen if u.kind != "heading")
        if words + prev.words > budget + max(10, budget // 8):
            return chosen
    rest = [u for u in chosen if u is not prev]
    at = rest.index(first)
    return [*rest[:at], prev, *rest[at:]]


def no_dangling_openers(
    chosen: list[Unit], all_units: list[Unit], ps: list[list[Line]], budget: int
) -> list[Unit]:
    """Give a passage opening with "This…"/"However,…" the sentence before it, or drop it.

    The best unit (the answer's core) always gets the sentence before it, if there is one
    that is not a heading; another unit gets it only when that is relevant itself and fits
    the budget (with a little slack), else the unit is dropped.
    """
    best = chosen[0]
    slack = budget + max(10, budget // 8)
    keep = list(chosen)
    core = {id(best)}  # the best unit and the leads added for it
    settled: set[int] = set()  # core units with nothing usable before them: kept as they are
    for _ in range(len(all_units)):
        starts = [
            u
            for u in keep
            if u.kind != "heading"
            and id(u) not in settled
            and dangling(ps[u.passage][u.first].text)
            and not prev_chosen(u, keep, all_units)
        ]
        if not starts:
            break
        u = starts[0]
        prev = prev_unit(u, all_units)
        usable = prev is not None and prev.kind != "heading"
        fits = usable and sum(v.words for v in keep) + prev.words <= slack
        if usable and (id(u) in core or (fits and prev.score >= 0.5 * best.score)):
            keep.append(prev)
            if id(u) in core:
                core.add(id(prev))
        elif id(u) in core:
            settled.add(id(u))
        else:
            keep.remove(u)
    return keep


def prev_unit(u: Unit, all_units: list[Unit]) -> Unit | None:
    for v in all_units:
        if v.passage == u.passage and v.last == u.first - 1:
            return v
    return None


def prev_chosen(u: Unit, chosen: list[Unit], all_units: list[Unit]) -> bool:
    """Whether the sentence before ``u`` is in the answer (a heading is not shown: it is not)."""
    prev = prev_unit(u, all_units)
    return prev is not None and prev.kind != "heading" and prev in chosen
