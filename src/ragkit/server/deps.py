"""Dependencies: the app's service and writer, the caller's key, scope and knowledge-base checks.

Once any key exists, every route that depends on :func:`require` needs ``Authorization: Bearer <key>``
(401 without or with a wrong one, 403 when the key's scope is too small). A knowledge base the key cannot see
is a 404, exactly like one that does not exist.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from ragkit.errors import RagkitError
from ragkit.server.jobs import Writer
from ragkit.server.keys import ApiKey, Scope
from ragkit.server.service import Forbidden, Service

bearer = HTTPBearer(auto_error=False, description="An API key made with `ragkit keys create` (once one exists).")


class Unauthorized(RagkitError):
    """No key, or a key that is not valid."""


def service(request: Request) -> Service:
    return request.app.state.service


def writer(request: Request) -> Writer:
    return request.app.state.writer


ServiceDep = Annotated[Service, Depends(service)]
WriterDep = Annotated[Writer, Depends(writer)]


def resolve_key(svc: Service, authorization: str | None) -> ApiKey | None:
    """The key of an ``Authorization`` header; None when no key exists at all (an open, loopback server)."""
    keys = svc.keys()
    if not keys.active():
        return None
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized.of("auth_missing")
    key = keys.verify(token.strip())
    if key is None:
        raise Unauthorized.of("auth_invalid")
    return key


def require(scope: Scope) -> Callable[..., Any]:
    """A dependency giving the caller's key (None on a server without keys), checked for ``scope``."""

    def check(svc: ServiceDep, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
              ) -> ApiKey | None:
        header = f"{credentials.scheme} {credentials.credentials}" if credentials else None
        key = resolve_key(svc, header)
        if key is not None and not key.allows(scope):
            raise Forbidden.of("auth_scope", have=key.scope, need=scope)
        return key

    return check


Reader = Annotated[ApiKey | None, Depends(require("read"))]
WriterKey = Annotated[ApiKey | None, Depends(require("write"))]
Admin = Annotated[ApiKey | None, Depends(require("admin"))]
