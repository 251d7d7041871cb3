"""`vetted/explain` (custom request): everything about the last finished request.

What a user asks when a suggestion surprised them, or none came: the prompt the model read
(only with `observability.logPrompts`; it holds their code), the tokens per prompt section,
the other files that went into it, the time per stage, and every candidate with its
verdicts and why it was dropped. `vetted explain` on the command line asks the same of a
running server (through its observability port).
"""

from __future__ import annotations

from typing import Any

from lsp_server.observability import explain
from lsp_server.server import CompletionServer

EXPLAIN = "vetted/explain"


def register(server: CompletionServer) -> None:
    """Register the custom request."""

    @server.feature(EXPLAIN)
    def explain_last(ls: CompletionServer, params: Any) -> dict[str, Any]:
        return explain(ls.service.last_result, ls.settings.observability.log_prompts)
