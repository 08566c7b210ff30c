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

from m2io.generators.entries import form_name
from m2io.generators.focus import Line, Unit, dangling
from m2io.text import is_caption_number, is_code_block

_SEE_ALSO = re.compile(r"\s*see also\b", re.IGNORECASE)
# "Valid options … are listed in the following table.": a sentence about what comes after it
_FORWARD = re.compile(
    r"\b(?:in|by|with|of)\s+the\s+following\s+(?:table|list|options|example|section)s?\s*[.:]?$"
    r"|\bas\s+follows\s*[.:]?$",
    re.IGNORECASE,
)


def no_pointers_to_missing(
    chosen: list[Unit], all_units: list[Unit], ps: list[list[Line]]
) -> list[Unit]:
    """``chosen`` without a sentence (not the first) that announces what follows it ("… are
    listed in the following table.") or is a caption's bare number ("Example 9.8.") when the
    answer does not hold what follows."""
    keep = chosen[:1]
    for u in chosen[1:]:
        after = next_unit(u, all_units)
        last = ps[u.passage][u.last].text.rstrip()
        announces = u.kind == "sentence" and _FORWARD.search(last)
        # a caption's bare number ("Example 9.8.") whose example the answer leaves out
        label = u.first == u.last and is_caption_number(last)
        if (announces or label) and (after is None or after not in chosen):
            continue
        keep.append(u)
    return keep


def no_reference_leftovers(chosen: list[Unit], ps: list[list[Line]]) -> list[Unit]:
    """``chosen`` without what a reference page holds between its entries and says nothing
    alone: a "See also: …" line, a lone signature line ("lasterr = lasterror ()") whose entry
    the answer does not hold (one that titles the answer's next line stays). The answer's first
    unit stays."""

    def leftover(u: Unit) -> bool:
        lines = [ln.text for ln in ps[u.passage][u.first : u.last + 1]]
        return u.kind != "entry" and all(
            _SEE_ALSO.match(t) or form_name(t, calls_only=True) for t in lines
        )

    useful = {(u.passage, u.first) for u in chosen if not leftover(u)}
    keep = chosen[:1]
    for u in chosen[1:]:
        titles_next = (u.passage, u.last + 1) in useful  # "get_capacitance()" then its text
        if not leftover(u) or (titles_next and not _SEE_ALSO.match(ps[u.passage][u.first].text)):
            keep.append(u)
    return keep


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


def code_has_its_words(
    chosen: list[Unit], all_units: list[Unit], ps: list[list[Line]], budget: int
) -> list[Unit]:
    """``chosen`` (in answer order) neither opening on a bare code block nor ending on a
    sentence cut where its code should follow ("… can be set directly with"): the opening
    block gets the line before it ("The following code will issue a warning"); the closing
    sentence gets the code after it when that is short, else it is left out."""
    shown = [u for u in chosen if u.kind != "heading"]
    if not shown:
        return chosen
    first = shown[0]
    if is_code_block(ps[first.passage][first.first].text):
        prev = prev_unit(first, all_units)
        if prev is not None and prev not in chosen and not _is_code(prev, ps):
            prev.kind = "sentence"  # shown: a heading-like lead-in says what the code is for
            at = chosen.index(first)
            chosen = [*chosen[:at], prev, *chosen[at:]]
    for u in list(chosen):
        # "If save is invoked using the functional form" / the code / "then the options …":
        # one sentence around its code; the lead-in (read as a heading) is shown with it
        prev = prev_unit(u, all_units)
        if (
            _is_code(u, ps)
            and u.last > u.first
            and prev is not None
            and prev.kind == "heading"
            and prev not in chosen
            and ps[u.passage][u.last].text[:1].islower()
        ):
            prev.kind = "sentence"
            at = chosen.index(u)
            chosen = [*chosen[:at], prev, *chosen[at:]]
    shown = [u for u in chosen if u.kind != "heading"]
    last = shown[-1]
    end = ps[last.passage][last.last].text.rstrip()
    after = next_unit(last, all_units)
    if end.endswith(":") and len(shown) > 1 and (after is None or not _is_code(after, ps)):
        return [u for u in chosen if u is not last]  # "… supports many options:" and no list
    if (
        after is not None
        and after not in chosen
        and _is_code(after, ps)
        and (end.endswith(":") or not end.endswith((".", "!", "?", ")", '"', "”", "’", "'")))
        and not _is_code(last, ps, at_end=True)
    ):
        if after.words <= max(20, budget // 4):
            chosen = [*chosen, after]
        elif len(shown) > 1:
            chosen = [u for u in chosen if u is not last]
    return chosen


def _is_code(u: Unit, ps: list[list[Line]], *, at_end: bool = False) -> bool:
    line = ps[u.passage][u.last if at_end else u.first].text
    return is_code_block(line)


def next_unit(u: Unit, all_units: list[Unit]) -> Unit | None:
    for v in all_units:
        if v.passage == u.passage and v.first == u.last + 1:
            return v
    return None
