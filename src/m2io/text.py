"""Text utilities shared by every stage: sentence splitting and tokenising.

The same splitter cuts generated answers and gold answers, so sentence indices in placements,
rewards and metrics always refer to the same units.
"""

from __future__ import annotations

import re

PIC = "<PIC>"

# Characters that may follow an inline ``<PIC>`` set off by a space after a word ("shown in <PIC>,
# is"): the space is the marker's, not the text's, and goes with it.
_GLUE = frozenset(" ,.;:!?)]}")
# Text before a marker that ends a sentence (then the marker is a boundary, never inline).
_ENDS_SENTENCE = re.compile(r"[.!?:;][\"')\]]*$")
_TAIL = 64  # characters of context looked at on each side of a marker

_TERMINATOR = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9])")
_ABBREV = re.compile(r"\b(?:e\.g|i\.e|etc|vs|cf|Fig|fig|Dr|Mr|Mrs|Ms|No|approx)\.$")
_ABBREV_TAIL = 10  # longer than any abbreviation above, plus the character before it
# A figure's numbered label that ends in a full stop ("Figure 3.3."): what follows is its title,
# not a new sentence. (Tables and examples are left as they were: on the GnuCash dev set joining
# "Table 9.3." to its title moved 7 answers and cost 1.5 image F1.)
_LABEL = re.compile(r"(?:^|\s)(?:Figure|Fig\.)\s+\d+(?:\.\d+)*\.$")
CAPTION_NUMBER = r"(?:Figure|Fig\.|Table|Example|Listing)\s+\d+(?:\.\d+)*"
"""A caption's number as a regex fragment: "Figure 3.3", "Table 9.3", "Example 9.8"."""
_BARE_CAPTION = re.compile(CAPTION_NUMBER + r"\.?")
_LABEL_TAIL = 24
# tokenize's words are the runs of ASCII letters and digits, lower-cased: every other byte (a
# non-ASCII character is encoded as "?") becomes a space, A-Z become a-z
_WORD_BYTES = bytes(
    c + 32 if 65 <= c <= 90 else c if 48 <= c <= 57 or 97 <= c <= 122 else 32 for c in range(256)
)

# A line shorter than this that is followed by a capitalised line is taken as a unit of its own
# (a heading, a list item, a menu path), not as a wrapped line of a longer sentence.
_SHORT_LINE = 56

# A list item's marker at the start of a line: "1. ", "2) ", "(3) ", "- ", "* ", "• " (BULLETS
# below). ("+ " is left out: in hard-wrapped manuals it starts continuation lines, "Shift\n+ Ctrl".)
BULLETS = "-*\u2022\u2023\u25e6\u25cf\u25aa\u25a0\u25c6\u25cb\u2013\u2043"
"""Characters that mark a list item at a line's start: "-", "*", "•", "‣", "◦", and the
"●", "▪", "■", "◆", "○", "–", "⁃" of word processors' PDFs."""
# lower-case Roman numbers i.–xii. number the sub-steps of a step ("i. Click Modify Printer")
_ROMAN = r"(?:x|ix|iv|v?i{1,3}|v|xi{1,2})"
_ITEM = re.compile(rf"(?!i\.\s?e\.)(?:\(?(?:\d{{1,3}}|{_ROMAN})[.)]|[{BULLETS}])[ \t]+(?=\S)")
# What is left of a cut that took only a list number ("1." of "1. Use Sobel."): never a sentence.
_ITEM_NUMBER = re.compile(rf"\(?(?:\d{{1,3}}|{_ROMAN})[.)]")
# A number that may start an inline list item: "1. " at the start of a line or after ":" or a
# sentence's end ("Steps: 1. Open it. 2. Click"); later items only need a space before them.
_INLINE_NUMBER = re.compile(rf"(?:(?<=^)|(?<=\s))\(?(\d{{1,2}}|{_ROMAN})[.)][ \t]+(?=\S)")
_ROMAN_VALUE = {r: k for k, r in enumerate("i ii iii iv v vi vii viii ix x xi xii".split(), 1)}
_LIST_LEAD = re.compile(r"(?:^|[:.!?;][\"')\]]*)\s*$")
# A list item longer than this is cut into sentences like prose (its first keeps the marker).
_ITEM_MAX = 400
# Spans no sentence boundary falls inside: an inline image tag (HTML or Markdown) and a code span.
# Bounded repeats keep a failed match short, so the scan stays linear.
_ATOMIC = re.compile(
    r"<img\b[^<>]{0,400}>|!\[[^\]\n]{0,200}\]\([^()\s]{0,400}\)|`[^`\n]{1,200}`", re.I
)
_ENDS_WITH_IMG = re.compile(r"(?:<img\b[^<>]{0,400}>|!\[[^\]\n]{0,200}\]\([^()\s]{0,400}\))$", re.I)


# A table row as the loaders write it (corpus/shapes.py): "Header: cell; Header: cell", or
# "cell | cell" for a table without headers. Bounded pieces keep the check linear.
_ROW_PAIR = re.compile(r"([^:;|\n]{1,60}): ([^;\n]{0,400})")
_ROW_MAX = 2000
_PAIR_CELL_MAX, _CELL_MAX = 40, 200


def row_cells(text: str) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
    """``(headers, cells)`` of a table row written as one line (``headers`` is empty for a table
    without headers), or None when ``text`` is no row: at least two ``Header: cell`` pairs
    joined by ``"; "``, or cells joined by ``" | "`` (two short ones, or three and more)."""
    line = text.strip()
    if len(line) > _ROW_MAX or "\n" in line:
        return None
    if " | " in line:
        cells = tuple(c.strip() for c in line.split(" | "))
        # two cells must both be short ("Ctrl+Z | Undo"): prose quoting a "|" is not a row
        longest = _PAIR_CELL_MAX if len(cells) == 2 else _CELL_MAX
        return ((), cells) if all(0 < len(c) <= longest for c in cells) else None
    if "; " not in line or ": " not in line:
        return None
    pairs = [_ROW_PAIR.fullmatch(p) for p in line.split("; ")]
    if len(pairs) < 2 or not all(pairs):
        return None
    return tuple(m.group(1).strip() for m in pairs), tuple(m.group(2).strip() for m in pairs)


def is_table_row(text: str) -> bool:
    """Whether ``text`` is a table row written as one line (:func:`row_cells`)."""
    return row_cells(text) is not None


FUNCTION_WORDS = frozenset(
    "a an the and or of to in on for with by from at as is are was were be been it its this that "
    "these those how do does did i you we they what which who when where why can could should would "
    "my your our their me us them about into than then there here so if not no yes".split()
)
"""English function words: left out of content terms, and absent from a command line."""


def command_shaped(text: str) -> bool:
    """Whether ``text`` reads as a command line rather than prose: one that opens on a shell
    prompt ("$ git bisect start"), or a short unpunctuated line that starts in lower case (or
    with "./", "/", "~/") and holds no function words ("make", "sudo make install", "cmake ..").
    A heading reads the same but is capitalised; a clause that goes on after a colon ("the
    sliders are permanently visible", how MRAMG text breaks sentences) has function words."""
    t = text.strip()
    if t.startswith("$ "):
        return True
    words = t.split()
    return (
        bool(words)
        and (t[:1].islower() or t.startswith(("./", "/", "~/")))
        and len(words) <= 8
        and (t.endswith("..") or not t.endswith((".", "!", "?", ";", ",", ":")))  # "cmake .."
        and not is_list_item(t)
        and not FUNCTION_WORDS.intersection(w.lower() for w in words)
    )


def introduced_command(text: str, before: str) -> bool:
    """Whether ``text`` is a command the line ``before`` introduces: command-shaped
    (:func:`command_shaped`) right after a colon ("Build it:" then "make") or after another
    command of the same block ("./configure" then "make"). A line that opens on a shell prompt
    ("$ git bisect reset" after "Finally, run") is a command wherever it stands."""
    if text.startswith("$ "):
        return True
    b = before.rstrip()
    return bool(b) and (b.endswith(":") or command_shaped(b)) and command_shaped(text)


def is_caption_number(text: str) -> bool:
    """Whether ``text`` is only a caption's number ("Example 9.8."), which says nothing alone."""
    return _BARE_CAPTION.fullmatch(text.strip()) is not None


def is_list_item(text: str) -> bool:
    """Whether ``text`` starts with a list item's marker ("1. ", "2) ", "- ", "* ", "• ")."""
    return _ITEM.match(text.lstrip()) is not None


def _inline_items(line: str) -> list[str]:
    """``line`` cut before each item of an inline numbered list ("Steps: 1. Open it 2. Click
    Crop" → "Steps:", "1. Open it", "2. Click Crop"; or numbered i., ii., iii.); the line
    itself when it holds none.

    The items must be numbered 1, 2, 3 … in order, at least two of them, and "1." must start the
    line or follow a colon or a sentence's end, so "version 2. Then" or "Section 1. Intro" is
    never cut."""
    if ("1" not in line or "2" not in line) and ("i." not in line or "ii." not in line):
        return [line]
    cuts: list[int] = []
    kind = ""  # the first item's kind of number, digits or Roman; the others must match it
    for m in _INLINE_NUMBER.finditer(line):
        token = m.group(1)
        roman = not token.isdigit()
        if cuts and roman != (kind == "roman"):
            continue
        number = _ROMAN_VALUE[token] if roman else int(token)
        if number == 1 and not cuts:
            kind = "roman" if roman else "digit"
        if number == 1 and not cuts and _LIST_LEAD.search(line[max(0, m.start() - 8) : m.start()]):
            cuts.append(m.start())
        elif number == 1 and not cuts:
            kind = ""
        elif cuts and number == len(cuts) + 1:
            cuts.append(m.start())
    if len(cuts) < 2:
        return [line]
    bounds = [0, *cuts, len(line)]
    return [p for a, b in zip(bounds, bounds[1:], strict=False) if (p := line[a:b].strip())]


FENCE = "```"
"""A line of its own around a code block in a document's text: the loaders write one before and
one after each preformatted block (``<pre>``, a fenced Markdown block), so the block's lines
keep their layout and the splitter keeps the block whole, as one unit (:func:`is_code_block`)."""


# words a sentence leads into a code block with ("The predefined axis types are", "… opened with")
LEAD_IN_ENDS = frozenset("are is be with by as the a an of to for and or using via like at".split())
# how a sentence that leads into a code block starts: a connective ("Then execute the command",
# "Thus"), a connective phrase set off by a comma ("Alternatively, calling the routine", "For
# example, the command"), a purpose or a condition ("To create a csv file use", "If you see the
# error message"), a pronoun ("This produces the output", "One can use")
_LEAD_IN_START = re.compile(
    r"^(?:(?:then|thus|hence|so|finally|next|now|here|there|similarly|otherwise|instead|also"
    r"|this|these|it|one|if|when|once|unless|whereas)(?:[ ,]|$)"
    r"|(?:on the other hand|in (?:this|that) case)$"
    r"|to [a-z]+ \S"
    r"|[\w-]+(?: [\w-]+){0,2}, )",
    re.I,
)
# a verb left without its object, which the code block is ("Launch emacs and execute", "… use")
_LEAD_IN_VERBS = frozenset(
    "use execute run type enter call write add insert put give gives produces returns yields"
    " reads says".split()
)
# a two-word article phrase ("The function", "The routines") is the subject of a sentence the
# code block goes on; in title case ("The Basics") it is a heading
_ARTICLE_PHRASE = re.compile(r"^(?:[Tt]he|[Aa]n?) [a-z][\w-]*$")


def leads_into_code(text: str) -> bool:
    """Whether ``text``, a one-line paragraph right before a code block, is the fragment of a
    sentence that the block completes rather than a heading: it ends on a word that wants
    more (``LEAD_IN_ENDS``: "The predefined axis types are"), starts as a sentence goes on
    (``_LEAD_IN_START``: "Then execute the command", "Alternatively, in a cmd.exe shell use"),
    ends on a verb waiting for its object ("Launch emacs and execute"), is a two-word article
    phrase in lower case ("The routines"), or is lower-case words only ("is evaluated as"; a
    function's name, "grid.add()", is a heading)."""
    words = text.split()
    if len(words) >= 3 and words[-1].lower() in LEAD_IN_ENDS:
        return True
    if _LEAD_IN_START.match(text) or _ARTICLE_PHRASE.match(text):
        return True
    if len(words) >= 2 and words[-1].lower() in _LEAD_IN_VERBS:
        return True
    return (
        text[:1].islower()
        and all(w.isalpha() for w in words)
        and (len(words) >= 2 or text.lower() in LEAD_IN_ENDS)
    )


def is_code_block(text: str) -> bool:
    """Whether a unit of :func:`split_sentences` is a code block: it opens or closes on a
    :data:`FENCE` line (a chunk may begin or end inside a long block)."""
    return text.startswith(FENCE + "\n") or text.endswith("\n" + FENCE)


def code_lines(text: str) -> list[str]:
    """The lines of a code block unit, its fence lines left out."""
    lines = text.split("\n")
    if lines and lines[0].strip() == FENCE:
        lines = lines[1:]
    if lines and lines[-1].strip() == FENCE:
        lines = lines[:-1]
    return lines


def _code_runs(lines: list[str]) -> list[tuple[bool, list[str]]]:
    """A block's lines as runs, ``(True, lines)`` for a code block with its fence lines and
    ``(False, lines)`` for the rest. Fences pair up in order; a block holding only a closing
    fence (its chunk began inside the code) is code up to it, and an unclosed fence runs to
    the block's end."""
    fences = [i for i, ln in enumerate(lines) if ln.strip() == FENCE]
    if not fences:
        return [(False, lines)]
    if len(fences) == 1 and fences[0] == len(lines) - 1 and fences[0] > 0:
        return [(True, lines)]  # the end of a block whose start is in the chunk before
    out: list[tuple[bool, list[str]]] = []
    at = 0
    for k in range(0, len(fences), 2):
        start = fences[k]
        end = fences[k + 1] if k + 1 < len(fences) else len(lines) - 1
        if start > at:
            out.append((False, lines[at:start]))
        out.append((True, lines[start : end + 1]))
        at = end + 1
    if at < len(lines):
        out.append((False, lines[at:]))
    return out


def _split_block(block: str) -> list[str]:
    """Split one block (no blank lines) into sentences, in time linear in its length.

    A list item is a unit of its own and stays whole, marker included ("1. Use Sobel."); an inline
    image tag or a code span is never cut; a code block between :data:`FENCE` lines is one unit,
    its lines as written (indentation kept, trailing spaces dropped).
    """
    if FENCE not in block:
        return _split_prose(block.split("\n"))
    raw = [ln.rstrip() for ln in block.split("\n") if ln.strip()]
    out: list[str] = []
    for code, run in _code_runs(raw):
        if not code:
            out += _split_prose(run)
        elif any(ln.strip() != FENCE for ln in run):  # a lone fence line says nothing
            out.append("\n".join(run).strip("\n"))
    return out


def _split_prose(raw: list[str]) -> list[str]:
    """:func:`_split_block` for lines that hold no code block."""
    lines = [part for ln in raw if ln.strip() for part in _inline_items(ln.strip())]
    if len(lines) > 1 and all(command_shaped(ln) for ln in lines):
        return lines  # a block of commands ("./configure", "make"): a line each, never joined
    units: list[tuple[str, bool]] = []  # (text, is a list item)
    current: list[str] = []
    rows: set[int] = set()  # units that are table rows: kept whole, never cut
    is_row = [row_cells(line) is not None for line in lines]  # each line checked once
    for i, line in enumerate(lines):
        if is_row[i]:  # a table row is a unit of its own
            if current:
                units.append((" ".join(current), _ITEM.match(current[0]) is not None))
                current = []
            rows.add(len(units))
            units.append((line, False))
            continue
        current.append(line)
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        ends = line.endswith((".", "!", "?", ":", ";")) or len(line) < _SHORT_LINE
        # the next line starting a list item always ends this unit (an item without a final
        # full stop is still an item of its own)
        if (
            not nxt
            or _ITEM.match(nxt) is not None
            or (i + 1 < len(lines) and is_row[i + 1])
            or line.startswith("$ ")  # a shell prompt's line is a command of its own
            or nxt.startswith("$ ")
            or (
                ends
                and (
                    nxt[0].isupper()
                    or nxt[0].isdigit()
                    or (not line[-1].isalnum() and not _inline_image_end(line, nxt))
                )
            )
        ):
            units.append((" ".join(current), _ITEM.match(current[0]) is not None))
            current = []
    if current:
        units.append((" ".join(current), _ITEM.match(current[0]) is not None))
    out: list[str] = []
    for n, (unit, item) in enumerate(units):
        if n in rows:
            out.append(unit)
            continue
        whole = item and len(unit) <= _ITEM_MAX  # cut only where the next item starts
        atomic = (
            [m.span() for m in _ATOMIC.finditer(unit)]
            if "<" in unit or "`" in unit or "![" in unit
            else []
        )
        k = 0
        start = 0
        for m in _TERMINATOR.finditer(unit):
            cut = m.start()
            while k < len(atomic) and atomic[k][1] <= cut:
                k += 1
            if k < len(atomic) and atomic[k][0] < cut:
                continue  # inside an image tag or a code span
            # only the end of the piece can be an abbreviation: look there, not at all of it
            if whole and _ITEM.match(unit, m.end()) is None:
                continue
            if _ABBREV.search(unit, max(start, cut - _ABBREV_TAIL), cut):
                continue
            if _LABEL.search(unit, max(start, cut - _LABEL_TAIL), cut):
                continue  # "Figure 3.3. A typical session": a caption's number, not an end
            piece = unit[start:cut].strip()
            if len(piece) <= 6 and _ITEM_NUMBER.fullmatch(piece):
                continue  # "1." of "1. Use Sobel.": the item's number, not a sentence
            if piece:
                out.append(piece)
                start = m.end()
        tail = unit[start:].strip()
        if tail:
            out.append(tail)
    return out


def _inline_image_end(line: str, nxt: str) -> bool:
    """Whether ``line`` ends with an inline image tag that the next line's sentence goes on from."""
    return (
        nxt[0].islower()
        and line.endswith((">", ")"))
        and _ENDS_WITH_IMG.search(line[-700:]) is not None
    )


def split_sentences(text: str) -> list[str]:
    """Split answer text into sentences.

    Handles prose and manual-style text (hard-wrapped lines, headings and list items with no final
    period). ``<PIC>`` markers are dropped; one between sentences is a boundary, one inside a
    sentence is not (see :func:`split_with_images`, which keeps their positions).
    """
    return split_with_images(text)[0]


def marker_space_dropped(left: str, right: str) -> str:
    """``left`` without the space that only set off a ``<PIC>`` placed between ``left`` and
    ``right`` ("illustrated in <PIC>, is" reads "illustrated in, is" once the marker is gone).

    The space goes when it follows a letter or digit and the marker is followed by a space or
    punctuation; :func:`marker_space` gives it back, so loading and writing MRAMG text is lossless
    except for a marker glued to a word ("in<PIC>, is" is written back as "in <PIC>, is").
    """
    if len(left) >= 2 and left[-1] == " " and left[-2].isalnum() and right[:1] in _GLUE:
        return left[:-1]
    return left


def marker_space(text: str, offset: int) -> str:
    """The space to write before a ``<PIC>`` at ``offset`` of marker-free ``text``: the inverse of
    :func:`marker_space_dropped`."""
    if 0 < offset < len(text) and text[offset - 1].isalnum() and text[offset] in _GLUE:
        return " "
    return ""


def _inline(line_end: str, right: str) -> bool:
    """Whether a marker sits inside a sentence: ``line_end`` (the end of its line before it) has
    text that does not end a sentence, and ``right`` (the text after it) goes on with it on the
    same line (lower case or punctuation)."""
    before = line_end.strip()
    after = right.split("\n", 1)[0].strip()[:1]
    if not before or not after or _ENDS_SENTENCE.search(before):
        return False
    return after.islower() or after in _GLUE


def _placeholder(text: str) -> str:
    """A private-use character absent from ``text`` (stands for an inline marker), or ""."""
    present = set(text)
    for code in range(0xE000, 0xF900):
        if chr(code) not in present:
            return chr(code)
    return ""


def split_with_images(text: str) -> tuple[list[str], list[int]]:
    """Split text holding ``<PIC>`` markers into sentences and image positions.

    A marker between sentences (or on a line of its own) is a boundary. A marker inside a sentence
    ("the model, illustrated in <PIC>, is trained") is not: the sentence stays whole, reads
    "illustrated in, is trained", and the image comes right after it.

    Returns:
        ``(sentences, positions)`` where ``positions[k]`` is the number of sentences before the
        k-th ``<PIC>``, i.e. the protocol's ``after_sentence`` of that image.
    """
    parts = text.split(PIC)
    # Runs of text, each followed by that many adjacent markers (the last by its trailing ones).
    runs: list[tuple[str, int]] = []
    acc, n = parts[0], 0
    for part in parts[1:]:
        n += 1
        if part:
            runs.append((acc, n))
            acc, n = part, 0
    runs.append((acc, n))
    ph = _placeholder(text) if len(parts) > 1 else ""
    sentences: list[str] = []
    positions: list[int] = []

    def flush(piece: str) -> None:
        for block in re.split(r"\n\s*\n", piece):
            for sentence in _split_block(block):
                inline = sentence.count(ph) if ph else 0
                clean = sentence.replace(ph, "") if inline else sentence
                if clean.strip():
                    sentences.append(clean)
                positions.extend([len(sentences)] * inline)

    current: list[str] = []  # text since the last boundary, inline markers as ``ph``
    line_end = ""  # the last characters of its current line, trailing spaces stripped
    for i, (seg, n_markers) in enumerate(runs):
        line_end = seg.rsplit("\n", 1)[-1] if "\n" in seg else line_end + seg
        line_end = line_end.rstrip()[-_TAIL:]
        if not n_markers:
            current.append(seg)
            continue
        right = runs[i + 1][0] if i + 1 < len(runs) else ""
        if ph and _inline(line_end, right):
            current += [marker_space_dropped(seg, right), ph * n_markers]
            line_end = (line_end + ph)[-_TAIL:]
        else:
            flush("".join([*current, seg]))
            positions.extend([len(sentences)] * n_markers)
            current, line_end = [], ""
    flush("".join(current))
    return sentences, positions


def quoted_sentences(text: str, offsets: list[int] | None = None) -> tuple[list[str], set[int]]:
    """A chunk's sentences as an extractive answer quotes them, and the indices of those right
    before or after an image at one of ``offsets`` (characters into ``text``).

    The images are put back into the text as ``<PIC>`` markers, so the split knows where they
    sit (a marker between sentences is a boundary, as in the source). A tail the splitter cut
    off at an abbreviation goes back on its sentence (:func:`_rejoined`). The extractive
    generator quotes these texts (:mod:`m2io.generators.focus`), and an index stores a vector
    for each (:mod:`m2io.index.sentences`), so the two must stay one function.
    """
    at_images = sorted({o for o in offsets or () if 0 <= o <= len(text)})
    if not at_images:
        return _rejoined(split_sentences(text), set())
    parts, at = [], 0
    for o in at_images:
        parts += [text[at:o], f" {PIC} "]
        at = o
    parts.append(text[at:])
    texts, positions = split_with_images("".join(parts))
    figures = {i for p in positions for i in (p - 1, p) if 0 <= i < len(texts)}
    return _rejoined(texts, figures)


# The last word of a sentence the splitter may have cut at an abbreviation: "DR.", "Fig.", "e.g."
_ABBREVIATED = re.compile(r"(?:^|\s)(?:[A-Z]{1,3}|[A-Z][a-z]{1,2}|(?:[a-z]\.){1,2}[a-z])\.$")
# Two words or fewer and a full stop: the tail of a sentence rather than one of its own.
_CUT_TAIL = re.compile(r"\s*\S+(?:\s+\S+)?\s*\.\s*$")


def _rejoined(texts: list[str], figures: set[int]) -> tuple[list[str], set[int]]:
    """``texts`` with each tail cut off at an abbreviation put back on its sentence
    ("… in the DR." + "GEO figure." → "… in the DR. GEO figure."), so no answer holds, or opens
    on, a fragment whose sentence is elsewhere; ``figures`` renumbered."""
    out: list[str] = []
    moved: dict[int, int] = {}
    for i, t in enumerate(texts):
        if (
            out
            and (i - 1) not in figures
            and _CUT_TAIL.match(t)
            and not is_list_item(t)
            and _ABBREVIATED.search(out[-1].rstrip())
        ):
            out[-1] = f"{out[-1].rstrip()} {t.strip()}"
        else:
            out.append(t)
        moved[i] = len(out) - 1
    return out, {moved[i] for i in figures}


def tokenize(text: str) -> list[str]:
    """Lower-cased alphanumeric tokens: the runs of ASCII letters and digits, by byte translation
    (no regular expression, no call per word: about 0.6x the time of ``[A-Za-z0-9]+`` matches,
    on the inserters' hot path)."""
    return text.encode("ascii", "replace").translate(_WORD_BYTES).decode("ascii").split()


_STOP = FUNCTION_WORDS | frozenset("use using used gimp documentation say says".split())


def _stem(word: str) -> str:
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def content_terms(text: str) -> list[str]:
    """Stemmed content words of ``text`` (question words and function words left out)."""
    return [_stem(w) for w in tokenize(text) if w not in _STOP]
