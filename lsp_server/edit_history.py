"""The server's recent edits: one `EditRecorder` per server, and the section a prompt gets.

`features/documents.py` tells the recorder every version of every open document;
`run_completion.complete_at` asks `recent_edits` for the section nearest the current file.
The recorder is the server's `edits`; the section is only made with `recentEdits` on.
"""

from __future__ import annotations

from codegen.types import ContextFile
from lsp_server.server import CompletionServer
from prompts.index import family
from prompts.languages import PLAIN, Language
from prompts.recent_edits import RECENT_EDITS_PATH, EditRecorder, budget_chars, render_edits


def recorder_of(ls: CompletionServer) -> EditRecorder:
    """The server's recorder of document versions."""
    return ls.edits


def group_of(language: Language) -> str:
    """Whose edits a document's prompt shows: its language family's ("" for none)."""
    return "" if language is PLAIN else family(language)


def recent_edits(
    ls: CompletionServer, uri: str, line: int, language: Language
) -> tuple[ContextFile, ...]:
    """The recent edits of documents of `language`'s family, as one diff section (or none).

    `line` is the cursor's (0-based): the edit being typed there is left out.
    """
    group = group_of(language)
    if not group or not ls.settings.recent_edits:
        return ()
    hunks = recorder_of(ls).hunks(group, exclude=(uri, line))
    text = render_edits(hunks, budget_chars(ls.settings.max_prompt_tokens))
    return (ContextFile(RECENT_EDITS_PATH, text),) if text else ()
