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
        return status_of(ls)


def status_of(ls: CompletionServer) -> dict[str, Any]:
    """The status answer (also served on the observability port)."""
    service = ls.service
    return {
        "state": service.state.value,
        "model": service.description,
        "error": service.error,
        "device": _device(service.runtime_status()),
        "activeGenerations": service.active_generations,
        "accepted": ls.accepted,
        "signals": {**ls.signals.summary(), "level": ls.level().name},
        "prefetch": {"started": ls.prefetcher.started, "served": ls.prefetcher.served,
                     "running": ls.prefetcher.running},
        "positionEncoding": ls.position_encoding,
        "settings": to_wire(ls.settings),
        "lastRequest": summarize(service.last_result),
        "recentLatenciesMs": [round(s * 1000) for s in ls.recent_latencies],
        "indexedFiles": len(ls.workspace_index.index),
        "runtime": service.runtime_status(),
    }


def _device(runtime: dict[str, Any]) -> str:
    main = runtime.get("engines", {}).get("main")
    return str(main["device"]) if main else ""


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
        "adapter": result.request.adapter,
        "source": timings.source,
        "prefillMs": round(timings.prefill * 1000, 1),
        "firstTokenMs": round(timings.first_token * 1000, 1),
        "reusedPromptTokens": timings.reused_tokens,
    }
