"""Backends that turn a prompt into raw generations: a local torch model, or a replay file."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from codegen.generate import OnText, SamplingParams, generate
from codegen.model import ModelError, ModelSpec, pull
from codegen.stopping import (
    StopAtNewline,
    StopCheck,
    StopOnEvent,
    StopOnIds,
    StopWhenSettled,
)
from codegen.types import FinishReason, Generation
from prompts.templates import STOP_TOKEN_IDS, Prompt, Tokenizer, check_special_tokens

logger = logging.getLogger(__name__)


Settled = Callable[[str], bool]
"""Tells whether post-processing has cut the last finished line of a candidate's text."""


class Backend(Protocol):
    """Produces raw candidate text for a prompt."""

    description: str
    """What is loaded, for status and logs."""

    @property
    def tokenizer(self) -> Tokenizer | None:
        """The model's tokenizer; None when the backend needs no prompt (replay)."""
        ...

    def generate(
        self,
        prompt: Prompt | None,
        params: SamplingParams,
        *,
        single_line: bool,
        cancel: threading.Event,
        on_text: OnText | None = None,
        settled: Settled | None = None,
    ) -> list[Generation]:
        """Return `params.n` raw generations (replay returns its recorded ones).

        `settled` tells, from a candidate's text so far, that post-processing has already
        cut its last finished line; a backend may stop that candidate there.
        """
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


class TorchBackend:
    """A causal LM loaded with transformers, generating with `codegen.generate`."""

    def __init__(self, model: Any, tokenizer: HFTokenizer, description: str) -> None:
        """Wrap a loaded model and its tokenizer."""
        self.model = model
        self.tokenizer: HFTokenizer = tokenizer
        self.description = description
        self._lock = threading.Lock()

    def generate(
        self,
        prompt: Prompt | None,
        params: SamplingParams,
        *,
        single_line: bool,
        cancel: threading.Event,
        on_text: OnText | None = None,
        settled: Settled | None = None,
    ) -> list[Generation]:
        """Generate from the prompt ids; one request at a time on the model."""
        assert prompt is not None
        checks: tuple[StopCheck, ...] = (StopOnEvent(cancel), StopOnIds(STOP_TOKEN_IDS))
        if single_line:
            checks += (StopAtNewline(),)
        if settled is not None:
            checks += (StopWhenSettled(settled),)
        with self._lock:
            if cancel.is_set():
                return []
            return generate(
                self.model, prompt.ids, params, self.tokenizer.decode, checks, on_text
            )


class ReplayBackend:
    """Returns recorded raw outputs as the candidates of every request."""

    tokenizer: None = None

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

    def generate(
        self,
        prompt: Prompt | None,
        params: SamplingParams,
        *,
        single_line: bool,
        cancel: threading.Event,
        on_text: OnText | None = None,
        settled: Settled | None = None,
    ) -> list[Generation]:
        """Return the recorded outputs, streaming each whole."""
        if cancel.is_set():
            return []
        for index, generation in enumerate(self.generations):
            if on_text is not None:
                on_text(index, generation.text)
        return list(self.generations)


DTYPES = ("auto", "bfloat16", "float16", "float32")
"""Weight precisions a user may ask for."""


def _cpu_has_native_bf16() -> bool:
    """Tell whether the CPU computes in bf16 natively (AVX512-BF16 or AMX); Linux only."""
    try:
        flags = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def pick_dtype(requested: str, device: str, spec: ModelSpec) -> Any:
    """Resolve the precision: bf16 on GPUs and on CPUs with native bf16, fp32 otherwise.

    Measured on a 2-core AVX2 CPU without bf16 instructions (Qwen2.5-Coder-0.5B, 164-token
    prompt): prefill 6.4 s in bf16 against 1.3 s in fp32, decode 84 against 160 ms/token.
    The prompt dominates an inline request there, so fp32 wins.
    """
    import torch

    if requested not in DTYPES:
        raise ModelError(f"unknown dtype {requested!r}; choose one of {', '.join(DTYPES)}")
    if requested != "auto":
        return getattr(torch, requested)
    if spec.kind == "random":
        return torch.float32
    if device.startswith("cuda"):
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.bfloat16 if _cpu_has_native_bf16() else torch.float32


def pick_device(requested: str) -> str:
    """Resolve "auto" to cuda when a GPU is usable, else cpu."""
    import torch

    if requested != "auto":
        return requested
    return "cuda" if torch.cuda.is_available() else "cpu"


def load_backend(
    spec: ModelSpec,
    *,
    device: str = "auto",
    dtype: str = "auto",
    cache_dir: Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> Backend:
    """Obtain and load a model; raise `ModelError` with a clear message on any failure."""
    report = progress or (lambda message: None)
    report(f"obtaining {spec}")
    source = pull(spec, cache_dir, report)
    if spec.kind == "replay":
        return ReplayBackend(Path(source))
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]  # loads in seconds
    target = pick_device(device)
    precision = pick_dtype(dtype, target, spec)
    report(f"loading {spec} on {target} ({str(precision).removeprefix('torch.')})")
    try:
        tokenizer = HFTokenizer(AutoTokenizer.from_pretrained(str(source)).backend_tokenizer)
        check_special_tokens(tokenizer)
        auto: Any = AutoModelForCausalLM
        model = auto.from_pretrained(str(source), dtype=precision)
        model = model.to(target).eval()
    except torch.OutOfMemoryError as exc:
        raise ModelError(f"out of memory loading {spec} on {target}: pick a smaller model") from exc
    except ModelError:
        raise
    except Exception as exc:
        raise ModelError(f"could not load {spec}: {exc}") from exc
    return TorchBackend(model, tokenizer, f"{spec} on {target}")
