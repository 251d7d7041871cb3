"""Latency of whole requests through the pipeline, and of the speculative path (`bench.latency`).

Requests: HumanEval single-line infilling prompts (the seeded subset of ``bench.fim``,
cursor on the emptied hole line), one alternative, greedy: the product's pipeline (engine,
post-processing, every validator, as `vetted complete` runs it) against plain
``model.generate`` on the same prompt ids, stopping at the same end tokens (what a plain
transformers server does), and against ``model.generate`` forced to the same number of
tokens as the engine produced; then the same requests with 4 alternatives.

Speculation: the large model decoding forced greedy tokens at batch 1 after HumanEval
infilling prompts, alone and with the small model as its draft.
"""

from __future__ import annotations

import statistics
import sys
import threading
import time
from collections.abc import Sequence

from bench.fim_cases import Case
from bench.peers import plain_generate
from bench.stats import Series, ms
from codegen.pipeline import Pipeline
from codegen.runtime.backends import TorchBackend, load_backend
from codegen.runtime.engine import Engine
from codegen.runtime.generate import SamplingParams
from codegen.runtime.model import parse_spec
from codegen.types import CompletionRequest
from prompts.templates import FimTemplate
from validators import close_validators, create_validators


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
            run = plain_generate(backend.model, prompt.ids, max_new_tokens, False)
            plain.add(run.total)
            plain_first.add(run.first)
            run = plain_generate(backend.model, prompt.ids, produced, True)
            same.add(run.total)
            same_first.add(run.first)
            started = time.perf_counter()
            pipeline.complete(case_request(case, 4, max_new_tokens, root))
            vetted4.add(time.perf_counter() - started)
            print(f"[requests {number}/{len(cases)}] {case.task_id}: vetted "
                  f"{ms(vetted.values[-1])} ms ({produced} tokens), plain {ms(plain.values[-1])} "
                  f"ms, 4 alternatives {ms(vetted4.values[-1])} ms", file=sys.stderr, flush=True)
    finally:
        close_validators(validators)
    lines = [
        f"### Requests: {len(cases)} HumanEval single-line infilling prompts, greedy, "
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
        f"### Speculative decoding: {target_spec}, {len(prompts)} HumanEval infilling "
        f"prompts, {new_tokens} forced greedy tokens, batch 1",
        "",
        "| | ms per token p50 | speed-up | speculative rounds | tokens per round |",
        "|---|---:|---:|---:|---:|",
        *rows,
        "",
    ]


