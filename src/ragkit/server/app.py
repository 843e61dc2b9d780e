"""The app factory: :func:`create_app` turns settings into the FastAPI app (the CLI only runs it).

Routes: ``/v1`` (OpenAI-compatible), ``/api`` (REST), ``/mcp`` (MCP over streamable HTTP), ``/healthz``,
``/readyz`` and the OpenAPI docs at ``/docs``. The lifespan owns what lives and dies with the process: the writer
thread for ingest jobs and the MCP session manager.

>>> import tempfile
>>> from ragkit.config import Settings
>>> app = create_app(Settings(data_dir=tempfile.mkdtemp(), embedder="fake:32"))
>>> [path for path in app.openapi()["paths"] if path.startswith("/v1")]
['/v1/models', '/v1/chat/completions', '/v1/chat/completions/{response_id}/feedback', '/v1/embeddings']
"""

from __future__ import annotations

import ipaddress
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio.to_thread

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from ragkit.config import Settings, load_settings
from ragkit.errors import ConfigError, RagkitError
from ragkit.server import openai_routes, rest
from ragkit.server.deps import resolve_key
from ragkit.server.errors import error_body, request_lang
from ragkit.server.jobs import Writer
from ragkit.server.mcp import build_mcp
from ragkit.server.service import Service

DESCRIPTION = """ragkit's knowledge bases over HTTP: an OpenAI-compatible API (`/v1`: one model per knowledge base,
answers with `[n]` citations), REST (`/api`: knowledge bases, uploads as ingest jobs, search, ask, conversations,
feedback, keys) and MCP (`/mcp`). Once an API key exists (`ragkit keys create`), every route but `/healthz`,
`/readyz` and these docs needs `Authorization: Bearer <key>`."""


def _secrets(settings: Settings) -> list[str]:
    values = (settings.openai_api_key, settings.zhipuai_api_key, settings.dashscope_api_key)
    return [v.get_secret_value() for v in values if v is not None]


def _loopback_host(host_header: str) -> bool:
    host = host_header.rsplit(":", 1)[0] if not host_header.endswith("]") else host_header
    host = host.strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class KeylessGuard:
    """While no key exists, only requests addressed to a loopback name (Host: 127.0.0.1, localhost, [::1]) are
    served: a web page cannot reach an open local server through DNS rebinding. ``allow_remote`` lifts it."""

    def __init__(self, app: ASGIApp, service: Service, allow_remote: bool) -> None:
        self.app, self.service, self.allow_remote = app, service, allow_remote

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not self.allow_remote and not scope["path"].startswith("/healthz"):
            host = dict(scope.get("headers") or []).get(b"host", b"").decode("latin-1")
            if host and not _loopback_host(host) and not self.service.keys().active():
                response = JSONResponse({"error": {"message": "this server has no API key and answers on loopback "
                                                   "only; create a key with: ragkit keys create",
                                                   "type": "permission_error", "code": "loopback_only",
                                                   "param": None}}, status_code=403)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


class McpAuth:
    """The MCP app behind the keys: read scope needed (the tools then check knowledge bases themselves)."""

    def __init__(self, app: ASGIApp, service: Service) -> None:
        self.app, self.service = app, service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers") or []}
            try:
                resolve_key(self.service, headers.get("authorization"))
            except RagkitError as exc:
                status, body = error_body(exc, request_lang(headers.get("accept-language"),
                                                            self.service.settings.lang))
                await JSONResponse(body, status_code=status)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def create_app(settings: Settings | None = None, *, allow_remote_without_keys: bool = False) -> FastAPI:
    """The server for ``settings`` (read from ragkit.toml / .env / RAGKIT_* when not given).

    ``uvicorn --factory ragkit.server:create_app`` calls it with no argument.
    """
    settings = settings or load_settings()
    service = Service(settings)
    writer = Writer(service, lang=settings.lang)
    mcp = build_mcp(service, lang=settings.lang)
    mcp_app = mcp.streamable_http_app(streamable_http_path="/mcp", stateless_http=True, json_response=True,
                                      host="0.0.0.0")  # Host checks: KeylessGuard, for every route

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # blocking work is CPU-bound (the models, BM25): a few threads keep each request's share of the GIL and the
        # cores, while more would only add per-thread handles and switching
        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.server_threads
        writer.start()
        async with mcp.session_manager.run():
            try:
                yield
            finally:
                writer.stop()

    app = FastAPI(title="ragkit", description=DESCRIPTION, version=_version(), lifespan=lifespan)
    app.state.service, app.state.writer, app.state.settings = service, writer, settings
    app.include_router(openai_routes.router)
    app.include_router(rest.router)
    app.router.routes.append(Route("/mcp", McpAuth(mcp_app, service), methods=["GET", "POST", "DELETE"],
                                   include_in_schema=False))

    @app.get("/healthz", tags=["health"], summary="The process is up")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"], summary="The data directory and the models can be used")
    def readyz() -> JSONResponse:
        try:
            kbs = service.knowledge_bases(None)
            service.embeddings.embed_query("ragkit")
        except Exception as exc:  # not ready: say why, in one line
            status, body = error_body(exc, settings.lang, _secrets(settings))
            return JSONResponse({"status": "not ready", **body}, status_code=503)
        return JSONResponse({"status": "ready", "knowledge_bases": len(kbs), "llm": settings.llm,
                             "embedder": settings.embedder})

    _error_handlers(app, settings)
    app.add_middleware(KeylessGuard, service=service, allow_remote=allow_remote_without_keys)
    return app


def _error_handlers(app: FastAPI, settings: Settings) -> None:
    secrets = _secrets(settings)

    def respond(request: Request, exc: BaseException) -> JSONResponse:
        status, body = error_body(exc, request_lang(request.headers.get("accept-language"), settings.lang), secrets)
        return JSONResponse(body, status_code=status)

    @app.exception_handler(RagkitError)
    async def ragkit_error(request: Request, exc: RagkitError) -> JSONResponse:
        return respond(request, exc)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = []
        for error in exc.errors()[:3]:
            where = ".".join(str(p) for p in error.get("loc", ()) if p != "body") or "body"
            problems.append(f"{where}: {error.get('msg')}")
        return respond(request, ConfigError.of("bad_request", detail="; ".join(problems)))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 404:
            from ragkit.server.service import NotFound

            return respond(request, NotFound.of("not_route", path=request.url.path))
        return JSONResponse({"error": {"message": str(exc.detail), "type": "invalid_request_error",
                                       "code": str(exc.status_code), "param": None}}, status_code=exc.status_code)

    @app.exception_handler(Exception)
    async def internal(request: Request, exc: Exception) -> JSONResponse:
        return respond(request, exc)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("ragkit")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0"

