"""Markdown block syntax beyond CommonMark that documentation sites use: tables and notes.

:func:`notes` reads admonitions as note blocks: Docusaurus' ``:::kind title`` … ``:::`` (also
``:::kind[title]``) and MkDocs' ``!!! kind "title"`` (or ``???``) with its indented body. The
block's label and title lead its first paragraph, as the HTML loader writes an admonition
(:func:`m2io.corpus.shapes.join_admonitions`): ``Caution: openrefine.exe not running? Check…``;
no fence line stays in the text.

:func:`tables` reads GitHub-style pipe tables (a header row, a delimiter row of dashes, body
rows) as the HTML loader reads a table (:func:`m2io.corpus.shapes.mark_tables`): one line per
body row, each cell after its column's header (``Input: 3.2; Output: 3``), the header row left
out; a table whose header cells are all empty writes its cells as ``a | b``. Neither the header
line nor a row is ever read as a heading or as prose with bars in it. Cells are split before
code spans are read, as GitHub does: ``\\|`` is a bar inside a cell, in code too.

Both are one pass over the lines; every line is split once (linear in the text).
"""

from __future__ import annotations

import re

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_DOCUSAURUS = re.compile(
    r"^ {0,3}:{3,}[ \t]*(?P<kind>[A-Za-z][\w-]*)"
    r"(?:[ \t]*\[(?P<bracket>[^\]\n]*)\]|[ \t]*\{[^{}\n]*\}|[ \t]+(?P<title>[^\n]*))?$"
)
_CLOSE = re.compile(r"^ {0,3}:{3,}[ \t]*$")
_MKDOCS = re.compile(
    r"^ {0,3}(?:!!!|\?\?\?\+?)[ \t]*(?P<kind>[A-Za-z][\w-]*)"
    r"(?:[ \t]+\"(?P<title>[^\"\n]*)\")?[ \t]*$"
)
_BLOCK_START = re.compile(r"^\s*(?:[-*+] |\d+[.)] |#|\||>|`{3}|~{3}|!\[|<)")
_DELIMITER_CELL = re.compile(r"[ \t]*:?-+:?[ \t]*")


def _label(m: re.Match[str]) -> str:
    kind = m.group("kind").replace("-", " ").replace("_", " ").capitalize()
    groups = m.groupdict()
    title = " ".join((groups.get("bracket") or groups.get("title") or "").split()).strip("\"'")
    if not title or title.lower() == kind.lower():
        return f"{kind}:"
    return f"{kind}: {title}" + ("" if title[-1] in ".!?:;" else ".")


def notes(text: str) -> str:
    """Admonitions (see the module docstring) as a label leading their first paragraph."""
    out: list[str] = []
    fence = ""  # the open code fence's marker, "" outside code
    pending = ""  # a label waiting for its block's first line
    depth = 0  # Docusaurus blocks open
    indented = False  # inside a MkDocs block's indented body
    for line in text.split("\n"):
        if indented:
            if line.startswith(("    ", "\t")):
                line = line[4:] if line.startswith("    ") else line[1:]
            elif line.strip():
                indented = False
        m = _FENCE.match(line)
        if fence:
            if m and m.group(1)[0] == fence[0] and len(m.group(1)) >= len(fence):
                fence = ""
            out.append(line)
            continue
        opener = _DOCUSAURUS.match(line) or _MKDOCS.match(line)
        if opener is not None:
            if pending:
                out.append(pending)
            pending = _label(opener)
            depth += opener.re is _DOCUSAURUS
            indented = opener.re is _MKDOCS
            continue
        if depth and _CLOSE.match(line):
            depth -= 1
            if pending:
                out.append(pending)
                pending = ""
            out.append("")
            continue
        if pending and not line.strip():
            continue
        if pending:
            if _BLOCK_START.match(line):
                out.extend([pending, ""])
            else:
                line = f"{pending} {line.lstrip()}"
            pending = ""
        if m:
            fence = m.group(1)
        out.append(line)
    if pending:
        out.append(pending)
    return "\n".join(out)


def _split_row(line: str) -> list[str]:
    """A table line's cells: split at each bar not escaped, the outer bars dropped."""
    cells: list[str] = []
    cell: list[str] = []
    escaped = False
    for ch in line.strip():
        if ch == "|" and not escaped:
            cells.append("".join(cell))
            cell = []
        else:
            cell.append(ch)
        escaped = ch == "\\" and not escaped
    cells.append("".join(cell))
    if line.strip().startswith("|"):
        cells = cells[1:]
    if line.strip().endswith("|") and not line.strip().endswith("\\|") and cells:
        cells = cells[:-1]
    return [" ".join(c.replace("\\|", "|").split()) for c in cells]


def _is_delimiter(line: str, columns: int) -> bool:
    if "|" not in line or "-" not in line:
        return False
    cells = _split_row(line)
    return len(cells) == columns and all(_DELIMITER_CELL.fullmatch(c) for c in cells)


def _row(heads: list[str], cells: list[str]) -> str:
    if not any(heads):
        return " | ".join(c for c in cells if c)
    pieces = []
    for k, cell in enumerate(cells):
        if not cell:
            continue
        head = heads[k] if k < len(heads) else ""
        pieces.append(f"{head}: {cell}" if head else cell)
    return "; ".join(pieces)


def tables(text: str) -> str:
    """Pipe tables (see the module docstring) as one line per row, a paragraph of their own."""
    lines = text.split("\n")
    out: list[str] = []
    k = 0
    while k < len(lines):
        line = lines[k]
        heads = _split_row(line) if "|" in line else []
        if heads and k + 1 < len(lines) and _is_delimiter(lines[k + 1], len(heads)):
            rows: list[str] = []
            k += 2
            while k < len(lines) and lines[k].strip() and "|" in lines[k]:
                row = _row(heads, _split_row(lines[k]))
                if row:
                    rows.append(row)
                k += 1
            out.extend(["", *(rows or [" | ".join(h for h in heads if h)]), ""])
            continue
        out.append(line)
        k += 1
    return "\n".join(out)
