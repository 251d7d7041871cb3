"""`textDocument/didOpen`, `didChange`, `didClose`: which open documents were used last.

https://microsoft.github.io/language-server-protocol/specifications/lsp/3.17/specification/#textDocument_synchronization

pygls keeps the text (incremental sync); this feature keeps the order in which documents
were opened or edited, so the prompt can show the most recently used ones to the model as
repository context, nearest to the current file, hands edits to the workspace index, and
tells every version to the recorder of recent edits (`lsp_server.edit_history`).
"""

from __future__ import annotations

from lsprotocol import types

from lsp_server.edit_history import group_of, recorder_of
from lsp_server.run_completion import document_language, relative_path
from lsp_server.server import CompletionServer
from prompts.index import MAX_FILE_BYTES


def register(server: CompletionServer) -> None:
    """Register the synchronization handlers."""

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: CompletionServer, params: types.DidOpenTextDocumentParams) -> None:
        item = params.text_document
        ls.touch_document(item.uri)
        group = group_of(document_language(item.language_id, item.uri))
        recorder_of(ls).opened(item.uri, relative_path(ls, item.uri), item.text, group)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: CompletionServer, params: types.DidChangeTextDocumentParams) -> None:
        uri = params.text_document.uri
        ls.touch_document(uri)
        document = ls.workspace.get_text_document(uri)
        recorder_of(ls).changed(uri, document.source)
        ls.signals.changed(uri, document.source)
        # The index outlines what its extension tells (`prompts.index.indexable`); a file
        # larger than it indexes is not even handed over, each keystroke would copy it.
        if len(document.source) <= MAX_FILE_BYTES:
            ls.workspace_index.edited(relative_path(ls, uri), document.source)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: CompletionServer, params: types.DidCloseTextDocumentParams) -> None:
        ls.recent_documents.pop(params.text_document.uri, None)
        recorder_of(ls).closed(params.text_document.uri)
        ls.signals.closed(params.text_document.uri)
