"""The image inserter's prompt (docs/design.md, "The spine": the inserter protocol).

One builder serves inference (:class:`~m2io.inserters.llm.LLMInserter`) and training data
(:mod:`m2io.training.data`), so a trained model sees at run time exactly the prompt it was trained
on. The user message holds the question, the answer as numbered sentences ``[1] …``, and the
candidates ``<img1>…<imgK>`` with caption and (when known) context; the model answers::

    <think>…</think><answer>{"<img2>": 1, "<img5>": 3}</answer>

With ``images`` the user content becomes a list of parts: the text, then for each candidate a
``"<imgK>:"`` label followed by ``{"type": "image", "image": PIL.Image}``. The local backend
passes those to a vision-language processor; the OpenAI backend turns them into data-URI
``image_url`` parts (:func:`to_openai_content`).

Example:
    >>> msgs = build_inserter_messages("How do I crop?", ["Open the tool.", "Drag a box."],
    ...                                [("Crop tool icon", "")])
    >>> print(msgs[1]["content"].splitlines()[3])
    [1] Open the tool.
"""

from __future__ import annotations

import base64
import io
import logging
from collections.abc import Sequence
from typing import Any

from PIL import Image

from m2io.llm.base import Message
from m2io.types import Candidate

log = logging.getLogger(__name__)

SYSTEM = (
    "You place images into a written answer. You get a question, the answer split into numbered "
    "sentences, and candidate images <img1>, <img2>, ... with their captions. Some candidates do "
    "not belong to the answer: leave them out. Put each useful image after the sentence it "
    "illustrates (0 = before the first sentence), each image at most once.\n"
    "Reply in exactly this format: first your brief reasoning in <think></think>, then a JSON "
    "object in <answer></answer> mapping each selected image to its sentence number, e.g.\n"
    '<think>img2 shows the dialog of sentence 1.</think><answer>{"<img2>": 1}</answer>\n'
    "Write <answer>{}</answer> to select no image."
)

MAX_SENTENCE_CHARS = 400
MAX_CAPTION_CHARS = 200
MAX_CONTEXT_CHARS = 300


def tag(k: int) -> str:
    """The protocol's name of the k-th candidate (1-based): ``<imgk>``."""
    return f"<img{k}>"


def candidate_tags(n: int) -> list[str]:
    """``["<img1>", …, "<imgn>"]`` — the candidate names the parser and the rewards expect."""
    return [tag(k) for k in range(1, n + 1)]


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def candidate_lines(
    candidates: Sequence[tuple[str, str]], *, with_context: bool = True
) -> list[str]:
    """``<imgK> caption: … | context: …`` lines for ``(caption, context)`` pairs."""
    lines = []
    for k, (caption, context) in enumerate(candidates, 1):
        line = f"{tag(k)} caption: {_clip(caption, MAX_CAPTION_CHARS) or '(none)'}"
        if with_context and context.strip():
            line += f" | context: {_clip(context, MAX_CONTEXT_CHARS)}"
        lines.append(line)
    return lines


def user_text(
    question: str,
    sentences: Sequence[str],
    candidates: Sequence[tuple[str, str]],
    *,
    with_context: bool = True,
) -> str:
    """The user message's text (see the module docstring)."""
    numbered = "\n".join(
        f"[{i}] {_clip(s, MAX_SENTENCE_CHARS)}" for i, s in enumerate(sentences, 1)
    )
    images = "\n".join(candidate_lines(candidates, with_context=with_context)) or "(none)"
    return (
        f"Question: {' '.join(question.split())}\n\n"
        f"Answer sentences:\n{numbered}\n\n"
        f"Candidate images:\n{images}\n\n"
        f"Sentences are numbered 1 to {len(sentences)}. Reply with <think>…</think>"
        "<answer>{…}</answer>."
    )


def build_inserter_messages(
    question: str,
    sentences: Sequence[str],
    candidates: Sequence[tuple[str, str]],
    *,
    with_context: bool = True,
    images: Sequence[Any | None] | None = None,
    system: str = SYSTEM,
) -> list[Message]:
    """Chat messages for one inserter call.

    Args:
        question: The user's question.
        sentences: The answer's sentences, in order (numbered from 1 in the prompt).
        candidates: ``(caption, context)`` per candidate, in ``<imgK>`` order.
        with_context: Show each candidate's source context next to its caption.
        images: Optional PIL images, one per candidate (None where unavailable); when given,
            the user content is a list of text and image parts.
        system: The system message.
    """
    text = user_text(question, sentences, candidates, with_context=with_context)
    content: str | list[dict[str, Any]] = text
    if images is not None:
        if len(images) != len(candidates):
            raise ValueError(f"{len(images)} images for {len(candidates)} candidates")
        parts: list[dict[str, Any]] = [{"type": "text", "text": text}]
        for k, image in enumerate(images, 1):
            if image is not None:
                parts.append({"type": "text", "text": f"{tag(k)}:"})
                parts.append({"type": "image", "image": image})
        content = parts
    return [{"role": "system", "content": system}, {"role": "user", "content": content}]


def candidate_pairs(candidates: Sequence[Candidate]) -> list[tuple[str, str]]:
    """``(caption, context)`` of each :class:`~m2io.types.Candidate`."""
    return [(c.image.caption, c.context) for c in candidates]


def load_images(candidates: Sequence[Candidate], *, max_side: int = 768) -> list[Any | None]:
    """Each candidate's pixels as an RGB PIL image, shrunk to ``max_side``; None if unreadable.

    Only local files are read (``ImageRef.path``); a URL-only image gets None.
    """
    out: list[Any | None] = []
    for c in candidates:
        if not c.image.path:
            out.append(None)
            continue
        try:
            with Image.open(c.image.path) as im:
                im = im.convert("RGB")
                im.thumbnail((max_side, max_side))
                out.append(im.copy())
        except (OSError, ValueError) as err:
            log.warning(
                "cannot read image %s (%s); the model sees its caption only", c.image_id, err
            )
            out.append(None)
    return out


def data_uri(image: Any) -> str:
    """A PIL image as a ``data:image/png;base64,…`` URI (what OpenAI-style APIs accept)."""
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def to_openai_content(messages: list[dict[str, Any]]) -> list[Message]:
    """Messages with ``{"type": "image", "image": PIL}`` parts turned into ``image_url`` parts."""
    out = []
    for m in messages:
        content = m["content"]
        if isinstance(content, list):
            content = [
                {"type": "image_url", "image_url": {"url": data_uri(p["image"])}}
                if p.get("type") == "image"
                else p
                for p in content
            ]
        out.append({**m, "content": content})
    return out


def think_for(mapping: dict[str, int], captions: dict[str, str]) -> str:
    """A short reasoning line for an SFT target: which image illustrates which sentence."""
    if not mapping:
        return "None of the images illustrates the answer."
    parts = [
        f"{name} ({_clip(captions.get(name, ''), 60) or 'no caption'}) fits sentence {s}"
        for name, s in mapping.items()
    ]
    return "; ".join(parts) + "."
