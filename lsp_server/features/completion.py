"""`textDocument/completion`: the same vetted candidates in the completion menu.

https://microsoft.github.io/language-server-protocol/specifications/lsp/3.17/specification/#textDocument_completion

For clients without inline completion: each candidate is a menu item whose edit inserts it.
"""

from __future__ import annotations

from lsprotocol import types

from lsp_server.convert import to_lsp_completion_item
from lsp_server.run_completion import complete_at
from lsp_server.server import CompletionServer


def register(server: CompletionServer) -> None:
    """Register the handler."""

    @server.feature(types.TEXT_DOCUMENT_COMPLETION, types.CompletionOptions())
    async def completion(
        ls: CompletionServer, params: types.CompletionParams
    ) -> types.CompletionList:
        context = params.context
        invoked = context is None or context.trigger_kind == types.CompletionTriggerKind.Invoked
        found = await complete_at(
            ls, params.text_document.uri, params.position, "invoked" if invoked else "automatic"
        )
        if found is None:
            return types.CompletionList(is_incomplete=True, items=[])
        items = [to_lsp_completion_item(found.document, c, found.offset, i)
                 for i, c in enumerate(found.result.items)]
        return types.CompletionList(is_incomplete=True, items=items)
