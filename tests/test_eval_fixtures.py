"""A small MRAMG-layout corpus for the evaluation tests, written into ``tmp_path`` at test time.

Eight short manual-style pages with two images each (tiny Pillow PNGs with captions), and one
question per page whose gold answer is the page text with its images where the page has them.
Other evaluation test modules import :func:`build_eval_corpus` from here.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from m2io.corpus import load_mramg, load_questions, write_mramg
from m2io.corpus.mramg import QAItem
from m2io.text import PIC
from m2io.types import Document, ImageAnchor, ImageRef

SUBSET = "toy"

# (topic, sentences before image A, caption A, sentences between, caption B, sentences after)
PAGES = [
    (
        "Crop Tool",
        "The Crop tool removes the edges of an image.",
        "Crop tool options",
        "Drag a rectangle over the part you want to keep.",
        "Cropped photo of a cat",
        "Press Enter to crop.",
    ),
    (
        "Layers Dialog",
        "The Layers dialog lists every layer of the image.",
        "Layers dialog window",
        "Click the eye icon to hide a layer.",
        "Hidden layer in the stack",
        "Drag layers to reorder them.",
    ),
    (
        "Gaussian Blur",
        "Gaussian blur softens an image evenly.",
        "Gaussian blur dialog",
        "A larger radius gives a stronger blur.",
        "Blurred photo of trees",
        "Preview the result before applying it.",
    ),
    (
        "Text Tool",
        "The Text tool writes text on a new layer.",
        "Text tool on the canvas",
        "Choose a font and a size in the tool options.",
        "Font selector menu",
        "Double-click the text to edit it later.",
    ),
    (
        "Color Picker",
        "The Color Picker reads the colour of a pixel.",
        "Color picker cursor",
        "The picked colour becomes the foreground colour.",
        "Foreground colour swatch",
        "Hold Shift to see the colour values.",
    ),
    (
        "Paths Tool",
        "The Paths tool draws Bezier curves.",
        "Bezier path with handles",
        "Drag a node handle to bend the curve.",
        "Curved path segment",
        "Stroke the path to draw it on a layer.",
    ),
    (
        "Levels",
        "Levels adjusts the brightness range of an image.",
        "Levels histogram dialog",
        "Move the black point slider to the right.",
        "Darker shadows after levels",
        "Use Auto to stretch the range.",
    ),
    (
        "Export",
        "Export saves the image in another file format.",
        "Export image dialog",
        "Pick PNG or JPEG from the file type list.",
        "File type list",
        "The original XCF file stays unchanged.",
    ),
]


def _png(path: Path, k: int) -> None:
    Image.new("RGB", (8, 8), ((37 * k) % 256, (91 * k) % 256, (53 * k) % 256)).save(path)


def build_eval_corpus(root: Path) -> Path:
    """Write the toy subset under ``root / "data"`` and return that folder."""
    src = root / "src-images"
    src.mkdir(parents=True, exist_ok=True)
    docs: list[Document] = []
    questions: list[QAItem] = []
    for i, (title, before, cap_a, between, cap_b, after) in enumerate(PAGES):
        images = []
        for j, cap in enumerate((cap_a, cap_b)):
            image_id = str(2 * i + j)
            path = src / f"{image_id}.png"
            _png(path, 2 * i + j + 1)
            images.append(ImageRef(image_id, str(path), None, cap))
        head = f"{title}\n\n{before}\n"
        mid = f"{between}\n"
        text = head + mid + after
        docs.append(
            Document(
                str(i),
                text,
                (ImageAnchor(images[0], len(head)), ImageAnchor(images[1], len(head) + len(mid))),
            )
        )
        questions.append(
            QAItem(
                f"toy-{i}",
                f"How do I use the {title}?",
                f"{before}\n{PIC}\n{between}\n{PIC}\n{after}",
                (str(i),),
                (str(2 * i), str(2 * i + 1)),
            )
        )
    return write_mramg(root / "data", SUBSET, docs, questions)


def test_eval_corpus_loads_back(tmp_path: Path) -> None:
    data = build_eval_corpus(tmp_path)
    corpus = load_mramg(data, SUBSET)
    questions = load_questions(data, SUBSET)
    assert len(corpus.documents) == len(PAGES) == len(questions)
    assert len(corpus.images) == 2 * len(PAGES)
    assert not corpus.warnings
