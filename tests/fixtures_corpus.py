"""Builders of tiny corpora for the corpus tests, written into a test's ``tmp_path``.

Everything is made at test time (images drawn with Pillow); nothing is copied from the dev set.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from PIL import Image

TOY_DOCS: list[list[Any]] = [
    [0, "Open the Layers dialog.<PIC>\nIt lists every layer of the image.", [10]],
    [
        1,
        "Blur filters soften an image.\n\n<PIC>\nGaussian blur is the most common one.<PIC>"
        " Pixelize makes blocks.",
        [11, 12],
    ],
    [2, "A page without figures. It still counts.", []],
]
TOY_CAPTIONS = {"10": "The Layers dialog", "11": "Blur menu", "12": "Pixelize result"}
TOY_QUESTIONS: list[dict[str, Any]] = [
    {
        "id": "toy-0",
        "question": "How do I see my layers?",
        "ground_truth": "Open the Layers dialog.<PIC>",
        "provenance": [0],
        "images_list": [10],
    },
    {
        "id": "toy-1",
        "question": "What blurs?",
        "ground_truth": "Gaussian blur.<PIC> Pixelize.<PIC>",
        "provenance": [1],
        "images_list": [11, 12],
        "section_title": "Blur",
    },
]


def make_png(path: Path, size: tuple[int, int] = (40, 30), color: str = "red") -> Path:
    """Write a small real PNG."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, color).save(path)
    return path


def make_corrupt(path: Path) -> Path:
    """Write a file named like an image that Pillow cannot read."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + b"not really a png" * 4)
    return path


def write_doc_lines(root: Path, subset: str, lines: list[str | bytes]) -> Path:
    """Write ``doc_<subset>.jsonl`` from raw lines (str lines are UTF-8 encoded)."""
    path = root / f"doc_{subset}.jsonl"
    data = b"".join((ln.encode() if isinstance(ln, str) else ln) + b"\n" for ln in lines)
    path.write_bytes(data)
    return path


def build_mramg(
    root: Path,
    subset: str = "toy",
    docs: list[list[Any]] | None = None,
    captions: dict[str, str] | None = None,
    questions: list[dict[str, Any]] | None = None,
    image_path_style: str = "bare",
) -> Path:
    """Write a small MRAMG-Bench subset: documents, questions, images and their collection.

    Args:
        root: Folder to write into.
        subset: Subset name.
        docs: ``[doc_id, content, images_list]`` records (default: :data:`TOY_DOCS`).
        captions: Image id -> caption (default: :data:`TOY_CAPTIONS`); one PNG per id.
        questions: Question records (default: :data:`TOY_QUESTIONS`).
        image_path_style: How ``image_path`` is written: ``"bare"`` (``10.png``, relative to
            ``IMAGE/images/<SUBSET>``), ``"images"`` (``<SUBSET>/10.png``, relative to
            ``IMAGE/images``) or ``"absolute"``.
    """
    docs = TOY_DOCS if docs is None else docs
    captions = TOY_CAPTIONS if captions is None else captions
    questions = TOY_QUESTIONS if questions is None else questions
    image_dir = root / "IMAGE" / "images" / subset.upper()
    collection = {}
    for k, (image_id, caption) in enumerate(captions.items()):
        path = make_png(
            image_dir / f"{image_id}.png", (40 + k, 30), ("red", "green", "blue")[k % 3]
        )
        rel = {
            "bare": path.name,
            "images": f"{subset.upper()}/{path.name}",
            "absolute": str(path),
        }[image_path_style]
        collection[image_id] = {"image_url": "", "image_path": rel, "image_caption": caption}
    info = root / "IMAGE" / "images_info"
    info.mkdir(parents=True, exist_ok=True)
    (info / f"{subset}_imgs_collection.json").write_text(json.dumps(collection), encoding="utf-8")
    write_doc_lines(root, subset, [json.dumps(d) for d in docs])
    (root / f"{subset}_mqa.jsonl").write_text(
        "".join(json.dumps(q) + "\n" for q in questions), encoding="utf-8"
    )
    return root


MARKDOWN_DOC = """\
---
title: Working with layers
---
# Layers

Layers stack images on top of each other. The dialog below shows them.

![Layers dialog screenshot](img/layers.png "The Layers dialog")

Each layer has a mode.

![Mode menu][modes]

<img src="img/raw.png" alt="Raw tag image" title="Raw tag title">

[Back to **top**](#top) ![prev](icons/prev.png)

[modes]: img/modes.png "Layer modes menu"
"""

HTML_DOC = """\
<html><head><title>Filters page</title><style>p {color: red}</style>
<script>var x = "<p>no</p>";</script></head>
<body>
<div class="navheader"><table><tr><td><a href="a.html"><img src="icons/prev.png" alt="Prev"></a>
</td><th>Filters</th><td><img src="icons/next.png" alt="Next"></td></tr></table></div>
<nav><img src="img/blur.png" alt="in nav"> Site menu</nav>
<h1>Blur filters</h1>
<p>Blur filters soften an image.
They reduce detail.</p>
<figure><img src="img/blur.png" alt="blurred photo"><figcaption>Gaussian blur result</figcaption>
</figure>
<p>DocBook pages wrap figures differently.</p>
<div class="figure"><a name="f1"></a><p class="title"><b>Figure 16.2. The Pixelize filter</b></p>
<div class="figure-contents"><div class="mediaobject"><img src="img/pixelize.png"
 alt="The Pixelize filter"></div></div></div>
<div class="mediaobject"><img src="img/mosaic.png" alt=""><div class="caption">
<p>Mosaic applied to a photo</p></div></div>
<div class="note"><table><tr><td><img src="icons/note.png" alt="[Note]"></td>
<th>Note</th></tr><tr><td>Icons are not content.</td></tr></table></div>
<p>Spacer <img src="img/spacer.png"> and <img src="img/deco.png" role="presentation"> end.</p>
<pre>code  line 1
    indented</pre>
<div class="navfooter"><img src="icons/home.png" alt="Home"></div>
</body></html>
"""


def build_folder(root: Path) -> Path:
    """Write a Markdown page, an HTML page and a text file with their images."""
    for name in ("layers", "raw", "modes", "blur", "pixelize", "mosaic", "deco"):
        make_png(root / "img" / f"{name}.png")
    make_png(root / "img" / "spacer.png", (10, 10))
    for name in ("prev", "next", "note", "home"):
        make_png(root / "icons" / f"{name}.png", (32, 32))
    (root / "guide").mkdir(parents=True, exist_ok=True)
    (root / "layers.md").write_text(MARKDOWN_DOC, encoding="utf-8")
    (root / "guide" / "filters.html").write_text(
        HTML_DOC.replace('src="img/', 'src="../img/').replace('src="icons/', 'src="../icons/'),
        encoding="utf-8",
    )
    (root / "notes.txt").write_text("Plain notes.\n\nSecond paragraph.\n", encoding="utf-8")
    return root
