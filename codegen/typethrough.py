"""Type-through: when the user types what the model was already writing, answer from it.

Each request of a document leaves a record here: the raw generations (while they run,
their text so far) and the suggestions that were shown. A later request of the same
document whose text after the cursor is unchanged and whose text before it only grew by
`typed` continues that record when

* a shown suggestion starts with `typed` (the user is typing it): answer with the rest,
  no model call; or, when nothing was shown (the request was cancelled), a finished raw
  generation that starts with `typed`;
* a generation that was cancelled midway (editors cancel a request as the user types)
  starts with `typed`: resume it where it stopped, its keys and values still cached,
  instead of starting over.

A request that arrives while the earlier one is still running, with text that may still
match, waits for it to settle. Texts and token ids stay relative to the request whose
prompt was rendered (the base), so a run of keystrokes keeps reusing one prompt.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from codegen.types import Candidate, CompletionRequest, FinishReason, Generation
from prompts.templates import Prompt

MAX_TYPED = 80
"""Characters typed since the base request, beyond which the base is too stale to use."""


@dataclass
class Entry:
    """One request's record, relative to its base."""

    key: tuple[str, str]
    prefix: str
    """The base request's text before the cursor."""
    suffix: str
    prompt: Prompt | None
    typed: str = ""
    """What this request added to the base prefix."""
    partial: dict[int, str] = field(default_factory=dict)
    """Text so far of each running alternative (relative to the base)."""
    generations: tuple[Generation, ...] = ()
    """The raw generations once generation ended (texts relative to the base)."""
    shown: tuple[Generation, ...] | None = None
    """The suggestions shown (texts relative to the base); None when none were computed."""
    settled: threading.Event = field(default_factory=threading.Event)


@dataclass(frozen=True)
class Continuation:
    """How a request continues an earlier record."""

    entry: Entry
    typed: str
    """What the user typed since the base request."""
    finished: tuple[Generation, ...]
    """Finished texts (relative to the base) that go on after `typed`."""
    resumable: tuple[Generation, ...]
    """Cancelled generations that start with `typed`: resume them."""


class TypeThrough:
    """Recent requests per document and backend."""

    def __init__(self, documents: int = 32, wait_seconds: float = 5.0) -> None:
        """Remember the latest request of up to `documents` documents."""
        self.documents = documents
        self.wait_seconds = wait_seconds
        self._entries: OrderedDict[tuple[str, str], Entry] = OrderedDict()
        self._lock = threading.Lock()
        self.answered = 0
        """Requests answered from a finished generation, without the model."""
        self.resumed = 0
        """Requests that resumed a cancelled generation."""

    def start(
        self,
        request: CompletionRequest,
        backend: str,
        render: Callable[[], Prompt | None],
        cancel: threading.Event,
    ) -> tuple[Entry, Continuation | None]:
        """Record a new request: a continuation of the document's last one, or a new base.

        `render` builds the request's prompt; it is only called for a new base.
        """
        key = (backend, request.path)
        continuation = self._match(request, key, cancel)
        if continuation is not None:
            base = continuation.entry
            entry = Entry(key, base.prefix, base.suffix, base.prompt, continuation.typed)
        else:
            entry = Entry(key, request.prefix, request.suffix, render())
        with self._lock:
            self._entries.pop(key, None)
            self._entries[key] = entry
            while len(self._entries) > self.documents:
                self._entries.popitem(last=False)
        return entry, continuation

    def may_continue(self, request: CompletionRequest, backend: str) -> bool:
        """Whether `request` may be answered from memory (a quick look: nothing waits).

        True when it types into the document's last suggestion, or into a generation
        still running that may turn out to be it.
        """
        with self._lock:
            entry = self._entries.get((backend, request.path))
        typed = _typed(entry, request)
        if entry is None or typed is None:
            return False
        if not entry.settled.is_set():
            return any(_compatible(text, typed) for text in list(entry.partial.values()))
        offered = entry.shown if entry.shown is not None else entry.generations
        return any(g.text.startswith(typed) and g.text[len(typed) :].strip() for g in offered)

    def _match(
        self, request: CompletionRequest, key: tuple[str, str], cancel: threading.Event
    ) -> Continuation | None:
        with self._lock:
            entry = self._entries.get(key)
        typed = _typed(entry, request)
        if entry is None or typed is None:
            return None
        if not entry.settled.is_set():
            partial = list(entry.partial.values())
            if not any(_compatible(text, typed) for text in partial):
                return None
            if not _wait(entry.settled, cancel, self.wait_seconds):
                return None
        ended = [g for g in entry.generations if g.finish_reason is not FinishReason.CANCELLED]
        offered = entry.shown if entry.shown is not None else tuple(ended)
        finished = tuple(
            g for g in offered if g.text.startswith(typed) and g.text[len(typed) :].strip()
        )
        resumable = tuple(
            g for g in entry.generations
            if g.finish_reason is FinishReason.CANCELLED and g.text.startswith(typed)
            and g.token_ids
        )
        if not finished and not resumable:
            return None
        return Continuation(entry, typed, finished, resumable)

    def stream(self, entry: Entry, index: int, text: str) -> None:
        """Record an alternative's text so far (relative to the base)."""
        entry.partial[index] = text

    def generated(self, entry: Entry, generations: Sequence[Generation]) -> None:
        """Record how the generations ended (texts relative to the base)."""
        entry.generations = tuple(generations)

    def show(self, entry: Entry, shown: Sequence[Candidate]) -> None:
        """Record the suggestions shown at this request's cursor, as the user will type them."""
        entry.shown = tuple(Generation(entry.typed + c.insert, c.logprob, c.finish_reason)
                            for c in shown)

    def settle(self, entry: Entry) -> None:
        """The request is over: whoever waits for it may go on."""
        entry.settled.set()


def _typed(entry: Entry | None, request: CompletionRequest) -> str | None:
    """What the user typed since `entry`'s request, when `request` may continue it."""
    if entry is None or entry.prompt is None or request.suffix != entry.suffix:
        return None
    if not request.prefix.startswith(entry.prefix):
        return None
    typed = request.prefix[len(entry.prefix) :]
    return typed if typed and len(typed) <= MAX_TYPED else None


def _compatible(text: str, typed: str) -> bool:
    """Whether a text still being written may turn out to start with `typed`."""
    return text.startswith(typed) or typed.startswith(text)


def _wait(event: threading.Event, cancel: threading.Event, seconds: float) -> bool:
    """Wait for `event` unless `cancel` is set first or `seconds` pass."""
    waited = 0.0
    while not event.wait(0.01):
        waited += 0.01
        if cancel.is_set() or waited >= seconds:
            return False
    return True
