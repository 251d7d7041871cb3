"""`workspace/executeCommand` `vetted.accepted`: the client inserted a suggestion.

https://microsoft.github.io/language-server-protocol/specifications/lsp/3.18/specification/#workspace_executeCommand

Inline items carry this command (LSP runs an item's command after inserting it), with the
item's verdicts and id as its argument. The server counts acceptances for its status and
its signals (`lsp_server.signals`).
"""

from __future__ import annotations

import logging
from typing import Any

from lsp_server.convert import ACCEPTED_COMMAND
from lsp_server.features.signals import field_of
from lsp_server.server import CompletionServer

logger = logging.getLogger(__name__)


def register(server: CompletionServer) -> None:
    """Register the command."""

    @server.command(ACCEPTED_COMMAND)
    def accepted(ls: CompletionServer, *arguments: Any) -> None:
        ls.accepted += 1
        ls.metrics.accepted.inc()
        item_id = field_of(arguments[0], "id") if arguments else None
        if item_id:
            ls.signals.accepted(str(item_id))
        if item_id and ls.settings.training.log_completions:
            ls.completion_log.accepted(ls.workspace.root_path or "", str(item_id))
        logger.info("suggestion accepted (%d so far)", ls.accepted)
