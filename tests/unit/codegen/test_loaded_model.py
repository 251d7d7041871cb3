"""The completion service: which model answers which request, and loading both."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from codegen.loaded_model import CompletionService, ModelState
from codegen.runtime.backends import TorchBackend
from codegen.runtime.model import ModelError, parse_spec, pull
from codegen.types import CompletionRequest
from tests.conftest import write_replay

DOCUMENT = "def add(a, b):\n    \n"
CURSOR = DOCUMENT.index("    \n") + 4


def request(trigger: str) -> CompletionRequest:
    return CompletionRequest(DOCUMENT, CURSOR, path="a.py", trigger=trigger)  # type: ignore[arg-type]


def shown(service: CompletionService, trigger: str) -> list[str]:
    result = service.complete(request(trigger), threading.Event(), validators=())
    assert result is not None
    return [c.insert for c in result.items]


def test_automatic_requests_go_to_the_automatic_model(tmp_path: Path) -> None:
    small = write_replay(tmp_path / "small.jsonl", [("return a + b", None)])
    large = write_replay(tmp_path / "large.jsonl", [("return sum((a, b))", None)])
    service = CompletionService()
    service.load(f"replay:{large}", "cpu", lambda message: None, automatic=f"replay:{small}")
    try:
        assert service.state is ModelState.READY
        assert shown(service, "automatic") == ["return a + b"]
        assert shown(service, "invoked") == ["return sum((a, b))"]
        assert "automatic requests: replay:" in service.description
    finally:
        service.close()


def test_without_an_automatic_model_one_model_answers_everything(tmp_path: Path) -> None:
    large = write_replay(tmp_path / "large.jsonl", [("return sum((a, b))", None)])
    service = CompletionService()
    service.load(f"replay:{large}", "cpu", lambda message: None)
    try:
        assert shown(service, "automatic") == shown(service, "invoked") == ["return sum((a, b))"]
    finally:
        service.close()


def test_a_failing_automatic_model_fails_the_load_and_keeps_nothing(tmp_path: Path) -> None:
    large = write_replay(tmp_path / "large.jsonl", [("return 1", None)])
    service = CompletionService()
    with pytest.raises(ModelError):
        service.load(f"replay:{large}", "cpu", lambda m: None, automatic="/no/such/model")
    assert service.state is ModelState.FAILED and service.backend is None


def test_the_small_model_drafts_for_the_large_one() -> None:
    service = CompletionService()
    # The tiny model by name and by its directory: two models, the second one the draft.
    directory = str(pull(parse_spec("random:tiny")))
    service.load("random:tiny", "cpu", lambda m: None, automatic=directory)
    try:
        main, fast = service.backend, service.automatic_backend
        assert isinstance(main, TorchBackend) and isinstance(fast, TorchBackend)
        assert main.engine is not None and main.engine.draft is not None
        assert main.engine.draft.forward.model is fast.model
    finally:
        service.close()
