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
from codegen.stopping import StopAtNewline, StopCheck, StopOnEvent, StopOnIds
from codegen.types import FinishReason, Generation
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

    def generate(
        self,
        prompt: Prompt | None,
        params: SamplingParams,
        *,
        single_line: bool,
        cancel: threading.Event,
        on_text: OnText | None = None,
    ) -> list[Generation]:
        """Return `params.n` raw generations (replay returns its recorded ones)."""
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
    ) -> list[Generation]:
        """Generate from the prompt ids; one request at a time on the model."""
        assert prompt is not None
        checks: tuple[StopCheck, ...] = (StopOnEvent(cancel), StopOnIds(STOP_TOKEN_IDS))
        if single_line:
            checks += (StopAtNewline(),)
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
    ) -> list[Generation]:
        """Return the recorded outputs, streaming each whole."""
        if cancel.is_set():
            return []
        for index, generation in enumerate(self.generations):
            if on_text is not None:
                on_text(index, generation.text)
        return list(self.generations)


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
    cache_dir: Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> Backend:
    """Obtain and load a model; raise `ModelError` with a clear message on any failure."""
    report = progress or (lambda message: None)
    report(f"obtaining {spec}")
    source = pull(spec, cache_dir)
    if spec.kind == "replay":
        return ReplayBackend(Path(source))
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    target = pick_device(device)
    dtype = torch.float32 if spec.kind == "random" else torch.bfloat16
    report(f"loading {spec} on {target}")
    try:
        tokenizer = HFTokenizer(AutoTokenizer.from_pretrained(str(source)).backend_tokenizer)
        check_special_tokens(tokenizer)
        auto: Any = AutoModelForCausalLM
        model = auto.from_pretrained(str(source), dtype=dtype)
        model = model.to(target).eval()
    except torch.OutOfMemoryError as exc:
        raise ModelError(f"out of memory loading {spec} on {target}: pick a smaller model") from exc
    except ModelError:
        raise
    except Exception as exc:
        raise ModelError(f"could not load {spec}: {exc}") from exc
    return TorchBackend(model, tokenizer, f"{spec} on {target}")
