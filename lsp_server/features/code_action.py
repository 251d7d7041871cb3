"""`textDocument/codeAction`: "Generate unit tests for <function>" where the cursor is in one.

https://microsoft.github.io/language-server-protocol/specifications/lsp/3.18/specification/#textDocument_codeAction

The action is offered only inside a function (its `def` line, decorators and body); it
runs `vetted.generateTests` (`features/test_generation.py`) for that function.
"""

from __future__ import annotations

from lsprotocol import types

from lsp_server.convert import GENERATE_TESTS, from_lsp_position
from lsp_server.documents import document_of
from lsp_server.server import CompletionServer
from prompts.context import find_function

KIND = types.CodeActionKind.Source


def register(server: CompletionServer) -> None:
    """Register the handler; the options name the one kind of action it offers."""

    @server.feature(
        types.TEXT_DOCUMENT_CODE_ACTION, types.CodeActionOptions(code_action_kinds=[KIND])
    )
    def code_action(ls: CompletionServer, params: types.CodeActionParams) -> list[types.CodeAction]:
        document = document_of(ls.workspace, params.text_document.uri)
        found = find_function(document.source, from_lsp_position(document, params.range.start))
        if found is None:
            return []
        title = f"Generate unit tests for {found.qualname}"
        command = types.Command(
            title=title, command=GENERATE_TESTS,
            arguments=[params.text_document.uri, params.range.start],
        )
        return [types.CodeAction(title=title, kind=KIND, command=command)]
