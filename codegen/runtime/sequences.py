"""What the engine keeps per request and per sequence, and what it reports."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch

from codegen.runtime.generate import OnText, SamplingParams, sample
from codegen.runtime.stopping import StopCheck
from codegen.runtime.types import FinishReason, Generation

if TYPE_CHECKING:
    from codegen.runtime.engine import Engine


@dataclass
class Stats:
    """Counters for status, tests and benchmarks."""

    prompt_tokens: int = 0
    """Prompt tokens of all requests."""
    prefilled_tokens: int = 0
    """Prompt tokens actually run through the model (the rest came from the cache)."""
    decode_steps: int = 0
    batched_sequences: int = 0
    """Sum over decode steps of the sequences they carried."""
    max_batch: int = 0
    speculative_rounds: int = 0
    speculative_tokens: int = 0
    """Tokens emitted by speculative rounds (accepted draft tokens plus one per round)."""
    proposed_tokens: int = 0
    """Tokens the draft proposed."""
    accepted_tokens: int = 0
    """Proposed tokens the large model agreed with."""
    failures: int = 0
    out_of_memory: int = 0
    """Failures that were the device running out of memory."""
    prefill_chunks: int = 0
    most_chunks_between_steps: int = 0
    """The most prompt chunks read between two decode steps of running sequences."""


@dataclass(frozen=True)
class Timing:
    """Where one request's time went, in seconds."""

    queued: float = 0.0
    prefill: float = 0.0
    first_token: float = 0.0
    """From submission to the first sampled token."""
    total: float = 0.0
    reused_tokens: int = 0
    prefilled_tokens: int = 0
    generated_tokens: int = 0
    """Tokens of the longest alternative."""


@dataclass
class Job:
    """One request: its prompt, its sequences, and who waits for it."""

    ids: tuple[int, ...]
    params: SamplingParams
    checks: tuple[StopCheck, ...]
    on_text: OnText | None
    cancel: threading.Event
    cache_key: str
    resumed: tuple[int, ...]
    """Tokens already generated for this sequence by an earlier request (n is then 1)."""
    adapter: str = ""
    """The LoRA adapter's folder ("" for the base model)."""
    adapter_slot: int | None = None
    """Its slot in the engine's `AdapterBank`, held while the job runs."""
    future: Future[list[Generation]] = field(default_factory=Future)
    generator: torch.Generator | None = None
    results: list[Generation | None] = field(default_factory=list)
    submitted: float = field(default_factory=time.perf_counter)
    admitted: float = 0.0
    prefilled: float = 0.0
    first_token: float = 0.0
    reused: int = 0
    timing: Timing | None = None

    def measure(self, results: Sequence[Generation]) -> Timing:
        """Where this request's time went, now that it ends with `results`."""
        now = time.perf_counter()
        return Timing(
            queued=(self.admitted or now) - self.submitted,
            prefill=(self.prefilled or now) - (self.admitted or now),
            first_token=(self.first_token or now) - self.submitted,
            total=now - self.submitted,
            reused_tokens=self.reused,
            prefilled_tokens=len(self.ids) + len(self.resumed) - self.reused,
            generated_tokens=max((g.tokens for g in results), default=0),
        )


@dataclass
class Seq:
    """One alternative being decoded in a slot."""

    job: Job
    index: int
    temperature: float
    slot: int
    length: int
    """Positions of the slot holding this sequence's keys and values."""
    logits: torch.Tensor | None = None  # [V]: the distribution of the next token
    generated: list[int] = field(default_factory=list)
    logprob: float = 0.0
    text: str = ""
    token_logprobs: list[float] = field(default_factory=list)
    """Per token generated here (not the resumed ones): its log-probability."""
    token_ends: list[int] = field(default_factory=list)
    """Per token generated here: where its text ends in `text`."""

    @property
    def fed(self) -> tuple[int, ...]:
        """The tokens whose keys and values the slot holds (`generated` starts as `resumed`)."""
        return (self.job.ids + tuple(self.generated))[: self.length]

    def generation(self, reason: FinishReason) -> Generation:
        """What the sequence generated, finished for `reason`."""
        fresh = not self.job.resumed  # resumed tokens have no per-token record here
        return Generation(
            self.text, self.logprob, reason, len(self.generated), tuple(self.generated),
            tuple(self.token_logprobs) if fresh else (), tuple(self.token_ends) if fresh else (),
        )


@dataclass
class Fill:
    """A job whose prompt is being read into its first slot, a chunk per engine turn."""

    job: Job
    slots: list[int]
    """The cache slots its alternatives will take; the prompt goes into the first."""
    ids: tuple[int, ...]
    """The prompt (and the resumed tokens)."""
    done: int
    """Positions of the first slot already holding the prompt's keys and values."""
    logits: torch.Tensor | None = None  # [V] after the last token read


class NonFiniteLogits(FloatingPointError):
    """The model's next-token scores for a request hold NaN or infinity (a damaged adapter?)."""


def sample_tokens(
    seqs: Sequence[Seq], device: torch.device
) -> tuple[list[int], list[float], list[tuple[Job, Exception]]]:
    """One token per sequence and its log-probability; each request's own seeded generator.

    A request whose scores are not finite, or whose sampling raises, is returned with the
    error instead (its rows' tokens mean nothing): it fails alone, its neighbours go on.
    """
    logits = torch.stack([seq.logits for seq in seqs if seq.logits is not None])  # [B, V]
    assert logits.shape[0] == len(seqs)
    picked = logits.argmax(dim=-1)  # [B]: every greedy row at once
    # The row maximum is NaN when any score is, and not finite when all are -inf or one +inf.
    broken = (~torch.isfinite(logits.amax(dim=-1))).tolist()  # [B]
    groups: dict[int, list[int]] = {}
    for i, seq in enumerate(seqs):
        groups.setdefault(id(seq.job), []).append(i)
    failed: list[tuple[Job, Exception]] = []
    for rows in groups.values():
        job = seqs[rows[0]].job
        if any(broken[i] for i in rows):
            failed.append((job, NonFiniteLogits(
                "the model's scores for this request are NaN or infinite (an adapter with "
                "damaged weights?)")))
            continue
        if all(seqs[i].temperature == 0 for i in rows):
            continue
        # A request's rows are sampled together, greedy ones included, so its random
        # stream is the same whatever else shares the batch.
        assert job.generator is not None
        index = torch.tensor(rows, device=device)
        temps = torch.tensor([seqs[i].temperature for i in rows], device=device)
        try:
            picked[index] = sample(logits[index], temps, job.params.top_p, job.generator)
        except Exception as exc:  # noqa: BLE001 - this request fails, not the batch
            failed.append((job, exc))
    chosen = torch.log_softmax(logits, dim=-1).gather(-1, picked[:, None])[:, 0]
    return picked.tolist(), chosen.tolist(), failed


class Ticket:
    """A submitted request: its result, and where its time went once it finished."""

    def __init__(self, job: Job) -> None:
        """Wrap the engine's record of the request."""
        self._job = job

    def result(self, timeout: float | None = None) -> list[Generation]:
        """Wait for the generations (none when cancelled before any token)."""
        return self._job.future.result(timeout)

    def done(self) -> bool:
        """Tell whether the request finished."""
        return self._job.future.done()

    @property
    def timing(self) -> Timing | None:
        """Queue, prefill and first-token times; None until finished."""
        return self._job.timing


def engine_status(engine: Engine) -> dict[str, Any]:
    """An engine's counters for `vetted/status`: queue, batch, prefix reuse, speculation."""
    stats = engine.stats
    prefixes = engine.prefixes
    lookups = prefixes.hits + prefixes.misses
    return {
        "device": str(engine.device),
        "slots": engine.cache.slots,
        "live": engine.live,
        "queued": engine.queued,
        "prefilling": engine.prefilling,
        "decodeSteps": stats.decode_steps,
        "maxBatch": stats.max_batch,
        "meanBatch": round(stats.batched_sequences / stats.decode_steps, 2)
        if stats.decode_steps else 0.0,
        "promptTokens": stats.prompt_tokens,
        "prefilledTokens": stats.prefilled_tokens,
        "prefixHitRate": round(prefixes.hits / lookups, 3) if lookups else 0.0,
        "prefixCacheMb": round(prefixes.nbytes / 2**20, 1),
        "speculativeRounds": stats.speculative_rounds,
        "tokensPerRound": round(stats.speculative_tokens / stats.speculative_rounds, 2)
        if stats.speculative_rounds else 0.0,
        "quantization": engine.forward.quantization,
        "compiled": engine.graphs is not None and engine.graphs.enabled,
        "compiledShapes": [list(shape) for shape in engine.graphs.shapes]
        if engine.graphs is not None else [],
        "compiledSteps": engine.graphs.calls if engine.graphs is not None else 0,
        "compileError": engine.graphs.error if engine.graphs is not None else "",
        "adapters": engine.adapters.loaded,
        "failures": stats.failures,
        "outOfMemory": stats.out_of_memory,
    }
