"""Backends that turn a prompt into raw generations: a local torch model, or a replay file."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

from codegen.runtime.adapters import AdapterError, read_adapter
from codegen.runtime.call import GenerateCall as GenerateCall
from codegen.runtime.call import OnTiming as OnTiming
from codegen.runtime.call import Resume as Resume
from codegen.runtime.call import Settled as Settled
from codegen.runtime.compute import on_compute
from codegen.runtime.engine import Engine
from codegen.runtime.forward import UnsupportedModel
from codegen.runtime.generate import OnText, SamplingParams, generate
from codegen.runtime.model import ModelError, ModelSpec, pull
from codegen.runtime.placement import (
    QUANTIZE_MODES,
    gguf_source,
    pick_device,
    pick_dtype,
    quantized_file,
    resolve_quantize,
)
from codegen.runtime.remote import RemoteBackend, RemoteOptions
from codegen.runtime.stopping import (
    SkipTyped,
    StopAtNewline,
    StopCheck,
    StopOnEvent,
    StopOnIds,
    StopWhenSettled,
)
from codegen.runtime.types import FinishReason, Generation
from prompts.templates import STOP_TOKEN_IDS, Prompt, Tokenizer, check_special_tokens

logger = logging.getLogger(__name__)


class Backend(Protocol):
    """Produces raw candidate text for a prompt."""

    description: str
    """What is loaded, for status and logs."""

    @property
    def tokenizer(self) -> Tokenizer | None:
        """The model's tokenizer; None when the backend needs no prompt (replay)."""
        ...

    def generate(self, call: GenerateCall) -> list[Generation]:
        """Return `call.params.n` raw generations (replay returns its recorded ones)."""
        ...

    @property
    def engine(self) -> Engine | None:
        """The engine that batches this model's requests; None without a local model."""
        ...

    def check_adapter(self, path: str) -> None:
        """Raise `AdapterError` (a `ModelError`) unless the adapter at `path` can be served."""
        ...

    def close(self) -> None:
        """Release what the backend holds (an engine thread); calling it twice is harmless."""
        ...




@dataclass(frozen=True)
class HFTokenizer:
    """Adapter from a `tokenizers.Tokenizer` to the prompts' `Tokenizer` protocol."""

    inner: Any

    def encode(self, text: str) -> list[int]:
        """Encode text without special tokens."""
        return list(self.inner.encode(text, add_special_tokens=False).ids)

    def token_to_id(self, token: str) -> int | None:
        """Look up one token."""
        found = self.inner.token_to_id(token)
        return int(found) if found is not None else None

    def decode(self, ids: list[int]) -> str:
        """Decode ids to text, dropping control tokens."""
        return str(self.inner.decode(ids, skip_special_tokens=True))


@dataclass(frozen=True)
class RuntimeOptions:
    """How a local model runs: weights, slots, compiled steps, prefix reuse, speculation."""

    compile: str = "auto"
    """"auto" (compiled decoding with CUDA graphs on GPUs, eager on CPUs), "on" or "off"."""
    quantize: str = "auto"
    """Decoding weights: "auto" (int4 on a CPU, off on a GPU), "int4", "int8" or "off"."""
    slots: int = 0
    """Sequences decoded together at most; 0 picks 64 on a GPU and 8 on a CPU."""
    prefix_cache_mb: int = 512
    """Memory for prompt KV kept between requests (0 turns prefix reuse off)."""
    speculate_tokens: int = 4
    """Draft tokens checked per speculative round, when a draft model is given."""

    def __post_init__(self) -> None:
        """Reject options the engine cannot honour."""
        if self.compile not in ("auto", "on", "off"):
            raise ModelError(f"compile must be auto, on or off, not {self.compile!r}")
        if self.quantize not in QUANTIZE_MODES:
            raise ModelError(f"quantize must be one of {', '.join(QUANTIZE_MODES)}, "
                             f"not {self.quantize!r}")
        if self.slots < 0 or self.prefix_cache_mb < 0 or self.speculate_tokens < 1:
            raise ModelError("slots and prefix_cache_mb must be >= 0, speculate_tokens >= 1")


class TorchBackend:
    """A causal LM loaded with transformers; requests go through one batching `Engine`.

    Models whose layers `codegen.runtime.forward` does not implement fall back to transformers'
    own forward, one request at a time.
    """

    def __init__(
        self,
        model: Any,
        tokenizer: HFTokenizer,
        description: str,
        runtime: RuntimeOptions = RuntimeOptions(),
        draft: Any = None,
        gguf: Path | None = None,
        saved: Path | None = None,
    ) -> None:
        """Wrap a loaded model and its tokenizer, and start its engine.

        `draft`, a smaller model with the same tokenizer, speculates for lone greedy requests.
        `gguf`, the file the model was converted from, gives quantization its 4-bit blocks;
        `saved` keeps the quantized weights for the next load.
        """
        self.model = model
        self.tokenizer: HFTokenizer = tokenizer
        self.description = description
        self.engine: Engine | None = None
        self._lock = threading.Lock()
        self._checked: dict[str, tuple[float, str]] = {}
        """Adapter folder → (weights file time, error or "") of its last check."""
        gpu = str(getattr(model, "device", "cpu")).startswith("cuda")
        quantize = resolve_quantize(runtime.quantize, gpu)
        try:
            self.engine = Engine(
                model,
                tokenizer.decode,
                slots=runtime.slots or (64 if gpu else 8),
                capacity=2048 if gpu else 512,
                prefix_budget_bytes=runtime.prefix_cache_mb * 1024 * 1024,
                reuse_prefixes=runtime.prefix_cache_mb > 0,
                compiled=runtime.compile == "on" or (runtime.compile == "auto" and gpu),
                draft=draft,
                speculate_tokens=runtime.speculate_tokens,
                quantize=quantize,
                gguf=gguf,
                saved=saved,
            )
        except UnsupportedModel as exc:
            logger.warning("%s: generating one request at a time (%s)", description, exc)

    def close(self) -> None:
        """Stop the engine thread."""
        if self.engine is not None:
            self.engine.close()

    def check_adapter(self, path: str) -> None:
        """Raise `AdapterError` unless the adapter at `path` can be served on this model.

        The verdict is kept until the adapter's files change.
        """
        if self.engine is None:
            raise AdapterError(f"{self.description} serves no LoRA adapters (an "
                               "architecture the engine does not run)")
        weights = Path(path).expanduser() / "adapter_model.safetensors"
        try:
            stamp = weights.stat().st_mtime
        except OSError:
            stamp = -1.0
        known = self._checked.get(path)
        if known is not None and known[0] == stamp:
            if known[1]:
                raise AdapterError(known[1])
            return
        try:
            read_adapter(path, self.model)
        except AdapterError as exc:
            logger.warning("adapter not used: %s", exc)  # once: the verdict is kept
            self._checked[path] = (stamp, str(exc))
            raise
        self._checked[path] = (stamp, "")

    def generate(self, call: GenerateCall) -> list[Generation]:
        """Generate from the prompt ids, sharing decode steps with other requests.

        With `resume`, continue those sequences instead (one generation each), as if the
        text they had written, less what the user typed, were all that was shown.
        """
        prompt, params, cancel = call.prompt, call.params, call.cancel
        single_line, on_text, settled = call.single_line, call.on_text, call.settled
        resume, on_timing, adapter = call.resume, call.on_timing, call.adapter
        assert prompt is not None
        if cancel.is_set():
            return []
        if self.engine is None:
            return self._generate_alone(prompt, params, single_line, cancel, on_text, settled)
        if not resume:
            checks = self._checks(cancel, single_line, settled, skip=0)
            ticket = self.engine.submit(
                prompt.ids, params, checks, cancel=cancel, on_text=on_text,
                cache_key=prompt.path, adapter=adapter,
            )
            found = ticket.result()
            if on_timing is not None and ticket.timing is not None:
                on_timing(ticket.timing)
            return found
        one = replace(params, n=1)
        tickets = [
            self.engine.submit(
                prompt.ids,
                one,
                self._checks(cancel, single_line, settled, skip=len(r.typed)),
                cancel=cancel,
                on_text=_renumbered(on_text, index, len(r.typed)),
                cache_key=prompt.path,
                resumed=r.token_ids,
                adapter=adapter,
            )
            for index, r in enumerate(resume)
        ]
        results = [t.result() for t in tickets]
        if on_timing is not None and tickets[0].timing is not None:
            on_timing(tickets[0].timing)
        return [
            replace(g, text=g.text[len(r.typed) :])
            for r, found in zip(resume, results, strict=True)
            for g in found
        ]

    def _checks(
        self, cancel: threading.Event, single_line: bool, settled: Settled | None, skip: int
    ) -> tuple[StopCheck, ...]:
        checks: list[StopCheck] = [StopOnEvent(cancel), StopOnIds(STOP_TOKEN_IDS)]
        if single_line:
            checks.append(StopAtNewline())
        if settled is not None:
            checks.append(StopWhenSettled(settled))
        if skip:
            checks[2:] = [SkipTyped(check, skip) for check in checks[2:]]
        return tuple(checks)

    def _generate_alone(
        self,
        prompt: Prompt,
        params: SamplingParams,
        single_line: bool,
        cancel: threading.Event,
        on_text: OnText | None,
        settled: Settled | None,
    ) -> list[Generation]:
        checks = self._checks(cancel, single_line, settled, skip=0)
        with self._lock:
            if cancel.is_set():
                return []
            return on_compute(lambda: generate(
                self.model, prompt.ids, params, self.tokenizer.decode, checks, on_text
            ))


def _renumbered(on_text: OnText | None, index: int, skip: int) -> OnText | None:
    """Stream a resumed sequence as alternative `index`, without its first `skip` characters."""
    if on_text is None:
        return None
    callback = on_text
    return lambda _, text: callback(index, text[skip:])


class ReplayBackend:
    """Returns recorded raw outputs as the candidates of every request."""

    tokenizer: None = None
    engine: Engine | None = None

    def __init__(self, path: Path) -> None:
        """Read `{"text": str, "logprob": float?}` lines; raise `ModelError` on a bad file."""
        self.description = f"replay:{path}"
        self.generations: list[Generation] = []
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                text = record["text"]
                logprob = record.get("logprob")
                if not isinstance(text, str) or not (
                    logprob is None or isinstance(logprob, int | float)
                ):
                    raise TypeError("text must be a string and logprob a number")
            except (ValueError, KeyError, TypeError, AttributeError) as exc:
                raise ModelError(f"{path}:{number}: not a replay record ({exc})") from exc
            self.generations.append(
                Generation(text, None if logprob is None else float(logprob), FinishReason.REPLAY)
            )

    def generate(self, call: GenerateCall) -> list[Generation]:
        """Return the recorded outputs, streaming each whole."""
        if call.cancel.is_set():
            return []
        for index, generation in enumerate(self.generations):
            if call.on_text is not None:
                call.on_text(index, generation.text)
        return list(self.generations)

    def check_adapter(self, path: str) -> None:
        """Recorded outputs have no model to adapt."""
        raise AdapterError(f"{self.description} serves no LoRA adapters")

    def close(self) -> None:
        """Nothing to release."""


def load_backend(
    spec: ModelSpec,
    *,
    device: str = "auto",
    dtype: str = "auto",
    cache_dir: Path | None = None,
    progress: Callable[[str], None] | None = None,
    runtime: RuntimeOptions = RuntimeOptions(),
    draft: Backend | None = None,
    remote: RemoteOptions | None = None,
) -> Backend:
    """Obtain and load a model; raise `ModelError` with a clear message on any failure.

    `draft`, an already loaded smaller model on the same device, speculates for it.
    """
    report = progress or (lambda message: None)
    report(f"obtaining {spec}")
    source = pull(spec, cache_dir, report)
    if spec.kind == "replay":
        return ReplayBackend(Path(source))
    if spec.kind == "openai":
        return _remote(spec, Path(source), remote or RemoteOptions())
    target = pick_device(device)
    precision = pick_dtype(dtype, target, spec)
    report(f"loading {spec} on {target} ({str(precision).removeprefix('torch.')})")
    # Loading casts and copies with parallel kernels: on the compute thread
    # (codegen.runtime.compute).
    model, tokenizer = on_compute(lambda: _load_model(spec, str(source), target, precision))
    draft_model = None
    if isinstance(draft, TorchBackend):
        if str(draft.model.device) == str(model.device):
            draft_model = draft.model
        else:
            logger.warning("draft model on %s, not %s: no speculation", draft.model.device, target)
    description = f"{spec} on {target}"
    gguf = gguf_source(spec, cache_dir)
    mode = resolve_quantize(runtime.quantize, target.startswith("cuda"))
    saved = None
    if mode != "off":
        report(f"preparing {mode} weights for decoding")
        saved = quantized_file(spec, model, mode, target, gguf, cache_dir)
    backend = TorchBackend(model, tokenizer, description, runtime, draft_model, gguf, saved)
    if backend.engine is not None and backend.engine.forward.quantization != "off":
        backend.description += f" ({backend.engine.forward.quantization.split(',')[0]})"
    return backend


def _load_model(spec: ModelSpec, source: str, target: str, precision: Any) -> tuple[Any, Any]:
    """Load the model and its tokenizer; raise `ModelError` saying why when that fails."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]  # loads in seconds
    try:
        tokenizer = HFTokenizer(AutoTokenizer.from_pretrained(source).backend_tokenizer)
        check_special_tokens(tokenizer)
        auto: Any = AutoModelForCausalLM
        model = auto.from_pretrained(source, dtype=precision)
        model = model.to(target).eval()
    except torch.OutOfMemoryError as exc:
        raise ModelError(f"out of memory loading {spec} on {target}: pick a smaller model") from exc
    except ModelError:
        raise
    except Exception as exc:
        raise ModelError(f"could not load {spec}: {exc}") from exc
    return model, tokenizer


def _remote(spec: ModelSpec, tokenizer_dir: Path, options: RemoteOptions) -> Backend:
    """A backend for ``openai:URL[#model]``, with the real Qwen tokenizer for its prompts."""
    from tokenizers import Tokenizer

    url, _, model = spec.value.partition("#")
    tokenizer = HFTokenizer(Tokenizer.from_file(str(tokenizer_dir / "tokenizer.json")))
    check_special_tokens(tokenizer)
    return RemoteBackend(url, model, tokenizer, options)
