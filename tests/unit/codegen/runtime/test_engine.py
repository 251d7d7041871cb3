"""The batching engine on a tiny random Qwen2: same tokens as plain decoding, whatever else runs."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
import torch

from codegen.runtime import generate as generate_module
from codegen.runtime import sequences
from codegen.runtime.call import GenerateCall
from codegen.runtime.engine import Engine
from codegen.runtime.generate import SamplingParams, generate
from codegen.runtime.kv import PrefixCache, common_prefix
from codegen.runtime.speculative import SpeculationGate
from codegen.runtime.stopping import StopOnEvent
from codegen.types import FinishReason, Generation
from tests.unit.codegen.runtime.sharp import decode, sharp_model

PROMPTS = [list(range(10, 40)), list(range(100, 105)), [7, 8, 9, 7, 8, 9, 7, 8, 9, 1, 2, 3, 4]]
GREEDY = SamplingParams(n=1, max_new_tokens=24)


@pytest.fixture(scope="module")
def model() -> torch.nn.Module:
    return sharp_model(0)


@pytest.fixture
def engine(model: torch.nn.Module) -> Iterator[Engine]:
    running = Engine(model, decode, slots=8, capacity=64)
    yield running
    running.close()


def reference(model: torch.nn.Module, ids: list[int], params: SamplingParams) -> list[Generation]:
    """transformers' own forward and cache, one request alone (`codegen.runtime.generate`)."""
    return generate(model, ids, params, decode, ())


def texts(generations: list[Generation]) -> list[str]:
    return [g.text for g in generations]


def never() -> threading.Event:
    return threading.Event()


def test_concurrent_requests_get_the_tokens_each_would_get_alone(
    model: torch.nn.Module, engine: Engine
) -> None:
    tickets = [engine.submit(p, GREEDY, (), cancel=never()) for p in PROMPTS]
    results = [t.result(timeout=60) for t in tickets]
    for prompt, result in zip(PROMPTS, results, strict=True):
        assert texts(result) == texts(reference(model, prompt, GREEDY))
    assert engine.stats.max_batch == 3  # they shared decode steps


def test_sampled_alternatives_match_plain_decoding(model: torch.nn.Module, engine: Engine) -> None:
    params = SamplingParams(n=4, max_new_tokens=12, seed=3)
    neighbour = engine.submit(PROMPTS[0], GREEDY, (), cancel=never())
    result = engine.submit(PROMPTS[2], params, (), cancel=never()).result(timeout=60)
    expected = reference(model, PROMPTS[2], params)
    assert texts(result) == texts(expected)
    assert [round(g.logprob or 0, 3) for g in result] == [
        round(g.logprob or 0, 3) for g in expected
    ]
    for g in result:  # per token: one figure each, summing to the whole, ends in the text
        assert len(g.token_logprobs) == len(g.token_ends) == g.tokens
        assert round(sum(g.token_logprobs), 3) == round(g.logprob or 0, 3)
        assert list(g.token_ends) == sorted(g.token_ends) and g.token_ends[-1] == len(g.text)
    neighbour.result(timeout=60)


def test_a_keystroke_reuses_the_prompt_prefix(model: torch.nn.Module, engine: Engine) -> None:
    first = PROMPTS[0]
    typed = first + [41, 42]
    engine.submit(first, GREEDY, (), cancel=never(), cache_key="a.py").result(60)
    ticket = engine.submit(typed, GREEDY, (), cancel=never(), cache_key="a.py")
    assert texts(ticket.result(60)) == texts(reference(model, typed, GREEDY))
    assert engine.prefixes.hits == 1
    assert engine.stats.prefilled_tokens == len(first) + 2  # only the typed tokens again
    assert ticket.timing is not None and ticket.timing.reused_tokens == len(first)


def test_without_reuse_every_token_is_prefilled(model: torch.nn.Module) -> None:
    engine = Engine(model, decode, reuse_prefixes=False, capacity=64)
    try:
        for prompt in (PROMPTS[0], PROMPTS[0] + [41]):
            result = engine.submit(prompt, GREEDY, (), cancel=never()).result(60)
            assert texts(result) == texts(reference(model, prompt, GREEDY))
        assert engine.stats.prefilled_tokens == 2 * len(PROMPTS[0]) + 1
    finally:
        engine.close()


def test_a_cancelled_neighbour_leaves_the_others_unchanged(
    model: torch.nn.Module, engine: Engine
) -> None:
    cancel = threading.Event()
    long = SamplingParams(n=2, max_new_tokens=200)
    doomed = engine.submit(
        PROMPTS[1], long, (StopOnEvent(cancel),), cancel=cancel,
        on_text=lambda index, text: cancel.set() if text.count(" ") >= 3 else None,
    )
    kept = engine.submit(PROMPTS[0], GREEDY, (), cancel=never())
    assert texts(kept.result(timeout=60)) == texts(reference(model, PROMPTS[0], GREEDY))
    stopped = doomed.result(timeout=60)
    assert all(g.finish_reason is FinishReason.CANCELLED for g in stopped)


def test_cancellation_takes_effect_within_one_step(engine: Engine) -> None:
    cancel = threading.Event()
    steps_at_cancel: list[int] = []

    def on_text(index: int, text: str) -> None:
        if not cancel.is_set():
            cancel.set()
            steps_at_cancel.append(engine.stats.decode_steps)

    params = SamplingParams(n=1, max_new_tokens=500)
    ticket = engine.submit(PROMPTS[0], params, (StopOnEvent(cancel),), cancel=cancel,
                           on_text=on_text)
    [generation] = ticket.result(timeout=60)
    assert generation.finish_reason is FinishReason.CANCELLED
    assert engine.stats.decode_steps - steps_at_cancel[0] <= 1
    assert generation.tokens <= 2


def test_a_request_cancelled_before_admission_gets_nothing(engine: Engine) -> None:
    cancel = threading.Event()
    cancel.set()
    assert engine.submit(PROMPTS[0], GREEDY, (), cancel=cancel).result(timeout=60) == []


def test_a_cancelled_sequence_resumes_where_it_stopped(
    model: torch.nn.Module, engine: Engine
) -> None:
    whole = engine.submit(PROMPTS[0], GREEDY, (), cancel=never()).result(60)[0]
    cancel = threading.Event()
    partial = engine.submit(
        PROMPTS[0], GREEDY, (StopOnEvent(cancel),), cancel=cancel, cache_key="b.py",
        on_text=lambda index, text: cancel.set() if text.count(" ") >= 4 else None,
    ).result(60)[0]
    assert partial.finish_reason is FinishReason.CANCELLED and 0 < partial.tokens < 24
    prefilled = engine.stats.prefilled_tokens
    [resumed] = engine.submit(
        PROMPTS[0], GREEDY, (), cancel=never(), cache_key="b.py", resumed=partial.token_ids
    ).result(60)
    assert resumed.text == whole.text and resumed.tokens == whole.tokens
    assert engine.stats.prefilled_tokens - prefilled == 1  # only the newest token is read


def test_slots_grow_for_a_long_request(model: torch.nn.Module) -> None:
    engine = Engine(model, decode, capacity=16)
    try:
        params = SamplingParams(n=2, max_new_tokens=40, seed=1, temperature=0.7)
        result = engine.submit(PROMPTS[0], params, (), cancel=never()).result(60)
        assert texts(result) == texts(reference(model, PROMPTS[0], params))
        assert engine.cache.capacity >= len(PROMPTS[0]) + 40
    finally:
        engine.close()


def test_more_requests_than_slots_wait_their_turn(model: torch.nn.Module) -> None:
    engine = Engine(model, decode, slots=2, capacity=64)
    try:
        tickets = [engine.submit(p, GREEDY, (), cancel=never()) for p in PROMPTS * 2]
        for prompt, ticket in zip(PROMPTS * 2, tickets, strict=True):
            assert texts(ticket.result(60)) == texts(reference(model, prompt, GREEDY))
        assert engine.stats.max_batch == 2
        with pytest.raises(ValueError, match="exceed"):
            engine.submit(PROMPTS[0], SamplingParams(n=3), (), cancel=never())
    finally:
        engine.close()


@pytest.mark.parametrize(
    "draft_seed",
    [
        0,  # the same weights: every proposal is accepted
        7,  # unrelated weights: most proposals are rejected
    ],
)
def test_speculative_decoding_gives_the_greedy_tokens(
    model: torch.nn.Module, draft_seed: int
) -> None:
    engine = Engine(model, decode, capacity=64, draft=sharp_model(draft_seed), speculate_tokens=3)
    try:
        for prompt in PROMPTS:
            result = engine.submit(prompt, GREEDY, (), cancel=never()).result(60)
            assert texts(result) == texts(reference(model, prompt, GREEDY))
        stats = engine.stats
        assert stats.speculative_rounds > 0
        if draft_seed == 0:
            assert stats.accepted_tokens == stats.proposed_tokens
        else:  # the check really rejects: fewer than half the proposals survive
            assert 0 <= stats.accepted_tokens < stats.proposed_tokens / 2
    finally:
        engine.close()


def test_a_failing_step_fails_its_requests_and_the_engine_goes_on(model: torch.nn.Module) -> None:
    engine = Engine(model, decode, capacity=64)
    original = engine.forward.forward
    calls = {"n": 0}

    def flaky(*args: object, **kwargs: object) -> torch.Tensor:
        calls["n"] += 1
        if calls["n"] == 1:
            raise torch.OutOfMemoryError("simulated")
        return original(*args, **kwargs)  # type: ignore[arg-type]

    try:
        engine.forward.forward = flaky  # type: ignore[method-assign]
        with pytest.raises(torch.OutOfMemoryError):
            engine.submit(PROMPTS[0], GREEDY, (), cancel=never()).result(60)
        result = engine.submit(PROMPTS[0], GREEDY, (), cancel=never()).result(60)
        assert texts(result) == texts(reference(model, PROMPTS[0], GREEDY))
        assert engine.stats.failures == 1
    finally:
        engine.close()


def test_prefix_cache_evicts_least_recently_used_within_its_budget() -> None:
    def kv(length: int, fill: float) -> torch.Tensor:
        return torch.full((1, 2, 2, length, 4), fill)  # [L, 2, H, T, D]

    one = kv(10, 1.0).numel() * 4
    cache = PrefixCache(budget_bytes=2 * one)
    cache.store("a", list(range(10)), kv(10, 1.0))
    cache.store("b", list(range(100, 110)), kv(10, 2.0))
    assert cache.lookup(list(range(10)) + [5], minimum=4) is not None  # "a" used last
    cache.store("c", list(range(200, 210)), kv(10, 3.0))
    assert len(cache) == 2 and cache.nbytes <= 2 * one
    assert cache.lookup(list(range(100, 111)), minimum=4) is None  # "b" was evicted
    hit = cache.lookup(list(range(8)) + [99, 98], minimum=4)
    assert hit is not None and hit.reused == 8 and hit.kv.shape[3] == 8


def test_common_prefix() -> None:
    assert common_prefix([1, 2, 3], [1, 2, 4]) == 2
    assert common_prefix([], [1]) == 0


def test_speculation_stays_off_while_it_is_slower() -> None:
    gate = SpeculationGate(retry_after=4, warm_up=2)
    assert not gate.open()  # plain steps are timed first
    gate.record_plain(0.10)
    gate.record_plain(0.10)
    assert gate.open()
    gate.record(tokens=2, seconds=0.40)  # 0.2 s per token: slower than plain
    assert not gate.open()
    for _ in range(4):
        gate.record_plain(0.10)
    assert gate.open()  # tried again after `retry_after` plain tokens
    gate.record(tokens=4, seconds=0.20)  # 0.05 s per token
    assert gate.open()


def test_a_long_prompt_is_read_between_the_steps_of_a_running_stream(
    model: torch.nn.Module,
) -> None:
    # Chunks of 32 tokens, 8 while a stream runs: the stream waits at most one chunk.
    engine = Engine(model, decode, slots=4, capacity=64, prefill_chunk=32)
    try:
        started = threading.Event()
        running = engine.submit(PROMPTS[1], SamplingParams(n=1, max_new_tokens=60), (),
                                cancel=never(), on_text=lambda i, t: started.set())
        assert started.wait(30)
        long = (PROMPTS[0] * 3)[:80]
        newcomer = engine.submit(long, GREEDY, (), cancel=never())
        assert texts(newcomer.result(60)) == texts(reference(model, long, GREEDY))
        assert texts(running.result(60)) == texts(
            reference(model, PROMPTS[1], SamplingParams(n=1, max_new_tokens=60)))
        assert engine.stats.prefill_chunks >= 80 // 8  # read in small chunks meanwhile
        assert engine.stats.most_chunks_between_steps == 1
    finally:
        engine.close()


def test_a_request_cancelled_while_its_prompt_is_read_frees_its_slots(
    model: torch.nn.Module,
) -> None:
    engine = Engine(model, decode, slots=2, capacity=64, prefill_chunk=8)
    try:
        cancel = threading.Event()
        stream = engine.submit(PROMPTS[1], SamplingParams(n=1, max_new_tokens=40), (),
                               cancel=never(),
                               on_text=lambda i, t: cancel.set() if t.count(" ") == 2 else None)
        doomed = engine.submit(PROMPTS[0] * 2, SamplingParams(n=1, max_new_tokens=8),
                               (StopOnEvent(cancel),), cancel=cancel)
        assert doomed.result(60) == []  # cancelled before its prompt was read
        stream.result(60)
        after = engine.submit(PROMPTS[2], SamplingParams(n=2, max_new_tokens=4, seed=1), (),
                              cancel=never())
        assert len(after.result(60)) == 2  # both slots free again
    finally:
        engine.close()


@pytest.mark.parametrize(
    ("params", "field"),
    [
        (SamplingParams(temperature=float("nan")), "temperature"),  # NaN passed the old check
        (SamplingParams(temperature=float("inf")), "temperature"),
        (SamplingParams(n=2, sample_temperature=-1.0), "sample_temperature"),
        (SamplingParams(top_p=0.0), "top_p"),
        (SamplingParams(top_p=float("nan")), "top_p"),
        (SamplingParams(n=0), "n"),
        (SamplingParams(max_new_tokens=0), "max_new_tokens"),
    ],
)
def test_bad_sampling_parameters_are_refused_for_that_request_only(
    model: torch.nn.Module, engine: Engine, params: SamplingParams, field: str
) -> None:
    with pytest.raises(ValueError, match=f"^{field} must be"):
        engine.submit(PROMPTS[0], params, (), cancel=never())
    with pytest.raises(ValueError, match=f"^{field} must be"):
        GenerateCall(None, params, False, never())
    result = engine.submit(PROMPTS[0], GREEDY, (), cancel=never()).result(60)
    assert texts(result) == texts(reference(model, PROMPTS[0], GREEDY))


CULPRIT = SamplingParams(n=2, max_new_tokens=24, temperature=1.0, seed=99)
"""Sampled (so NaN scores reach `torch.multinomial`), told apart by its seed."""


def culprit_rows(engine: Engine) -> list[int]:
    return [seq.slot for seq in engine._live if seq.job.params is CULPRIT]


def test_nan_scores_fail_their_request_and_not_the_neighbours(
    model: torch.nn.Module, engine: Engine
) -> None:
    """As an adapter with NaN weights makes them: only for the rows that use it."""
    decode_step = engine.decoder.decode

    def poisoned(*args: Any, **kwargs: Any) -> torch.Tensor:
        out = decode_step(*args, **kwargs)  # [rows, 1, V]
        out[culprit_rows(engine)] = float("nan")
        return out

    engine.decoder.decode = poisoned  # type: ignore[method-assign]
    neighbour = engine.submit(PROMPTS[0], GREEDY, (), cancel=never())
    culprit = engine.submit(PROMPTS[1], CULPRIT, (), cancel=never())
    sampled = engine.submit(PROMPTS[2], SamplingParams(n=2, max_new_tokens=24, seed=3), (),
                            cancel=never())
    with pytest.raises(FloatingPointError, match="NaN or infinite"):
        culprit.result(60)
    assert texts(neighbour.result(60)) == texts(reference(model, PROMPTS[0], GREEDY))
    assert len(sampled.result(60)) == 2
    assert engine.stats.max_batch >= 3  # the culprit was decoded beside them
    assert engine.live == 0 and len(engine._free) == engine.cache.slots


def test_a_sampler_raising_for_one_request_fails_only_that_request(
    model: torch.nn.Module, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = generate_module.sample

    def sample(logits: torch.Tensor, temps: torch.Tensor, top_p: float,
               generator: torch.Generator) -> torch.Tensor:
        if generator.initial_seed() == CULPRIT.seed:
            raise RuntimeError("probability tensor contains either inf, nan or element < 0")
        return real(logits, temps, top_p, generator)

    monkeypatch.setattr(sequences, "sample", sample)
    neighbour = engine.submit(PROMPTS[0], GREEDY, (), cancel=never())
    culprit = engine.submit(PROMPTS[1], CULPRIT, (), cancel=never())
    with pytest.raises(RuntimeError, match="probability tensor"):
        culprit.result(60)
    assert texts(neighbour.result(60)) == texts(reference(model, PROMPTS[0], GREEDY))
    assert engine.stats.failures == 1


def test_a_decode_step_failing_for_one_request_is_retried_without_it(
    model: torch.nn.Module, engine: Engine
) -> None:
    decode_step = engine.decoder.decode

    def fragile(feeds: Any, adapters: Any) -> torch.Tensor:
        if set(culprit_rows(engine)) & {slot for slot, _, _ in feeds}:
            raise RuntimeError("simulated kernel failure")
        return decode_step(feeds, adapters)

    engine.decoder.decode = fragile  # type: ignore[method-assign]
    neighbour = engine.submit(PROMPTS[0], GREEDY, (), cancel=never())
    culprit = engine.submit(PROMPTS[1], CULPRIT, (), cancel=never())
    with pytest.raises(RuntimeError, match="simulated"):
        culprit.result(60)
    assert texts(neighbour.result(60)) == texts(reference(model, PROMPTS[0], GREEDY))
    assert engine.stats.failures == 1
