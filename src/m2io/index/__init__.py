"""Persistent embedded index of chunks and images: faiss vectors, BM25, JSONL metadata.

Example:
    >>> from m2io.index import Index, build_index
    >>> build_index(documents, "my.index")
    >>> index = Index.open("my.index")
"""

from m2io.index.build import build_index
from m2io.index.lock import IndexBusyError
from m2io.index.manifest import FORMAT_VERSION, IndexFormatError, IndexManifest, corpus_hash
from m2io.index.store import Index

__all__ = [
    "FORMAT_VERSION",
    "Index",
    "IndexBusyError",
    "IndexFormatError",
    "IndexManifest",
    "build_index",
    "corpus_hash",
]
