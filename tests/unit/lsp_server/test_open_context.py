"""Which open documents a completion's prompt shows: the current language's family only."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from pygls.workspace import TextDocument

from lsp_server.run_completion import document_language, named_path, open_context
from prompts.languages import PLAIN, language_for

ROOT = "/work/shop"

OPEN = {  # uri -> languageId ("" : the editor sent none)
    f"file://{ROOT}/web/app.ts": "typescript",
    f"file://{ROOT}/web/view.tsx": "typescriptreact",
    f"file://{ROOT}/web/old.jsx": "javascriptreact",
    f"file://{ROOT}/web/util.mjs": "",
    f"file://{ROOT}/tools/build.py": "python",
    f"file://{ROOT}/tools/notes.txt": "plaintext",
    f"file://{ROOT}/native/vec.h": "",
    f"file://{ROOT}/native/main.cpp": "cpp",
    f"file://{ROOT}/server/main.go": "go",
}


def server() -> Any:
    documents = {uri: TextDocument(uri, f"// {uri}\n", language_id=language or None)
                 for uri, language in OPEN.items()}
    return SimpleNamespace(
        workspace=SimpleNamespace(text_documents=documents, root_path=ROOT),
        recent_documents=dict.fromkeys(OPEN),
    )


@pytest.mark.parametrize(
    ("current", "language_id", "expected"),
    [
        # TypeScript sees TSX, JSX (javascriptreact is JavaScript) and a .mjs without an id
        ("web/app.ts", "typescript", ["web/view.tsx", "web/old.jsx", "web/util.mjs"]),
        # JavaScript sees TypeScript: they import each other
        ("web/util.mjs", "", ["web/app.ts", "web/view.tsx", "web/old.jsx"]),
        # C++ sees a header whose extension says C
        ("native/main.cpp", "cpp", ["native/vec.h"]),
        # Python sees no TypeScript, and a Python document without an id is still Python
        ("tools/new.py", "", ["tools/build.py"]),
        # Go alone
        ("server/other.go", "go", ["server/main.go"]),
        # a language we do not know shares with nothing, not even plain text
        ("tools/todo.txt", "plaintext", []),
    ],
)
def test_open_documents_of_the_same_family_are_the_context(
    current: str, language_id: str, expected: list[str]
) -> None:
    uri = f"file://{ROOT}/{current}"
    found = open_context(server(), uri, document_language(language_id, uri))
    assert [f.path for f in found] == expected


def test_a_document_without_a_language_id_is_known_by_its_extension() -> None:
    assert document_language(None, "file:///x/app.tsx").id == "typescriptreact"
    assert document_language("", "untitled:Untitled-1") is PLAIN
    assert document_language("javascriptreact", "untitled:Untitled-1").id == "javascript"


@pytest.mark.parametrize(
    ("path", "language_id", "named"),
    [
        ("Untitled-1", "typescript", "Untitled-1.ts"),  # an untitled TS buffer reads as TS
        ("Untitled-1", "python", "Untitled-1.py"),  # and a Python one keeps the bare format
        ("Untitled-1", "plaintext", "Untitled-1"),  # nothing to add
        ("src/app.ts", "typescriptreact", "src/app.ts"),  # a real extension stays
        ("Makefile.d/x", "shellscript", "Makefile.d/x.sh"),  # a dot in a folder is no extension
    ],
)
def test_an_untitled_document_is_named_with_its_language_extension(
    path: str, language_id: str, named: str
) -> None:
    assert named_path(path, language_for(language_id, path)) == named
