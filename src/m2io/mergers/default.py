"""The default merger: sentences in order, each placed image right after its anchor sentence."""

from __future__ import annotations

from m2io.types import (
    Candidate,
    ImageSegment,
    MultimodalAnswer,
    Placement,
    Segment,
    TextAnswer,
    TextSegment,
)


class DefaultMerger:
    """Interleaves sentences and images into :class:`~m2io.types.MultimodalAnswer` segments.

    Slots naming an unknown image or a sentence index out of range are dropped and reported in
    the answer's notes, never silently.
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
        segments: list[Segment] = list(after.get(0, []))
        for i, s in enumerate(answer.sentences, 1):
            segments.append(TextSegment(s.text, i, s.source_chunk_id))
            segments.extend(after.get(i, []))
        return MultimodalAnswer(
            question=answer.question,
            segments=tuple(segments),
            candidates=candidates,
            usage=answer.usage + placement.usage,
            notes=(*answer.notes, *placement.notes, *notes),
            inserter_raw=placement.raw,
        )
