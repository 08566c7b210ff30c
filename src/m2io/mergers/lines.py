"""Answer text line by line for Markdown and HTML: escaped outside code spans, code blocks
fenced or in ``<pre>``, runs of table rows as tables. Used by :mod:`m2io.mergers.render`."""

from __future__ import annotations

import html
import re

from m2io.text import code_lines, is_code_block, is_table_row, row_cells

_CODE_SPAN = re.compile(r"(?<!`)(`+)(?!`)(.+?)(?<!`)\1(?!`)", re.DOTALL)
_BACKTICKS = re.compile(r"`+")


def md_text(text: str) -> str:
    """``text`` with HTML and link/image syntax made inert (it still reads naturally)."""
    text = (
        text.replace("\\", "\\\\").replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    )
    return text.replace("[", "\\[").replace("]", "\\]")


def _code_spans(text: str) -> list[tuple[bool, str]]:
    """``text`` cut into (is_code, piece): a code span is its content between matching
    backtick runs, as CommonMark pairs them."""
    out: list[tuple[bool, str]] = []
    pos = 0
    for m in _CODE_SPAN.finditer(text):
        if m.start() > pos:
            out.append((False, text[pos : m.start()]))
        out.append((True, m.group(0)))
        pos = m.end()
    if pos < len(text):
        out.append((False, text[pos:]))
    return out


def md_code(text: str) -> str:
    """A code block for Markdown: its lines as written, between fences longer than any run of
    backticks inside (so no line of it can close the block early)."""
    lines = code_lines(text)
    longest = max((len(m.group(0)) for ln in lines for m in _BACKTICKS.finditer(ln)), default=0)
    fence = "`" * max(3, longest + 1)
    return "\n".join([fence, *lines, fence])


def html_code(text: str) -> str:
    """A code block for HTML: escaped, in ``<pre><code>``."""
    return f"<pre><code>{html.escape(chr(10).join(code_lines(text)))}</code></pre>"


def md_line(text: str) -> str:
    """One line of answer text for Markdown: escaped (:func:`md_text`) outside code spans, kept
    as written inside them (a code span shows its content literally, HTML included, so
    ```<img>``` stays ``<img>``); a stray backtick is escaped."""
    return "".join(
        " ".join(piece.split()) if code else md_text(piece).replace("`", "\\`")
        for code, piece in _code_spans(text)
    )


def html_line(text: str) -> str:
    """One line of answer text for HTML: escaped, code spans as ``<code>``."""
    return "".join(
        f"<code>{html.escape(piece.strip('`'))}</code>" if code else html.escape(piece)
        for code, piece in _code_spans(text)
    )


def html_prose(lines: list[str], tail: str) -> list[str]:
    """A paragraph's lines for HTML: runs of prose as ``<p>`` (lines broken by ``<br>``), each
    code block as ``<pre>`` between them (a ``<pre>`` cannot sit inside a ``<p>``); ``tail``
    (the source marks) closes the last element."""
    out: list[str] = []
    run: list[str] = []
    for line in lines:
        if is_code_block(line):
            if run:
                out.append(f"<p>{'<br>'.join(html_line(x) for x in run)}</p>")
                run = []
            out.append(html_code(line))
        else:
            run.append(line)
    if run:
        out.append(f"<p>{'<br>'.join(html_line(x) for x in run)}{tail}</p>")
    elif tail:
        out.append(f"<p>{tail}</p>")
    return out


def row_runs(lines: tuple[str, ...]) -> list[tuple[bool, list[str]]]:
    """A paragraph's lines as runs: ``(True, rows)`` for consecutive table rows, ``(False,
    lines)`` for the rest."""
    out: list[tuple[bool, list[str]]] = []
    for line in lines:
        row = is_table_row(line)
        if out and out[-1][0] == row:
            out[-1][1].append(line)
        else:
            out.append((row, [line]))
    return out


def marks_at(groups: list[tuple[bool, list[str]]]) -> int | None:
    """Which run of a paragraph carries its source marks: the last run of prose (None: the
    paragraph is all table rows, and the marks stand after them)."""
    return max((k for k, (rows, _) in enumerate(groups) if not rows), default=None)


def _same_headers(rows: list[str]) -> tuple[str, ...] | None:
    """The header cells all ``rows`` share (None when they differ or the table has none)."""
    heads = {row_cells(r)[0] for r in rows}  # type: ignore[index]
    head = heads.pop() if len(heads) == 1 else ()
    return head or None


def _md_cell(text: str) -> str:
    return md_line(text).replace("|", "\\|")


def md_rows(rows: list[str]) -> str:
    """Table rows as a Markdown table when they share their headers, else one list line each."""
    head = _same_headers(rows)
    if head is None:
        return "\n".join(f"- {md_line(r)}" for r in rows)
    out = ["| " + " | ".join(_md_cell(h) for h in head) + " |", "|" + " --- |" * len(head)]
    out += ["| " + " | ".join(_md_cell(c) for c in row_cells(r)[1]) + " |" for r in rows]  # type: ignore[index]
    return "\n".join(out)


def html_rows(rows: list[str]) -> str:
    """Table rows as an HTML table (a header row when they share their headers)."""
    esc = html.escape
    head = _same_headers(rows)
    thead = (
        "<thead><tr>" + "".join(f"<th>{esc(h)}</th>" for h in head) + "</tr></thead>"
        if head
        else ""
    )
    body = "".join(
        "<tr>" + "".join(f"<td>{html_line(c)}</td>" for c in row_cells(r)[1]) + "</tr>"  # type: ignore[index]
        for r in rows
    )
    return f"<table>{thead}<tbody>{body}</tbody></table>"
