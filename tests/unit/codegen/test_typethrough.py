"""Type-through on the tiny random Qwen2: typing what the model wrote answers from it."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from codegen.pipeline import Pipeline
from codegen.runtime.backends import TorchBackend, load_backend
from codegen.runtime.model import parse_spec
from codegen.types import CompletionRequest
from codegen.typethrough import TypeThrough
from tests.conftest import write_replay

DOCUMENT = "def total(values):\n    result = 0\n    for value in values:\n        \n"
CURSOR = DOCUMENT.index("        \n") + 8


@pytest.fixture(scope="module")
def backend() -> Iterator[TorchBackend]:
    loaded = load_backend(parse_spec("random:tiny"), device="cpu")
    assert isinstance(loaded, TorchBackend) and loaded.engine is not None
    yield loaded
    loaded.close()


def pipeline(backend: TorchBackend, memory: TypeThrough | None) -> Pipeline:
    # No filters or validators: the tiny model writes noise, and these tests are about
    # which raw text reaches the user, not about vetting it.
    return Pipeline(backend, filters=(), validators=(), typethrough=memory)


def request(typed: str = "", max_new_tokens: int = 12) -> CompletionRequest:
    # Sampled: the random model's greedy choice is always an end token at once.
    text = DOCUMENT[:CURSOR] + typed + DOCUMENT[CURSOR:]
    return CompletionRequest(
        text, CURSOR + len(typed), path="t.py", max_new_tokens=max_new_tokens, temperature=1.0
    )


def test_typing_the_start_of_a_finished_suggestion_answers_without_the_model(
    backend: TorchBackend,
) -> None:
    memory = TypeThrough()
    first = pipeline(backend, memory).complete(request())
    text = first.items[0].insert
    assert len(text) > 3
    assert backend.engine is not None
    steps = backend.engine.stats.decode_steps
    typed = pipeline(backend, memory).complete(request(text[:3]))
    assert typed.timings.source == "type-through"
    assert [c.insert for c in typed.items] == [text[3:]]
    assert backend.engine.stats.decode_steps == steps  # the model did nothing
    assert memory.answered == 1


def test_typing_into_a_cancelled_suggestion_resumes_it(backend: TorchBackend) -> None:
    memory = TypeThrough()
    cancel = threading.Event()
    seen: list[str] = []

    def on_text(index: int, text: str) -> None:
        seen.append(text)
        if len(text) >= 4:
            cancel.set()  # the editor cancels: the user typed

    cancelled = pipeline(backend, memory).complete(request(max_new_tokens=16), cancel, on_text)
    assert cancelled.cancelled
    partial = seen[-1]
    assert backend.engine is not None
    before = backend.engine.stats.prefilled_tokens
    resumed = pipeline(backend, memory).complete(request(partial[:2], max_new_tokens=16))
    assert resumed.timings.source == "resumed"
    [item] = resumed.items
    # It goes on from what was written (minus what was typed), to the same token budget.
    assert item.insert.startswith(partial[2:]) and len(item.insert) > len(partial) - 2
    assert backend.engine.stats.prefilled_tokens - before <= 1  # its keys and values were kept
    assert memory.resumed == 1


def test_a_quick_look_tells_which_requests_memory_answers(backend: TorchBackend) -> None:
    memory = TypeThrough()
    made = pipeline(backend, memory)
    key = Pipeline.memory_key(backend, request())
    assert not memory.may_continue(request(), key)  # nothing remembered yet
    text = made.complete(request()).items[0].insert
    assert memory.may_continue(request(text[:2]), key)
    other = "zz" if not text.startswith("zz") else "qq"
    assert not memory.may_continue(request(other), key)
    assert not memory.may_continue(request(text[:2]), "another model|")
    assert memory.answered == 0  # looking answered nothing


def test_typing_something_else_generates_afresh(backend: TorchBackend) -> None:
    memory = TypeThrough()
    first = pipeline(backend, memory).complete(request()).items[0].insert
    other = "zz" if not first.startswith("zz") else "qq"
    again = pipeline(backend, memory).complete(request(other))
    assert again.timings.source == "model"


def test_a_request_waits_for_the_generation_it_types_into(backend: TorchBackend) -> None:
    memory = TypeThrough()
    whole = pipeline(backend, None).complete(request(max_new_tokens=16)).items[0].insert
    assert len(whole) > 2
    started = threading.Event()
    results = []

    def on_text(index: int, text: str) -> None:
        started.set()

    runner = threading.Thread(
        target=lambda: results.append(
            pipeline(backend, memory).complete(request(max_new_tokens=16), on_text=on_text)
        )
    )
    runner.start()
    assert started.wait(30)
    typed = pipeline(backend, memory).complete(request(whole[:2], max_new_tokens=16))
    runner.join(30)
    assert typed.timings.source == "type-through"
    assert [c.insert for c in typed.items] == [whole[2:]]


def test_replay_models_answer_every_request_with_their_recording(tmp_path: Path) -> None:
    recording = write_replay(tmp_path / "r.jsonl", [("return 1", None)])
    replay = load_backend(parse_spec(f"replay:{recording}"))
    memory = TypeThrough()
    first = Pipeline(replay, filters=(), validators=(), typethrough=memory).complete(request())
    again = Pipeline(replay, filters=(), validators=(), typethrough=memory).complete(request("re"))
    assert [c.insert for c in first.items] == [c.insert for c in again.items] == ["return 1"]
    assert again.timings.source == "model" and memory.answered == 0
