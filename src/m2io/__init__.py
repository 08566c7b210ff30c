"""m2io: multimodal retrieval-augmented multimodal generation (M2IO-R1).

Answers a question from documents holding text and images, and returns prose with the retrieved
images placed after the right sentences. Heavy backends (torch, faiss, an HTTP server) are imported
only when used, so ``import m2io`` stays fast.
"""

from m2io.types import (
    Candidate,
    Chunk,
    Document,
    ImageAnchor,
    ImageRef,
    ImageSegment,
    MultimodalAnswer,
    Placement,
    Retrieval,
    RetrievedChunk,
    Sentence,
    Slot,
    TextAnswer,
    TextSegment,
    Usage,
)

__version__ = "0.1.0"

__all__ = [
    "Candidate",
    "Chunk",
    "Document",
    "ImageAnchor",
    "ImageRef",
    "ImageSegment",
    "MultimodalAnswer",
    "Placement",
    "Retrieval",
    "RetrievedChunk",
    "Sentence",
    "Slot",
    "TextAnswer",
    "TextSegment",
    "Usage",
]
