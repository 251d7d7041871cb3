r"""Latency of the model runtime on a CPU, each figure beside its baseline from the same run.

Usage: ``.venv/bin/python -m bench.latency [--model pypi:qwen2.5-coder-0.5b-instruct]
[--cases 16] [--positions 12] [--data ../shared/data]``. The GPU half is
``bench/latency_gpu.py`` (``bash bench/gpu.sh`` on a GPU machine).

Sections, all with the same loaded model:

1. **Requests** on ``--cases`` HumanEval single-line infilling prompts (the seeded subset
   of ``bench.fim``, cursor on the emptied hole line), one alternative, greedy: the
   product's pipeline (engine, post-processing, every validator, as `vetted complete`
   runs it) against plain ``model.generate`` on the same prompt ids, stopping at the same
   end tokens (what a plain transformers server does), and against ``model.generate``
   forced to the same number of tokens as the engine produced (the same work, so the
   ratio is the runtime's alone). End-to-end p50/p90, time to first token, and the
   pipeline's split into prompt building, prefill, decoding, post-processing, validators.
2. **Alternatives**: the same requests with the inline default of 4 alternatives.
3. **Decode speed**: 32 forced tokens after a 256-token prompt, engine against
   ``model.generate``, ms per token.
4. **Keystrokes**: a real file (the standard library's ``textwrap.py``) with one line
   emptied is typed back one character at a time, a request after each character: the
   engine without prefix reuse, with it, and with it plus type-through.
6. **Speculation**: ``--large`` (the 1.5B model) decoding 32 forced greedy tokens at batch
   1 after HumanEval infilling prompts, alone and with ``--model`` as its draft.
5. **Server overhead**: the real server over stdio (the same model), inline requests at
   several positions; the round trip minus the model's and the validators' time as the
   server reports them in ``vetted/status``.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from bench.fim import DEFAULT_DATA, Case, load_cases, pick_subset
from codegen.backends import RuntimeOptions, TorchBackend, load_backend
from codegen.engine import Engine
from codegen.generate import SamplingParams
from codegen.model import parse_spec
from codegen.pipeline import Pipeline
from codegen.types import CompletionRequest, CompletionResult
from codegen.typethrough import TypeThrough
from prompts.templates import STOP_TOKEN_IDS, FimTemplate
from validators import close_validators, create_validators

REPO_ROOT = Path(__file__).resolve().parents[1]
KEYSTROKE_FILE = Path(textwrap.__file__)
"""The standard library's textwrap.py: real code, fixed for a Python version (3.11 here)."""
KEYSTROKE_LINE = "lines.append(indent + ''.join(cur_line))"
"""The first line with this code is typed back, one character at a time."""


def percentile(values: Sequence[float], share: float) -> float:
    """The `share` quantile (0..1) by linear interpolation."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    position = share * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def ms(seconds: float) -> str:
    """Milliseconds, for tables."""
    return f"{seconds * 1000:.0f}"


@dataclass
class Series:
    """Samples of one quantity, in seconds."""

    values: list[float] = field(default_factory=list)

    def add(self, value: float) -> None:
        """Record one sample."""
        self.values.append(value)

    @property
    def p50(self) -> float:
        """Median."""
        return percentile(self.values, 0.5)

    @property
    def p90(self) -> float:
        """90th percentile."""
        return percentile(self.values, 0.9)


class FirstToken:
    """A transformers streamer that notes when the first generated token arrives."""

    def __init__(self) -> None:
        """Start with no tokens seen."""
        self.calls = 0
        self.first: float | None = None

    def put(self, value: Any) -> None:
        """Called with the prompt first, then with each new token."""
        self.calls += 1
        if self.calls == 2 and self.first is None:
            self.first = time.perf_counter()

    def end(self) -> None:
        """Called once generation ends."""


def plain_generate(
    model: Any, ids: Sequence[int], new_tokens: int, forced: bool
) -> tuple[float, float, int]:
    """Greedy ``model.generate``; return (seconds, seconds to first token, tokens)."""
    inputs = torch.tensor([list(ids)])
    streamer = FirstToken()
    extra: dict[str, Any] = {"min_new_tokens": new_tokens} if forced else {}
    started = time.perf_counter()
    with torch.inference_mode():
        out = model.generate(
            inputs,
            attention_mask=torch.ones_like(inputs),
            max_new_tokens=new_tokens,
            do_sample=False,
            eos_token_id=sorted(STOP_TOKEN_IDS),
            pad_token_id=151643,
            streamer=streamer,
            **extra,
        )
    took = time.perf_counter() - started
    first = (streamer.first or time.perf_counter()) - started
    return took, first, int(out.shape[1] - inputs.shape[1])


def case_request(case: Case, n: int, max_new_tokens: int, root: str) -> CompletionRequest:
    """The case as an editor request: cursor on the emptied hole line."""
    text = case.prompt + "\n" + case.suffix
    return CompletionRequest(
        text, len(case.prompt), path=f"{case.task_id.replace('/', '_')}.py", n=n,
        max_new_tokens=max_new_tokens, trigger="invoked", root=root,
    )


def requests_section(
    backend: TorchBackend, cases: Sequence[Case], max_new_tokens: int, root: str
) -> list[str]:
    """Sections 1 and 2: the pipeline against plain generate on the same prompts."""
    validators = create_validators()
    pipeline = Pipeline(backend, FimTemplate(), validators=validators)
    stages = {k: Series() for k in ("prompt", "prefill", "decode", "postprocess", "validate")}
    vetted, vetted_first, vetted4 = Series(), Series(), Series()
    plain, plain_first, same, same_first = Series(), Series(), Series(), Series()
    tokens_engine: list[int] = []
    try:
        pipeline.complete(case_request(cases[0], 1, max_new_tokens, root))  # warm mypy
        for number, case in enumerate(cases, 1):
            request = case_request(case, 1, max_new_tokens, root)
            started = time.perf_counter()
            result = pipeline.complete(request)
            vetted.add(time.perf_counter() - started)
            timings = result.timings
            vetted_first.add(timings.prompt + timings.first_token)
            for name, value in (
                ("prompt", timings.prompt), ("prefill", timings.prefill),
                ("decode", timings.generate - timings.prefill),
                ("postprocess", timings.postprocess), ("validate", timings.validate),
            ):
                stages[name].add(value)
            produced = max(1, timings.generated_tokens)
            tokens_engine.append(produced)
            prompt = pipeline.build_prompt(request)
            assert prompt is not None
            took, first, _ = plain_generate(backend.model, prompt.ids, max_new_tokens, False)
            plain.add(took)
            plain_first.add(first)
            took, first, _ = plain_generate(backend.model, prompt.ids, produced, True)
            same.add(took)
            same_first.add(first)
            started = time.perf_counter()
            pipeline.complete(case_request(case, 4, max_new_tokens, root))
            vetted4.add(time.perf_counter() - started)
            print(f"[requests {number}/{len(cases)}] {case.task_id}: vetted "
                  f"{ms(vetted.values[-1])} ms ({produced} tokens), plain {ms(plain.values[-1])} "
                  f"ms, 4 alternatives {ms(vetted4.values[-1])} ms", file=sys.stderr, flush=True)
    finally:
        close_validators(validators)
    lines = [
        f"### 1. Requests: {len(cases)} HumanEval single-line infilling prompts, greedy, "
        f"max_new_tokens {max_new_tokens}",
        "",
        "| | p50 ms | p90 ms | first token p50 ms | ratio p50 (baseline / vetted) |",
        "|---|---:|---:|---:|---:|",
        f"| vetted pipeline, 1 alternative | {ms(vetted.p50)} | {ms(vetted.p90)} | "
        f"{ms(vetted_first.p50)} | 1.00 |",
        f"| plain `model.generate`, same stop tokens | {ms(plain.p50)} | {ms(plain.p90)} | "
        f"{ms(plain_first.p50)} | {plain.p50 / vetted.p50:.2f} |",
        f"| plain `model.generate`, forced to the engine's token count | {ms(same.p50)} | "
        f"{ms(same.p90)} | {ms(same_first.p50)} | {same.p50 / vetted.p50:.2f} |",
        f"| vetted pipeline, 4 alternatives (inline default) | {ms(vetted4.p50)} | "
        f"{ms(vetted4.p90)} | | {vetted4.p50 / vetted.p50:.2f} (4 alt. / 1) |",
        "",
        "Pipeline split, p50 ms: " + ", ".join(f"{k} {ms(v.p50)}" for k, v in stages.items())
        + f"; tokens generated p50 {statistics.median(tokens_engine):.0f}",
        "",
    ]
    return lines


def decode_section(backend: TorchBackend, repeats: int = 3) -> list[str]:
    """Section 3: forced-length decoding, engine against generate."""
    engine = backend.engine
    assert engine is not None
    prompt = [int(t) for t in torch.randint(1000, 100000, (256,), generator=torch.Generator()
                                            .manual_seed(0))]
    ours, theirs, ours_prefill, theirs_first = Series(), Series(), Series(), Series()
    for repeat in range(repeats):
        ids = [prompt[0] + repeat, *prompt[1:]]  # a different first token: no reuse
        ticket = engine.submit(ids, SamplingParams(n=1, max_new_tokens=32), (),
                               cancel=threading.Event())
        [generation] = ticket.result()
        timing = ticket.timing
        assert timing is not None and generation.tokens == 32
        ours.add((timing.total - timing.first_token) / 31)
        ours_prefill.add(timing.first_token)
        took, first, produced = plain_generate(backend.model, ids, 32, True)
        assert produced == 32
        theirs.add((took - first) / 31)
        theirs_first.add(first)
    return [
        "### 3. Decode speed: 256-token prompt, 32 forced tokens, batch 1",
        "",
        "| | prefill + first token ms | ms per further token | ratio per token |",
        "|---|---:|---:|---:|",
        f"| engine | {ms(ours_prefill.p50)} | {ours.p50 * 1000:.1f} | 1.00 |",
        f"| plain `model.generate` | {ms(theirs_first.p50)} | {theirs.p50 * 1000:.1f} | "
        f"{theirs.p50 / ours.p50:.2f} |",
        "",
    ]


def keystroke_requests(tokens: int) -> list[CompletionRequest]:
    """The keystroke file with one line typed back, one request per character typed."""
    lines = KEYSTROKE_FILE.read_text(encoding="utf-8").splitlines(keepends=True)
    number = next(i for i, line in enumerate(lines) if line.strip() == KEYSTROKE_LINE)
    line = lines[number]
    indent = len(line) - len(line.lstrip())
    head = "".join(lines[:number]) + line[:indent]
    tail = "\n" + "".join(lines[number + 1 :])
    typed = line[indent:].rstrip("\n")
    return [
        CompletionRequest(
            head + typed[:k] + tail, len(head) + k, path="textwrap.py",
            max_new_tokens=tokens, trigger="automatic",
        )
        for k in range(len(typed) + 1)
    ]


def keystroke_section(
    model: Any, tokenizer: Any, requests: Sequence[CompletionRequest]
) -> list[str]:
    """Section 4: typing one character at a time, without and with reuse."""
    modes: list[tuple[str, int, bool]] = [
        ("no prefix reuse", 0, False),
        ("prefix reuse", 512, False),
        ("prefix reuse + type-through", 512, True),
    ]
    rows = []
    baseline: float | None = None
    prompt_p50 = 0.0
    for name, cache_mb, through in modes:
        backend = TorchBackend(model, tokenizer, name, RuntimeOptions(prefix_cache_mb=cache_mb))
        memory = TypeThrough() if through else None
        pipeline = Pipeline(backend, FimTemplate(), validators=(), typethrough=memory)
        latency, first = Series(), Series()
        first_prefill = 0
        sources: dict[str, int] = {}
        prompt_tokens: list[int] = []
        try:
            for number, request in enumerate(requests):
                started = time.perf_counter()
                result: CompletionResult = pipeline.complete(request)
                if number == 0:
                    assert backend.engine is not None
                    first_prefill = backend.engine.stats.prefilled_tokens
                    continue  # the first request of a document has nothing to reuse
                latency.add(time.perf_counter() - started)
                first.add(result.timings.prompt + result.timings.first_token)
                sources[result.timings.source] = sources.get(result.timings.source, 0) + 1
                prompt_tokens.append(result.timings.prompt_tokens)
            engine = backend.engine
            assert engine is not None
            prefilled = (engine.stats.prefilled_tokens - first_prefill) / len(latency.values)
        finally:
            backend.close()
        baseline = baseline or latency.p50
        prompt_p50 = prompt_p50 or statistics.median(prompt_tokens)
        rows.append(
            f"| {name} | {ms(latency.p50)} | {ms(latency.p90)} | {ms(first.p50)} | "
            f"{prefilled:.0f} | {baseline / latency.p50:.2f} | "
            + ", ".join(f"{k} {v}" for k, v in sorted(sources.items())) + " |"
        )
        print(f"[keystrokes] {name}: p50 {ms(latency.p50)} ms", file=sys.stderr, flush=True)
    return [
        f"### 4. Keystrokes: `{KEYSTROKE_LINE}` of the standard library's textwrap.py typed "
        "back, "
        f"{len(requests) - 1} requests after the first (prompt p50 {prompt_p50:.0f} tokens)",
        "",
        "| | p50 ms | p90 ms | first token p50 ms | tokens prefilled per request | speed-up p50 "
        "| answered by |",
        "|---|---:|---:|---:|---:|---:|---|",
        *rows,
        "",
    ]


def speculation_section(
    draft: TorchBackend, target_spec: str, cases: Sequence[Case], new_tokens: int
) -> list[str]:
    """Section 6: a lone greedy request on the large model, with and without the draft."""
    target = load_backend(parse_spec(target_spec), device="cpu")
    assert isinstance(target, TorchBackend)
    template = FimTemplate()
    prompts = [
        template.render(target.tokenizer, case.prompt, "\n" + case.suffix).ids for case in cases
    ]
    rows, baseline = [], 0.0
    for name, helper in (("large model alone", None), ("with the small model as draft", draft)):
        engine = Engine(target.model, target.tokenizer.decode, reuse_prefixes=False,
                        draft=helper.model if helper is not None else None)
        per_token = Series()
        try:
            for ids in prompts:
                ticket = engine.submit(ids, SamplingParams(n=1, max_new_tokens=new_tokens), (),
                                       cancel=threading.Event())
                [generation] = ticket.result()
                timing = ticket.timing
                assert timing is not None and generation.tokens == new_tokens
                per_token.add((timing.total - timing.first_token) / (new_tokens - 1))
            stats = engine.stats
            rounds = stats.speculative_rounds
            per_round = f"{stats.speculative_tokens / rounds:.2f}" if rounds else "-"
        finally:
            engine.close()
        baseline = baseline or per_token.p50
        rows.append(f"| {name} | {per_token.p50 * 1000:.0f} | {baseline / per_token.p50:.2f} | "
                    f"{rounds} | {per_round} |")
        print(f"[speculation] {name}: {per_token.p50 * 1000:.0f} ms/token", file=sys.stderr,
              flush=True)
    target.close()
    return [
        f"### 6. Speculative decoding: {target_spec}, {len(prompts)} HumanEval infilling "
        f"prompts, {new_tokens} forced greedy tokens, batch 1",
        "",
        "| | ms per token p50 | speed-up | speculative rounds | tokens per round |",
        "|---|---:|---:|---:|---:|",
        *rows,
        "",
    ]


def server_section(model_spec: str, positions: int) -> list[str]:
    """Section 5: the real server over stdio; round trip minus model and validators."""
    return asyncio.run(_server_overhead(model_spec, positions))


async def _server_overhead(model_spec: str, positions: int) -> list[str]:
    from lsprotocol import types
    from pygls.lsp.client import LanguageClient

    client = LanguageClient("latency-bench", "1")
    await client.start_io(sys.executable, "-m", "lsp_server", "serve")
    root = REPO_ROOT / "tests" / "workspaces" / "demo"
    await client.initialize_async(types.InitializeParams(
        capabilities=types.ClientCapabilities(),
        initialization_options={"model": model_spec, "device": "cpu", "alternatives": 1,
                                "maxNewTokens": 16},
        root_uri=root.as_uri(),
    ))
    client.initialized(types.InitializedParams())
    while True:
        state = (await client.protocol.send_request_async("vetted/status", {})).state
        if state in ("ready", "failed"):
            break
        await asyncio.sleep(0.2)
    text = KEYSTROKE_FILE.read_text(encoding="utf-8")
    uri = (root / "typed.py").as_uri()
    client.text_document_did_open(types.DidOpenTextDocumentParams(
        types.TextDocumentItem(uri=uri, language_id="python", version=1, text=text)))
    overhead, outside_model, rtt = Series(), Series(), Series()
    lines = text.splitlines()
    for number in range(positions + 1):
        line = 40 + 7 * number
        character = len(lines[line]) - len(lines[line].lstrip())
        started = time.perf_counter()
        await client.text_document_inline_completion_async(types.InlineCompletionParams(
            context=types.InlineCompletionContext(
                trigger_kind=types.InlineCompletionTriggerKind.Invoked),
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=types.Position(line=line, character=character)))
        took = time.perf_counter() - started
        last = (await client.protocol.send_request_async("vetted/status", {})).lastRequest
        if number == 0:
            continue  # warms the validators
        timings = last.timingsMs
        rtt.add(took)
        outside_model.add(took - timings.generate / 1000)
        overhead.add(took - (timings.generate + timings.validate) / 1000)
    await client.shutdown_async(None)
    client.exit(None)
    await client.stop()  # type: ignore[no-untyped-call]
    return [
        f"### 5. Server overhead: {positions} invoked inline requests over stdio, 1 alternative",
        "",
        "| | p50 ms | p90 ms |",
        "|---|---:|---:|",
        f"| round trip | {ms(rtt.p50)} | {ms(rtt.p90)} |",
        f"| outside the model (validators included) | {outside_model.p50 * 1000:.1f} | "
        f"{outside_model.p90 * 1000:.1f} |",
        f"| outside the model and the validators (target ≤ 5) | {overhead.p50 * 1000:.1f} | "
        f"{overhead.p90 * 1000:.1f} |",
        "",
    ]


def main(argv: Sequence[str] | None = None) -> int:
    """Run every CPU section and print the tables."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    parser.add_argument("--model", default="pypi:qwen2.5-coder-0.5b-instruct")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--cases", type=int, default=16)
    parser.add_argument("--max-new-tokens", type=int, default=48)
    parser.add_argument("--positions", type=int, default=12, help="server requests")
    parser.add_argument("--large", default="pypi:qwen2.5-coder-1.5b-instruct",
                        help="the model --model drafts for in the speculation section")
    parser.add_argument("--skip", action="append", default=[],
                        choices=("requests", "decode", "keystrokes", "speculation", "server"))
    args = parser.parse_args(argv)
    backend = load_backend(parse_spec(args.model), device="cpu")
    assert isinstance(backend, TorchBackend) and backend.engine is not None
    print(f"Latency, {args.model} on CPU ({torch.get_num_threads()} threads, "
          f"{next(backend.model.parameters()).dtype})\n")
    sections: list[tuple[str, Callable[[], list[str]]]] = [
        ("requests", lambda: requests_section(
            backend, pick_subset(load_cases(args.data), args.cases), args.max_new_tokens,
            str(REPO_ROOT / "tests" / "workspaces" / "demo"))),
        ("decode", lambda: decode_section(backend)),
        ("keystrokes", lambda: keystroke_section(
            backend.model, backend.tokenizer, keystroke_requests(args.max_new_tokens))),
        ("speculation", lambda: speculation_section(
            backend, args.large, pick_subset(load_cases(args.data), args.cases)[:6], 32)),
        ("server", lambda: server_section(args.model, args.positions)),
    ]
    for name, run in sections:
        if name in args.skip:
            continue
        print("\n".join(run()), flush=True)
    backend.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
