"""``POST /v1/documents``: add Markdown/HTML documents and their images to the served index.

The upload is multipart, every file in the field ``files``: ``.md``/``.markdown``/``.html``/
``.htm`` files are documents (plain names), any other file is an image, named by its path as the
documents reference it (``files=@shot.png;filename=images/shot.png``). The documents are written
into the index folder by :func:`m2io.index.update.add_documents` (they survive a restart); then a
pipeline over the reopened index is swapped in, while answers already running finish on the old
one. One upload is written at a time. Before that, an upload passes the checks of
:mod:`m2io.serve.uploads` (pixels, duplicates, disk quota, CPU budget); the gate
(:mod:`m2io.serve.gate`) has already refused writes from other sites and from servers started
read-only.
"""

from __future__ import annotations

import logging
from pathlib import PurePosixPath
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, HTTPException, UploadFile

from m2io.index.lock import IndexBusyError
from m2io.index.manifest import IndexFormatError
from m2io.index.update import NewDocument, add_documents
from m2io.serve.deps import Service, ServiceDep, require_key
from m2io.serve.schemas import DocumentsOut, ErrorOut
from m2io.serve.state import generation, index_of, reopen_pipeline
from m2io.serve.uploads import (
    UploadRefused,
    check_budget,
    check_pixels,
    check_quota,
    new_documents,
)

log = logging.getLogger(__name__)

DOC_SUFFIXES = frozenset({".md", ".markdown", ".html", ".htm"})
MAX_FILES = 500
"""Most files in one upload."""
LOCK_WAIT_S = 60.0
"""How long an upload waits for the one before it to be written (then 503)."""

router = APIRouter(
    prefix="/v1",
    dependencies=[Depends(require_key)],
    responses={
        401: {"model": ErrorOut},
        409: {"model": ErrorOut},
        413: {"model": ErrorOut},
        422: {"model": ErrorOut},
        501: {"model": ErrorOut},
    },
)


def _bad(message: str) -> HTTPException:
    return HTTPException(status_code=422, detail=message)


def _image_name(name: str) -> str:
    """An image's upload name as a relative POSIX path, refused if it could climb out."""
    if not name or "\x00" in name or "\\" in name:
        raise _bad(f"bad file name {name!r}")
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or ":" in path.parts[0]:
        raise _bad(f"file name {name!r} must be a relative path without '..'")
    return str(path)


def split_upload(files: list[tuple[str, bytes]]) -> tuple[list[tuple[str, str]], dict[str, bytes]]:
    """(name, bytes) uploads → documents ``[(name, text)]`` and images ``{path: bytes}``.

    Raises:
        HTTPException: 422 for no document, a document name with a folder, a duplicate name or
            a name that could leave the corpus.
    """
    docs: list[tuple[str, str]] = []
    images: dict[str, bytes] = {}
    for name, data in files:
        name = name or ""
        if PurePosixPath(name).suffix.lower() in DOC_SUFFIXES:
            if not name or "/" in name or "\\" in name or name in {n for n, _ in docs}:
                raise _bad(f"document {name!r}: give a plain, unique file name (no folders)")
            docs.append((name, data.decode("utf-8", errors="replace")))
        else:
            key = _image_name(name)
            if key in images:
                raise _bad(f"image {name!r} is uploaded twice")
            images[key] = data
    if not docs:
        raise _bad("no document in the upload (.md, .markdown, .html or .htm files in 'files')")
    return docs, images


@router.post("/documents", response_model=DocumentsOut)
def add(
    files: Annotated[list[UploadFile], File(description="documents (.md/.html) and their images")],
    svc: ServiceDep,
) -> dict[str, Any]:
    """Add documents with their images to the index, without a rebuild."""
    state = svc.state
    if state.index_dir is None:
        raise HTTPException(
            status_code=501, detail="this server was started without an index folder"
        )
    if len(files) > MAX_FILES:
        raise _bad(f"at most {MAX_FILES} files per upload")
    with svc.uploads.take():  # a few uploads wait; more get 503 at once
        if not state.write_lock.acquire(timeout=LOCK_WAIT_S):
            raise HTTPException(
                status_code=503, detail="another upload is being written; try again soon"
            )
        try:  # read and checked one at a time too: one upload's memory and CPU budget
            texts, images = split_upload([(f.filename or "", f.file.read()) for f in files])
            raw = [(name, text.encode("utf-8", "replace")) for name, text in texts]
            limits = svc.upload_limits
            check_pixels(images, limits.max_pixels)
            check_budget(raw, images, limits.budget_s)
            return _write(svc, raw, images)
        except UploadRefused as err:
            raise HTTPException(status_code=err.status, detail=str(err)) from err
        finally:
            state.write_lock.release()


def _write(svc: Service, raw: list[tuple[str, bytes]], images: dict[str, bytes]) -> dict:
    """Add the documents not yet in the index (under the write lock)."""
    state = svc.state
    if state.index_dir is None:
        raise HTTPException(status_code=501, detail="this server was started without an index")
    kept, skipped = new_documents(raw, state.index_dir)
    if not kept:
        return {"doc_ids": [], "chunks": 0, "images": 0, "problems": skipped}
    incoming = sum(len(d) for _, d in kept) + sum(len(d) for d in images.values())
    check_quota(state.index_dir, incoming, svc.upload_limits.quota_bytes)
    docs = [NewDocument(name=n, text=d.decode("utf-8"), images=images) for n, d in kept]
    pipeline = state.snapshot.pipeline
    index = index_of(pipeline)
    if index is None:
        raise HTTPException(status_code=501, detail="the pipeline's retriever holds no index")
    image_embedder = vars(index).get("image_embedder")
    try:
        result = add_documents(
            state.index_dir, docs, text_embedder=index.embedder, image_embedder=image_embedder
        )
    except IndexBusyError as err:
        log.warning("upload refused: %s", err)
        raise HTTPException(
            status_code=409, detail="the index is being rebuilt; try later"
        ) from err
    except IndexFormatError as err:  # its message names files and library internals: log only
        log.error("upload failed, the index is damaged: %s", err)
        raise HTTPException(
            status_code=500, detail="the index is damaged; the server log has the details"
        ) from err
    except ValueError as err:
        raise _bad(str(err)) from err
    seen = generation(state.index_dir)
    state.swap(reopen_pipeline(pipeline, state.index_dir, state.corpus_root), seen)
    log.info("added %d documents (%d chunks)", len(result.doc_ids), result.chunks)
    return {
        "doc_ids": list(result.doc_ids),
        "chunks": result.chunks,
        "images": result.images,
        "problems": skipped + list(result.problems),
    }
