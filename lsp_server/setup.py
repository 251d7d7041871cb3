"""Build a language server from its features: `create_server`.

`server.py` defines the server and its protocol; each module of `features/` registers the
handlers of one LSP method on it. This module is the one place that knows them all, so the
features import the server and never the other way round.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from codegen.loaded_model import CompletionService
from lsp_server.config import Settings
from lsp_server.features import (
    accept,
    code_action,
    completion,
    documents,
    explain,
    inline_completion,
    lifecycle,
    signals,
    status,
    test_generation,
)
from lsp_server.server import CompletionServer

Feature = Callable[[CompletionServer], None]
"""Registers one LSP method's handlers on the server."""


def default_features() -> list[tuple[str, Feature]]:
    """The features of a full server, in registration order."""
    return [
        ("lifecycle", lifecycle.register),
        ("documents", documents.register),
        ("inline_completion", inline_completion.register),
        ("completion", completion.register),
        ("status", status.register),
        ("explain", explain.register),
        ("accept", accept.register),
        ("signals", signals.register),
        ("code_action", code_action.register),
        ("test_generation", test_generation.register),
    ]


def create_server(
    settings: Settings | None = None,
    service: CompletionService | None = None,
    exclude: Sequence[str] = (),
) -> CompletionServer:
    """Build a server with every default feature except those named in `exclude`."""
    server = CompletionServer(service or CompletionService(), settings or Settings())
    features = default_features()
    unknown = set(exclude) - {name for name, _ in features}
    if unknown:
        raise ValueError(f"unknown feature(s) to exclude: {', '.join(sorted(unknown))}")
    for name, register in features:
        if name not in exclude:
            register(server)
    return server
