"""`textDocument/inlineCompletion` (LSP 3.18): ghost text at the cursor.

https://microsoft.github.io/language-server-protocol/specifications/lsp/3.18/specification/#textDocument_inlineCompletion

The user sees the best vetted candidate as ghost text (others as alternatives); nothing
when every candidate was discarded or the model is still loading.
"""

from __future__ import annotations

from lsprotocol import types

from lsp_server.convert import to_lsp_inline_item
from lsp_server.run_completion import complete_at
from lsp_server.server import CompletionServer


def register(server: CompletionServer) -> None:
    """Register the handler; the options object makes pygls advertise the capability."""

    @server.feature(types.TEXT_DOCUMENT_INLINE_COMPLETION, types.InlineCompletionOptions())
    async def inline_completion(
        ls: CompletionServer, params: types.InlineCompletionParams
    ) -> types.InlineCompletionList:
        invoked = params.context.trigger_kind == types.InlineCompletionTriggerKind.Invoked
        found = await complete_at(
            ls, params.text_document.uri, params.position, "invoked" if invoked else "automatic"
        )
        if found is None:
            return types.InlineCompletionList(items=[])
        result = found.result
        ids = ls.log_shown(result)
        ls.issue(params.text_document.uri, result, ids, found.seconds)
        return types.InlineCompletionList(
            items=[to_lsp_inline_item(found.document, c, found.offset, i) for c, i in zip(
                result.items, ids, strict=True)]
        )
