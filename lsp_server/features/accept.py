"""`workspace/executeCommand` `vetted.accepted`: the client inserted a suggestion.

https://microsoft.github.io/language-server-protocol/specifications/lsp/3.18/specification/#workspace_executeCommand

Inline items carry this command (LSP runs an item's command after inserting it), with the
item's verdicts as its argument. The server counts acceptances for its status.
"""

from __future__ import annotations

import logging
from typing import Any

from lsp_server.convert import ACCEPTED_COMMAND
from lsp_server.server import CompletionServer

logger = logging.getLogger(__name__)


def register(server: CompletionServer) -> None:
    """Register the command."""

    @server.command(ACCEPTED_COMMAND)
    def accepted(ls: CompletionServer, *arguments: Any) -> None:
        ls.accepted += 1
        logger.info("suggestion accepted (%d so far)", ls.accepted)
