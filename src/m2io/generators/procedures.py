"""A how-to answer's procedure, whole and in order (issue 21, item 2).

The opening section of a how-to answer (:mod:`m2io.generators.sections`) may hold a procedure:
numbered steps ("1. Determine …", "2. For each queue …"), each with what belongs to it (its
sentences, its sub-steps "i." "ii.", its commands and their output), up to the end of the last
step. The answer carries that span whole and in order, with the sentence that introduces it,
up to a hard cap of ``PROCEDURE_CAP`` times the how-to budget; the section's narrative and other
sections only get the words the procedure leaves of the ordinary budget. A procedure longer
than the cap stops after a whole step, never inside one and never leaving out a middle step,
and the answer says where it goes on (:class:`~m2io.types.Continuation`): "Steps 4–9 continue
in …". So does an answer whose context ends while the procedure is still running (the
retriever returned the section only in part: ``Retrieval.continued``).

A section without numbered steps keeps its commands and lists (the procedural units) in order,
each with what ties it to its text ("Then:", "Finally, run", "to return you to …"), after the
section's first sentence and within the budget (a bulleted list is as often a list of parts as
a procedure); one that does not fit stops them there, and when it is a command the answer says
the procedure goes on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from m2io.generators.focus import Line, Unit, dangling, words
from m2io.generators.sections import Section
from m2io.text import is_code_block, is_list_item
from m2io.types import Continuation

# A step's number at a line's start: "1. ", "2) ", "(3) " (not a sub-step's "iii.").
_STEP = re.compile(r"\s*\(?(\d{1,3})[.)]\s+\S")
PROCEDURE_CAP = 2.0
"""How many times the how-to budget a procedure may take (180 words → 360): the answer's cap.
Measured over the 212 numbered procedures of eight manuals (``benchmarks/procedure_lengths.py``,
docs/RESULTS.md): 360 words hold 90 % of them whole, against 70 % for the budget alone, and the
share levels off past it (2.5 times: 92 %; 3 times: 93 %)."""
# a "heading" this short that goes on from the text before, right before a command, is the
# command's lead-in ("Finally, run")
LEAD_IN_WORDS = 6


def step_number(text: str) -> int | None:
    """The step number a line opens on ("2. For each queue …" → 2), or None."""
    m = _STEP.match(text)
    return int(m.group(1)) if m else None


@dataclass
class Procedure:
    """A section's numbered procedure: the sentence that introduces it (or None), then each
    step's units in order, labelled by its number. ``open_end``: the context ends inside its
    last step, the section goes on past it."""

    intro: Unit | None
    steps: list[list[Unit]] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    open_end: bool = False

    @property
    def units(self) -> list[Unit]:
        return [*([self.intro] if self.intro else []), *(u for s in self.steps for u in s)]


def _chain(lines: list[tuple[Unit, int, str]]) -> list[int]:
    """Positions in ``lines`` of the numbered steps 1, 2, 3 … (the first run; a sub-list that
    numbers again from 1 inside a step is passed over); [] when there is none, or only one step
    that is not step 1."""
    chain: list[int] = []
    last = 0
    for k, (_, _, text) in enumerate(lines):
        n = step_number(text)
        if n is None:
            continue
        if not chain or n == last + 1:
            if not chain and n != 1 and not _followed(lines[k + 1 :], n):
                continue  # a lone "3." is no procedure; "3." then "4." is one seen mid-way
            chain.append(k)
            last = n
    return chain


def _followed(rest: list[tuple[Unit, int, str]], n: int) -> bool:
    """Whether step ``n + 1`` comes in ``rest`` (a context that opens mid-procedure)."""
    return any(step_number(t) == n + 1 for _, _, t in rest)


def _split(u: Unit, at: int, ps: list[list[Line]]) -> tuple[Unit, Unit]:
    """``u`` cut before its line ``at``: two units of its kind."""
    texts = [ln.text for ln in ps[u.passage]]
    a = Unit(u.passage, u.first, at - 1, u.kind, sum(words(t) for t in texts[u.first : at]))
    b = Unit(u.passage, at, u.last, u.kind, sum(words(t) for t in texts[at : u.last + 1]))
    for v in (a, b):
        v.score, v.lexical = u.score, u.lexical
    return a, b


def numbered(
    s: Section, ps: list[list[Line]], all_units: list[Unit], goes_on: frozenset[str]
) -> Procedure | None:
    """``s``'s numbered procedure, or None. A list unit holding several steps is cut into one
    unit a step (in ``s.units`` and ``all_units`` alike), so a step can be left out whole.
    ``goes_on``: chunk ids whose section goes on past them, beyond the context."""
    lines = [(u, i, ps[u.passage][i].text) for u in s.units for i in range(u.first, u.last + 1)]
    chain = _chain(lines)
    if not chain:
        return None
    for k in chain[1:]:  # (the first step keeps its lead-in: "To crop an image:")
        u, i, _ = lines[k]
        if i > u.first and u.kind == "list":
            a, b = _split(u, i, ps)
            for seq in (s.units, all_units):
                at = next(j for j, v in enumerate(seq) if v is u)
                seq[at : at + 1] = [a, b]
            lines = [(b if v is u and j >= i else a if v is u else v, j, t) for v, j, t in lines]
    body = s.units
    starts = [lines[k][0] for k in chain]
    at = [next(j for j, v in enumerate(body) if v is u) for u in starts]
    first = at[0]
    intro = None
    if ps[starts[0].passage][starts[0].first].text != lines[chain[0]][2]:
        intro = None  # the list unit holds its lead-in ("To crop an image:") already
    elif first > 0 and body[first - 1].kind == "sentence":
        intro = body[first - 1]
    end = _last_step_end(body, at[-1], ps)
    proc = Procedure(intro)
    for k, a in enumerate(at):
        b = at[k + 1] if k + 1 < len(at) else end + 1
        proc.steps.append(body[a:b])
        proc.labels.append(str(step_number(lines[chain[k]][2])))
    last = body[end]
    p = ps[last.passage]
    proc.open_end = last.last == len(p) - 1 and p[-1].chunk_id in goes_on
    return proc


def _last_step_end(body: list[Unit], at: int, ps: list[list[Line]]) -> int:
    """Index in ``body`` of the last unit of the step at ``body[at]``: its sub-steps, commands
    and the sentences between them, up to a heading or a new numbered list; what follows its
    last such unit only when it goes on from it (lower case, "This…", after a colon)."""
    end = at
    for j in range(at + 1, len(body)):
        u = body[j]
        text = ps[u.passage][u.first].text
        if u.kind == "heading" or step_number(text) is not None:
            break
        prev = ps[body[j - 1].passage][body[j - 1].last].text.rstrip()
        if u.procedural or (
            j == end + 1 and (text[:1].islower() or dangling(text) or prev.endswith(":"))
        ):
            end = j
    return end


def whole_procedure(
    s: Section,
    ps: list[list[Line]],
    all_units: list[Unit],
    budget: int,
    n_max: int,
    goes_on: frozenset[str] = frozenset(),
) -> list[Unit]:
    """Units of ``s`` for a how-to answer. The numbered procedure (:func:`numbered`) comes
    first, whole and in order, within ``PROCEDURE_CAP`` × ``budget`` words and as many times
    ``n_max`` sentences (else the section's commands and lists, within ``budget``, after its
    first sentence); a step that does not fit ends it there, and
    ``s.continued`` says where it goes on (``s.steps``: the ids of the procedure's units
    shown). The section's first sentence and the rest of it (by relevance) come after, only
    within ``budget``."""
    cap, n_cap = round(PROCEDURE_CAP * budget), round(PROCEDURE_CAP * n_max)
    chosen: list[Unit] = []
    used = [0, 0]

    def fits(group: list[Unit], limit: int, n_limit: int) -> bool:
        new = [u for u in group if u not in chosen]
        n = sum(u.last - u.first + 1 for u in new)
        return used[0] + sum(u.words for u in new) <= limit and used[1] + n <= n_limit

    def take(group: list[Unit]) -> None:
        for u in group:
            if (
                u.kind == "heading"
                and u.words <= LEAD_IN_WORDS
                and dangling(ps[u.passage][u.first].text)
            ):
                u.kind = "sentence"  # "Finally, run" before its command: says what it is for
            if u not in chosen:
                chosen.append(u)
                used[0] += u.words
                used[1] += u.last - u.first + 1

    proc = numbered(s, ps, all_units, goes_on)
    cut: Continuation | None = None
    if proc is not None:
        if proc.intro is not None:
            take([proc.intro])
        for k, group in enumerate(proc.steps):
            if not fits(group, cap, n_cap):
                cut = _continuation(proc.labels[k], proc.labels[-1], s, ps)
                break
            take(group)
        else:
            if proc.open_end:  # the context ends inside the last step: it goes on there
                cut = _continuation(proc.labels[-1], "", s, ps)
    else:
        # commands and lists with no step numbers: within the budget, after what the section
        # is for (a list of a product's parts is no procedure); one that does not fit ends it,
        # and a command left out is said to go on
        take([_opening(s, ps)])
        for group in _unnumbered_steps(s, ps, all_units):
            if not fits(group, budget, n_max):
                if any(_command(u, ps) for u in group):
                    cut = _continuation("", "", s, ps)
                break
            take(group)
    s.steps, s.continued = {id(u) for u in chosen}, cut
    for u in [_opening(s, ps), *sorted(s.body, key=lambda v: -v.score)]:
        if u in chosen or u.kind == "heading" or _stray(u, ps):
            continue
        if fits([u], budget, n_max):
            take([u])
    return chosen


# a note's label and title alone ("Caution: openrefine.exe not running?", as the loaders write
# an admonition): without the note's text it says nothing
_REMARK_TITLE = re.compile(
    r"^(?:note|tip|info|caution|warning|danger|important|hint): (?:[^.?!]|\.\S){1,80}[.?!]$",
    re.I,
)


def _stray(u: Unit, ps: list[list[Line]]) -> bool:
    """Whether ``u`` cannot stand in an answer on its own: a note's title without its text, or
    the tail of a list whose start the context does not hold (a bulleted unit that opens its
    passage, carried over from the chunk before: "• more than 50 rows per record")."""
    text = ps[u.passage][u.first].text
    if u.kind == "sentence":
        return _REMARK_TITLE.match(text) is not None
    return u.kind == "list" and u.first == 0 and is_list_item(text) and step_number(text) is None


def _opening(s: Section, ps: list[list[Line]]) -> Unit:
    """What says what ``s`` is for: its first unit that can stand on its own (else its first)."""
    return next((u for u in s.body if not _stray(u, ps)), s.body[0])


def _unnumbered_steps(s: Section, ps: list[list[Line]], all_units: list[Unit]) -> list[list[Unit]]:
    """The procedural units of ``s`` (commands, lists, settings) in order, each with what ties
    it to its text: a short lead-in read as a heading ("Finally, run", then shown), the sentence
    before a step that only makes sense after it ("Then: …"), the lower-case sentence after a
    command ("to return you to the branch …")."""
    inside = {id(u) for u in s.units}
    by_first = {(u.passage, u.first): u for u in all_units}
    by_last = {(u.passage, u.last): u for u in all_units}

    def text(u: Unit) -> str:
        return ps[u.passage][u.first].text

    groups: list[list[Unit]] = []
    for u in s.procedure:
        if _stray(u, ps):
            continue  # a list's tail, its lead-in and first items not in the context
        group = [u]
        before = by_last.get((u.passage, u.first - 1))
        if before is not None and id(before) in inside:
            if before.kind == "heading":
                if before.words <= LEAD_IN_WORDS and dangling(text(before)):
                    group.insert(0, before)  # "Finally, run"
            elif dangling(text(u)) or _leads_in(ps[before.passage][before.last].text):
                group.insert(0, before)  # "… and edit the line" + the line: one sentence
        after = by_first.get((u.passage, u.last + 1))
        if (
            after is not None
            and id(after) in inside
            and after.kind == "sentence"
            and text(after)[:1].islower()
        ):
            group.append(after)
        groups.append(group)
    return groups


def _leads_in(text: str) -> bool:
    """Whether a sentence goes on in the block after it: it ends on a colon or on no
    punctuation at all ("… edit the openrefine.l4j.ini file … and edit the line")."""
    end = text.rstrip()[-1:]
    return end == ":" or end.isalnum()


def _command(u: Unit, ps: list[list[Line]]) -> bool:
    """Whether ``u`` is a command to run: a code block or a shell-prompt line ("$ make"), not
    a synopsis line a reference page writes in prose ("git diff A...B is equivalent to …")."""
    return u.kind == "code" and any(
        is_code_block(ln.text) or ln.text.startswith("$ ")
        for ln in ps[u.passage][u.first : u.last + 1]
    )


def _continuation(first: str, last: str, s: Section, ps: list[list[Line]]) -> Continuation:
    """Where the procedure of ``s`` goes on: its steps ``first``–``last`` ("" when unknown),
    in the source of the section's first line."""
    line = ps[s.passage][s.units[0].first]
    return Continuation(first, last, line.source, line.chunk_id)
