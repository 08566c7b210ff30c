"""The default merger: sentences in order, each placed image right after its anchor sentence.

It also numbers the answer's sources: every distinct (document, section) its sentences came from,
in the order the answer first uses them, so a renderer can cite ``[1]`` after a paragraph and list
the sources at the end.
"""

from __future__ import annotations

from m2io.types import (
    Candidate,
    ImageSegment,
    MultimodalAnswer,
    Placement,
    Segment,
    Sentence,
    Source,
    TextAnswer,
    TextSegment,
)


class DefaultMerger:
    """Interleaves sentences and images into :class:`~m2io.types.MultimodalAnswer` segments.

    Slots naming an unknown image or a sentence index out of range are dropped and reported in
    the answer's notes, never silently. Each text segment's ``source`` is the 1-based number of
    its sentence's source in ``MultimodalAnswer.sources`` (see :func:`number_sources`).
    """

    def merge(
        self, answer: TextAnswer, placement: Placement, candidates: tuple[Candidate, ...]
    ) -> MultimodalAnswer:
        by_id = {c.image_id: c for c in candidates}
        n = len(answer.sentences)
        after: dict[int, list[ImageSegment]] = {}
        notes: list[str] = []
        for slot in placement.slots:
            cand = by_id.get(slot.image_id)
            if cand is None:
                notes.append(f"merger: dropped unknown image {slot.image_id!r}")
                continue
            if not 0 <= slot.after_sentence <= n:
                notes.append(
                    f"merger: dropped image {slot.image_id!r} placed after sentence "
                    f"{slot.after_sentence} of {n}"
                )
                continue
            after.setdefault(slot.after_sentence, []).append(
                ImageSegment(
                    image_id=slot.image_id,
                    after_sentence=slot.after_sentence,
                    path=cand.image.path,
                    url=cand.image.url,
                    caption=cand.image.caption,
                )
            )
        sources, numbers = number_sources(answer.sentences)
        segments: list[Segment] = list(after.get(0, []))
        for i, (s, num) in enumerate(zip(answer.sentences, numbers, strict=True), 1):
            segments.append(TextSegment(s.text, i, s.source_chunk_id, source=num))
            segments.extend(after.get(i, []))
        return MultimodalAnswer(
            question=answer.question,
            segments=tuple(segments),
            candidates=candidates,
            usage=answer.usage + placement.usage,
            notes=(*answer.notes, *placement.notes, *notes),
            inserter_raw=placement.raw,
            sources=sources,
            continued=answer.continued,
        )


def number_sources(
    sentences: tuple[Sentence, ...],
) -> tuple[tuple[Source, ...], list[int | None]]:
    """The distinct sources of ``sentences`` in first-use order, and each sentence's number.

    Two sentences share a source when they come from the same section of the same document
    (``doc_id`` and ``section``); the first sentence's :class:`~m2io.types.Source` stands for it.
    A sentence with no source gets None.
    """
    order: dict[tuple[str, str], int] = {}
    sources: list[Source] = []
    numbers: list[int | None] = []
    for s in sentences:
        if s.source is None:
            numbers.append(None)
            continue
        key = (s.source.doc_id, s.source.section)
        if key not in order:
            sources.append(s.source)
            order[key] = len(sources)
        numbers.append(order[key])
    return tuple(sources), numbers
