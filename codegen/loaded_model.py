"""The loaded model and its state, shared by every request of a server or CLI run."""

from __future__ import annotations

import enum
import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from codegen.pipeline import Pipeline
from codegen.runtime.backends import Backend, RuntimeOptions, load_backend
from codegen.runtime.model import ModelError, parse_spec, resolve_default_spec
from codegen.runtime.remote import RemoteOptions
from codegen.types import CompletionRequest, CompletionResult
from codegen.typethrough import TypeThrough
from prompts.templates import FimTemplate
from validators import DEFAULT_VALIDATORS, Validator, close_validators
from validators.embedded import WorkspaceTestFiles

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
    automatic_backend: Backend | None = None
    """A smaller model for automatic requests, when one is configured."""
    typethrough: TypeThrough = field(default_factory=TypeThrough)
    test_files: WorkspaceTestFiles = field(default_factory=WorkspaceTestFiles)
    """The workspace's test files for prompts, read again only when they change."""
    validators: tuple[Validator, ...] = DEFAULT_VALIDATORS
    """Every validator this service may run (the settings switch some off per request)."""
    last_result: CompletionResult | None = None
    """The most recent finished request, for status and troubleshooting."""
    _active: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _generation: int = 0

    def load(
        self,
        spec_text: str,
        device: str,
        progress: Callable[[str], None],
        dtype: str = "auto",
        *,
        automatic: str = "",
        speculative: bool = True,
        runtime: RuntimeOptions | None = None,
        remote: RemoteOptions | None = None,
    ) -> None:
        """Load the model named by `spec_text` (empty = default); raise `ModelError` on failure.

        `automatic` names a second, smaller model for automatic requests; with
        `speculative` it also drafts tokens for the main model.
        """
        with self._lock:
            self._generation += 1
            ticket = self._generation
            self.state, self.error = ModelState.LOADING, ""
        runtime = runtime or RuntimeOptions()
        loaded: list[Backend] = []
        try:
            spec = parse_spec(spec_text) if spec_text else resolve_default_spec()
            small = parse_spec(automatic) if automatic else None
            fast: Backend | None = None
            if small is not None and small != spec:
                fast = load_backend(
                    small, device=device, dtype=dtype, cache_dir=self.cache_dir,
                    progress=progress, runtime=runtime, remote=remote,
                )
                loaded.append(fast)
            backend = load_backend(
                spec, device=device, dtype=dtype, cache_dir=self.cache_dir, progress=progress,
                runtime=runtime, draft=fast if speculative else None, remote=remote,
            )
            loaded.append(backend)
        except Exception as exc:
            for stale in loaded:
                _close(stale)
            message = str(exc) if isinstance(exc, ModelError) else f"{type(exc).__name__}: {exc}"
            with self._lock:
                if ticket == self._generation:
                    self.state, self.error = ModelState.FAILED, message
            raise ModelError(message) from exc
        with self._lock:
            stale_backends = loaded
            if ticket == self._generation:  # a newer load request wins
                stale_backends = [b for b in (self.backend, self.automatic_backend) if b]
                self.backend, self.automatic_backend = backend, fast
                self.description = backend.description
                if fast is not None:
                    self.description += f"; automatic requests: {fast.description}"
                self.state = ModelState.READY
        for stale in stale_backends:
            _close(stale)

    def close(self) -> None:
        """Stop the models' engines and what the validators keep running."""
        for backend in (self.backend, self.automatic_backend):
            if backend is not None:
                _close(backend)
        close_validators(self.validators)

    def runtime_status(self) -> dict[str, Any]:
        """What the engines did so far: batching, prefix reuse, speculation, type-through."""
        engines = {}
        for role, backend in (("main", self.backend), ("automatic", self.automatic_backend)):
            if backend is not None and backend.engine is not None:
                engines[role] = backend.engine.status()
        memory = self.typethrough
        return {
            "engines": engines,
            "typeThrough": {"answered": memory.answered, "resumed": memory.resumed},
        }

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
        tests_in_prompt: bool = True,
        tests_budget: float | None = None,
        tests_python: str = "",
        remember: bool = True,
    ) -> CompletionResult | None:
        """Run the pipeline; None when no model is ready yet.

        `remember=False` (a prefetch, which the user may never reach) leaves the type-through
        memory and `last_result` as they are; `adopt` records such a result once it is used.
        """
        backend = self.backend_for(request)
        if backend is None or self.state is not ModelState.READY:
            return None
        pipeline = Pipeline(
            backend,
            FimTemplate(max_prompt_tokens=max_prompt_tokens),
            validators=validators,
            typethrough=self.typethrough if remember else None,
            tests_in_prompt=tests_in_prompt,
            test_files=self.test_files,
            tests_budget=tests_budget,
            tests_python=tests_python,
        )
        with self._lock:
            self._active += 1
        try:
            result = pipeline.complete(request, cancel)
            if not result.cancelled and remember:
                self.last_result = result
            return result
        finally:
            with self._lock:
                self._active -= 1

    def backend_for(self, request: CompletionRequest) -> Backend | None:
        """The backend that answers `request`: the automatic model for automatic ones."""
        if request.trigger == "automatic" and self.automatic_backend is not None:
            return self.automatic_backend
        return self.backend

    def remembers(self, request: CompletionRequest) -> bool:
        """Whether type-through memory may answer `request` without the model."""
        backend = self.backend_for(request)
        if backend is None or backend.tokenizer is None:
            return False
        return self.typethrough.may_continue(request, Pipeline.memory_key(backend, request))

    def adopt(self, result: CompletionResult) -> None:
        """Make a result computed with `remember=False` the last one, as if just answered.

        Its suggestions join the type-through memory, so typing into them answers from
        memory as it does for any other answer.
        """
        self.last_result = result
        backend = self.backend_for(result.request)
        if backend is None or backend.tokenizer is None or result.prompt is None:
            return
        prompt = result.prompt
        request = result.request
        memory = self.typethrough
        entry, _ = memory.start(request, Pipeline.memory_key(backend, request),
                                lambda: prompt, threading.Event())
        memory.show(entry, [c for c in result.items if c.end == request.offset])
        memory.settle(entry)


def enabled_validators(
    validators: Sequence[Validator], switches: Mapping[str, bool]
) -> tuple[Validator, ...]:
    """The validators, minus those switched off by name."""
    return tuple(v for v in validators if switches.get(v.name, True))


def _close(backend: Backend) -> None:
    """Stop a backend's engine thread, if it has one."""
    backend.close()
