"""`textDocument/didOpen`, `didChange`, `didClose`: which open documents were used last.

https://microsoft.github.io/language-server-protocol/specifications/lsp/3.17/specification/#textDocument_synchronization

pygls keeps the text (incremental sync); this feature keeps the order in which documents
were opened or edited, so the prompt can show the most recently used ones to the model as
repository context, nearest to the current file, and hands edits to the workspace index.
"""

from __future__ import annotations

from lsprotocol import types

from lsp_server.run_completion import relative_path
from lsp_server.server import CompletionServer
from prompts.index import MAX_FILE_BYTES


def register(server: CompletionServer) -> None:
    """Register the synchronization handlers."""

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: CompletionServer, params: types.DidOpenTextDocumentParams) -> None:
        ls.touch_document(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: CompletionServer, params: types.DidChangeTextDocumentParams) -> None:
        uri = params.text_document.uri
        ls.touch_document(uri)
        document = ls.workspace.get_text_document(uri)
        ls.signals.changed(uri, document.source)
        # The index outlines what its extension tells (`prompts.index.indexable`); a file
        # larger than it indexes is not even handed over, each keystroke would copy it.
        if len(document.source) <= MAX_FILE_BYTES:
            ls.workspace_index.edited(relative_path(ls, uri), document.source)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: CompletionServer, params: types.DidCloseTextDocumentParams) -> None:
        ls.recent_documents.pop(params.text_document.uri, None)
        ls.signals.closed(params.text_document.uri)
