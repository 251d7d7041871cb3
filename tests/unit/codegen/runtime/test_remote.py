"""The OpenAI-compatible backend against a small fake completions server on loopback."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from codegen.pipeline import Pipeline
from codegen.runtime.backends import HFTokenizer, load_backend
from codegen.runtime.call import GenerateCall
from codegen.runtime.generate import SamplingParams
from codegen.runtime.model import parse_spec
from codegen.runtime.remote import EndpointError, RemoteBackend, RemoteOptions, place_chunk_tokens
from codegen.types import CompletionRequest, FinishReason
from prompts.templates import FimTemplate


@dataclass
class Fake:
    """What the fake server answers, and what it was sent."""

    answers: list[str] = field(default_factory=lambda: ["return a + b\n"])
    fail_first: int = 0
    """Answer this many requests with 503 first."""
    status: int = 200
    delay: float = 0.0
    """Seconds between streamed chunks."""
    cut_first: int = 0
    """Break this many answers off after their first piece: no finish_reason, no [DONE]."""
    stall_first: int = 0
    """Stop sending this many answers after their first piece, for `stall` seconds."""
    stall: float = 2.0
    requests: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    disconnected: threading.Event = field(default_factory=threading.Event)


def handler(fake: Fake) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            self._json(200, {"data": [{"id": "qwen-coder"}]})

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            fake.requests.append(body)
            fake.headers.append(dict(self.headers))
            if fake.fail_first > 0:
                fake.fail_first -= 1
                self._json(503, {"error": "warming up"})
                return
            if fake.status != 200:
                self._json(fake.status, {"error": {"message": "bad api key"}})
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            cut, fake.cut_first = fake.cut_first > 0, fake.cut_first - 1
            stall, fake.stall_first = fake.stall_first > 0, fake.stall_first - 1
            try:
                for index in range(body["n"]):
                    answer = fake.answers[index % len(fake.answers)]
                    for piece in _pieces(answer):
                        self._event({"choices": [{"index": index, "text": piece,
                                                  "logprobs": {"token_logprobs": [-0.5]},
                                                  "finish_reason": None}]})
                        if cut:
                            return  # the connection closes: a proxy or the server died
                        if stall:
                            time.sleep(fake.stall)
                            return
                        time.sleep(fake.delay)
                    self._event({"choices": [{"index": index, "text": "",
                                              "finish_reason": "stop"}]})
                self.wfile.write(b"data: [DONE]\n\n")
            except (BrokenPipeError, ConnectionResetError):
                fake.disconnected.set()

        def _event(self, payload: dict[str, Any]) -> None:
            self.wfile.write(f"data: {json.dumps(payload)}\n\n".encode())
            self.wfile.flush()

        def _json(self, status: int, payload: dict[str, Any]) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler


def _pieces(text: str) -> list[str]:
    return [text[i : i + 3] for i in range(0, len(text), 3)]


@pytest.fixture
def fake() -> Fake:
    return Fake()


@pytest.fixture
def endpoint(fake: Fake) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler(fake))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()


def backend(url: str, tokenizer: HFTokenizer, **options: Any) -> RemoteBackend:
    return RemoteBackend(url, "", tokenizer, RemoteOptions(**options))


def test_a_completion_goes_through_the_local_pipeline(
    endpoint: str, fake: Fake, qwen_tokenizer: HFTokenizer
) -> None:
    fake.answers = ["return a + b\n    print(a)\n"]
    remote = backend(endpoint, qwen_tokenizer, api_key="s3cret")
    assert remote.model == "qwen-coder"  # the served model, asked from /v1/models
    document = "def add(a, b):\n    \n"
    request = CompletionRequest(document, document.index("    \n") + 4, n=1)
    result = Pipeline(remote, FimTemplate(), validators=()).complete(request)
    assert [c.insert for c in result.items] == ["return a + b"]
    [sent] = fake.requests
    prompt = FimTemplate().render(qwen_tokenizer, request.prefix, request.suffix,
                                  path=request.path)
    assert sent["prompt"] == list(prompt.ids)  # the exact local prompt tokens
    assert sent["model"] == "qwen-coder" and sent["stream"] is True
    assert 151660 in sent["stop_token_ids"]
    assert fake.headers[0]["Authorization"] == "Bearer s3cret"


def test_the_first_alternative_is_greedy_the_rest_sampled(
    endpoint: str, fake: Fake, qwen_tokenizer: HFTokenizer
) -> None:
    fake.answers = ["x = 1\n", "x = 2\n"]
    remote = backend(endpoint, qwen_tokenizer)
    prompt = FimTemplate().render(qwen_tokenizer, "x = ", "\n")
    found = remote.generate(GenerateCall(prompt, SamplingParams(n=3, max_new_tokens=8), True,
                                         threading.Event()))
    assert len(found) == 3
    temperatures = sorted((r["n"], r["temperature"]) for r in fake.requests)
    assert temperatures == [(1, 0.0), (2, 0.8)]
    assert all(g.finish_reason is FinishReason.NEWLINE for g in found)
    assert found[0].logprob is not None and found[0].logprob < 0
    # One token per streamed chunk: each placed where its chunk ends in the text.
    assert found[0].token_logprobs == (-0.5,) * len(found[0].token_ends)
    assert found[0].token_ends[-1] == len(found[0].text)


def test_server_errors_are_retried(endpoint: str, fake: Fake, qwen_tokenizer: HFTokenizer) -> None:
    remote = backend(endpoint, qwen_tokenizer, retries=2)
    fake.fail_first = 2
    prompt = FimTemplate().render(qwen_tokenizer, "x = ", "\n")
    [generation] = remote.generate(GenerateCall(prompt, SamplingParams(), False,
                                                threading.Event()))
    assert generation.text == "return a + b\n" and len(fake.requests) == 3


def test_a_refused_request_is_a_clear_error(
    endpoint: str, fake: Fake, qwen_tokenizer: HFTokenizer
) -> None:
    remote = backend(endpoint, qwen_tokenizer)
    fake.status = 401
    prompt = FimTemplate().render(qwen_tokenizer, "x = ", "\n")
    with pytest.raises(EndpointError, match="refused the request: HTTP 401.*bad api key"):
        remote.generate(GenerateCall(prompt, SamplingParams(), False, threading.Event()))
    assert len(fake.requests) == 1  # a 4xx is not retried


def test_an_endpoint_that_is_down_is_a_clear_error(qwen_tokenizer: HFTokenizer) -> None:
    with pytest.raises(EndpointError, match="not reachable .* after 2 attempts"):
        backend("http://127.0.0.1:9/v1", qwen_tokenizer, retries=1, timeout_seconds=1.0)


def test_cancelling_closes_the_stream(
    endpoint: str, fake: Fake, qwen_tokenizer: HFTokenizer
) -> None:
    fake.answers = ["x" * 3000]
    fake.delay = 0.01
    remote = backend(endpoint, qwen_tokenizer)
    cancel = threading.Event()
    prompt = FimTemplate().render(qwen_tokenizer, "x = ", "\n")
    started = time.monotonic()
    [generation] = remote.generate(GenerateCall(
        prompt, SamplingParams(max_new_tokens=4000), False, cancel,
        on_text=lambda index, text: cancel.set() if len(text) > 30 else None,
    ))
    assert generation.finish_reason is FinishReason.CANCELLED
    assert time.monotonic() - started < 5  # far less than the 10 s the whole answer takes
    assert fake.disconnected.wait(5)  # the server saw the client go


def test_a_model_spec_names_the_endpoint(endpoint: str) -> None:
    loaded = load_backend(parse_spec(f"openai:{endpoint}#qwen-coder"))
    assert isinstance(loaded, RemoteBackend) and loaded.model == "qwen-coder"
    assert loaded.description == f"qwen-coder at {endpoint}"


def test_a_stream_broken_off_midway_is_tried_again(
    endpoint: str, fake: Fake, qwen_tokenizer: HFTokenizer
) -> None:
    """It was returned as a whole answer ("ret"), and then vetted as one."""
    remote = backend(endpoint, qwen_tokenizer, retries=1)
    fake.cut_first = 1
    prompt = FimTemplate().render(qwen_tokenizer, "x = ", "\n")
    [generation] = remote.generate(GenerateCall(prompt, SamplingParams(), False,
                                                threading.Event()))
    assert generation.text == "return a + b\n" and len(fake.requests) == 2


def test_a_stream_broken_off_every_time_is_an_endpoint_error(
    endpoint: str, fake: Fake, qwen_tokenizer: HFTokenizer
) -> None:
    remote = backend(endpoint, qwen_tokenizer, retries=1)
    fake.cut_first = 2
    prompt = FimTemplate().render(qwen_tokenizer, "x = ", "\n")
    with pytest.raises(EndpointError, match=r"broke off its answer \(the stream ended before "
                                            r"every alternative had its finish_reason\) after "
                                            r"2 attempts"):
        remote.generate(GenerateCall(prompt, SamplingParams(), False, threading.Event()))
    assert len(fake.requests) == 2


def test_a_read_timeout_midway_is_an_endpoint_error_and_tried_again(
    endpoint: str, fake: Fake, qwen_tokenizer: HFTokenizer
) -> None:
    """A raw TimeoutError escaped before: not retried, and not counted as an error outcome."""
    prompt = FimTemplate().render(qwen_tokenizer, "x = ", "\n")
    call = GenerateCall(prompt, SamplingParams(), False, threading.Event())
    fake.stall_first = 1
    remote = backend(endpoint, qwen_tokenizer, retries=0, timeout_seconds=0.5)
    with pytest.raises(EndpointError, match=r"broke off its answer \(no data for 0.5 s\)"):
        remote.generate(call)
    fake.stall_first = 1
    retried = backend(endpoint, qwen_tokenizer, retries=1, timeout_seconds=0.5)
    [generation] = retried.generate(call)
    assert generation.text == "return a + b\n" and len(fake.requests) == 3


def test_per_token_figures_of_a_chunk_of_several_tokens_need_their_strings() -> None:
    ends: list[int] = []
    kept = place_chunk_tokens([], ends, [-0.5, -0.25], ["re", "turn"], 0, 6)
    assert (kept, ends) == ([-0.5, -0.25], [2, 6])
    # Without the token strings two tokens cannot be placed: no per-token figures at all.
    assert place_chunk_tokens(kept, ends, [-0.5, -0.25], None, 6, 10) is None
    assert place_chunk_tokens(None, [], [-0.5], None, 0, 1) is None
