"""The one thread of the process that runs model work: loading, decoding, every engine's turn.

torch's CPU kernels split their work over an OpenMP team, and libgomp keeps one team of
worker threads per thread that ever started one. Once the process has more such workers
than CPUs, libgomp stops letting idle workers spin and puts them to sleep after about a
hundred spins, so every parallel region pays a wake-up: measured on 2 cores, a 4-bit
matrix product took 60 µs from the only thread that ran parallel regions and 100 µs from a
second one, which made a 0.5B decode step 23 ms instead of 15. So loading, quantizing and
decoding every model all run here, and engines take turns on this thread instead of each
having its own (on 2 cores they would compete for the same cores anyway).
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, Protocol, TypeVar

T = TypeVar("T")


class Turns(Protocol):
    """Something that does model work in small turns (an `Engine`)."""

    def has_work(self) -> bool:
        """Tell whether a turn would do anything."""
        ...

    def turn(self) -> None:
        """Do one small piece of work (a prompt chunk, a decode step); never raise."""
        ...


class ComputeThread:
    """Runs calls and engine turns, one at a time, on one daemon thread."""

    def __init__(self) -> None:
        """Start with nothing to do; the thread starts with the first call or engine."""
        self._wake = threading.Condition()
        self._calls: deque[tuple[Callable[[], Any], Future[Any]]] = deque()
        self._engines: list[Turns] = []
        self._thread: threading.Thread | None = None

    def on_thread(self) -> bool:
        """Tell whether the caller is the compute thread."""
        return threading.current_thread() is self._thread

    def call(self, fn: Callable[[], T]) -> T:
        """Run `fn()` on the compute thread and return its result (or raise its exception)."""
        if self.on_thread():
            return fn()
        future: Future[T] = Future()
        with self._wake:
            self._calls.append((fn, future))
            self._start()
            self._wake.notify()
        return future.result()

    def attach(self, engine: Turns) -> None:
        """Give an engine turns from now on."""
        with self._wake:
            self._engines.append(engine)
            self._start()
            self._wake.notify()

    def detach(self, engine: Turns) -> None:
        """Stop giving an engine turns (after its current one)."""
        with self._wake:
            if engine in self._engines:
                self._engines.remove(engine)

    def wake(self) -> None:
        """An engine has new work."""
        with self._wake:
            self._wake.notify()

    def _start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="vetted-compute", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._calls and not any(e.has_work() for e in self._engines):
                    self._wake.wait()
                call = self._calls.popleft() if self._calls else None
                busy = [] if call is not None else [e for e in self._engines if e.has_work()]
            if call is not None:
                fn, future = call
                try:
                    future.set_result(fn())
                except BaseException as exc:  # noqa: BLE001 - handed to the caller
                    future.set_exception(exc)
                continue
            for engine in busy:
                engine.turn()


COMPUTE = ComputeThread()
"""The process's compute thread."""


def on_compute(fn: Callable[[], T]) -> T:
    """Run `fn()` on the compute thread (see `ComputeThread.call`)."""
    return COMPUTE.call(fn)
