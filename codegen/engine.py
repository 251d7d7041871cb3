"""One thread owns the model: requests share decode steps, prompts reuse cached prefixes.

A request's prompt is prefilled once, in chunks, from the longest prefix already cached
(the same document a keystroke ago, or the repository context another document shares),
and its N alternatives take N slots of the `SlotCache`. Each decode step feeds one token of
every live sequence, whatever request it belongs to; new requests are admitted between
steps, and a finished or cancelled sequence frees its slot at the next step. A lone greedy
sequence may be decoded speculatively with a draft model (`codegen.speculative`).

On a GPU the decode step and the prefill chunks can run compiled (`torch.compile`, CUDA
graphs for decoding): batch sizes are rounded up to powers of two and prefill chunks to a
few lengths, so the graphs built while warming up cover every request.
"""

from __future__ import annotations

import heapq
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

import torch

from codegen.adapters import AdapterBank
from codegen.decoder import Decoder
from codegen.forward import SlotModel
from codegen.generate import OnText, SamplingParams, sample
from codegen.graphs import PREFILL_CHUNKS, Graphs
from codegen.kv import PrefixCache, SlotCache
from codegen.sequences import Job, Seq, Stats, Ticket, Timing
from codegen.speculative import Draft, SpeculationGate
from codegen.stopping import StopCheck, first_reason
from codegen.types import FinishReason, Generation

logger = logging.getLogger(__name__)

DEFAULT_PREFIX_BUDGET = 512 * 1024 * 1024
"""Bytes of prompt KV kept for reuse between keystrokes."""


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
        draft: torch.nn.Module | None = None,
        speculate_tokens: int = 4,
    ) -> None:
        """Allocate the slot cache and start the model thread.

        `capacity` is the initial length of each slot; it grows when a request needs more
        (compiled graphs are then rebuilt). `compiled` builds the graphs while idle;
        `compile_backend` None means inductor with CUDA graphs for decoding (the GPU
        setting); tests pass "aot_eager" to run the same compiled path on a CPU.
        """
        self.forward = SlotModel(model)
        self.decode = decode
        self.reuse_prefixes = reuse_prefixes
        self.device = self.forward.device
        self.cache = SlotCache(self.forward.kv_shape, slots, capacity)
        self.staging = SlotCache(self.forward.kv_shape, 1, capacity)
        self.prefixes = PrefixCache(prefix_budget_bytes)
        self.adapters = AdapterBank(model)
        """LoRA adapters requests may ask for; nothing is wrapped until one is used."""
        self.stats = Stats()
        self.draft = (
            Draft(SlotModel(draft), capacity, speculate_tokens) if draft is not None else None
        )
        self.gate = SpeculationGate()
        self._margin = PREFILL_CHUNKS[-1] + speculate_tokens + 1
        """Positions past a sequence's end that prefill padding or a speculation may write."""
        self.graphs = Graphs(self.forward, compile_backend, slots) if compiled else None
        self.decoder = Decoder(self.forward, self.cache, self.adapters, self.graphs)
        self._free = list(range(slots))
        heapq.heapify(self._free)
        self._pending: deque[Job] = deque()
        self._wake = threading.Condition()
        self._closed = False
        self._live: list[Seq] = []
        self._thread = threading.Thread(target=self._run, name="vetted-engine", daemon=True)
        self._thread.start()

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
        if params.n > self.cache.slots:
            raise ValueError(f"{params.n} alternatives exceed the engine's {self.cache.slots}")
        if resumed and params.n != 1:
            raise ValueError("a resumed sequence is one alternative")
        job = Job(tuple(ids), params, checks, on_text, cancel, cache_key, tuple(resumed),
                  adapter)
        job.results = [None] * params.n
        with self._wake:
            if self._closed:
                raise RuntimeError("the engine is closed")
            self._pending.append(job)
            self._wake.notify()
        return Ticket(job)

    @property
    def _warming(self) -> bool:
        return self.graphs is not None and not self.graphs.ready

    def status(self) -> dict[str, Any]:
        """Counters for `vetted/status`: queue, batch, prefix reuse, speculation, graphs."""
        stats = self.stats
        prefixes = self.prefixes
        lookups = prefixes.hits + prefixes.misses
        return {
            "device": str(self.device),
            "slots": self.cache.slots,
            "live": len(self._live),
            "queued": len(self._pending),
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
            "compiled": self.graphs is not None and self.graphs.enabled,
            "graphsReady": self.graphs is not None and self.graphs.ready,
            "adapters": self.adapters.loaded,
            "failures": stats.failures,
            "outOfMemory": stats.out_of_memory,
        }

    @property
    def live(self) -> int:
        """Sequences in the running batch."""
        return len(self._live)

    @property
    def queued(self) -> int:
        """Requests waiting for slots."""
        return len(self._pending)

    def close(self) -> None:
        """Stop the model thread; queued and running requests end as cancelled."""
        with self._wake:
            self._closed = True
            self._wake.notify()
        self._thread.join(timeout=30)

    # --- the model thread ------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._wake:
                while not (self._pending or self._live or self._closed or self._warming):
                    self._wake.wait()
                if self._closed:
                    break
                admitted = self._take_pending()
            with torch.no_grad():
                if not admitted and not self._live and self.graphs is not None:
                    self.graphs.build_next(self.cache, self.staging)
                    continue
                for job in admitted:
                    try:
                        self._admit(job)
                    except Exception as exc:  # noqa: BLE001 - fail the request, not the engine
                        self._failed("prefill", exc, [job])
                try:
                    if self._live:
                        self._step()
                except Exception as exc:  # noqa: BLE001 - one bad step must not kill the engine
                    self._failed("decode step", exc, [])
        self._fail_live(RuntimeError("the engine is closed"), cancelled=True)
        with self._wake:
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
        """Prefill the job's prompt (from a cached prefix when one fits) and give it slots."""
        job.admitted = time.perf_counter()
        if job.adapter:
            job.adapter_slot = self.adapters.acquire(job.adapter)  # AdapterError fails the job
        full = job.ids + job.resumed
        self.stats.prompt_tokens += len(job.ids)
        self._ensure_capacity(len(full) + job.params.max_new_tokens + self._margin)
        logits = self._prefill(full, job.cancel, self.staging, self.forward, self.prefixes, job)
        job.prefilled = time.perf_counter()
        if logits is None:  # cancelled while prefilling
            self._complete(job, [])
            return
        if self.reuse_prefixes:
            key = job.cache_key if not job.resumed else f"{job.cache_key}#resumed"
            namespace = self.adapters.version(job.adapter_slot)
            self.prefixes.store(key, full, self.staging.save(0, len(full)), namespace)
        n = job.params.n
        job.generator = torch.Generator(device=self.device).manual_seed(job.params.seed)
        temperatures = [job.params.sample_temperature] * n
        if job.params.temperature == 0:
            temperatures[0] = 0.0
        else:
            temperatures = [job.params.temperature] * n
        for index in range(n):
            slot = heapq.heappop(self._free)
            self.cache.data[:, :, slot, :, : len(full)] = self.staging.data[:, :, 0, :, : len(full)]
            seq = Seq(job, index, temperatures[index], slot, len(full), logits)
            seq.generated = list(job.resumed)
            self._live.append(seq)

    def _prefill(
        self,
        ids: tuple[int, ...],
        cancel: threading.Event,
        staging: SlotCache,
        forward: SlotModel,
        prefixes: PrefixCache,
        job: Job | None,
    ) -> torch.Tensor | None:
        """Fill slot 0 of `staging` with the KV of `ids`; return next-token logits [V].

        The prompt goes in chunks, so a cancel is seen between chunks; None if cancelled.
        """
        namespace = self.adapters.version(job.adapter_slot) if job is not None else ""
        hit = prefixes.lookup(ids, namespace=namespace) if self.reuse_prefixes else None
        start = 0
        if hit is not None:
            staging.load(0, hit.kv)
            start = hit.reused
        if job is not None:
            job.reused = start
            self.stats.prefilled_tokens += len(ids) - start
        logits: torch.Tensor | None = None
        slot = job.adapter_slot if job is not None else None
        while start < len(ids):
            if cancel.is_set():
                return None
            chunk = ids[start : start + PREFILL_CHUNKS[-1]]
            logits = self.decoder.prefill_chunk(forward, staging, chunk, start, slot)
            start += len(chunk)
        assert logits is not None
        return logits

    def _ensure_capacity(self, needed: int) -> None:
        """Grow the slots (and the staging slot) when a request needs more positions."""
        if needed <= self.cache.capacity:
            return
        capacity = max(needed, 2 * self.cache.capacity)
        logger.info("growing the KV slots to %d positions", capacity)
        self.cache.grow(capacity)
        self.staging.grow(capacity)
        if self.draft is not None:
            self.draft.grow(capacity)
        if self.graphs is not None:
            self.graphs.reset()  # new tensors: the graphs are rebuilt while idle

    # --- decoding --------------------------------------------------------------------------

    def _step(self) -> None:
        """Sample a token for every live sequence, retire the finished, decode the rest."""
        if self.draft is not None and self._speculate():
            return
        started = time.perf_counter()
        tokens, logprobs = self._sample(self._live)
        still = [
            seq for seq, token, lp in zip(self._live, tokens, logprobs, strict=True)
            if self._advance(seq, token, lp)
        ]
        self._retire([s for s in self._live if s not in still])
        self._live = still
        if still:
            self._decode(still)
            if len(still) == 1:
                self.gate.record_plain(time.perf_counter() - started)

    def _sample(self, seqs: Sequence[Seq]) -> tuple[list[int], list[float]]:
        """One token per sequence, each request with its own seeded generator."""
        logits = torch.stack([seq.logits for seq in seqs if seq.logits is not None])  # [B, V]
        assert logits.shape[0] == len(seqs)
        picked = logits.argmax(dim=-1)  # [B]: every greedy row at once
        groups: dict[int, list[int]] = {}
        for i, seq in enumerate(seqs):
            groups.setdefault(id(seq.job), []).append(i)
        for rows in groups.values():
            if all(seqs[i].temperature == 0 for i in rows):
                continue
            # A request's rows are sampled together, greedy ones included, so its random
            # stream is the same whatever else shares the batch.
            job = seqs[rows[0]].job
            assert job.generator is not None
            index = torch.tensor(rows, device=self.device)
            temps = torch.tensor([seqs[i].temperature for i in rows], device=self.device)
            picked[index] = sample(logits[index], temps, job.params.top_p, job.generator)
        chosen = torch.log_softmax(logits, dim=-1).gather(-1, picked[:, None])[:, 0]
        return picked.tolist(), chosen.tolist()

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
        if reason is None and len(seq.generated) >= job.params.max_new_tokens:
            reason = FinishReason.LENGTH
        if reason is None:
            return True
        job.results[seq.index] = Generation(
            seq.text, seq.logprob, reason, len(seq.generated), tuple(seq.generated)
        )
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
        if len(self._live) != 1 or self._pending or not self.gate.open():
            return False
        seq = self._live[0]
        if seq.temperature != 0 or seq.logits is None:
            return False
        started = time.perf_counter()
        token = int(seq.logits.argmax())
        logprob = float(torch.log_softmax(seq.logits, dim=-1)[token])
        if not self._advance(seq, token, logprob):
            self._retire([seq])
            self._live = []
            return True
        room = seq.job.params.max_new_tokens - len(seq.generated)
        proposal = self.draft.propose(seq.fed, seq.generated[-1], min(self.draft.tokens, room))
        # Verify the newest token and the proposal in one target forward: logits [k + 1, V].
        fed = [seq.generated[-1], *proposal]
        logits = self.decoder.verify(seq.slot, fed, seq.length, seq.job.adapter_slot)
        greedy = logits.argmax(dim=-1).tolist()
        accepted = 0
        while accepted < len(proposal) and proposal[accepted] == greedy[accepted]:
            accepted += 1
        logprobs = torch.log_softmax(logits, dim=-1)
        emitted = 0
        alive = True
        seq.length += 1  # the newest token is in the cache now
        for i in range(accepted):
            seq.logits = logits[i]
            alive = self._advance(seq, proposal[i], float(logprobs[i, proposal[i]]))
            emitted += 1
            if not alive:
                break
            seq.length += 1
        seq.logits = logits[accepted if alive else emitted - 1]
        self.draft.settle(seq.fed)
        self.stats.speculative_rounds += 1
        self.stats.speculative_tokens += emitted + 1
        self.gate.record(emitted + 1, time.perf_counter() - started)
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
        now = time.perf_counter()
        timing = Timing(
            queued=(job.admitted or now) - job.submitted,
            prefill=(job.prefilled or now) - (job.admitted or now),
            first_token=(job.first_token or now) - job.submitted,
            total=now - job.submitted,
            reused_tokens=job.reused,
            prefilled_tokens=len(job.ids) + len(job.resumed) - job.reused,
            generated_tokens=max((g.tokens for g in results), default=0),
        )
        job.timing = timing
        if not job.future.done():
            job.future.set_result(results)

    def _failed(self, stage: str, exc: Exception, jobs: Sequence[Job]) -> None:
        """A forward pass raised: fail `jobs`, or every live request when none are named."""
        logger.error("%s failed: %s: %s", stage, type(exc).__name__, exc, exc_info=exc)
        self.stats.failures += 1
        self.stats.out_of_memory += isinstance(exc, torch.OutOfMemoryError)
        for job in jobs:
            self._release(job)
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
