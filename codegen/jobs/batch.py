"""Batch generation: JSONL requests in, JSONL results out, through the editor's pipeline.

Each input line is one request: ``id``, and ``prompt`` (code to continue) or ``prefix`` +
``suffix`` (fill in the middle), optionally ``n``, ``max_new_tokens``, ``temperature``,
``tests`` (assert statements, run on every candidate like the workspace's tests) and
``language``. Each output line: ``id``, ``completions`` (ranked, best first, each with its
verdicts), ``raw`` (the model's texts before post-processing), ``discarded`` and
``timings``; a line that cannot be read becomes ``{"id", "line", "error"}``.

Requests run concurrently on `workers` threads, so the engine decodes them in one batch
(a finished sequence's slot goes to the next request) and validators of one request run
while others generate. Results are written in input order, each line flushed as soon as
every earlier one is written, so the file is always a prefix of the complete output: a
rerun of the same command skips the ids it holds (a cut last line is dropped first) and
ends with exactly one record per input id, as an uninterrupted run would.
"""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from codegen.pipeline import Pipeline
from codegen.types import Candidate, CompletionRequest, CompletionResult


class BadRecord(ValueError):
    """An input line that is not a request; the message says what is wrong."""


@dataclass(frozen=True)
class BatchItem:
    """One input line: a request, or why it is not one."""

    line: int
    """1-based line number in the input."""
    key: str
    """The record's id, or ``line:N`` when it has none."""
    request: CompletionRequest | None
    error: str = ""
    raw_id: str | int | None = None
    """The id exactly as the input wrote it (``"7"`` and ``7`` stay apart), None when absent."""


def parse_record(text: str, line: int, defaults: Mapping[str, Any]) -> BatchItem:
    """Read one input line; never raises (a bad line becomes an item with an error)."""
    try:
        record = json.loads(text)
    except ValueError as exc:
        return BatchItem(line, f"line:{line}", None, f"not JSON: {exc}")
    if not isinstance(record, dict):
        return BatchItem(line, f"line:{line}", None, "a record must be a JSON object")
    raw = record.get("id")
    raw_id = raw if isinstance(raw, str | int) and not isinstance(raw, bool) else None
    key = _record_key({"id": raw_id, "line": line})
    try:
        return BatchItem(line, key, request_of(record, defaults), raw_id=raw_id)
    except (BadRecord, ValueError, TypeError) as exc:
        return BatchItem(line, key, None, str(exc), raw_id=raw_id)


def request_of(record: Mapping[str, Any], defaults: Mapping[str, Any]) -> CompletionRequest:
    """The completion request a record asks for."""
    if "id" not in record or not isinstance(record["id"], str | int):
        raise BadRecord("missing id (a string or an integer)")
    if "prompt" in record:
        prefix, suffix = record["prompt"], ""
        if "prefix" in record or "suffix" in record:
            raise BadRecord("give either prompt, or prefix and suffix, not both")
    elif "prefix" in record:
        prefix, suffix = record["prefix"], record.get("suffix", "")
    else:
        raise BadRecord("missing prompt (or prefix and suffix)")
    if not isinstance(prefix, str) or not isinstance(suffix, str):
        raise BadRecord("prompt, prefix and suffix must be strings")
    tests = record.get("tests", [])
    if not isinstance(tests, list) or not all(isinstance(t, str) for t in tests):
        raise BadRecord("tests must be a list of strings")
    language = record.get("language", "python")
    if language != "python":
        raise BadRecord(f"language {language!r} is not supported (only python)")
    options = {**defaults, **{k: record[k] for k in ("n", "max_new_tokens", "temperature")
                              if k in record}}
    for name in ("n", "max_new_tokens"):
        if not isinstance(options[name], int) or isinstance(options[name], bool):
            raise BadRecord(f"{name} must be an integer")
    if not isinstance(options["temperature"], int | float) or options["temperature"] < 0:
        raise BadRecord("temperature must be a number >= 0")
    return CompletionRequest(
        text=prefix + suffix,
        offset=len(prefix),
        path=f"{_file_name(record['id'])}.py",
        n=options["n"],
        max_new_tokens=options["max_new_tokens"],
        temperature=float(options["temperature"]),
        trigger="invoked",
        tests=tuple(tests),
    )


def _file_name(key: object) -> str:
    name = "".join(c if c.isalnum() or c in "-_" else "_" for c in str(key))
    return name[:80] or "request"


def result_record(raw_id: object, result: CompletionResult) -> dict[str, Any]:
    """The output line of a finished request."""
    timings = result.timings
    return {
        "id": raw_id,
        "completions": [_candidate(c) for c in result.items],
        "raw": list(result.raw),
        "discarded": [
            {"raw": c.raw, "why": "; ".join(v.reason for v in c.verdicts if not v.ok)}
            for c in result.discarded
        ],
        "timings": {
            "prompt_ms": round(timings.prompt * 1000, 1),
            "generate_ms": round(timings.generate * 1000, 1),
            "validate_ms": round(timings.validate * 1000, 1),
            "prompt_tokens": timings.prompt_tokens,
            "generated_tokens": timings.generated_tokens,
        },
    }


def _candidate(candidate: Candidate) -> dict[str, Any]:
    verdicts = {v.check: v.as_dict() for v in candidate.verdicts}
    return {"text": candidate.insert, "replaces": candidate.end, "logprob": candidate.logprob,
            "verdicts": verdicts}


def done_keys(output: Path) -> set[str]:
    """Keys of the records an earlier run wrote; a cut last line is removed from the file."""
    if not output.exists():
        return set()
    data = output.read_bytes()
    keep = data if data.endswith(b"\n") or not data else data[: data.rfind(b"\n") + 1]
    if len(keep) != len(data):
        with output.open("r+b") as handle:
            handle.truncate(len(keep))
    keys = set()
    for line in keep.decode("utf-8", "replace").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict):
            keys.add(str(record["key"]) if "key" in record else _record_key(record))
    return keys


def _record_key(record: Mapping[str, Any]) -> str:
    raw = record.get("id")
    if isinstance(raw, str | int) and not isinstance(raw, bool):
        return str(raw)
    return f"line:{record.get('line')}"


@dataclass
class Progress:
    """Counters the progress bar reads."""

    total: int = 0
    done: int = 0
    skipped: int = 0
    tokens: int = 0
    errors: int = 0


def run_batch(
    pipeline: Pipeline,
    lines: Sequence[str],
    output: TextIO,
    *,
    skip: set[str],
    defaults: Mapping[str, Any],
    workers: int,
    stop: threading.Event,
    progress: Progress | None = None,
) -> Progress:
    """Run every request not in `skip`, writing records in input order; return the counts.

    `stop` (Ctrl-C) makes running requests end at their next decode step, unwritten; what
    was written stays valid and a rerun goes on from there.
    """
    counts = progress or Progress()
    items = [parse_record(text, number, defaults)
             for number, text in enumerate(lines, 1) if text.strip()]
    pending = [item for item in items if item.key not in skip]
    counts.total, counts.skipped = len(pending), len(items) - len(pending)
    seen: set[str] = set()
    with ThreadPoolExecutor(max(1, workers), thread_name_prefix="batch") as pool:
        futures: list[tuple[BatchItem, Future[dict[str, Any]] | None]] = []
        for item in pending:
            if item.request is None or item.key in seen:
                futures.append((item, None))
            else:
                seen.add(item.key)
                futures.append((item, pool.submit(_complete, pipeline, item, stop)))
        for item, future in futures:
            record = _error(item, seen) if future is None else _wait(future, stop)
            if record is None:  # stopped
                for _, other in futures:
                    if other is not None:
                        other.cancel()
                break
            output.write(json.dumps(record, ensure_ascii=False) + "\n")
            output.flush()  # a kill -9 loses nothing written before it
            counts.done += 1
            counts.errors += "error" in record
            counts.tokens += int(record.get("timings", {}).get("generated_tokens", 0))
    return counts


def _complete(pipeline: Pipeline, item: BatchItem, stop: threading.Event) -> dict[str, Any]:
    assert item.request is not None
    try:
        result = pipeline.complete(item.request, stop)
    except Exception as exc:  # noqa: BLE001 - one request's failure is its record
        return {"id": _original_id(item), "line": item.line,
                "error": f"{type(exc).__name__}: {exc}"}
    if result.cancelled:
        return {"cancelled": True}
    return result_record(_original_id(item), result)


def _original_id(item: BatchItem) -> str | int:
    """The id as the input wrote it, or the ``line:N`` key of a record without one."""
    return item.key if item.raw_id is None else item.raw_id


def _error(item: BatchItem, seen: set[str]) -> dict[str, Any]:
    why = item.error or f"repeats id {item.key!r} of an earlier line"
    record: dict[str, Any] = {"id": item.raw_id, "line": item.line, "error": why}
    if item.raw_id is None:
        record["key"] = item.key
    return record


def _wait(future: Future[dict[str, Any]], stop: threading.Event) -> dict[str, Any] | None:
    while True:
        if stop.is_set() and not future.done():
            return None
        try:
            record = future.result(timeout=0.2)
        except TimeoutError:
            continue
        return None if record.get("cancelled") else record


def read_lines(path: Path) -> list[str]:
    """The input file's lines (``-`` reads standard input)."""
    if str(path) == "-":
        return sys.stdin.read().splitlines()
    return path.read_text(encoding="utf-8").splitlines()
