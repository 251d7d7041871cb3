"""A batch output between runs: what produced it, what it holds, and folding new records in.

Three files make one output ``OUT``:

``OUT``
    One record per input id, in input order (holes where a request has not run yet). It is
    only ever replaced whole (a temporary file, then ``os.replace``), so it is never cut,
    and every good record in it is kept verbatim, whatever a user added to it; error
    records are dropped when their requests run again.
``OUT.meta.json``
    The settings that produced the records (model, decoding weights, default ``n``,
    ``max_new_tokens`` and ``temperature``, validators on or off, and for ``vetted eval``
    the suite). A run with other settings is refused, naming the difference.
``OUT.partial``
    The records of the run under way, appended and flushed one by one. The run folds it into
    ``OUT`` when it ends or stops; after a crash or ``kill -9`` the next run folds it first.
``OUT.lock``
    Held (``flock``) by the run under way and removed when it ends: a second run on the same
    output is refused instead of interleaving its records with the first's.

A line of ``OUT`` that is not a JSON object stops the run with its file and line number:
guessing would reorder or lose records. Only in ``OUT.partial`` (written by us alone) is a
cut last line dropped, the trace of a write that a kill interrupted.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codegen.jobs.batch import BOM, BatchItem, owner_lines, record_key


class ResultsError(ValueError):
    """An output that cannot be resumed; the message names the file (and line) and why."""


@dataclass(frozen=True)
class Stored:
    """One record of an output file."""

    line: int
    """1-based line number in its file."""
    key: str
    """The record's id as a string (``line:N`` for an id-less input line's error)."""
    text: str
    """The line as written, without its newline."""
    record: dict[str, Any]

    @property
    def error(self) -> bool:
        """Whether the record says its request failed (it runs again on the next run)."""
        return "error" in self.record


def settings_path(output: Path) -> Path:
    """The file that says which settings produced `output`'s records."""
    return output.with_name(output.name + ".meta.json")


def partial_path(output: Path) -> Path:
    """The file the run under way appends its records to."""
    return output.with_name(output.name + ".partial")


@contextmanager
def exclusive(output: Path) -> Iterator[None]:
    """Hold `output`'s lock for a run; `ResultsError` when another run holds it."""
    lock = output.with_name(output.name + ".lock")
    with lock.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ResultsError(f"another run is writing {output} (it holds {lock.name}); wait "
                               "for it to end or write the results elsewhere") from None
        try:
            yield
        finally:
            lock.unlink(missing_ok=True)


def fingerprint(settings: Mapping[str, Any]) -> str:
    """A short stable digest of `settings` (for folder names)."""
    text = json.dumps(settings, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:10]


def differences(before: Mapping[str, Any], now: Mapping[str, Any]) -> list[str]:
    """Each setting that differs, as ``name OLD (this run: NEW)``."""
    names = [*before, *(k for k in now if k not in before)]
    return [f"{name} {_show(before.get(name))} (this run: {_show(now.get(name))})"
            for name in names if before.get(name) != now.get(name)]


def _show(value: object) -> str:
    return "unset" if value is None else json.dumps(value)


def read_results(path: Path, *, ours: bool = False) -> list[Stored]:
    """The records of an output file (none when it does not exist).

    Blank lines are skipped and a last line without a newline is read like any other. With
    `ours` (a partial file, appended to by runs alone) an unreadable last line without a
    newline is a cut write and dropped; anywhere else a line that is not a JSON object
    raises `ResultsError` naming the file and line.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return []
    lines = data.removeprefix(BOM).split(b"\n")
    stored = []
    for number, raw in enumerate(lines, 1):
        if not raw.strip():
            continue
        try:
            text = raw.decode("utf-8").rstrip("\r")
            record = json.loads(text)
        except ValueError as exc:  # UnicodeDecodeError is a ValueError
            if ours and number == len(lines):
                break
            raise ResultsError(f"{path}:{number}: not a JSON record ({exc}); "
                               "repair or delete that line, then rerun") from exc
        if not isinstance(record, dict):
            raise ResultsError(f"{path}:{number}: not a JSON object; "
                               "repair or delete that line, then rerun")
        # Only an error record of a line without an id has a "key"; in another record
        # it is a user's note.
        key = str(record["key"]) if "key" in record and "error" in record else (
            record_key(record))
        stored.append(Stored(number, key, text, record))
    return stored


def check_settings(output: Path, settings: Mapping[str, Any]) -> None:
    """Refuse to add to results made with other settings; then record this run's."""
    meta = settings_path(output)
    has_results = bool(read_results(output) or read_results(partial_path(output), ours=True))
    if has_results:
        try:
            before = json.loads(meta.read_text(encoding="utf-8"))["settings"]
        except FileNotFoundError:
            raise ResultsError(
                f"{output} holds results but no {meta.name} says which settings made them; "
                f"write elsewhere or delete {output} to start over") from None
        except (ValueError, KeyError, TypeError) as exc:
            raise ResultsError(f"{meta}: not a settings file ({exc})") from exc
        changed = differences(before, settings)
        if changed:
            raise ResultsError(
                f"{output} holds results made with other settings: {'; '.join(changed)}; "
                f"write elsewhere or delete {output} to start over")
    text = json.dumps({"settings": dict(settings)}, indent=1, ensure_ascii=False) + "\n"
    write_atomically(meta, text.encode("utf-8"))


def done_keys(output: Path) -> set[str]:
    """Ids whose good records `output` holds: a rerun skips them, and retries the rest."""
    return set(good_records(output, read_results(output)))


def fold(output: Path, items: Sequence[BatchItem]) -> None:
    """Merge the partial file into `output` in input order, then remove the partial file.

    `output` is replaced atomically, and only when its content changes.
    """
    partial = partial_path(output)
    if not partial.exists():
        return
    kept = good_records(output, read_results(output))
    lines = merge(items, kept, read_results(partial, ours=True))
    data = "".join(line + "\n" for line in lines).encode("utf-8")
    if not output.exists() or output.read_bytes() != data:
        write_atomically(output, data)
    partial.unlink()


def merge(items: Sequence[BatchItem], kept: Mapping[str, Stored],
          new: Sequence[Stored]) -> list[str]:
    """The lines of the merged output: one record per input item, in input order.

    An item owning an id (the first line with a request for it) gets the earlier good
    record for it (`kept`, by id), else this run's (`new`); other items get this run's
    error record for their line. The earlier error records are dropped (their requests
    ran again). A good earlier record that no item owns (a user's, or one for a line since
    removed) stays, after the record it followed.
    """
    fresh = {s.key: s for s in new if not s.error and s.key not in kept}
    failed = {s.record.get("line"): s for s in new if s.error}
    owners = owner_lines(items)
    strays: dict[str | None, list[str]] = {}
    anchor: str | None = None
    for stored in [*kept.values(), *fresh.values()]:
        if stored.key in owners:
            anchor = stored.key
        else:
            strays.setdefault(anchor, []).append(stored.text)
    lines = list(strays.get(None, []))
    for item in items:
        if owners.get(item.key) == item.line:
            chosen = kept.get(item.key) or fresh.get(item.key) or failed.get(item.line)
            lines.extend([chosen.text] if chosen else [])
            lines.extend(strays.get(item.key, []))
        elif item.line in failed:
            lines.append(failed[item.line].text)
    return lines


def good_records(source: Path, stored: Sequence[Stored]) -> dict[str, Stored]:
    """The good records of `source` by id; an id twice is a `ResultsError`."""
    good: dict[str, Stored] = {}
    for record in stored:
        if record.error:
            continue
        if record.key in good:
            raise ResultsError(
                f"{source}:{record.line}: repeats id {record.key!r} of line "
                f"{good[record.key].line}; keep one of them, then rerun")
        good[record.key] = record
    return good


def write_atomically(path: Path, data: bytes) -> None:
    """Replace `path`'s content with `data`: readers see the old file or the new, whole.

    A symbolic link is followed (the file it points at is replaced); the mode is kept.
    """
    target = Path(os.path.realpath(path))
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        with temporary.open("wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if target.exists():
            shutil.copymode(target, temporary)
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
