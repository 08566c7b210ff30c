"""``m2io ask`` on a terminal: the answer's text printed as the model writes it.

When standard output is a terminal (not ``--json``) and the pipeline's generator streams (an
LLM generator on an OpenAI-compatible endpoint), the text goes out token by token; the placed
images, the numbered sources and the notes follow once the inserter has run. If the model
failed midway and the generator fell back, a rule and the whole answer follow instead. Piped
output is unchanged: the finished Markdown, once.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, TextIO

from m2io.llm.notes import FELL_BACK, note_stage
from m2io.mergers.render import empty_message, to_markdown
from m2io.pipeline import Pipeline
from m2io.types import MultimodalAnswer


def can_stream(pipeline: Any, out: TextIO) -> bool:
    """Whether ``m2io ask`` streams: a terminal and a staged pipeline whose generator streams."""
    isatty = getattr(out, "isatty", None)
    return (
        callable(isatty)
        and bool(isatty())
        and isinstance(pipeline, Pipeline)
        and hasattr(pipeline.generator, "generate_streaming")
    )


def ask_streaming(
    pipeline: Pipeline, question: str, out: TextIO, *, allow_remote_images: bool = False
) -> MultimodalAnswer:
    """Answer ``question``, printing the text to ``out`` as it comes, then the rest."""
    streamed = [False]

    def show(text: str) -> None:
        streamed[0] = True
        out.write(text)
        out.flush()

    made = {step.stage: step.value for step in pipeline.walk(question, on_text=show)}
    text, answer = made["generate"], made["merge"]
    fell_back = any(note_stage(n) == "generate" and FELL_BACK in n for n in text.notes)
    if not streamed[0]:
        out.write(to_markdown(answer, allow_remote_images=allow_remote_images))
    elif fell_back:
        out.write("\n\n---\n\n" + to_markdown(answer, allow_remote_images=allow_remote_images))
    else:
        rest = replace(answer, segments=answer.images)
        md = to_markdown(rest, allow_remote_images=allow_remote_images)
        empty = empty_message(rest)
        out.write(
            "\n\n" + (md[len(empty) :].lstrip("\n") if empty and md.startswith(empty) else md)
        )
    out.flush()
    return answer
