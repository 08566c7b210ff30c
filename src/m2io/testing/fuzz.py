"""A fixed-seed mutation fuzzer for the corpus loaders (Markdown, HTML, folder, MRAMG JSONL).

Each case takes a seed input, applies a few mutations (byte flips, hostile tokens such as ``![``,
``<img``, ``<!--`` or ``<PIC>``, long runs, truncation, splicing with another seed) and feeds the
result to one loader. A loader may succeed or raise :class:`~m2io.corpus.CorpusError` (a clear
error naming the file); anything else is an unhandled exception, counted with a sample. Cases
that take longer than ``slow_s`` are counted too: every loader is meant to run in linear time.

Used by ``tests/test_fuzz_loaders.py`` (a few thousand cases) and ``benchmarks/fuzz_loaders.py``
(100 000 cases). The same ``seed`` and ``cases`` always give the same inputs.

Example:
    >>> from m2io.testing.fuzz import run_fuzz
    >>> result = run_fuzz(200, seed=0)
    >>> result.unhandled
    0
"""

from __future__ import annotations

import json
import random
import shutil
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from m2io.corpus import CorpusError, load_folder, load_mramg, load_questions
from m2io.corpus.htmldoc import html_to_text
from m2io.corpus.markdown import markdown_to_text
from m2io.corpus.report import decode, decode_html

MARKDOWN_SEEDS: tuple[bytes, ...] = (
    b"---\ntitle: Layers\n---\n# Layers\n\nLayers stack images. The dialog shows them.\n\n"
    b'![Layers dialog](img/a.png "The Layers dialog")\n\nEach layer has a *mode*.\n\n'
    b'![Mode menu][modes]\n\n<img src="img/b.png" alt="Raw" title="T">\n\n'
    b"[Back to **top**](#top) and [Foo](https://en.wikipedia.org/wiki/Foo_(bar))\n\n"
    b"[modes]: img/a.png 'Layer modes'\n",
    b"Guide\n=====\n\nRun `<img src=x>` like this:\n\n```sh\n![not](x.png)\n```\n\n"
    b'<figure><img src="img/b.png" alt="alt b"><figcaption>The caption</figcaption></figure>'
    b"\n\n> quote with __bold__ and \\*escaped\\*\n\n- item one\n- item <!-- hidden --> two\n\n"
    b"| a | b |\n|---|---|\n| 1 | 2 |\n\n&lt;script&gt; is text. <script>alert(1)</script>\n",
    # a documentation site's page: heading ids, admonitions, a pipe table with escaped bars
    b"## Install {#install}\n\n:::caution tool.exe not running?\n\nCheck it.\n\n:::\n\n"
    b'!!! note "Paths"\n    Use `a\\|b`.\n\n|Col|\n|-|\n|`x\\|y`|\n| two | cells |\n\n:::tip[T]\nx\n',
)
HTML_SEEDS: tuple[bytes, ...] = (
    b'<html><head><meta charset="utf-8"><title>Filters</title><style>p{}</style></head><body>'
    b'<nav><img src="img/a.png"> Menu</nav><h1>Blur filters</h1><p>Blur filters soften.</p>'
    b'<figure><img src="img/a.png" alt="blurred"><figcaption>Gaussian blur</figcaption>'
    b'</figure><div class="figure"><p class="title">Figure 1.2. Pixelize</p>'
    b'<div class="mediaobject"><img src="img/b.png" alt=""></div></div>'
    b'<div class="caption"><p>Mosaic</p></div><pre>code  line\n  indented</pre>'
    b'<table><tr><td>a</td><td><img src="img/b.png" width=10 height=10></td></tr></table>'
    b'<!-- comment --><![CDATA[x]]><footer><img src="img/a.png"></footer></body></html>',
    b'<!DOCTYPE html><meta http-equiv="Content-Type" content="text/html; charset=iso-8859-1">'
    b'<p>caf\xe9 <b>cr\xe8me</b><br>next &amp; <a href="x">link</a></p><ul><li>one<li>two</ul>',
    # a generator's page (Sphinx-like): main content, permalinks, a headed table, a note, footer
    b'<html lang="en"><body><div class="related" role="navigation"><a href="i.html">next</a>'
    b'</div><div class="body" role="main"><h1>Clips<a class="headerlink" href="#c">\xc2\xb6</a>'
    b"</h1><table><thead><tr><th><p>Key</p></th><th>Action</th></tr></thead><tbody><tr><td>"
    b'<p>Ctrl+Z</p></td><td>Undo</td></tr><tr><td colspan="2">All</td></tr></tbody></table>'
    b'<div class="admonition note"><p class="admonition-title">Note</p><p>Saved.</p></div>'
    b'<dl><dt>Term</dt><dd>Meaning</dd></dl></div><div class="footer">\xc2\xa9 Copyright 2022'
    b"</div></body></html>",
    # a hand-written page: steps in a "toc" list, an inline icon, a licence, "Back to Top"
    b'<body><ul class="toc"><li>Step 1: Get it</li><li><a href="#b">Step 2</a></li></ul>'
    b'<p><img src="i/hb-edit.png" width="16" height="16"> = edited</p><blockquote><p>'
    b'Permission is granted to copy this document.</p></blockquote><p class="top">'
    b'<a href="#top">&#8593; Back to Top</a></p><img src="./shot.png" alt="./shot"></body>',
)
DOC_SEEDS: tuple[bytes, ...] = (
    json.dumps([0, "Open the Layers dialog.<PIC>\nIt lists every layer.", [10]]).encode()
    + b"\n"
    + json.dumps([1, "Blur soften.\n\n<PIC>\nGaussian.<PIC> Pixelize.", [11, 12]]).encode()
    + b"\n"
    + json.dumps([2, "A page without figures.", []]).encode()
    + b"\n",
)
QUESTION_SEEDS: tuple[bytes, ...] = (
    json.dumps(
        {
            "id": "q-0",
            "question": "How do I see my layers?",
            "ground_truth": "Open the Layers dialog.<PIC>",
            "provenance": [0],
            "images_list": [10],
        }
    ).encode()
    + b"\n",
)
COLLECTION_SEEDS: tuple[bytes, ...] = (
    json.dumps(
        {
            str(i): {"image_url": "", "image_path": f"{i}.png", "image_caption": f"Caption {i}"}
            for i in (10, 11, 12)
        }
    ).encode(),
)

HOSTILE: tuple[bytes, ...] = (
    b":::",
    b"{#",
    b"|",
    b"\n|-|\n",
    b"!!! note\n    ",
    b"![",
    b"](",
    b"[",
    b"]",
    b"(",
    b")",
    b"<img",
    b"<img src=",
    b"<figure>",
    b"</figure>",
    b"<figcaption>",
    b"<!--",
    b"-->",
    b"```",
    b"`",
    b"\\",
    b"*",
    b"_",
    b"#",
    b"<",
    b">",
    b'"',
    b"'",
    b"&",
    b"&lt;script&gt;",
    b"<script>",
    b"<![",
    b"]]>",
    b"<PIC>",
    b"\x00",
    b"\n",
    b"\r",
    b"{",
    b"}",
    b",",
    b":",
    b"\\u0000",
    b"\\ud800",
    "\ue000".encode(),
    "\ue001".encode(),
    "\ue0025\ue003".encode(),
    "\ue0000\ue001".encode(),
    "\ue0009\ue001".encode(),
    b"\xff\xfe",
    b"\xef\xbb\xbf",
    b"\xff",
    b"../",
    b"file:///etc/passwd",
    b"javascript:alert(1)",
    b"http://[",
    b"%00",
    b"<meta charset=utf-16>",
    b"<meta charset=base64>",
)

Outcome = str  # "ok", "handled" (CorpusError) or "unhandled"


@dataclass
class Crash:
    """One unhandled exception: which loader, the exception, and the input (truncated)."""

    kind: str
    case: int
    error: str
    where: str
    sample: str


@dataclass
class FuzzResult:
    """Counts of one fuzz run.

    Attributes:
        seed: The random seed.
        cases: Cases run, per loader kind.
        handled: Cases that raised :class:`CorpusError`, per kind.
        crashes: Every unhandled exception (the first ``keep`` with their input).
        slow: Cases that took longer than ``slow_s``, as ``(kind, case, seconds)``.
        seconds: Wall time of the whole run.
    """

    seed: int
    cases: dict[str, int] = field(default_factory=dict)
    handled: dict[str, int] = field(default_factory=dict)
    crashes: list[Crash] = field(default_factory=list)
    slow: list[tuple[str, int, float]] = field(default_factory=list)
    seconds: float = 0.0
    slowest: float = 0.0

    @property
    def unhandled(self) -> int:
        """How many cases raised anything but :class:`CorpusError`."""
        return len(self.crashes)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary (at most 20 crash samples)."""
        by_error: dict[str, int] = {}
        for crash in self.crashes:
            by_error[crash.error.split(":")[0]] = by_error.get(crash.error.split(":")[0], 0) + 1
        return {
            "seed": self.seed,
            "total_cases": sum(self.cases.values()),
            "cases": self.cases,
            "handled_corpus_errors": self.handled,
            "unhandled": self.unhandled,
            "unhandled_by_type": by_error,
            "crash_samples": [vars(c) for c in self.crashes[:20]],
            "slow_cases": len(self.slow),
            "slowest_case_s": round(self.slowest, 3),
            "seconds": round(self.seconds, 1),
        }


def mutate(data: bytes, rng: random.Random, others: tuple[bytes, ...]) -> bytes:
    """``data`` with one to four random mutations applied."""
    buf = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(9)
        pos = rng.randint(0, len(buf))
        if op == 0 and buf:  # flip one byte
            buf[min(pos, len(buf) - 1)] = rng.randrange(256)
        elif op in (1, 2):  # insert a hostile token
            buf[pos:pos] = rng.choice(HOSTILE)
        elif op == 3:  # a long run of one token
            buf[pos:pos] = rng.choice(HOSTILE) * rng.choice((10, 100, 1000, 3000, 20000))
        elif op == 4:  # truncate
            del buf[pos:]
        elif op == 5 and others:  # splice in part of another seed
            other = rng.choice(others)
            a = rng.randint(0, len(other))
            buf[pos:pos] = other[a : a + rng.randint(1, 400)]
        elif op == 6:  # delete a range
            del buf[pos : pos + rng.randint(1, 50)]
        elif op == 7 and buf:  # duplicate a range
            a = rng.randint(0, len(buf) - 1)
            buf[pos:pos] = buf[a : a + rng.randint(1, 200)] * rng.choice((1, 2, 50))
        else:  # nest: wrap a range in a bracket pair, many times over
            pair = rng.choice(((b"[", b"]"), (b"<div>", b"</div>"), (b"{", b"}"), (b"<b>", b"")))
            depth = rng.choice((2, 50, 500))
            buf[pos:pos] = pair[0] * depth + pair[1] * depth
    return bytes(buf)


def _parse_markdown(data: bytes, _: Path) -> None:
    markdown_to_text(decode(data, "fuzz.md", []))


def _parse_html(data: bytes, _: Path) -> None:
    html_to_text(decode_html(data, "fuzz.html", []))


def _load_folder(data: bytes, tmp: Path) -> None:
    root = tmp / "folder"
    (root / "page.md").write_bytes(data)
    (root / "page.html").write_bytes(data)
    load_folder(root)


REFERENCE_SEEDS: tuple[bytes, ...] = (b"a/", b"./", b"../", b"%2e%2e/", b"x\\", b"img/a.png/")
"""Path segments that a long-reference case repeats into one image reference."""
_REFERENCE_BYTES = frozenset(
    b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789./%_-\\"
)


class UnreportedReference(AssertionError):
    """A reference past :data:`m2io.safety.MAX_REFERENCE` that the loader did not report."""


def _load_long_reference(data: bytes, tmp: Path) -> None:
    """An image reference of 10 KB to 450 KB built from a mutated path segment: it must be
    reported and skipped (unresolved), in time linear in its length."""
    from m2io.safety import MAX_REFERENCE

    segment = bytes(b for b in data if b in _REFERENCE_BYTES) or b"a/"
    length = 10_000 + (len(data) * 7919) % 440_000
    ref = (segment * (length // len(segment) + 1))[:length]
    root = tmp / "folder"
    page = root / "page.md"
    page.write_bytes(b"# Page\n\nText.\n\n![figure](" + ref + b")\n")
    try:
        corpus = load_folder(root)
    finally:
        page.write_bytes(b"# Page\n\nText.\n")
    if not any(f"longer than {MAX_REFERENCE}" in w for w in corpus.warnings):
        raise UnreportedReference(f"a {length}-byte reference was not reported as too long")


def _load_pdf(data: bytes, tmp: Path) -> None:
    root = tmp / "pdf"
    root.mkdir(exist_ok=True)
    (root / "fuzz.pdf").write_bytes(data)
    load_folder(root)


def _pdf_seeds() -> tuple[bytes, ...]:
    from m2io.testing.pdfmake import make_pdf

    page = [("Manual", 9), ("Installing", 18), ("Run the setup program.", 10)]
    return (
        make_pdf(
            [page, [*page, ("IMAGE", 40, 30), ("Figure 1: Setup", 9)]], outline=[("Installing", 0)]
        ),
        make_pdf([[("Body only.", 10)]]),
    )


def _load_packaged(data: bytes, tmp: Path) -> None:
    root = tmp / "packaged"
    root.mkdir(exist_ok=True)
    name = "fuzz.docx" if b"word/document.xml" in data[:4096] else "fuzz.epub"
    for old in root.glob("fuzz.*"):
        old.unlink()
    (root / name).write_bytes(data)
    load_folder(root)


def _packaged_seeds() -> tuple[bytes, ...]:
    from m2io.testing.officemake import make_docx, make_epub

    chapter = "<h1>One</h1><p>Text.</p><img src='a.png' alt='A'/><table><tr><th>K</th></tr></table>"
    return (
        make_epub([("c1.xhtml", chapter), ("c2.xhtml", "<p>Two.</p>")], images={"a.png": b"x"}),
        make_docx(["Heading|Title", "Body text.", "IMAGE|alt"], b"\x89PNG not really"),
    )


HELP_SEEDS: tuple[bytes, ...] = (
    b'<page xmlns="http://projectmallard.org/1.0/" xmlns:if="http://projectmallard.org/if/1.0/"'
    b' id="p"><info><link type="guide" xref="index"/></info><title>Save</title><p>Click'
    b" <guiseq><gui>File</gui><gui>Save</gui></guiseq>.</p><steps><item><p>One.</p></item>"
    b'</steps><if:choose><if:when test="platform:x"><p>X</p></if:when><if:else><p>Y</p>'
    b'</if:else></if:choose><figure><title>Dialog</title><media type="image" src="img/a.png">'
    b"<p>alt</p></media></figure><section id='s'><title>Shell</title><code>ls -l</code>"
    b"</section></page>",
    b'<?xml version="1.0"?><!DOCTYPE book [<!ENTITY app "<application>App</application>">'
    b'<!ENTITY ch SYSTEM "ch.xml">]><book lang="en"><title>&app; Manual</title><chapter>'
    b"<title>One</title><para>Use &app; &mdash; <menuchoice><guimenu>Edit</guimenu>"
    b"</menuchoice>.</para><procedure><step><para>Go.</para></step></procedure><figure>"
    b'<title>Fig</title><mediaobject><imageobject><imagedata fileref="img/a.png"/>'
    b"</imageobject></mediaobject></figure><informaltable><tgroup><thead><row><entry>K"
    b"</entry><entry>V</entry></row></thead><tbody><row><entry>a</entry><entry>b</entry>"
    b"</row></tbody></tgroup></informaltable><programlisting>make</programlisting>&ch;"
    b"</chapter></book>",
)


def _load_help(data: bytes, tmp: Path) -> None:
    root = tmp / "help"
    root.mkdir(exist_ok=True)
    (root / "page.page").write_bytes(data)
    (root / "book.xml").write_bytes(data)
    (root / "ch.xml").write_bytes(data[: len(data) // 2])
    load_folder(root)


def _load_docs(data: bytes, tmp: Path) -> None:
    root = tmp / "mramg"
    (root / "doc_fuzz.jsonl").write_bytes(data)
    load_mramg(root, "fuzz")


def _load_questions(data: bytes, tmp: Path) -> None:
    root = tmp / "mramg"
    (root / "fuzz_mqa.jsonl").write_bytes(data)
    load_questions(root, "fuzz", warnings=[])


def _load_collection(data: bytes, tmp: Path) -> None:
    root = tmp / "mramg"
    info = root / "IMAGE" / "images_info" / "fuzz_imgs_collection.json"
    info.write_bytes(data)
    try:
        load_mramg(root, "fuzz")
    finally:
        info.write_bytes(COLLECTION_SEEDS[0])


KINDS: dict[str, tuple[Callable[[bytes, Path], None], tuple[bytes, ...], int]] = {
    "markdown": (_parse_markdown, MARKDOWN_SEEDS, 40),
    "html": (_parse_html, HTML_SEEDS, 30),
    "folder": (_load_folder, MARKDOWN_SEEDS + HTML_SEEDS, 8),
    "mramg_docs": (_load_docs, DOC_SEEDS, 12),
    "mramg_questions": (_load_questions, QUESTION_SEEDS, 5),
    "mramg_collection": (_load_collection, COLLECTION_SEEDS, 5),
    "long_reference": (_load_long_reference, REFERENCE_SEEDS, 1),
    "pdf": (_load_pdf, _pdf_seeds(), 3),
    "packaged": (_load_packaged, _packaged_seeds(), 3),
    "help": (_load_help, HELP_SEEDS, 4),
}
"""Loader kind -> (run one input, seed inputs, weight in the mix of cases)."""


@contextmanager
def _workspace() -> Iterator[Path]:
    """A temporary folder with a small folder corpus and a small MRAMG subset (real PNGs)."""
    from PIL import Image

    tmp = Path(tempfile.mkdtemp(prefix="m2io-fuzz-"))
    try:
        img = tmp / "folder" / "img"
        img.mkdir(parents=True)
        for name, color in (("a.png", "red"), ("b.png", "blue")):
            Image.new("RGB", (40, 30), color).save(img / name)
        mramg = tmp / "mramg"
        images = mramg / "IMAGE" / "images" / "FUZZ"
        images.mkdir(parents=True)
        for i in (10, 11, 12):
            Image.new("RGB", (40, 30), "green").save(images / f"{i}.png")
        info = mramg / "IMAGE" / "images_info"
        info.mkdir(parents=True)
        (info / "fuzz_imgs_collection.json").write_bytes(COLLECTION_SEEDS[0])
        (mramg / "doc_fuzz.jsonl").write_bytes(DOC_SEEDS[0])
        (mramg / "fuzz_mqa.jsonl").write_bytes(QUESTION_SEEDS[0])
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _where(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    return " <- ".join(f"{Path(f.filename).name}:{f.lineno}" for f in reversed(frames[-3:]))


def run_fuzz(
    cases: int,
    *,
    seed: int = 0,
    kinds: tuple[str, ...] | None = None,
    slow_s: float = 2.0,
    progress: Callable[[int, FuzzResult], None] | None = None,
) -> FuzzResult:
    """Run ``cases`` mutated inputs through the loaders and count what happened.

    Args:
        cases: How many inputs in all, shared among ``kinds`` by their weights.
        seed: Random seed; the same seed and count give the same inputs.
        kinds: Loader kinds to run (keys of :data:`KINDS`); default all.
        slow_s: A case taking longer than this is counted as slow.
        progress: Called every 1000 cases with the count so far and the partial result.
    """
    import logging

    names = list(kinds or KINDS)
    weights = [KINDS[k][2] for k in names]
    rng = random.Random(seed)
    result = FuzzResult(seed=seed)
    start = time.perf_counter()
    previous = logging.root.manager.disable
    logging.disable(logging.WARNING)  # loaders log every skipped file; thousands of lines here
    try:
        with _workspace() as tmp:
            for case in range(cases):
                kind = rng.choices(names, weights)[0]
                run, seeds, _ = KINDS[kind]
                data = mutate(rng.choice(seeds), rng, seeds)
                result.cases[kind] = result.cases.get(kind, 0) + 1
                t0 = time.perf_counter()
                try:
                    run(data, tmp)
                except CorpusError:
                    result.handled[kind] = result.handled.get(kind, 0) + 1
                except Exception as exc:  # the point of the fuzzer: count, keep a sample
                    result.crashes.append(
                        Crash(
                            kind,
                            case,
                            f"{type(exc).__name__}: {str(exc)[:200]}",
                            _where(exc),
                            data[:300].decode("utf-8", "replace"),
                        )
                    )
                took = time.perf_counter() - t0
                result.slowest = max(result.slowest, took)
                if took > slow_s:
                    result.slow.append((kind, case, round(took, 2)))
                if progress and (case + 1) % 1000 == 0:
                    progress(case + 1, result)
    finally:
        logging.disable(previous)
    result.seconds = time.perf_counter() - start
    return result
