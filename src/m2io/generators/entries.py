"""Reference entries: a function's signature lines and its description, taken whole or left.

Reference pages list entries one after another: Texinfo's function definitions ("imshow (im)",
"imshow (im, map)", … "h = imshow (…): Display the image im, …"), Sphinx API entries, a man
page's commands. The loaders write an entry as its signature lines (its *forms*), the last one
joined to the description by ": ". An answer that quotes such a page must not open on ten
forms before the sentence that says what the function does, nor run on into the next entry.

:func:`entry_end` finds an entry's forms and description line, which
:func:`m2io.generators.focus.units` keeps as one unit (kind ``"entry"``); :func:`entry_lines`
gives that unit's lines as an answer shows them: the description first, then only the forms
that say a word of the question the description does not (``warning ("off", id)`` for "How do I turn off a warning?").
"""

from __future__ import annotations

import re
from typing import Protocol, TypeVar

from m2io.text import content_terms


class _Texted(Protocol):
    @property
    def text(self) -> str: ...


L = TypeVar("L", bound=_Texted)  # a passage's line (m2io.generators.focus.Line)

# An optional output ("h = ", "[a, b] = "), a name, then arguments in parentheses or words.
_OUTPUT = re.compile(r"^\s*(?:\[[^\]]*\]|[A-Za-z_][\w.]*)\s*=\s*(?=[A-Za-z_])")
_CALL = re.compile(r"^([A-Za-z_][\w.]*)\s*\(.*\)\s*;?$")
_COMMAND = re.compile(r"^([a-z_][\w.]*)(?:\s+[\w\"'…,.<>@\[\]-]+)*$")
FORM_WORDS = 14


def form_name(text: str, *, calls_only: bool = False) -> str:
    """The function's name when ``text`` is one of its forms ("h = imshow (…)" → "imshow",
    "dbstop func line" → "dbstop"), else "". A form is short, has no final full stop, and is a
    call in parentheses or a lower-case command with its arguments."""
    t = text.strip()
    if not t or len(t.split()) > FORM_WORDS or "\n" in t or t.endswith((".", ":", "!", "?")):
        return ""
    bare = _OUTPUT.sub("", t, count=1)
    m = _CALL.match(bare) or (None if calls_only else _COMMAND.match(bare))
    return m.group(1) if m else ""


def entry_term(text: str, *, calls_only: bool = False) -> str:
    """The function's name when ``text`` is an entry's description line ("roots ( c ): Compute
    the roots …" → "roots"), else "". ``calls_only``: only a call in parentheses names one
    (a lower-case term alone, "two points: the distance …", is a list's item)."""
    head, sep, rest = text.partition(": ")
    if not sep or not rest.strip():
        return ""
    return form_name(head, calls_only=calls_only)


def entry_end(texts: list[str], i: int) -> int:
    """The index of the description line of the entry whose forms start at ``texts[i]`` (at
    least one form, then "form: description" of the same name), or -1."""
    name = form_name(texts[i])
    if not name:
        return -1
    j = i + 1
    while j < len(texts) and form_name(texts[j]) == name:
        j += 1
    if j < len(texts) and entry_term(texts[j], calls_only=j == i + 1) == name:
        return j
    return -1


def selected(form: str, description: str, question_terms: set[str]) -> bool:
    """Whether ``form`` says a word of the question that the description line does not say
    (the function's name is in both): ``warning ("off", id)`` for "turn off a warning"."""
    return bool((set(content_terms(form)) - set(content_terms(description))) & question_terms)


def entry_lines(lines: list[L], question: str) -> list[L]:
    """An entry unit's lines (forms, then the description line) as an answer shows them: the
    description line first, then the forms the question's terms select, in their order."""
    if not lines:
        return lines
    *forms, description = lines
    q = set(content_terms(question))
    return [description, *(f for f in forms if selected(f.text, description.text, q))]
