"""ragkit's REST routes under ``/api``: knowledge bases, documents and ingest jobs, search, ask, conversations,
feedback and keys. Each handler is a few lines over :class:`~ragkit.server.service.Service` and the writer.

Scopes: read = search, ask, conversations, feedback; write = upload and delete documents; admin = knowledge
bases and keys.
"""

from __future__ import annotations

import asyncio
import re
import unicodedata
from concurrent.futures import Future
from typing import Annotated, Any

from fastapi import APIRouter, File, Request, UploadFile
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from ragkit.errors import LoadError
from ragkit.feedback import export_questions
from ragkit.ingest import Failure, delete_source
from ragkit.server.deps import Admin, Reader, ServiceDep, WriterDep, WriterKey
from ragkit.server.errors import BadUpload, PayloadTooLarge
from ragkit.server.keys import ApiKey
from ragkit.server.schemas import AskRequest, CreateKey, CreateKnowledgeBase, FeedbackRequest, SearchRequest
from ragkit.server.service import Conflict, NotFound, Service, document_json, session_json

router = APIRouter(prefix="/api")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


# knowledge bases
@router.get("/kbs", tags=["knowledge bases"], summary="Knowledge bases this key can see")
def list_kbs(svc: ServiceDep, key: Reader) -> dict[str, Any]:
    return {"knowledge_bases": [svc.kb_info(name) for name in svc.knowledge_bases(key)]}


def valid_kb_name(name: str) -> str:
    name = name.strip()
    if not name or "/" in name or _CONTROL.search(name) or name in (".", ".."):
        raise BadUpload.of("kb_name_bad", kb=name)
    return name


@router.post("/kbs", status_code=201, tags=["knowledge bases"], summary="Create an empty knowledge base (admin)")
async def create_kb(body: CreateKnowledgeBase, svc: ServiceDep, writer: WriterDep, key: Admin) -> dict[str, Any]:
    name = valid_kb_name(body.name)
    if name in svc.knowledge_bases(None):
        raise Conflict.of("kb_exists", kb=name)
    await _wait(writer.call(lambda: svc.kb(name).store(create=True)))
    svc.changed()
    return svc.kb_info(name)


@router.delete("/kbs/{kb}", tags=["knowledge bases"], summary="Delete a knowledge base and all its documents (admin)")
async def delete_kb(kb: str, svc: ServiceDep, writer: WriterDep, key: Admin) -> dict[str, Any]:
    svc.visible_kb(kb, key)
    await _wait(writer.call(lambda: svc.kb(kb).drop()))
    svc.changed()
    return {"deleted": kb}


async def _wait(future: Future[Any]) -> Any:
    """The result of a write the writer thread runs, without blocking the event loop."""
    return await asyncio.wrap_future(future)


# documents and jobs
@router.get("/kbs/{kb}/documents", tags=["documents"], summary="Documents with their chunk counts")
def list_documents(kb: str, svc: ServiceDep, key: Reader) -> dict[str, Any]:
    svc.visible_kb(kb, key)
    return {"kb": kb, "documents": [document_json(r) for r in svc.documents(kb)]}


def plain_name(name: str | None) -> bool:
    """Whether an upload's name is a plain file name (no path, no .., no backslash, no control character).

    >>> [plain_name(n) for n in ("说明.md", "../x.md", "/etc/passwd", "a\\\\b.md", "a\\x00.md", "docs/x.md", "..")]
    [True, False, False, False, False, False, False]
    """
    if not name or not name.strip():
        return False
    for form in (name, unicodedata.normalize("NFKC", name)):  # a full-width ／ or ＼ becomes / or \\
        if _CONTROL.search(form) or "/" in form or "\\" in form or not form.strip(". "):
            return False
    return True


@router.post("/kbs/{kb}/documents", status_code=202, tags=["documents"],
             summary="Upload one or more files (multipart field `files`): an ingest job")
async def upload(kb: str, request: Request, svc: ServiceDep, writer: WriterDep, key: WriterKey,
                 files: Annotated[list[UploadFile], File(description="Files to ingest.")]) -> dict[str, Any]:
    svc.visible_kb(kb, key)
    limit = svc.settings.max_file_mb
    if not files:
        raise BadUpload.of("upload_none")
    too_large = [f for f in files if (f.size or 0) > limit * 1_000_000]
    if too_large:
        f = too_large[0]
        raise PayloadTooLarge.of("upload_too_large", name=f.filename, size=round((f.size or 0) / 1e6, 1),
                                 limit=f"{limit:g}")
    refused = [Failure(str(f.filename), LoadError.of("upload_name", name=f.filename))
               for f in files if not plain_name(f.filename)]
    accepted = [(str(f.filename), await f.read()) for f in files if plain_name(f.filename)]
    if not accepted:
        raise BadUpload.of("upload_all_refused", names=", ".join(repr(f.source) for f in refused))
    job = writer.submit_ingest(kb, accepted, refused)
    return {"job": job.as_json(), "status_url": str(request.url_for("get_job", job_id=job.id))}


@router.get("/jobs/{job_id}", tags=["documents"], summary="An ingest job: status, progress, per-file errors")
def get_job(job_id: str, svc: ServiceDep, writer: WriterDep, key: Reader) -> dict[str, Any]:
    job = writer.jobs().get(job_id)
    if job is None or (key is not None and not key.can_see(job.kb)):
        raise NotFound.of("job_not_found", id=job_id)
    return job.as_json()


@router.get("/jobs", tags=["documents"], summary="Recent jobs of the knowledge bases this key can see")
def list_jobs(svc: ServiceDep, writer: WriterDep, key: Reader) -> dict[str, Any]:
    return {"jobs": [j.as_json() for j in writer.jobs().list(svc.knowledge_bases(key))]}


@router.delete("/kbs/{kb}/documents/{source:path}", tags=["documents"], summary="Delete a document")
async def delete_document(kb: str, source: str, svc: ServiceDep, writer: WriterDep, key: WriterKey) -> dict[str, Any]:
    svc.visible_kb(kb, key)
    chunks = await _wait(writer.call(lambda: delete_source(svc.kb(kb), source)))
    return {"deleted": source, "chunks": chunks}


# search and answers
@router.post("/kbs/{kb}/search", tags=["search and answers"], summary="Hybrid search (ragkit search --json)")
async def search(kb: str, body: SearchRequest, svc: ServiceDep, key: Reader) -> dict[str, Any]:
    svc.visible_kb(kb, key)
    return await run_in_threadpool(svc.search, kb, body.query, k=body.k, mode=body.mode, sources=body.sources)


@router.post("/kbs/{kb}/ask", tags=["search and answers"], summary="One answer with citations (ragkit ask --json)")
async def ask(kb: str, body: AskRequest, svc: ServiceDep, key: Reader) -> dict[str, Any]:
    svc.visible_kb(kb, key)
    if body.session_id:
        _own_session(svc, key, body.session_id, kb)
    return await run_in_threadpool(svc.ask, kb, body.question, session_id=body.session_id)


def _own_session(svc: Service, key: ApiKey | None, session_id: str, kb: str) -> None:
    """A session that exists must belong to a knowledge base the key can see."""
    found = next((s for s in svc.sessions(svc.knowledge_bases(None) + [""]) if s.id == session_id), None)
    if found is not None and (found.kb != kb or (key is not None and not key.can_see(found.kb))):
        raise NotFound.of("session_not_found", id=session_id)


# conversations
@router.get("/sessions", tags=["conversations"], summary="Stored conversations, most recent first")
def list_sessions(svc: ServiceDep, key: Reader) -> dict[str, Any]:
    return {"sessions": [session_json(s) for s in svc.sessions(_session_kbs(svc, key))]}


def _session_kbs(svc: Service, key: ApiKey | None) -> list[str]:
    kbs = svc.knowledge_bases(key)
    return kbs + [""] if key is None or not key.kbs else kbs  # "": plain-chat conversations


@router.get("/sessions/{session_id}", tags=["conversations"], summary="A conversation's messages with citations")
def session_messages(session_id: str, svc: ServiceDep, key: Reader) -> dict[str, Any]:
    found = svc.session(session_id, _session_kbs(svc, key))
    return {**session_json(found), "messages": svc.messages(session_id)}


@router.delete("/sessions/{session_id}", tags=["conversations"], summary="Delete a conversation")
def delete_session(session_id: str, svc: ServiceDep, key: Reader) -> dict[str, Any]:
    svc.session(session_id, _session_kbs(svc, key))
    svc.delete_session(session_id)
    return {"deleted": session_id}


# feedback
def rate(svc: Service, key: ApiKey | None, response_id: str, rating: object, comment: str) -> dict[str, Any]:
    given = svc.feedback().response(response_id)
    if given is None or (key is not None and given["kb"] and not key.can_see(given["kb"])):
        raise NotFound.of("feedback_unknown", id=response_id)
    return svc.feedback().rate_response(response_id, rating=rating, comment=comment).as_json()


@router.post("/feedback", tags=["feedback"], summary="Rate an answer: 👍 (1) or 👎 (-1), with a comment")
def post_feedback(body: FeedbackRequest, svc: ServiceDep, key: Reader) -> dict[str, Any]:
    return rate(svc, key, body.response_id, body.rating, body.comment)


@router.get("/feedback", tags=["feedback"], summary="Rated answers as ragkit eval questions (admin)")
def list_feedback(svc: ServiceDep, key: Admin) -> dict[str, Any]:
    return {"questions": export_questions(svc.feedback().rated())}


# keys
@router.get("/keys", tags=["keys"], summary="API keys (never the keys themselves) (admin)")
def list_keys(svc: ServiceDep, key: Admin) -> dict[str, Any]:
    return {"keys": [k.as_json() for k in svc.keys().list()]}


@router.post("/keys", status_code=201, tags=["keys"], summary="Create a key; the response shows it once (admin)")
def create_key(body: CreateKey, svc: ServiceDep, key: Admin) -> JSONResponse:
    token, made = svc.keys().create(body.name, scope=body.scope, kbs=body.kbs)
    return JSONResponse({"key": token, **made.as_json()}, status_code=201, headers={"Cache-Control": "no-store"})


@router.delete("/keys/{key_id}", tags=["keys"], summary="Revoke a key (admin)")
def revoke_key(key_id: str, svc: ServiceDep, key: Admin) -> dict[str, Any]:
    revoked = svc.keys().revoke(key_id)
    if not revoked:
        raise NotFound.of("key_none", key=key_id)
    return {"revoked": [k.as_json() for k in revoked]}
