"""Metrics, status and the explanation of the last request, on an opt-in local port.

With `observability.port` set, the server listens on 127.0.0.1 only:

* ``/metrics``: Prometheus text format (prometheus-client): requests by outcome
  (``shown``, ``suppressed`` with the reason, ``cancelled``, ``error``, ``not_ready``),
  latency per stage and per request, tokens generated, prefix-cache and type-through hits,
  validator verdicts, GPU memory in use, out-of-memory count, shown/accepted counts
  (the acceptance rate is their ratio), what became of the suggestions shown (accepted,
  partial, rejected, ignored) and the workspace's acceptance score;
* ``/status``: what `vetted/status` answers;
* ``/explain``: the last request: its prompt (only with `observability.logPrompts`), tokens
  per section, latency split, every candidate with its verdicts and why it was dropped.

It also writes ``<cache>/servers/<pid>.json`` naming the port, so `vetted status` and
`vetted explain` on the command line find the running servers.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from codegen.runtime.device import gpu_memory_allocated
from codegen.runtime.model import default_cache_dir
from codegen.types import Candidate, CompletionResult

logger = logging.getLogger(__name__)

STAGES = ("prompt", "generate", "postprocess", "validate")
_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class Metrics:
    """The server's Prometheus metrics, in a registry of their own."""

    def __init__(self) -> None:
        """Create the collectors (none is exported until a port serves them)."""
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter("vetted_requests", "Completion requests by outcome",
                                ["outcome", "reason"], registry=r)
        self.request_seconds = Histogram("vetted_request_seconds", "Request latency",
                                         ["trigger"], buckets=_BUCKETS, registry=r)
        self.stage_seconds = Histogram("vetted_stage_seconds", "Latency of each stage",
                                       ["stage"], buckets=_BUCKETS, registry=r)
        self.tokens = Counter("vetted_generated_tokens", "Tokens generated", registry=r)
        self.prompt_tokens = Counter("vetted_prompt_tokens", "Prompt tokens, by where their "
                                     "keys and values came from", ["source"], registry=r)
        self.answers = Counter("vetted_answers", "Requests by who answered them",
                               ["source"], registry=r)
        self.verdicts = Counter("vetted_verdicts", "Validator verdicts",
                                ["check", "result"], registry=r)
        self.shown = Counter("vetted_shown", "Suggestions shown", registry=r)
        self.accepted = Counter("vetted_accepted", "Suggestions accepted", registry=r)
        self.actions = Counter("vetted_suggestion_actions", "What became of the suggestions "
                               "shown: accepted, partial, rejected, ignored", ["action"],
                               registry=r)
        self.acceptance = Gauge("vetted_acceptance_rate", "Suggestions accepted whole or in "
                                "part, of those whose fate is known (this server run)",
                                registry=r)
        self.score = Gauge("vetted_acceptance_score", "Recency-weighted acceptance score of "
                           "the workspace (0-1), which sets the eagerness", registry=r)
        self.gpu_memory = Gauge("vetted_gpu_memory_bytes", "GPU memory allocated by torch",
                                registry=r)
        self.gpu_memory.set_function(gpu_memory_allocated)
        self.oom = Gauge("vetted_out_of_memory", "Model steps that ran out of memory",
                         registry=r)

    def observe(self, result: CompletionResult | None, outcome: str, seconds: float,
                trigger: str) -> None:
        """Count one request."""
        reason = ""
        if result is not None and outcome == "suppressed":
            reason = _suppressed_reason(result)
        self.requests.labels(outcome, reason).inc()
        self.request_seconds.labels(trigger).observe(seconds)
        if result is None or result.cancelled:
            return
        timings = result.timings
        for stage in STAGES:
            self.stage_seconds.labels(stage).observe(getattr(timings, stage))
        self.tokens.inc(timings.generated_tokens)
        self.prompt_tokens.labels("reused").inc(timings.reused_tokens)
        self.prompt_tokens.labels("computed").inc(max(timings.prompt_tokens
                                                      - timings.reused_tokens, 0))
        self.answers.labels(timings.source).inc()
        self.shown.inc(1 if result.items else 0)
        for candidate in (*result.items, *result.discarded):
            for verdict in candidate.verdicts:
                state = "not_run" if not verdict.ran else "pass" if verdict.ok else "fail"
                self.verdicts.labels(verdict.check, state).inc()

    def exposition(self) -> bytes:
        """The metrics in Prometheus text format."""
        data: bytes = generate_latest(self.registry)
        return data


def _suppressed_reason(result: CompletionResult) -> str:
    """Why nothing was shown: the check that rejected the candidates most often."""
    counts: dict[str, int] = {}
    for candidate in result.discarded:
        for verdict in candidate.verdicts:
            if not verdict.ok:
                counts[verdict.check] = counts.get(verdict.check, 0) + 1
    return max(counts, key=counts.__getitem__) if counts else "no candidate"


def explain(result: CompletionResult | None, show_prompt: bool) -> dict[str, Any]:
    """Everything about the last finished request, for `vetted explain`."""
    if result is None:
        return {"request": None, "note": "no request finished yet"}
    request, timings = result.request, result.timings
    line = request.text.count("\n", 0, request.offset)
    prompt = result.prompt
    return {
        "request": {"path": request.path, "line": line, "trigger": request.trigger,
                    "alternatives": request.n, "maxNewTokens": request.max_new_tokens},
        "source": timings.source,
        "prompt": (prompt.text if prompt is not None else None) if show_prompt else None,
        "promptNote": "" if show_prompt else
        "the prompt is not kept; set observability.logPrompts to see it",
        "promptTokens": dict(timings.prompt_sections),
        "contextFiles": list(timings.context_paths),
        "promptTests": list(timings.test_paths),
        "reusedPromptTokens": timings.reused_tokens,
        "latencyMs": {
            "prompt": round(timings.prompt * 1000, 1),
            "prefill": round(timings.prefill * 1000, 1),
            "firstToken": round(timings.first_token * 1000, 1),
            "generate": round(timings.generate * 1000, 1),
            "postprocess": round(timings.postprocess * 1000, 1),
            "validate": round(timings.validate * 1000, 1),
        },
        "shown": [_candidate(c) for c in result.items],
        "discarded": [_candidate(c) for c in result.discarded],
        "suppressed": not result.items and bool(result.discarded),
    }


def _candidate(candidate: Candidate) -> dict[str, Any]:
    return {
        "text": candidate.insert,
        "raw": candidate.raw,
        "filters": list(candidate.applied),
        "logprob": candidate.logprob,
        "verdicts": [{"check": v.check, **v.as_dict()} for v in candidate.verdicts],
        "why": "; ".join(v.reason for v in candidate.verdicts if not v.ok),
    }


class Endpoint:
    """The local HTTP server for /metrics, /status and /explain."""

    def __init__(self, metrics: Metrics, status: Callable[[], dict[str, Any]],
                 last: Callable[[], dict[str, Any]]) -> None:
        """Serve these answers once `start` is called."""
        self.metrics = metrics
        self.status = status
        self.last = last
        self._server: ThreadingHTTPServer | None = None
        self._record: Path | None = None

    @property
    def port(self) -> int:
        """The port listened on (0 when stopped)."""
        return int(self._server.server_address[1]) if self._server else 0

    def start(self, port: int, root: str = "") -> None:
        """Listen on 127.0.0.1:`port` (0 picks a free one) and note it for the CLI."""
        self.stop()
        self._server = ThreadingHTTPServer(("127.0.0.1", port), _handler(self))
        threading.Thread(target=self._server.serve_forever, name="vetted-metrics",
                         daemon=True).start()
        folder = default_cache_dir() / "servers"
        folder.mkdir(parents=True, exist_ok=True)
        self._record = folder / f"{os.getpid()}.json"
        self._record.write_text(json.dumps({"pid": os.getpid(), "port": self.port,
                                            "root": root}), encoding="utf-8")
        logger.info("metrics, status and explain on http://127.0.0.1:%d", self.port)

    def stop(self) -> None:
        """Stop listening and forget the record."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._record is not None:
            self._record.unlink(missing_ok=True)
            self._record = None


def _handler(endpoint: Endpoint) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            logger.debug("metrics endpoint: " + format, *args)

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                self._send(200, endpoint.metrics.exposition(),
                           "text/plain; version=0.0.4; charset=utf-8")
            elif path in ("/status", "/explain"):
                answer = endpoint.status() if path == "/status" else endpoint.last()
                self._send(200, json.dumps(answer).encode(), "application/json")
            else:
                self._send(404, b"not found\n", "text/plain")

        def _send(self, code: int, body: bytes, kind: str) -> None:
            self.send_response(code)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


def running_servers() -> list[dict[str, Any]]:
    """The servers on this machine whose endpoint is on (their records; dead ones dropped)."""
    folder = default_cache_dir() / "servers"
    found = []
    for record in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            data = json.loads(record.read_text(encoding="utf-8"))
            os.kill(int(data["pid"]), 0)
        except (OSError, ValueError, KeyError):
            record.unlink(missing_ok=True)
            continue
        found.append(data)
    return found
