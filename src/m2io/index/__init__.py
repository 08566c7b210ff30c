"""Persistent embedded index of chunks and images: faiss vectors, BM25, JSONL metadata.

Example::

    from m2io.index import Index, NewDocument, add_documents, build_index

    build_index(documents, "my.index")
    index = Index.open("my.index")
    add_documents("my.index", [NewDocument("faq.md", text, {"shot.png": png_bytes})])

See docs/design.md, "The index".
"""

from m2io.index.build import BuildReport, build_index, update_index
from m2io.index.lock import IndexBusyError
from m2io.index.manifest import FORMAT_VERSION, IndexFormatError, IndexManifest, corpus_hash
from m2io.index.store import Index
from m2io.index.update import AddResult, NewDocument, add_documents

__all__ = [
    "FORMAT_VERSION",
    "AddResult",
    "BuildReport",
    "Index",
    "IndexBusyError",
    "IndexFormatError",
    "IndexManifest",
    "NewDocument",
    "add_documents",
    "build_index",
    "corpus_hash",
    "update_index",
]
