"""`vetted batch INPUT -o OUTPUT` and `vetted eval SUITE`, over `codegen.jobs.batch`/`evaluate`.

Both load the model once, build the same pipeline as the server (prompt template,
post-processing, every validator, ranking) and run the requests concurrently so the engine
batches them. A rich progress bar shows done/total, tokens/s and the time left (`--quiet`
for scripts); Ctrl-C stops cleanly, keeping every record written (a second one stops at
once, the records finished kept for the next run).

Reruns go on where the last one ended, as `codegen.jobs.results` describes: the ids done
are skipped, error records retried, other settings refused (status 2, naming the
difference), a damaged result line reported with its file and line (status 2). The output
may not be the input. A failed write (a full disk) ends the run with one line and status
1, the output whole and this run's records kept for the next one.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, wait
from pathlib import Path
from typing import Any

from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from codegen.jobs import batch, evaluate, results
from codegen.pipeline import Pipeline
from codegen.runtime.backends import Backend, RuntimeOptions, load_backend
from codegen.runtime.model import ModelSpec, parse_spec, resolve_default_spec
from codegen.runtime.placement import QUANTIZE_MODES
from prompts.templates import FimTemplate
from validators import close_validators, create_validators
from validators.sandbox import Sandbox, SandboxLimits


def add_parsers(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """The `batch` and `eval` subcommands' arguments."""
    run = sub.add_parser("batch", help="complete JSONL requests (resumable)")
    run.add_argument("input", type=Path, help="one request per line ('-' reads stdin)")
    run.add_argument("-o", "--output", type=Path, required=True)
    _common(run)

    suite = sub.add_parser("eval", help="score a benchmark suite with its hidden tests")
    suite.add_argument("suite", choices=sorted(evaluate.SUITES))
    suite.add_argument("--data", type=Path, required=True,
                       help="folder with the suites' public files as published: humaneval/ "
                            "(HumanEval and its infilling variants), mbpp/ (sanitized MBPP)")
    suite.add_argument("--subset", type=_int_in(1, 10**6), default=None,
                       help="a seeded sample of N tasks")
    suite.add_argument("--limit", type=_int_in(0, 10**6), default=None,
                       help="only the first K tasks")
    suite.add_argument("--out", type=Path, default=None,
                       help="folder for requests, results and report (default "
                            "eval-out/SUITE-SETTINGS, SETTINGS a digest of model, n, ...)")
    _common(suite)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", default="", help="model spec; default: the built-in default")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--dtype", default="auto")
    parser.add_argument("--quantize", default="auto", choices=QUANTIZE_MODES,
                        help="decoding weights: auto (int4 on a CPU), int4, int8, off")
    parser.add_argument("--n", type=_int_in(1, batch.MAX_N), default=1,
                        help="candidates per request (default)")
    parser.add_argument("--max-new-tokens", type=_int_in(1, batch.MAX_NEW_TOKENS), default=128)
    parser.add_argument("--temperature", type=_temperature, default=0.0)
    parser.add_argument("--workers", type=_int_in(0, 1024), default=0,
                        help="requests at once (default: the engine's slots / n)")
    parser.add_argument("--no-validators", action="store_true",
                        help="post-process only: no syntax, mypy or test checks")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def _int_in(low: int, high: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        value = int(text)
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{value} is not from {low} to {high}")
        return value

    parse.__name__ = "integer"  # argparse names the type in its message
    return parse


def _temperature(text: str) -> float:
    value = float(text)
    if not (math.isfinite(value) and 0 <= value <= batch.MAX_TEMPERATURE):
        raise argparse.ArgumentTypeError(f"{text} is not from 0 to {batch.MAX_TEMPERATURE:g}")
    return value


def run_batch_command(args: argparse.Namespace) -> int:
    """`vetted batch`: run the input's requests into the output file."""
    output: Path = args.output
    if str(args.input) != "-" and any(
        _same_file(args.input, p)
        for p in (output, results.partial_path(output), results.settings_path(output))
    ):
        print(f"vetted: {output} is the input {args.input}; write the results elsewhere",
              file=sys.stderr)
        return 2
    try:
        lines = batch.read_lines(args.input)
    except OSError as exc:
        print(f"vetted: cannot read {args.input}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    spec = _spec(args)
    return _run(args, spec, lines, output, _settings(args, spec))


def run_eval_command(args: argparse.Namespace) -> int:
    """`vetted eval`: build the suite's requests, run them through batch, score them."""
    try:
        tasks, layout = evaluate.load_suite(args.data, args.suite)
    except evaluate.SuiteError as exc:
        print(f"vetted: {exc}", file=sys.stderr)
        return 2
    tasks = evaluate.pick(tasks, args.subset, args.limit)
    spec = _spec(args)
    settings = {**_settings(args, spec), "suite": args.suite}
    out = args.out or evaluate.default_folder(settings)
    out.mkdir(parents=True, exist_ok=True)
    try:  # before requests.jsonl is written: it belongs to the results there
        results.check_settings(out / "results.jsonl", settings)
    except results.ResultsError as exc:
        print(f"vetted: {exc}", file=sys.stderr)
        return 2
    lines: list[str | bytes] = [
        json.dumps(evaluate.batch_record(t, layout, args.n, args.max_new_tokens)) for t in tasks]
    (out / "requests.jsonl").write_text("\n".join(map(str, lines)) + "\n", encoding="utf-8")
    status = _run(args, spec, lines, out / "results.jsonl", settings)
    if status != 0:
        return status
    try:
        records = {s.key: s.record for s in results.read_results(out / "results.jsonl")}
    except results.ResultsError as exc:
        print(f"vetted: {exc}", file=sys.stderr)
        return 2
    with Sandbox(SandboxLimits(wall_seconds=900.0)) as sandbox:
        try:
            scores = evaluate.score(sandbox, tasks, layout, records)
        except evaluate.SuiteError as exc:
            print(f"vetted: {exc}", file=sys.stderr)
            return 2
    result = evaluate.report(args.suite, scores, args.n,
                             settings={**settings, "subset": args.subset, "limit": args.limit})
    (out / "report.json").write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    summary = {k: v for k, v in result.items() if k != "per_task"}
    print(json.dumps(summary))
    if not args.quiet:
        print(f"report: {out / 'report.json'}", file=sys.stderr)
    return 0


def _spec(args: argparse.Namespace) -> ModelSpec:
    return parse_spec(args.model) if args.model else resolve_default_spec()


def _settings(args: argparse.Namespace, spec: ModelSpec) -> dict[str, Any]:
    """What decides a record's content, as `OUTPUT.meta.json` keeps it."""
    return {"model": str(spec), "quantize": args.quantize, "dtype": args.dtype, "n": args.n,
            "max_new_tokens": args.max_new_tokens, "temperature": args.temperature,
            "validators": not args.no_validators}


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _run(args: argparse.Namespace, spec: ModelSpec, lines: list[str | bytes], output: Path,
         settings: dict[str, Any]) -> int:
    if output.exists() and not output.is_file():  # /dev/stdout, a pipe, a folder
        print(f"vetted: {output} is not a regular file; give a file for the results (it is "
              "replaced whole when a run ends)", file=sys.stderr)
        return 2
    try:
        with results.exclusive(output):
            return _run_alone(args, spec, lines, output, settings)
    except results.ResultsError as exc:
        print(f"vetted: {exc}", file=sys.stderr)
        return 2


def _run_alone(args: argparse.Namespace, spec: ModelSpec, lines: list[str | bytes],
               output: Path, settings: dict[str, Any]) -> int:
    """`_run` once no other run writes `output`."""
    defaults = {"n": args.n, "max_new_tokens": args.max_new_tokens,
                "temperature": args.temperature}
    items = batch.parse_items(lines, defaults)
    try:
        results.check_settings(output, settings)
        results.fold(output, items)  # what a killed run left in the partial file
        skip = results.done_keys(output)
    except results.ResultsError as exc:
        print(f"vetted: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"vetted: cannot write {output}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    backend = load_backend(spec, device=args.device, dtype=args.dtype,
                           progress=None if args.quiet else _say,
                           runtime=RuntimeOptions(quantize=args.quantize))
    validators = () if args.no_validators else create_validators(patient=True)
    pipeline = Pipeline(backend, FimTemplate(), validators=validators)
    stop = threading.Event()
    counts = batch.Progress()
    partial = results.partial_path(output)
    try:
        with partial.open("a", encoding="utf-8") as handle:
            outcome = _start(lambda: batch.run_batch(
                pipeline, lines, handle, skip=skip, defaults=defaults,
                workers=_workers(args, backend), stop=stop, progress=counts))
            try:
                _show(outcome, counts, args.quiet)
            except KeyboardInterrupt:
                return _stop(stop, outcome, output, items, counts)
            outcome.result()
        results.fold(output, items)
    except OSError as exc:
        print(f"vetted: cannot write the results ({exc.strerror or exc}); {output} is whole "
              f"and {partial.name} keeps this run's records: rerun to go on", file=sys.stderr)
        return 1
    except results.ResultsError as exc:
        print(f"vetted: {exc}", file=sys.stderr)
        return 2
    finally:
        close_validators(validators)
        backend.close()
    if counts.total and not args.quiet:
        print(f"vetted: {counts.done} records ({counts.errors} errors, {counts.skipped} done "
              f"before) in {output}", file=sys.stderr)
    return 0


def _start(work: Callable[[], batch.Progress]) -> Future[batch.Progress]:
    """Run `work` on a daemon thread; its result or exception lands in the future."""
    outcome: Future[batch.Progress] = Future()

    def run() -> None:
        try:
            outcome.set_result(work())
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread
            outcome.set_exception(exc)

    threading.Thread(target=run, name="batch-writer", daemon=True).start()
    return outcome


def _stop(stop: threading.Event, outcome: Future[batch.Progress], output: Path,
          items: list[batch.BatchItem], counts: batch.Progress) -> int:
    """Ctrl-C: let running requests end, keep what was written; a second Ctrl-C cuts short."""
    stop.set()
    try:
        wait([outcome], timeout=60)
        results.fold(output, items)
    except KeyboardInterrupt:
        signal.signal(signal.SIGINT, signal.SIG_DFL)  # a third one ends the process outright
        print(f"\nvetted: stopped at once; the records finished are in "
              f"{results.partial_path(output)}, rerun to go on", file=sys.stderr)
        return 130
    print(f"\nvetted: stopped; {counts.done} records written to {output}, rerun to go on",
          file=sys.stderr)
    return 130


def _workers(args: argparse.Namespace, backend: Backend) -> int:
    if args.workers:
        return int(args.workers)
    engine = backend.engine
    slots = int(engine.cache.slots) if engine is not None else 4
    n: int = args.n
    return max(1, slots // max(n, 1))


def _show(worker: Future[batch.Progress], counts: batch.Progress, quiet: bool) -> None:
    """Wait for the worker, drawing the progress bar unless `quiet`."""
    if quiet or not counts.total and worker.done():
        while not worker.done():
            wait([worker], timeout=0.5)
        return
    started = time.perf_counter()
    columns = (TextColumn("{task.description}"), BarColumn(),
               TextColumn("{task.completed}/{task.total}"),
               TextColumn("{task.fields[rate]} tokens/s"), TimeRemainingColumn())
    with Progress(*columns, transient=False) as bar:
        task = bar.add_task("vetted batch", total=None, rate="0")
        while not worker.done():
            wait([worker], timeout=0.5)
            elapsed = max(time.perf_counter() - started, 1e-6)
            bar.update(task, total=counts.total or None, completed=counts.done,
                       rate=f"{counts.tokens / elapsed:.0f}")


def _say(message: str) -> None:
    print(f"vetted: {message}", file=sys.stderr, flush=True)
