"""`vetted/status` (custom request): what the server is doing.

The user (or a test) sees the model, its loading state, any load error, how many
generations are running right now, and a summary of the last finished request (prompt
tokens per section, the other files shown to the model, stage timings, what was shown).
"""

from __future__ import annotations

from typing import Any

from codegen.types import CompletionResult
from lsp_server.config import to_wire
from lsp_server.server import CompletionServer

STATUS = "vetted/status"


def register(server: CompletionServer) -> None:
    """Register the custom request."""

    @server.feature(STATUS)
    def status(ls: CompletionServer, params: Any) -> dict[str, Any]:
        service = ls.service
        return {
            "state": service.state.value,
            "model": service.description,
            "error": service.error,
            "activeGenerations": service.active_generations,
            "accepted": ls.accepted,
            "positionEncoding": ls.position_encoding,
            "settings": to_wire(ls.settings),
            "lastRequest": summarize(service.last_result),
            "runtime": service.runtime_status(),
        }


def summarize(result: CompletionResult | None) -> dict[str, Any] | None:
    """What the last request did, without the document text or the prompt."""
    if result is None:
        return None
    timings = result.timings
    return {
        "promptTokens": dict(timings.prompt_sections),
        "contextFiles": list(timings.context_paths),
        "timingsMs": {
            stage: round(getattr(timings, stage) * 1000, 1)
            for stage in ("prompt", "generate", "postprocess", "validate")
        },
        "shown": len(result.items),
        "discarded": len(result.discarded),
        "source": timings.source,
        "prefillMs": round(timings.prefill * 1000, 1),
        "firstTokenMs": round(timings.first_token * 1000, 1),
        "reusedPromptTokens": timings.reused_tokens,
    }
