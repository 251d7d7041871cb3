"""`vetted serve`: the language server over stdio (or TCP)."""

from __future__ import annotations

import argparse
import sys

SWITCH_INTERVAL_S = 0.0005


def serve(args: argparse.Namespace) -> None:
    """Run the language server until the client exits."""
    from codegen.loaded_model import CompletionService
    from lsp_server.config import RuntimeSettings, Settings
    from lsp_server.setup import create_server
    from validators import create_validators

    # The decode thread runs Python between its kernels; at the default 5 ms switch interval
    # the event loop could wait that long for the GIL on every message it handles.
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    settings = Settings(model=args.model, device=args.device or "auto", dtype=args.dtype or "auto",
                        runtime=RuntimeSettings(quantize=args.quantize or "auto"))
    service = CompletionService(validators=create_validators())
    server = create_server(settings, service, exclude=args.exclude)
    if args.tcp is not None:
        server.start_tcp("127.0.0.1", args.tcp)
    else:
        server.start_io()
