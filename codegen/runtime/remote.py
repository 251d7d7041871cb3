r"""A backend that sends the prompts to an OpenAI-compatible completions endpoint (vLLM).

For a team's GPU server: the prompt is still built here, with the real Qwen tokenizer, and
sent as token ids (``"prompt": [ids]``), so the server reads exactly the tokens the local
runtime would; post-processing, validators and ranking stay local. Answers are streamed
(``"stream": true``), so the stop rules apply as the text arrives (one line, a finished
line that post-processing cuts) and a cancelled request closes the connection, which makes
vLLM abort it. The first alternative is greedy and the others sampled, as locally: two
requests, sent together. Errors are clear and retried: a refused connection, a 5xx, a
timeout or a stream that breaks off before its ``finish_reason`` (never taken for a whole
answer) is tried again `retries` times with a growing pause, then reported as an
`EndpointError`; a 4xx is reported at once with the server's message.

vLLM serves Qwen2.5-Coder this way (prefix caching shares the repository context and the
unchanged part of the file between requests)::

    vllm serve Qwen/Qwen2.5-Coder-7B --enable-prefix-caching --max-model-len 8192 \
        --api-key "$VETTED_API_KEY"
"""

from __future__ import annotations

import http.client
import json
import logging
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from codegen.runtime.adapters import AdapterError
from codegen.runtime.call import GenerateCall
from codegen.runtime.generate import OnText, SamplingParams
from codegen.runtime.model import ModelError
from codegen.runtime.stopping import (
    StopAtNewline,
    StopCheck,
    StopOnEvent,
    StopWhenSettled,
    first_reason,
)
from codegen.runtime.types import FinishReason, Generation
from prompts.templates import STOP_TOKEN_IDS, Prompt, Tokenizer

logger = logging.getLogger(__name__)

T = TypeVar("T")


class EndpointError(ModelError):
    """The completion endpoint failed or could not be reached; the message says how."""


class StreamCut(EndpointError):
    """An answer that ended before it was complete (no ``finish_reason``, no ``[DONE]``)."""


@dataclass(frozen=True)
class RemoteOptions:
    """How requests reach the endpoint."""

    api_key: str = ""
    """Sent as ``Authorization: Bearer <key>`` when set."""
    timeout_seconds: float = 30.0
    """Connect and read timeout of one request."""
    retries: int = 2
    """Further attempts after a refused connection, a timeout, a 5xx or a broken-off answer."""


class RemoteBackend:
    """Generate with an OpenAI-compatible ``/v1/completions`` endpoint."""

    def __init__(self, base_url: str, model: str, tokenizer: Any, options: RemoteOptions) -> None:
        """Talk to `base_url` (``http://host:8000/v1``) about `model` (its served name)."""
        self.base_url = base_url.rstrip("/")
        self.options = options
        self._tokenizer = tokenizer
        self.model = model or self._served_model()
        self.description = f"{self.model} at {self.base_url}"

    @property
    def tokenizer(self) -> Tokenizer | None:
        """The local tokenizer the prompts are built with."""
        tokenizer: Tokenizer = self._tokenizer
        return tokenizer

    def generate(self, call: GenerateCall) -> list[Generation]:
        """The greedy alternative and the sampled ones, each stream stopped by the rules.

        The server reads the prompt itself: resumes, timings and adapters do not apply.
        """
        prompt, params, cancel, settled = call.prompt, call.params, call.cancel, call.settled
        single_line, on_text = call.single_line, call.on_text
        assert prompt is not None
        checks: list[StopCheck] = [StopOnEvent(cancel)]
        if single_line:
            checks.append(StopAtNewline())
        if settled is not None:
            checks.append(StopWhenSettled(settled))
        greedy = params.temperature == 0
        batches = [(0, 1, 0.0), (1, params.n - 1, params.sample_temperature)] if greedy else [
            (0, params.n, params.temperature)]
        batches = [b for b in batches if b[1] > 0]
        with ThreadPoolExecutor(len(batches)) as pool:
            futures = [
                pool.submit(self._stream, prompt, params, first, count, temperature,
                            tuple(checks), cancel, on_text)
                for first, count, temperature in batches
            ]
            results = [f.result() for f in futures]
        return [g for batch in results for g in batch]

    @property
    def engine(self) -> None:
        """The server batches its requests itself."""
        return None

    def check_adapter(self, path: str) -> None:
        """The server loads its own adapters (vLLM's `--lora-modules`); none are sent."""
        raise AdapterError(f"{self.description} serves no LoRA adapters from the editor")

    def close(self) -> None:
        """Nothing to release: every request opens its own connection."""

    def _stream(
        self,
        prompt: Prompt,
        params: SamplingParams,
        first: int,
        count: int,
        temperature: float,
        checks: tuple[StopCheck, ...],
        cancel: threading.Event,
        on_text: OnText | None,
    ) -> list[Generation]:
        body = {
            "model": self.model,
            "prompt": list(prompt.ids),
            "max_tokens": params.max_new_tokens,
            "n": count,
            "temperature": temperature,
            "top_p": params.top_p if temperature > 0 else 1.0,
            "seed": params.seed,
            "stream": True,
            "logprobs": 1,
            "stop_token_ids": sorted(STOP_TOKEN_IDS),  # vLLM; others stop at their eos
        }
        return self._request("/completions", body, cancel, lambda response: self._read(
            response, first, count, checks, cancel, on_text))

    def _read(
        self,
        response: Any,
        first: int,
        count: int,
        checks: tuple[StopCheck, ...],
        cancel: threading.Event,
        on_text: OnText | None,
    ) -> list[Generation]:
        """The alternatives of one streamed answer; `StreamCut` when it breaks off midway."""
        texts = [""] * count
        logprobs = [0.0] * count
        tokens = [0] * count
        per_token: list[list[float] | None] = [[] for _ in range(count)]
        ends: list[list[int]] = [[] for _ in range(count)]
        reasons: list[FinishReason | None] = [None] * count
        for event in _events(response):
            if cancel.is_set():
                break
            for choice in event.get("choices", []):
                index = int(choice.get("index", 0))
                if not 0 <= index < count or reasons[index] is not None:
                    continue
                start = len(texts[index])
                texts[index] += str(choice.get("text") or "")
                detail = choice.get("logprobs") or {}
                values = detail.get("token_logprobs") or []
                logprobs[index] += sum(v for v in values if isinstance(v, int | float))
                tokens[index] += max(len(values), 1 if choice.get("text") else 0)
                per_token[index] = place_chunk_tokens(per_token[index], ends[index], values,
                                               detail.get("tokens"), start, len(texts[index]))
                if on_text is not None:
                    on_text(first + index, texts[index])
                reasons[index] = first_reason(checks, [], texts[index]) or _finish(choice)
            if all(reason is not None for reason in reasons):
                break
        cancelled = cancel.is_set()
        return [
            Generation(texts[i], logprobs[i],
                       FinishReason.CANCELLED if cancelled else reasons[i] or FinishReason.LENGTH,
                       tokens[i], token_logprobs=tuple(per_token[i] or ()),
                       token_ends=tuple(ends[i]) if per_token[i] else ())
            for i in range(count)
        ]

    def _served_model(self) -> str:
        """The first model the endpoint serves (``GET /v1/models``)."""
        served = self._request("/models", None, threading.Event(),
                               lambda response: json.loads(response.read()))
        data = served.get("data") if isinstance(served, dict) else None
        if not data:
            raise EndpointError(f"{self.base_url} serves no model")
        return str(data[0]["id"])

    def _request(self, path: str, body: dict[str, Any] | None, cancel: threading.Event,
                 read: Callable[[Any], T]) -> T:
        """Send the request and read its answer, trying again after what may pass.

        A refused connection, a 5xx, a timeout or an answer broken off midway is tried again
        `retries` times; then, as a 4xx at once, it is an `EndpointError`.
        """
        url = self.base_url + path
        headers = {"Content-Type": "application/json", "Accept": "text/event-stream"}
        if self.options.api_key:
            headers["Authorization"] = f"Bearer {self.options.api_key}"
        data = json.dumps(body).encode() if body is not None else None
        last = ""
        for attempt in range(self.options.retries + 1):
            if attempt:
                logger.info("%s: %s; trying again", url, last)
                time.sleep(min(0.25 * 2**attempt, 4.0))
            if cancel.is_set():
                raise EndpointError("cancelled")
            request = urllib.request.Request(url, data=data, headers=headers,
                                             method="POST" if data is not None else "GET")
            try:
                response = urllib.request.urlopen(request, timeout=self.options.timeout_seconds)
            except urllib.error.HTTPError as exc:
                detail = exc.read().decode("utf-8", "replace")[:300]
                last = f"is not reachable (HTTP {exc.code}: {detail or exc.reason})"
                if exc.code < 500:
                    raise EndpointError(f"{url} refused the request: HTTP {exc.code}: "
                                        f"{detail or exc.reason}") from exc
                continue
            except (urllib.error.URLError, TimeoutError, OSError) as exc:
                last = f"is not reachable ({getattr(exc, 'reason', exc)})"
                continue
            try:
                return read(response)
            except (StreamCut, TimeoutError, OSError, http.client.HTTPException,
                    ValueError) as exc:
                reason = (f"no data for {self.options.timeout_seconds:g} s"
                          if isinstance(exc, TimeoutError) else str(exc) or type(exc).__name__)
                last = f"broke off its answer ({reason})"
            finally:
                response.close()  # vLLM aborts a request whose client went away
        raise EndpointError(
            f"the completion endpoint {url} {last} after {self.options.retries + 1} attempts"
        )


def _events(response: Any) -> Iterator[dict[str, Any]]:
    """The JSON objects of a server-sent-event stream (or the one body of a plain answer).

    Raises `StreamCut` when the stream ends before ``[DONE]``: a reader stops earlier, once
    every alternative has its ``finish_reason``.
    """
    for raw in response:
        line = raw.decode("utf-8", "replace").strip()
        if not line:
            continue
        if line.startswith("data:"):
            payload = line[5:].strip()
            if payload == "[DONE]":
                return
            try:
                yield json.loads(payload)
            except ValueError:
                continue
        elif line.startswith("{"):
            yield json.loads(line)
    raise StreamCut("the stream ended before every alternative had its finish_reason")


def _finish(choice: dict[str, Any]) -> FinishReason | None:
    reason = choice.get("finish_reason")
    if reason is None:
        return None
    return FinishReason.LENGTH if reason == "length" else FinishReason.STOP_TOKEN


def place_chunk_tokens(
    kept: list[float] | None, ends: list[int], values: list[Any], pieces: Any, start: int,
    end: int,
) -> list[float] | None:
    """Add one streamed chunk's per-token log-probabilities and where each token ends.

    A chunk of one token ends where the text now ends; several tokens need the server's
    ``tokens`` strings to place them. None (for good) once a chunk cannot be placed.
    """
    if kept is None or not all(isinstance(v, int | float) for v in values):
        return None
    if len(values) == 1:
        kept.append(float(values[0]))
        ends.append(end)
        return kept
    if isinstance(pieces, list) and len(pieces) == len(values):
        for value, piece in zip(values, pieces, strict=True):
            start += len(str(piece))
            kept.append(float(value))
            ends.append(min(start, end))
        return kept
    return kept if not values and start == end else None
