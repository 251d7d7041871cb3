"""One thread owns the model: requests share decode steps, prompts reuse cached prefixes.

Every engine takes turns on the process's one compute thread (`codegen.runtime.compute`). A
request's prompt is read in chunks, from the longest prefix already cached (the same
document a keystroke ago, or the repository context another document shares), straight
into the first of the N slots of the `SlotCache` its alternatives take. Each turn of the
model thread reads at most one chunk of one prompt and then runs one decode step of every
live sequence, whatever request it belongs to: a running stream (and its cancellation)
waits at most one chunk for a newcomer's prompt, and the chunk is smaller while streams
run. A finished or cancelled sequence frees its slot at the next step. A lone greedy
sequence may be decoded speculatively with a draft model (`codegen.runtime.speculative`).

Decoding runs with quantized weights where asked (`codegen.runtime.quant`; prompts keep the dense
ones) and, where compiled steps are on, through steps built in the background for the
shapes requests need (`codegen.runtime.graphs`).
"""

from __future__ import annotations

import heapq
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch

from codegen.runtime.adapters import AdapterBank
from codegen.runtime.compute import COMPUTE, on_compute
from codegen.runtime.decoder import Decoder
from codegen.runtime.forward import SlotModel
from codegen.runtime.generate import OnText, SamplingParams
from codegen.runtime.graphs import Graphs
from codegen.runtime.kv import PrefixCache, SlotCache
from codegen.runtime.sequences import (
    Fill,
    Job,
    Seq,
    Stats,
    Ticket,
    engine_status,
    sample_tokens,
)
from codegen.runtime.speculative import Draft, SpeculationGate, speculate_round
from codegen.runtime.stopping import StopCheck, first_reason
from codegen.runtime.types import FinishReason, Generation

logger = logging.getLogger(__name__)

DEFAULT_PREFIX_BUDGET = 512 * 1024 * 1024
"""Bytes of prompt KV kept for reuse between keystrokes."""
PREFILL_CHUNK = 512
"""Prompt tokens read per forward while no sequence is being decoded (CPU)."""
PREFILL_CHUNK_GPU = 2048
"""The same on a GPU, where one forward over a whole inline prompt is cheapest."""
INTERLEAVED_SHARE = 4
"""While sequences are decoded, a chunk is this many times smaller (128 tokens on a CPU)."""


class Engine:
    """Serve generation requests from one model thread, batching across requests."""

    def __init__(
        self,
        model: torch.nn.Module,
        decode: Callable[[list[int]], str],
        *,
        slots: int = 16,
        capacity: int = 1024,
        prefix_budget_bytes: int = DEFAULT_PREFIX_BUDGET,
        reuse_prefixes: bool = True,
        compiled: bool = False,
        compile_backend: str | None = None,
        compile_model: bool = True,
        draft: torch.nn.Module | None = None,
        speculate_tokens: int = 4,
        quantize: str = "off",
        gguf: Path | None = None,
        saved: Path | None = None,
        prefill_chunk: int = 0,
    ) -> None:
        """Read the weights, allocate the slot cache and start the model thread.

        `capacity` is the initial length of each slot; it grows when a request needs more.
        `compiled` builds decode steps in the background (`codegen.runtime.graphs`):
        `compile_backend` None means inductor, and on a GPU the steps are recorded as CUDA
        graphs (`compile_model=False` records the eager step); tests pass "eager" to
        run the same path on a CPU without a C++ compiler. `quantize` ("int4", "int8" or
        "off") sets the decoding weights, read from `gguf` where given, kept in `saved` for the
        next load (`codegen.runtime.weights.quantize`). `prefill_chunk`
        (0: by device) is the most prompt tokens read per forward.
        """
        self.adapters = AdapterBank(model)
        """LoRA adapters requests may ask for."""
        # Reading (fusing) and quantizing weights runs parallel kernels: on the compute thread.
        self.forward = on_compute(lambda: SlotModel(model, self.adapters))
        if quantize != "off":
            on_compute(lambda: self.forward.quantize(quantize, gguf, saved))
        self.decode = decode
        self.reuse_prefixes = reuse_prefixes
        self.device = self.forward.device
        self.chunk = prefill_chunk or (
            PREFILL_CHUNK_GPU if self.device.type == "cuda" else PREFILL_CHUNK
        )
        self._margin = speculate_tokens + 2
        """Positions past a sequence's end that a speculation may write, plus the last
        position of each slot, which compiled steps use as scratch."""
        self.cache = on_compute(lambda: SlotCache(self.forward.kv_shape, slots, capacity))
        on_compute(lambda: self.forward.rope_table(capacity))
        self.prefixes = PrefixCache(prefix_budget_bytes)
        self.stats = Stats()
        self.draft = None
        if draft is not None:
            helper = draft
            self.draft = on_compute(
                lambda: Draft(SlotModel(helper), capacity, speculate_tokens)
            )
        self.gate = SpeculationGate()
        self.graphs = (
            Graphs(self.forward, self.cache, compile_backend, compile_model) if compiled else None
        )
        self.decoder = Decoder(self.forward, self.cache, self.adapters, self.graphs)
        self._free = list(range(slots))
        heapq.heapify(self._free)
        self._pending: deque[Job] = deque()
        self._filling: deque[Fill] = deque()
        self._chunks_since_step = 0
        self._lock = threading.Lock()
        self._closed = False
        self._live: list[Seq] = []
        COMPUTE.attach(self)

    def submit(
        self,
        ids: Sequence[int],
        params: SamplingParams,
        checks: tuple[StopCheck, ...],
        *,
        cancel: threading.Event,
        on_text: OnText | None = None,
        cache_key: str = "",
        resumed: Sequence[int] = (),
        adapter: str = "",
    ) -> Ticket:
        """Queue a request; the future gets `params.n` generations (none if cancelled first).

        With `resumed`, the request continues one earlier sequence of the same prompt: its
        text and token count include those tokens, and `params.n` must be 1.
        """
        if not ids:
            raise ValueError("empty prompt")
        params.check()
        if params.n > self.cache.slots:
            raise ValueError(f"{params.n} alternatives exceed the engine's {self.cache.slots}")
        if resumed and params.n != 1:
            raise ValueError("a resumed sequence is one alternative")
        job = Job(tuple(ids), params, checks, on_text, cancel, cache_key, tuple(resumed),
                  adapter)
        job.results = [None] * params.n
        with self._lock:
            if self._closed:
                raise RuntimeError("the engine is closed")
            self._pending.append(job)
        COMPUTE.wake()
        return Ticket(job)

    def status(self) -> dict[str, Any]:
        """Counters for `vetted/status`: queue, batch, prefix reuse, speculation, graphs."""
        return engine_status(self)

    @property
    def live(self) -> int:
        """Sequences in the running batch."""
        return len(self._live)

    @property
    def queued(self) -> int:
        """Requests waiting for slots."""
        return len(self._pending)

    @property
    def prefilling(self) -> int:
        """Requests whose prompt is being read."""
        return len(self._filling)

    def close(self) -> None:
        """Stop taking turns; queued and running requests end as cancelled."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        COMPUTE.detach(self)
        on_compute(self._shut_down)
        if self.graphs is not None:
            self.graphs.close()

    # --- turns on the compute thread -------------------------------------------------------

    def has_work(self) -> bool:
        """Tell whether a turn would do anything (asked by the compute thread)."""
        return bool(self._pending or self._filling or self._live)

    def turn(self) -> None:
        """Admit what fits, read one prompt chunk, run one decode step; never raise."""
        with self._lock:
            admitted = self._take_pending()
        with torch.no_grad():
            for job in admitted:
                try:
                    self._admit(job)
                except Exception as exc:  # noqa: BLE001 - fail the request, not the engine
                    self._failed("prefill", exc, [job])
            if self._filling:
                fill = self._filling[0]
                try:
                    self._fill_chunk(fill)
                except Exception as exc:  # noqa: BLE001 - fail the request, not the engine
                    self._failed("prefill", exc, [fill.job])
            try:
                if self._live:
                    self._step()
            except Exception as exc:  # noqa: BLE001 - one bad step must not kill the engine
                self._failed("decode step", exc, [])

    def _shut_down(self) -> None:
        """End running, prompt-reading and queued requests as cancelled (compute thread)."""
        self._fail_live(RuntimeError("the engine is closed"), cancelled=True)
        with self._lock:
            pending, self._pending = list(self._pending), deque()
        for job in pending:
            job.future.set_result([])

    def _take_pending(self) -> list[Job]:
        """Jobs, in order, whose alternatives fit in the free slots now."""
        taken: list[Job] = []
        room = len(self._free)
        while self._pending and self._pending[0].params.n <= room:
            job = self._pending.popleft()
            taken.append(job)
            room -= job.params.n
        return taken

    # --- admission -------------------------------------------------------------------------

    def _admit(self, job: Job) -> None:
        """Give the job its slots and start its prompt from the longest cached prefix."""
        job.admitted = time.perf_counter()
        if job.adapter:
            job.adapter_slot = self.adapters.acquire(job.adapter)  # AdapterError fails the job
        full = job.ids + job.resumed
        self.stats.prompt_tokens += len(job.ids)
        self._ensure_capacity(len(full) + job.params.max_new_tokens + self._margin)
        slots = [heapq.heappop(self._free) for _ in range(job.params.n)]
        fill = Fill(job, slots, full, 0)
        self._filling.append(fill)  # from here on, failing the job frees the slots
        namespace = self.adapters.version(job.adapter_slot)
        hit = self.prefixes.lookup(full, namespace=namespace) if self.reuse_prefixes else None
        if hit is not None:
            self.cache.load(slots[0], hit.kv)
            fill.done = hit.reused
        job.reused = fill.done
        self.stats.prefilled_tokens += len(full) - fill.done

    def _fill_chunk(self, fill: Fill) -> None:
        """Read the next chunk of a prompt; once read, its sequences join the live ones."""
        job = fill.job
        if job.cancel.is_set():
            self._drop_fill(fill)
            self._complete(job, [])
            return
        size = self.chunk // INTERLEAVED_SHARE if self._live else self.chunk
        chunk = fill.ids[fill.done : fill.done + size]
        fill.logits = self.decoder.prefill(fill.slots[0], chunk, fill.done, job.adapter_slot)
        fill.done += len(chunk)
        self.stats.prefill_chunks += 1
        self._chunks_since_step += 1
        if fill.done < len(fill.ids):
            return
        self._filling.popleft()
        self._start(fill)

    def _start(self, fill: Fill) -> None:
        """The prompt is read: copy it to every alternative's slot and start decoding."""
        job, full = fill.job, fill.ids
        job.prefilled = time.perf_counter()
        first = fill.slots[0]
        if self.reuse_prefixes:
            key = job.cache_key if not job.resumed else f"{job.cache_key}#resumed"
            namespace = self.adapters.version(job.adapter_slot)
            self.prefixes.store(key, full, self.cache.save(first, len(full)), namespace)
        job.generator = torch.Generator(device=self.device).manual_seed(job.params.seed)
        temperatures = job.params.temperatures()
        assert fill.logits is not None
        for index, slot in enumerate(fill.slots):
            if slot != first:
                self.cache.copy(first, slot, len(full))
            seq = Seq(job, index, temperatures[index], slot, len(full), fill.logits)
            seq.generated = list(job.resumed)
            self._live.append(seq)

    def _drop_fill(self, fill: Fill) -> None:
        """Forget a job whose prompt was being read, and free its slots."""
        if fill in self._filling:
            self._filling.remove(fill)
        for slot in fill.slots:
            heapq.heappush(self._free, slot)

    def _ensure_capacity(self, needed: int) -> None:
        """Grow the slots when a request needs more positions."""
        if needed <= self.cache.capacity:
            return
        capacity = max(needed, 2 * self.cache.capacity)
        logger.info("growing the KV slots to %d positions", capacity)
        self.cache.grow(capacity)
        self.forward.rope_table(capacity)
        if self.draft is not None:
            self.draft.grow(capacity)
        if self.graphs is not None:
            self.graphs.reset()  # new tensors: the steps are built again

    # --- decoding --------------------------------------------------------------------------

    def _step(self) -> None:
        """Sample a token for every live sequence, retire the finished, decode the rest.

        A request whose sampling or stop checks raise fails alone; its neighbours go on.
        """
        stats = self.stats
        stats.most_chunks_between_steps = max(
            stats.most_chunks_between_steps, self._chunks_since_step
        )
        self._chunks_since_step = 0
        if self.draft is not None and self._speculate():
            return
        started = time.perf_counter()
        live = self._live
        tokens, logprobs, failed = sample_tokens(live, self.device)
        going: list[Seq] = []
        done: list[Seq] = []
        for seq, token, lp in zip(live, tokens, logprobs, strict=True):
            if any(seq.job is job for job, _ in failed):
                continue
            try:
                (going if self._advance(seq, token, lp) else done).append(seq)
            except Exception as error:  # noqa: BLE001 - a stop check or callback of one request
                failed.append((seq.job, error))
        for job, reason in failed:
            self._failed("sampling", reason, [job])  # frees the slots of its sequences
        bad = {id(job) for job, _ in failed}
        self._retire([s for s in done if id(s.job) not in bad])
        still = self._live = [s for s in going if id(s.job) not in bad]
        if still:
            self._decode_apart(still)
            if len(still) == 1:
                self.gate.record_plain(time.perf_counter() - started)

    def _decode_apart(self, seqs: Sequence[Seq]) -> None:
        """Decode one step; if it fails for several requests, fail only those failing alone."""
        jobs = {id(s.job): s.job for s in seqs}
        try:
            self._decode(seqs)
            return
        except Exception as exc:
            if len(jobs) == 1:
                raise
            logger.warning("a decode step of %d requests failed (%s); retrying each alone",
                           len(jobs), exc)  # writing the same keys and values again is harmless
        for job in jobs.values():
            try:
                self._decode([s for s in seqs if s.job is job])
            except Exception as exc:  # noqa: BLE001 - fail this request, not its neighbours
                self._failed("decode step", exc, [job])

    def _advance(self, seq: Seq, token: int, logprob: float) -> bool:
        """Add a sampled token to a sequence; return whether it goes on."""
        job = seq.job
        seq.logprob += logprob
        seq.generated.append(token)
        if not job.first_token:
            job.first_token = time.perf_counter()
        text = self.decode(seq.generated)
        reason = first_reason(job.checks, seq.generated, text)
        if reason is not FinishReason.STOP_TOKEN:
            seq.text = text
            if job.on_text is not None:
                job.on_text(seq.index, text)
        seq.token_logprobs.append(logprob)
        seq.token_ends.append(len(seq.text))
        if reason is None and len(seq.generated) >= job.params.max_new_tokens:
            reason = FinishReason.LENGTH
        if reason is None:
            return True
        job.results[seq.index] = seq.generation(reason)
        return False

    def _decode(self, seqs: Sequence[Seq]) -> None:
        """Feed each sequence's newest token in one forward over the slots in use."""
        groups: dict[int, list[int]] = {}
        for seq in seqs:
            if seq.job.adapter_slot is not None:
                groups.setdefault(seq.job.adapter_slot, []).append(seq.slot)
        feeds = [(seq.slot, seq.generated[-1], seq.length) for seq in seqs]
        out = self.decoder.decode(feeds, groups)  # [rows, 1, V]
        for seq in seqs:
            seq.length += 1
            seq.logits = out[seq.slot, 0]
        self.stats.decode_steps += 1
        self.stats.batched_sequences += len(seqs)
        self.stats.max_batch = max(self.stats.max_batch, len(seqs))

    def _speculate(self) -> bool:
        """Run one speculative round for a lone greedy sequence; False when not applicable."""
        assert self.draft is not None
        if len(self._live) != 1 or self._pending or self._filling or not self.gate.open():
            return False
        seq = self._live[0]
        if seq.temperature != 0 or seq.logits is None:
            return False
        started = time.perf_counter()
        emitted, alive = speculate_round(seq, self.draft, self.decoder, self.stats, self._advance)
        self.gate.record(emitted, time.perf_counter() - started)
        if not alive:
            self._retire([seq])
            self._live = []
        return True

    # --- retiring --------------------------------------------------------------------------

    def _retire(self, seqs: Sequence[Seq]) -> None:
        """Free the slots of finished sequences and complete the jobs they finish."""
        for seq in seqs:
            result = seq.job.results[seq.index]
            if (
                self.reuse_prefixes
                and result is not None
                and result.finish_reason is FinishReason.CANCELLED
            ):
                # A cancelled sequence may be resumed when the user types what it wrote.
                key = f"{seq.job.cache_key}#cancelled{seq.index}"
                self.prefixes.store(key, seq.fed, self.cache.save(seq.slot, seq.length),
                                    self.adapters.version(seq.job.adapter_slot))
            heapq.heappush(self._free, seq.slot)
        for job in {id(s.job): s.job for s in seqs}.values():
            if all(r is not None for r in job.results):
                self._complete(job, [r for r in job.results if r is not None])

    def _release(self, job: Job) -> None:
        """Give back the job's adapter slot (once)."""
        if job.adapter_slot is not None:
            self.adapters.release(job.adapter_slot)
            job.adapter_slot = None

    def _complete(self, job: Job, results: list[Generation]) -> None:
        self._release(job)
        job.timing = job.measure(results)
        if not job.future.done():
            job.future.set_result(results)

    def _failed(self, stage: str, exc: Exception, jobs: Sequence[Job]) -> None:
        """A forward pass raised: fail `jobs`, or every live request when none are named."""
        logger.error("%s failed: %s: %s", stage, type(exc).__name__, exc, exc_info=exc)
        self.stats.failures += 1
        self.stats.out_of_memory += isinstance(exc, torch.OutOfMemoryError)
        for job in jobs:
            self._release(job)
            for fill in [f for f in self._filling if f.job is job]:
                self._drop_fill(fill)
            self._free.extend(s.slot for s in self._live if s.job is job)
            self._live = [s for s in self._live if s.job is not job]
            heapq.heapify(self._free)
            if not job.future.done():
                job.future.set_exception(exc)
        if not jobs:
            self._fail_live(exc)
        if isinstance(exc, torch.OutOfMemoryError) and self.device.type == "cuda":
            torch.cuda.empty_cache()

    def _fail_live(self, exc: BaseException, cancelled: bool = False) -> None:
        """End every running job with `exc` (or as cancelled) and free their slots."""
        jobs = {id(s.job): s.job for s in self._live}
        if cancelled:  # the engine closes: prompts being read end too
            for fill in list(self._filling):
                jobs[id(fill.job)] = fill.job
                self._drop_fill(fill)
        for seq in self._live:
            heapq.heappush(self._free, seq.slot)
        for job in jobs.values():
            self._release(job)
        self._live = []
        for job in jobs.values():
            if job.future.done():
                continue
            if cancelled:
                job.future.set_result([])
            else:
                job.future.set_exception(exc)
