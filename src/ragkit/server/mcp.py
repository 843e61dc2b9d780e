"""ragkit as an MCP server (the official ``mcp`` SDK): tools to search, ask, list documents and read a section.

The same tools serve ``ragkit mcp`` (stdio, for a desktop client on this machine) and ``/mcp`` on ``ragkit serve``
(streamable HTTP, behind the API keys: a key limited to some knowledge bases sees only those). They call the
same :class:`~ragkit.server.service.Service` methods as the REST routes.
"""

from __future__ import annotations

from typing import Any

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError

from ragkit.errors import RagkitError, localized
from ragkit.server.deps import resolve_key
from ragkit.server.keys import ApiKey
from ragkit.server.service import Service, document_json

INSTRUCTIONS = (
    "ragkit answers from the team's knowledge bases. Use `search` to find passages, `ask` for an answer with "
    "numbered citations [n], `list_documents` and `read_section` to read a whole section. 知识库问答：search 检索，"
    "ask 带引用回答。"
)


def build_mcp(service: Service, *, lang: str = "zh") -> MCPServer:
    """The MCP server over ``service``."""
    mcp = MCPServer("ragkit", instructions=INSTRUCTIONS, log_level="WARNING")

    def caller(ctx: Context | None) -> ApiKey | None:
        headers = ctx.headers if ctx is not None else None
        if headers is None:  # stdio: the local user
            return None
        return resolve_key(service, headers.get("authorization"))

    def kb_for(ctx: Context | None, kb: str | None) -> str:
        name = kb or service.settings.kb
        service.visible_kb(name, caller(ctx))
        return name

    def guarded(fn: Any) -> Any:
        try:
            return fn()
        except RagkitError as exc:  # one line for the model, in the server's language
            raise ToolError(localized(exc, lang)) from exc

    @mcp.tool(description="Hybrid search (BM25 + vectors) of a knowledge base: ranked passages with source, "
                          "heading and chunk id. 检索知识库。")
    def search(query: str, ctx: Context, kb: str | None = None, k: int = 5) -> dict[str, Any]:
        return guarded(lambda: service.search(kb_for(ctx, kb), query, k=max(1, min(k, 50))))

    @mcp.tool(description="Answer a question from a knowledge base with numbered citations [n] (source, heading, "
                          "quote); says so when the documents do not contain the answer. 带引用回答问题。")
    def ask(question: str, ctx: Context, kb: str | None = None, session_id: str | None = None) -> dict[str, Any]:
        return guarded(lambda: service.ask(kb_for(ctx, kb), question, session_id=session_id))

    @mcp.tool(description="The documents of a knowledge base with their chunk counts and titles. 列出文档。")
    def list_documents(ctx: Context, kb: str | None = None) -> dict[str, Any]:
        def run() -> dict[str, Any]:
            name = kb_for(ctx, kb)
            return {"kb": name, "documents": [document_json(r) for r in service.documents(name)]}
        return guarded(run)

    @mcp.tool(description="The full text of one section of a document (source as listed, heading path as in "
                          "search results, e.g. 'A > B'). 读取整节。")
    def read_section(source: str, heading: str, ctx: Context, kb: str | None = None) -> dict[str, Any]:
        return guarded(lambda: service.section(kb_for(ctx, kb), source, heading))

    @mcp.tool(description="The knowledge bases this connection may use. 可用的知识库。")
    def list_knowledge_bases(ctx: Context) -> dict[str, Any]:
        return guarded(lambda: {"knowledge_bases": service.knowledge_bases(caller(ctx))})

    return mcp
