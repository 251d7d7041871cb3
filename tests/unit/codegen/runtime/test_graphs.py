"""Compiled decode steps: built in the background, used once built, the cache written in place."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator

import pytest
import torch
from torch._inductor.utils import run_and_get_code

from codegen.runtime.engine import Engine
from codegen.runtime.forward import SlotModel
from codegen.runtime.generate import SamplingParams, generate
from codegen.runtime.graphs import Graphs, kv_bucket
from codegen.runtime.kv import SlotCache
from tests.unit.codegen.runtime.sharp import PROMPTS, decode, sharp_model

GREEDY = SamplingParams(n=1, max_new_tokens=12)


@pytest.fixture(scope="module")
def model() -> torch.nn.Module:
    return sharp_model(0)


def reference(model: torch.nn.Module, prompt: list[int]) -> str:
    return generate(model, prompt, GREEDY, decode, ())[0].text


def wait_built(graphs: Graphs, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while graphs.building:
        assert time.monotonic() < deadline, "compilation did not finish"
        time.sleep(0.05)


@pytest.fixture
def compiled(model: torch.nn.Module) -> Iterator[Engine]:
    # Dynamo's "eager" backend runs the compiled path (shapes, guards, background builds)
    # without a C++ compiler, writing the cache in place as inductor does. (aot_eager would
    # not: its functionalized step copies each cache tensor back whole, which races the
    # engine's own writes while a step is being built.)
    engine = Engine(model, decode, slots=4, capacity=64, compiled=True,
                    compile_backend="eager")
    yield engine
    engine.close()


def test_steps_run_compiled_once_built_and_give_the_same_tokens(
    model: torch.nn.Module, compiled: Engine
) -> None:
    graphs = compiled.graphs
    assert graphs is not None
    first = compiled.submit(PROMPTS[0], GREEDY, (), cancel=threading.Event()).result(60)
    assert first[0].text == reference(model, PROMPTS[0])
    wait_built(graphs)
    assert graphs.shapes == [(1, kv_bucket(len(PROMPTS[0]) + 12, 64))]
    steps, calls = compiled.stats.decode_steps, graphs.calls
    again = compiled.submit(PROMPTS[0][:-1], GREEDY, (), cancel=threading.Event()).result(60)
    assert again[0].text == reference(model, PROMPTS[0][:-1])
    assert graphs.calls - calls == compiled.stats.decode_steps - steps > 0  # every step


def test_batched_requests_run_compiled_and_give_the_same_tokens(
    model: torch.nn.Module, compiled: Engine
) -> None:
    graphs = compiled.graphs
    assert graphs is not None
    sampled = SamplingParams(n=3, max_new_tokens=12, seed=2)
    for _ in range(2):  # the first round queues the shapes, the second runs them compiled
        tickets = [compiled.submit(PROMPTS[0], sampled, (), cancel=threading.Event()),
                   compiled.submit(PROMPTS[1], GREEDY, (), cancel=threading.Event())]
        assert [g.text for g in tickets[0].result(60)] == [
            g.text for g in generate(model, PROMPTS[0], sampled, decode, ())]
        assert tickets[1].result(60)[0].text == reference(model, PROMPTS[1])
        wait_built(graphs)
    assert (4, 64) in graphs.shapes and graphs.calls > 0


def test_a_request_never_waits_for_a_compilation(
    model: torch.nn.Module, compiled: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    graphs = compiled.graphs
    assert graphs is not None
    release = threading.Event()
    original = graphs._run

    def slow(*args: object) -> torch.Tensor:
        if threading.current_thread().name == "vetted-compile":
            release.wait(30)  # a compilation that takes as long as the test needs
        return original(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(graphs, "_run", slow)
    try:
        for prompt in PROMPTS:
            result = compiled.submit(prompt, GREEDY, (), cancel=threading.Event()).result(20)
            assert result[0].text == reference(model, prompt)
        assert graphs.building and graphs.calls == 0  # all eager, while one shape compiled
    finally:
        release.set()
    wait_built(graphs)


def test_growing_the_cache_keeps_compilation_on(model: torch.nn.Module, compiled: Engine) -> None:
    graphs = compiled.graphs
    assert graphs is not None
    long = SamplingParams(n=1, max_new_tokens=40)
    prompt = PROMPTS[0] * 2  # 60 tokens + 40 + margin > 64 positions: the cache grows
    for _ in range(2):
        result = compiled.submit(prompt, long, (), cancel=threading.Event()).result(60)
        wait_built(graphs)
    assert compiled.cache.capacity > 64
    assert result[0].text == generate(model, prompt, long, decode, ())[0].text
    assert graphs.enabled and graphs.calls > 0


def big_buffers(code: str, limit: int) -> list[str]:
    """Buffers the generated code allocates with at least `limit` elements."""
    found = []
    for match in re.finditer(r"empty_strided_\w+\(\(([\d, ]*)\)", code):
        sizes = [int(size) for size in match.group(1).replace(" ", "").split(",") if size]
        numel = 1
        for size in sizes:
            numel *= size
        if numel >= limit:
            found.append(match.group(0))
    return found


def test_inductor_writes_keys_and_values_in_place(model: torch.nn.Module) -> None:
    # A compiled step that copied the cache would allocate a buffer as large as a layer's
    # keys; the step as written allocates nothing of that size.
    forward = SlotModel(model)
    cache = SlotCache(forward.kv_shape, 4, 256)
    forward.rope_table(256)
    layer_size = cache.keys[0].numel()
    step = torch.compile(forward.forward, fullgraph=True, dynamic=False)
    with torch.no_grad():
        _, codes = run_and_get_code(step, cache.tensors, torch.tensor([[3], [4]]),
                                    torch.tensor([[5], [9]]), torch.tensor([0]), 0, 256)
    assert codes and not any(big_buffers(code, layer_size) for code in codes)


def test_the_in_place_check_sees_a_copied_cache() -> None:
    # The pattern the engine used to have: keys written into a view of one tensor holding
    # every layer, which inductor copied whole.
    whole = torch.zeros(2, 2, 4, 2, 64, 16)  # [L, 2, S, H, C, D]

    def write(cache: torch.Tensor, k: torch.Tensor, at: torch.Tensor) -> torch.Tensor:
        for layer in range(2):
            cache[layer, 0, 0:1].scatter_(2, at[:, None, :, None].expand(1, 2, 1, 16), k)
        return cache[0, 0, 0, :, :8].sum()

    step = torch.compile(write, fullgraph=True)
    _, codes = run_and_get_code(step, whole, torch.randn(1, 2, 1, 16), torch.tensor([[5]]))
    assert any(big_buffers(code, whole[0, 0].numel()) for code in codes)
