"""The loaded model and its state, shared by every request of a server or CLI run."""

from __future__ import annotations

import enum
import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from codegen.backends import Backend, load_backend
from codegen.model import ModelError, parse_spec, resolve_default_spec
from codegen.pipeline import Pipeline
from codegen.types import CompletionRequest, CompletionResult
from prompts.templates import FimTemplate
from validators import DEFAULT_VALIDATORS, Validator, close_validators

logger = logging.getLogger(__name__)


class ModelState(enum.Enum):
    """Where model loading stands."""

    IDLE = "idle"
    LOADING = "loading"
    READY = "ready"
    FAILED = "failed"


@dataclass
class CompletionService:
    """Owns the backend; loads it once and runs requests through one `Pipeline`."""

    cache_dir: Path | None = None
    state: ModelState = ModelState.IDLE
    error: str = ""
    description: str = ""
    backend: Backend | None = None
    validators: tuple[Validator, ...] = DEFAULT_VALIDATORS
    """Every validator this service may run (the settings switch some off per request)."""
    last_result: CompletionResult | None = None
    """The most recent finished request, for status and troubleshooting."""
    _active: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _generation: int = 0

    def load(
        self, spec_text: str, device: str, progress: Callable[[str], None], dtype: str = "auto"
    ) -> None:
        """Load the model named by `spec_text` (empty = default); raise `ModelError` on failure."""
        with self._lock:
            self._generation += 1
            ticket = self._generation
            self.state, self.error = ModelState.LOADING, ""
        try:
            spec = parse_spec(spec_text) if spec_text else resolve_default_spec()
            backend = load_backend(
                spec, device=device, dtype=dtype, cache_dir=self.cache_dir, progress=progress
            )
        except Exception as exc:
            message = str(exc) if isinstance(exc, ModelError) else f"{type(exc).__name__}: {exc}"
            with self._lock:
                if ticket == self._generation:
                    self.state, self.error = ModelState.FAILED, message
            raise ModelError(message) from exc
        with self._lock:
            if ticket == self._generation:  # a newer load request wins
                self.backend, self.description = backend, backend.description
                self.state = ModelState.READY

    def close(self) -> None:
        """Stop what the validators keep running (mypy daemons, sandbox runs)."""
        close_validators(self.validators)

    @property
    def active_generations(self) -> int:
        """Requests currently running on the model thread pool."""
        return self._active

    def complete(
        self,
        request: CompletionRequest,
        cancel: threading.Event,
        *,
        max_prompt_tokens: int = 1536,
        validators: Sequence[Validator] = DEFAULT_VALIDATORS,
    ) -> CompletionResult | None:
        """Run the pipeline; None when no model is ready yet."""
        backend = self.backend
        if backend is None or self.state is not ModelState.READY:
            return None
        pipeline = Pipeline(
            backend, FimTemplate(max_prompt_tokens=max_prompt_tokens), validators=validators
        )
        with self._lock:
            self._active += 1
        try:
            result = pipeline.complete(request, cancel)
            if not result.cancelled:
                self.last_result = result
            return result
        finally:
            with self._lock:
                self._active -= 1


def enabled_validators(
    validators: Sequence[Validator], switches: Mapping[str, bool]
) -> tuple[Validator, ...]:
    """The validators, minus those switched off by name."""
    return tuple(v for v in validators if switches.get(v.name, True))
