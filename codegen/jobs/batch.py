"""Batch generation: JSONL requests in, JSONL results out, through the editor's pipeline.

Each input line is one request: ``id`` (a string or an integer), and ``prompt`` (code to
continue) or ``prefix`` + ``suffix`` (fill in the middle), optionally ``n`` (1 to
`MAX_N`), ``max_new_tokens`` (1 to `MAX_NEW_TOKENS`), ``temperature`` (a finite number, 0
to `MAX_TEMPERATURE`), ``tests`` (assert statements, run on every candidate like the
workspace's tests, Python only) and ``language`` (an LSP languageId such as ``typescript``
or ``go``; python when left out). The input is UTF-8 (a leading byte order mark is
skipped). Each output line: ``id``, ``completions`` (ranked, best first, each with its
verdicts), ``raw`` (the model's texts before post-processing), ``discarded`` and
``timings``; a line that cannot be read (not UTF-8, not JSON, a value out of range, a
repeated id) or a request that fails becomes ``{"id", "line", "error"}`` (plus ``key``,
``line:N``, when the line has no id) and the other lines run.

Requests run concurrently on `workers` threads, so the engine decodes them in one batch
(a finished sequence's slot goes to the next request) and validators of one request run
while others generate. `run_batch` writes records in input order, each flushed as soon as
every earlier one is written; `codegen.jobs.results` keeps them between runs (skipping the
ids done, retrying the errors, refusing other settings).
"""

from __future__ import annotations

import json
import math
import sys
import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from codegen.pipeline import Pipeline
from codegen.types import Candidate, CompletionRequest, CompletionResult
from prompts.languages import LANGUAGES, Language, by_id

MAX_N = 64
"""Most candidates one request may ask for (the engine may allow fewer: its slots)."""
MAX_NEW_TOKENS = 8192
"""Most tokens one candidate may be given (each one takes room in the engine's cache)."""
MAX_TEMPERATURE = 2.0
"""Highest sampling temperature, the top of OpenAI's documented range; above it is noise."""
BOM = b"\xef\xbb\xbf"
"""UTF-8's byte order mark, which some editors put at the start of a file."""


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


def parse_items(lines: Sequence[str | bytes], defaults: Mapping[str, Any]) -> list[BatchItem]:
    """The items of every input line with content (`bytes`: a line that is not UTF-8)."""
    return [parse_record(text, number, defaults)
            for number, text in enumerate(lines, 1) if text.strip()]


def parse_record(text: str | bytes, line: int, defaults: Mapping[str, Any]) -> BatchItem:
    """Read one input line; never raises (a bad line becomes an item with an error)."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            return BatchItem(line, f"line:{line}", None, f"not UTF-8: {exc}")
    try:
        record = json.loads(text)
    except ValueError as exc:
        return BatchItem(line, f"line:{line}", None, f"not JSON: {exc}")
    if not isinstance(record, dict):
        return BatchItem(line, f"line:{line}", None, "a record must be a JSON object")
    raw = record.get("id")
    raw_id = raw if isinstance(raw, str | int) and not isinstance(raw, bool) else None
    key = record_key({"id": raw_id, "line": line})
    try:
        return BatchItem(line, key, request_of(record, defaults), raw_id=raw_id)
    except (BadRecord, ValueError, TypeError) as exc:
        return BatchItem(line, key, None, str(exc), raw_id=raw_id)


def request_of(record: Mapping[str, Any], defaults: Mapping[str, Any]) -> CompletionRequest:
    """The completion request a record asks for."""
    if not _is_int(record.get("id")) and not isinstance(record.get("id"), str):
        raise BadRecord("missing id (a string or an integer)" if "id" not in record
                        else "id must be a string or an integer")
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
    language = language_of_record(record)
    options = {**defaults, **{k: record[k] for k in ("n", "max_new_tokens", "temperature")
                              if k in record}}
    check_options(options)
    return CompletionRequest(
        text=prefix + suffix,
        offset=len(prefix),
        path=f"{_file_name(record['id'])}{language.extensions[0]}",
        language=language.id,
        n=options["n"],
        max_new_tokens=options["max_new_tokens"],
        temperature=float(options["temperature"]),
        trigger="invoked",
        tests=tuple(tests),
    )


def language_of_record(record: Mapping[str, Any]) -> Language:
    """The language a record names (an LSP languageId or alias; python when it names none)."""
    name = record.get("language", "python")
    language = by_id(name) if isinstance(name, str) else None
    if language is None:
        known = ", ".join(language.id for language in LANGUAGES)
        raise BadRecord(f"language {name!r} is not one of {known}")
    return language


def check_options(options: Mapping[str, Any]) -> None:
    """Raise `BadRecord` unless ``n``, ``max_new_tokens`` and ``temperature`` are in range.

    JSON as Python reads it allows ``NaN`` and ``Infinity``, and ``true`` is an int there.
    """
    for name, top in (("n", MAX_N), ("max_new_tokens", MAX_NEW_TOKENS)):
        value = options[name]
        if not _is_int(value) or not 1 <= value <= top:
            raise BadRecord(f"{name} must be an integer from 1 to {top}, not {value!r}")
    value = options["temperature"]
    if not (_is_int(value) or isinstance(value, float)) or not (
        math.isfinite(value) and 0 <= value <= MAX_TEMPERATURE
    ):
        raise BadRecord(f"temperature must be a number from 0 to {MAX_TEMPERATURE:g}, "
                        f"not {value!r}")


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


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


def record_key(record: Mapping[str, Any]) -> str:
    """The key a record is resumed by: its id as a string, else ``line:N``."""
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
    lines: Sequence[str | bytes],
    output: TextIO,
    *,
    skip: set[str],
    defaults: Mapping[str, Any],
    workers: int,
    stop: threading.Event,
    progress: Progress | None = None,
) -> Progress:
    """Run every request whose id is not in `skip`, writing records in input order.

    Lines that are not requests (a repeated id included) always get their error record.
    `stop` (Ctrl-C) makes running requests end at their next decode step, unwritten; what
    was written stays valid. An error writing `output` stops every request and is raised.
    Return the counts.
    """
    counts = progress or Progress()
    items = parse_items(lines, defaults)
    owners = owner_lines(items)
    pending = [item for item in items
               if not (item.key in skip and owners.get(item.key) == item.line)]
    counts.total, counts.skipped = len(pending), len(items) - len(pending)
    with ThreadPoolExecutor(max(1, workers), thread_name_prefix="batch") as pool:
        futures: list[tuple[BatchItem, Future[dict[str, Any]] | None]] = []
        for item in pending:
            if item.request is None or owners.get(item.key) != item.line:
                futures.append((item, None))
            else:
                futures.append((item, pool.submit(_complete, pipeline, item, stop)))
        for item, future in futures:
            record = _error(item) if future is None else _wait(future, stop)
            if record is None:  # stopped
                _cancel(futures, stop)
                break
            try:
                output.write(record_line(record) + "\n")
                output.flush()  # a kill -9 loses nothing written before it
            except BaseException:
                _cancel(futures, stop)
                raise
            counts.done += 1
            counts.errors += "error" in record
            counts.tokens += int(record.get("timings", {}).get("generated_tokens", 0))
    return counts


def record_line(record: Mapping[str, Any]) -> str:
    """A record as one JSON line: readable text, escaped only where UTF-8 cannot hold it."""
    text = json.dumps(record, ensure_ascii=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate, e.g. an id written as "\\ud800"
        return json.dumps(record)
    return text


def _cancel(futures: Sequence[tuple[BatchItem, Future[Any] | None]],
            stop: threading.Event) -> None:
    """End the running requests at their next decode step; never start the others."""
    stop.set()
    for _, future in futures:
        if future is not None:
            future.cancel()


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


def _error(item: BatchItem) -> dict[str, Any]:
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


def owner_lines(items: Sequence[BatchItem]) -> dict[str, int]:
    """Each id's owning line: the first with a request for it (later ones are repeats)."""
    owners: dict[str, int] = {}
    for item in items:
        if item.request is not None:
            owners.setdefault(item.key, item.line)
    return owners


def read_lines(path: Path) -> list[str | bytes]:
    """The input's lines (``-`` reads standard input), split at newlines only.

    A leading byte order mark is skipped; a line that is not UTF-8 stays `bytes` (it
    becomes that line's error record, and the others run).
    """
    data = sys.stdin.buffer.read() if str(path) == "-" else path.read_bytes()
    lines: list[str | bytes] = []
    for raw in data.removeprefix(BOM).split(b"\n"):
        try:
            lines.append(raw.decode("utf-8"))
        except UnicodeDecodeError:
            lines.append(raw)
    if lines and lines[-1] == "":
        lines.pop()
    return lines
