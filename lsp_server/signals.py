"""What became of each suggestion: shown, accepted, partially accepted, rejected or ignored.

Every answer with suggestions opens a record (`Signals.issued`). Clients report what they
can tell (the protocol, with Copilot's method names where it has one):

* ``textDocument/didShowCompletion`` ``{item}``: this alternative is the one on screen;
* ``vetted.accepted`` (the item's command): accepted whole;
* ``textDocument/didPartiallyAcceptCompletion`` ``{item, acceptedLength}``: that much of the
  item's text (UTF-16 units, from its start) is in the document;
* ``vetted/didDismissCompletion`` ``{item}``: dismissed (Escape).

The rest the server reads from the document's changes (`Signals.changed`): text typed at
the suggestion's place that goes on as the suggestion does is typing through it; the whole
suggestion typed is an accept; different text is a rejection (typed over); an edit elsewhere,
or a request at another place, ends it as ignored. A later answer that continues a record
(the user typed into the suggestion and the server answered the rest) takes its place
without counting as a new suggestion.

Each ended record is one action for the workspace's score (`lsp_server.eagerness`) and one
line in ``$XDG_STATE_HOME/vetted/signals/<workspace hash>.jsonl``: the action, the verdicts,
latency, model and prompt sizes, never the code (that goes to the opt-in completion log).
A rejected suggestion is remembered with its place and never offered there again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from codegen.types import Candidate, CompletionResult
from lsp_server.eagerness import Action, action_value, score

logger = logging.getLogger(__name__)

HISTORY = 50
"""Actions kept per workspace for its score (older ones weigh almost nothing)."""
ENDED = 32
"""Recently ended records kept so a late report (an accept after a change) can amend them."""
PLACES = 512
"""Rejected (place, suggestion) pairs remembered."""


def state_dir() -> Path:
    """Where the server keeps what it learns: ``$XDG_STATE_HOME/vetted`` (~/.local/state)."""
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "vetted"


def signals_path(root: str) -> Path:
    """The actions log of a workspace."""
    digest = hashlib.sha256(root.encode()).hexdigest()[:16]
    return state_dir() / "signals" / f"{digest}.jsonl"


def place_key(uri: str, text: str, start: int, end: int) -> str:
    """A place in a document, edits elsewhere in it aside: replacing `text[start:end]`.

    The line up to `start`, the two lines above it and the rest of the line after `end`
    (read where they are: a large document is not copied).
    """
    top = start
    for _ in range(3):
        top = text.rfind("\n", 0, top)
        if top < 0:
            break
    head = text[top + 1 : start].split("\n")
    stop = text.find("\n", end)
    tail = text[end : stop if stop >= 0 else len(text)]
    return hashlib.sha256("\0".join((uri, *head, tail)).encode()).hexdigest()[:24]


@dataclass
class Record:
    """One answer with suggestions, until the user acts on it."""

    ids: tuple[str, ...]
    inserts: tuple[str, ...]
    ends: tuple[int, ...]
    """Where each item's replaced range ends in the document it was made for."""
    uri: str
    before: str
    """The document up to the cursor when the answer was made."""
    text: str
    """The whole document then."""
    meta: dict[str, Any]
    """What is logged: verdicts, latency, model, prompt size (no code)."""
    shown: int = 0
    """Index of the alternative on screen."""
    accepted_chars: int = 0
    """How much of the shown one the client reported accepted in parts."""
    taken_before: int = 0
    """Characters accepted in parts of the records this one continues."""
    action: Action | None = None
    fraction: float = 0.0

    @property
    def taken(self) -> bool:
        """Whether part of the suggestion was accepted (explicitly, not typed)."""
        return bool(self.accepted_chars or self.taken_before)

    def unless_taken(self, action: Action) -> Action:
        """`action`, or "partial" when part of the suggestion was accepted first."""
        return "partial" if self.taken else action

    def after(self, index: int) -> str:
        """The document after item `index`'s replaced range."""
        return self.text[self.ends[index]:]

    def typed(self, text: str) -> str | None:
        """What stands at the suggestion's place in `text`.

        None when the text around it changed (the user edited elsewhere, or deleted before
        the cursor).
        """
        after = self.after(self.shown)
        if not text.startswith(self.before) or not text.endswith(after):
            return None
        if len(text) < len(self.before) + len(after):
            return None
        return text[len(self.before) : len(text) - len(after)]


@dataclass
class Workspace:
    """The actions of one workspace, oldest first."""

    values: deque[float] = field(default_factory=lambda: deque(maxlen=HISTORY))
    loaded: bool = False


class Signals:
    """Open records per document, counts, scores per workspace, rejected places."""

    def __init__(self, on_action: Callable[[Action, str, float], None] | None = None) -> None:
        """`on_action(action, item id, fraction taken)` hears each ended record."""
        self._lock = threading.Lock()
        self._open: dict[str, Record] = {}
        self._ended: OrderedDict[str, Record] = OrderedDict()
        self._rejected: OrderedDict[str, set[str]] = OrderedDict()
        self._workspaces: dict[str, Workspace] = {}
        self.root = ""
        """The workspace the actions count for (the server's root)."""
        self.persist = True
        self.on_action = on_action
        self.counts: dict[str, int] = {"shown": 0, "accepted": 0, "partiallyAccepted": 0,
                                       "rejected": 0, "ignored": 0}

    # -- answers ------------------------------------------------------------------------

    def issued(self, uri: str, result: CompletionResult, ids: list[str],
               meta: dict[str, Any]) -> None:
        """The server answered `result` (its items, with `ids`) for `uri`."""
        request = result.request
        if not result.items:
            return
        record = Record(tuple(ids), tuple(c.insert for c in result.items),
                        tuple(c.end for c in result.items), uri,
                        request.text[: request.offset], request.text, meta)
        with self._lock:
            previous = self._open.pop(uri, None)
            if previous is not None and self._continues(previous, record):
                record.taken_before = previous.taken_before + previous.accepted_chars
            else:
                if previous is not None:
                    self._end(previous, previous.unless_taken("ignored"))
                self.counts["shown"] += 1
            self._open[uri] = record

    @staticmethod
    def _continues(previous: Record, record: Record) -> bool:
        """Whether `record` answers at a place the user reached by typing into `previous`."""
        typed = previous.typed(record.text)
        if typed is None or record.before != previous.before + typed:
            return typed == "" and record.before == previous.before
        return any(insert.startswith(typed) for insert in previous.inserts)

    # -- client reports -----------------------------------------------------------------

    def shown(self, item_id: str) -> None:
        """The alternative `item_id` is on screen."""
        with self._lock:
            record, index = self._find(item_id)
            if record is not None and record.action is None:
                record.shown = index

    def accepted(self, item_id: str) -> None:
        """The user accepted `item_id` whole."""
        with self._lock:
            record, index = self._find(item_id)
            if record is None or record.action == "accepted":
                return
            record.shown = index
            if record.action is None:
                self._open.pop(record.uri, None)
                self._end(record, "accepted", 1.0)
            else:  # a change ended it first as something else: an accept overrules
                self._amend(record, "accepted", 1.0)

    def partially_accepted(self, item_id: str, units: int) -> None:
        """`units` UTF-16 units of `item_id`'s text are accepted (cumulative)."""
        with self._lock:
            record, index = self._find(item_id)
            if record is None or record.action is not None:
                return
            record.shown = index
            insert = record.inserts[index]
            chars = len(insert.encode("utf-16-le")[: 2 * max(units, 0)]
                        .decode("utf-16-le", errors="ignore"))
            record.accepted_chars = max(record.accepted_chars, chars)
            if record.accepted_chars >= len(insert):
                self._open.pop(record.uri, None)
                self._end(record, "accepted", 1.0)

    def dismissed(self, item_id: str) -> None:
        """The user dismissed `item_id`: rejected, never offered at its place again."""
        with self._lock:
            record, index = self._find(item_id)
            if record is None or record.action is not None:
                return
            record.shown = index
            self._open.pop(record.uri, None)
            self._reject(record)

    # -- document changes ---------------------------------------------------------------

    def changed(self, uri: str, text: str) -> None:
        """The document `uri` now reads `text`: infer what the user did with its record."""
        with self._lock:
            record = self._open.get(uri)
            if record is None:
                return
            typed = record.typed(text)
            if typed is None:
                self._open.pop(uri)
                self._end(record, record.unless_taken("ignored"))
                return
            if not typed:
                return
            if typed in record.inserts:  # typed whole, or inserted by the client's accept
                record.shown = record.inserts.index(typed)
                self._open.pop(uri)
                self._end(record, "accepted", 1.0)
                return
            going_on = [i for i, insert in enumerate(record.inserts) if insert.startswith(typed)]
            if going_on:  # typing through it
                if record.shown not in going_on:
                    record.shown = going_on[0]
                return
            self._open.pop(uri)
            self._reject(record)

    def closed(self, uri: str) -> None:
        """The document was closed: its record ends."""
        with self._lock:
            record = self._open.pop(uri, None)
            if record is not None:
                self._end(record, record.unless_taken("ignored"))

    # -- what the server reads ----------------------------------------------------------

    def is_rejected(self, uri: str, text: str, offset: int, candidate: Candidate) -> bool:
        """Whether the user rejected this suggestion at this place before."""
        key = place_key(uri, text, offset, candidate.end)
        with self._lock:
            return candidate.insert.strip() in self._rejected.get(key, set())

    def score(self) -> float:
        """The current workspace's score (`lsp_server.eagerness.score`)."""
        with self._lock:
            return score(list(self._workspace().values))

    def summary(self) -> dict[str, Any]:
        """Counts, acceptance rate and score, as `vetted/status` reports them."""
        with self._lock:
            counts = dict(self.counts)
            current = score(list(self._workspace().values))
        ended = sum(counts[k] for k in ("accepted", "partiallyAccepted", "rejected", "ignored"))
        taken = counts["accepted"] + counts["partiallyAccepted"]
        return {**counts, "acceptanceRate": round(taken / ended, 3) if ended else None,
                "score": round(current, 3)}

    # -- inside the lock ----------------------------------------------------------------

    def _find(self, item_id: str) -> tuple[Record | None, int]:
        for record in (*self._open.values(), *reversed(self._ended.values())):
            if item_id in record.ids:
                return record, record.ids.index(item_id)
        return None, 0

    def _reject(self, record: Record) -> None:
        insert = record.inserts[record.shown]
        key = place_key(record.uri, record.text, len(record.before), record.ends[record.shown])
        self._rejected.setdefault(key, set()).add(insert.strip())
        self._rejected.move_to_end(key)
        while len(self._rejected) > PLACES:
            self._rejected.popitem(last=False)
        self._end(record, record.unless_taken("rejected"))

    def _end(self, record: Record, action: Action, fraction: float | None = None) -> None:
        insert = record.inserts[record.shown]
        record.action = action
        taken = record.taken_before + record.accepted_chars
        record.fraction = (fraction if fraction is not None
                           else taken / max(record.taken_before + len(insert), 1))
        self.counts[_COUNTED[action]] += 1
        self._workspace().values.append(action_value(action, record.fraction))
        self._ended[record.ids[0]] = record
        while len(self._ended) > ENDED:
            self._ended.popitem(last=False)
        self._log(record)
        if self.on_action is not None:
            self.on_action(action, record.ids[record.shown], record.fraction)

    def _amend(self, record: Record, action: Action, fraction: float) -> None:
        """Change an ended record's action (its value is replaced if still the latest)."""
        assert record.action is not None
        self.counts[_COUNTED[record.action]] -= 1
        values = self._workspace().values
        old = action_value(record.action, record.fraction)
        if values and values[-1] == old:
            values.pop()
        record.action = None
        self._end(record, action, fraction)

    def _workspace(self) -> Workspace:
        workspace = self._workspaces.setdefault(self.root, Workspace())
        if not workspace.loaded:
            workspace.loaded = True
            if self.persist:
                workspace.values.extend(_load(signals_path(self.root)))
        return workspace

    def _log(self, record: Record) -> None:
        if not self.persist:
            return
        assert record.action is not None
        line = {"time": round(time.time(), 3), "action": record.action,
                "fraction": round(record.fraction, 3),
                "value": action_value(record.action, record.fraction),
                "lines": record.inserts[record.shown].count("\n") + 1,
                "alternative": record.shown, **record.meta}
        path = signals_path(self.root)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("a", encoding="utf-8") as handle:
                handle.write(json.dumps(line) + "\n")
        except OSError as exc:  # a full or read-only disk must not cost a suggestion
            logger.warning("cannot write %s: %s", path, exc)


_COUNTED: dict[Action, str] = {"accepted": "accepted", "partial": "partiallyAccepted",
                               "rejected": "rejected", "ignored": "ignored"}


def _load(path: Path) -> list[float]:
    """The values of the last `HISTORY` actions logged; a damaged line is skipped."""
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()[-HISTORY:]
    except OSError:
        return []
    values = []
    for line in lines:
        try:
            value = json.loads(line)["value"]
        except (ValueError, KeyError, TypeError):
            continue
        if isinstance(value, int | float) and 0.0 <= value <= 1.0:
            values.append(float(value))
    return values
