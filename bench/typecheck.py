"""Latency of the mypy validator: a warm per-workspace daemon vs. plain ``mypy.api.run``.

The benchmark writes a temporary workspace: a ``pyproject.toml`` with ``[tool.mypy]
strict = true``, a small ``ledger/money.py`` and a typed module ``ledger/stock.py`` of about
300 lines (dataclasses, repositories, generics) that imports it. Each check splices one small
candidate into a function body of ``stock.py`` (a different one each time; about half add a
type error) and asks for the errors the candidate introduces.

* daemon: ``MypyValidator.check``. *cold* is the first check of the workspace: starting the
  daemon, building the import graph, checking the document (the baseline) and the result.
  *warm* checks reuse the cached baseline of the unchanged document: one fine-grained
  recheck each. *edited* checks change the document each time (a comment at its end, as
  after a keystroke), so each also rechecks the new baseline.
* mypy.api.run, incremental cache: the same diff with one in-process ``mypy.api.run`` per
  text, reading the buffer through ``--shadow-file`` and keeping mypy's incremental cache
  between runs (in a temporary ``--cache-dir``). *cold* is the baseline and the first
  result with an empty cache; *warm* and *edited* as above.
* mypy.api.run, no cache: the same with ``--no-incremental``, on the first ``--uncached``
  candidates only (each run checks everything again).

All must reach the expected verdicts; the run stops otherwise. Times are the wall clock of
the whole check as the pipeline would see it, in milliseconds. Run it on an idle machine:
it refuses to start while ``bench.fim`` runs, and prints the load average before and after.
The daemon and the cached runs take turns case by case, so a busy moment hits both.

Usage: ``.venv/bin/python -m bench.typecheck [--checks 30] [--uncached 5] [--seed 0]``
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import shlex
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from mypy import api as mypy_api

from validators._typecheck_daemon import OUTPUT_FLAGS
from validators._typecheck_diff import Comparison, MypyError, parse_errors
from validators.base import Splice, Verdict
from validators.typecheck import MypyValidator, TypecheckSettings, judge

MONEY = '''\
"""Amounts of money in cents."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Money:
    """A non-negative amount in cents."""

    cents: int

    def plus(self, other: Money) -> Money:
        return Money(self.cents + other.cents)

    def times(self, factor: int) -> Money:
        return Money(self.cents * factor)
'''

HEADER = '''\
"""Stock of a small shop: records, in-memory repositories and reports."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from ledger.money import Money

T = TypeVar("T")


class Page(Generic[T]):
    """One page of results."""

    def __init__(self, items: Sequence[T], number: int) -> None:
        self.items = list(items)
        self.number = number

    def first(self) -> T | None:
        return self.items[0] if self.items else None
'''

ENTITY = '''

@dataclass(frozen=True)
class {E}:
    """A {e} in stock."""

    id: int
    name: str
    quantity: int
    price: Money
    tags: tuple[str, ...] = ()

    def total(self) -> Money:
        return self.price.times(self.quantity)

    def label(self) -> str:
        return f"{{self.name}} x{{self.quantity}}"


class {E}Repository:
    """In-memory store of {e} records."""

    def __init__(self) -> None:
        self._items: dict[int, {E}] = {{}}

    def add(self, item: {E}) -> None:
        self._items[item.id] = item

    def get(self, item_id: int) -> {E} | None:
        return self._items.get(item_id)

    def by_tag(self, tag: str) -> list[{E}]:
        return [item for item in self._items.values() if tag in item.tags]

    def page(self, number: int, size: int = 10) -> Page[{E}]:
        items = sorted(self._items.values(), key=lambda item: item.id)
        return Page(items[number * size : (number + 1) * size], number)

    def value(self) -> Money:
        total = Money(0)
        for item in self._items.values():
            total = total.plus(item.total())
        return total


def count_{e}(items: Iterable[{E}]) -> int:
    return sum(item.quantity for item in items)
'''

ENTITIES = ("Widget", "Gadget", "Sprocket", "Bracket", "Spindle", "Gasket")

SLOTS: dict[str, tuple[tuple[str, bool], ...]] = {
    # The body line of a slot, then candidates for it: (text, adds a type error).
    '        return f"{{self.name}} x{{self.quantity}}"': (
        ('return f"{self.quantity} x {self.name}"', False),
        ("return self.name.upper()", False),
        ("return self.quantity", True),
    ),
    "        return self._items.get(item_id)": (
        ("return self._items[item_id] if item_id in self._items else None", False),
        ("return item_id", True),
    ),
    "    return sum(item.quantity for item in items)": (
        ("return len(list(items))", False),
        (
            "total = 0\n    for item in items:\n        total += item.quantity\n    return total",
            False,
        ),
        ("return sum(item.name for item in items)", True),
        ("return str(sum(item.quantity for item in items))", True),
    ),
    "        return self.price.times(self.quantity)": (
        ("return Money(self.price.cents * self.quantity)", False),
        ("return self.price.cents * self.quantity", True),
    ),
}


def write_workspace(root: Path) -> Path:
    """Write the workspace; return the path of the module the candidates go into."""
    (root / "ledger").mkdir()
    (root / "pyproject.toml").write_text("[tool.mypy]\nstrict = true\n")
    (root / "ledger" / "__init__.py").write_text("")
    (root / "ledger" / "money.py").write_text(MONEY)
    sections = [ENTITY.format(E=name, e=name.lower()) for name in ENTITIES]
    stock = root / "ledger" / "stock.py"
    stock.write_text(HEADER + "".join(sections))
    return stock


@dataclass(frozen=True)
class Case:
    """One candidate spliced into the module, and whether it should fail."""

    splice: Splice
    adds_error: bool


def make_cases(path: Path, root: Path, count: int, seed: int) -> list[Case]:
    """`count` different candidates at the slots of the module, in a seeded random order."""
    document = path.read_text()
    lines = document.split("\n")
    options: list[Case] = []
    for slot, candidates in SLOTS.items():
        body = slot.replace("{{", "{").replace("}}", "}")
        starts = [i for i, line in enumerate(lines) if line == body]
        for index in starts:
            start = sum(len(line) + 1 for line in lines[:index]) + len(body) - len(body.lstrip())
            end = start + len(body.lstrip())
            for text, adds_error in candidates:
                splice = Splice(document, start, end, text, str(path), str(root))
                options.append(Case(splice, adds_error))
    random.Random(seed).shuffle(options)
    return options[:count]


def edited(case: Case, number: int) -> Case:
    """The case in a document that differs from the original by one comment line."""
    splice = case.splice
    document = splice.document + f"# edit {number}\n"
    return Case(
        Splice(document, splice.start, splice.end, splice.text, splice.path, splice.root),
        case.adds_error,
    )


class PlainMypy:
    """The validator's diff over one in-process ``mypy.api.run`` per text, no daemon."""

    def __init__(self, root: Path, state: Path, cached: bool = True) -> None:
        self._root = root
        self._shadow = state / "shadow.py"
        # mypy's default incremental cache, kept out of the workspace; or none at all.
        cache = [f"--cache-dir={state / 'cache'}"] if cached else ["--no-incremental"]
        self._flags = [*OUTPUT_FLAGS, *cache]
        self._baselines: dict[str, list[MypyError]] = {}
        self._mtime = int(time.time())

    def _errors(self, path: str, text: str) -> list[MypyError]:
        """Run mypy on `path` read from a shadow file holding `text`."""
        self._shadow.write_text(text)
        # mypy takes a cached module as fresh when its file's size and whole-second mtime
        # match, so two candidates of one length written within a second would share a
        # result: give every text its own second.
        self._mtime += 1
        os.utime(self._shadow, (self._mtime, self._mtime))
        with working_directory(self._root):  # where mypy finds the workspace's config
            shadow = ["--shadow-file", path, str(self._shadow)]
            out, _, _ = mypy_api.run([*self._flags, *shadow, path])
        return parse_errors(out, path)

    def check(self, splice: Splice) -> Verdict:
        """Check the document (once per version) and the result, then diff."""
        before = self._baselines.get(splice.document)
        if before is None:
            before = self._baselines[splice.document] = self._errors(splice.path, splice.document)
        after = self._errors(splice.path, splice.result)
        return judge("mypy", Comparison(splice, before, after))


@contextmanager
def working_directory(path: Path) -> Iterator[None]:
    """Run the body with `path` as the working directory."""
    previous = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(previous)


@dataclass(frozen=True)
class Timings:
    """Seconds of the cold check, the warm checks and the checks after an edit."""

    cold: float
    warm: list[float]
    edited: list[float]
    """Empty when not measured."""


Check = Callable[[Splice], Verdict]


def measure(checks: dict[str, Check], cases: list[Case], edits: bool = True) -> dict[str, Timings]:
    """Time each check on the first case (cold), on every case (warm), on every case edited.

    The approaches take turns case by case, so that a disturbance of the machine hits all.
    """

    def timed(name: str, case: Case) -> float:
        started = time.perf_counter()
        verdict = checks[name](case.splice)
        elapsed = time.perf_counter() - started
        if not verdict.ran or verdict.ok == case.adds_error:
            text = case.splice.text
            raise SystemExit(f"{name}: unexpected verdict {verdict} for {text!r}")
        return elapsed

    cold = {name: timed(name, cases[0]) for name in checks}
    warm: dict[str, list[float]] = {name: [] for name in checks}
    changed: dict[str, list[float]] = {name: [] for name in checks}
    for case in cases:
        for name in checks:
            warm[name].append(timed(name, case))
    for number, case in enumerate(cases if edits else []):
        for name in checks:
            changed[name].append(timed(name, edited(case, number)))
    return {name: Timings(cold[name], warm[name], changed[name]) for name in checks}


def percentile(values: list[float], fraction: float) -> float:
    """Return the value below which `fraction` of `values` lie (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


def row(name: str, timings: Timings) -> str:
    """One table row, in milliseconds."""

    def ms(values: list[float], fraction: float) -> str:
        return f"{percentile(values, fraction) * 1000:.0f}" if values else "-"

    warm, changed = timings.warm, timings.edited
    cells = [f"{timings.cold * 1000:.0f}", ms(warm, 0.5), ms(warm, 0.9)]
    cells += [ms(changed, 0.5), ms(changed, 0.9)]
    return f"| {name} ({len(warm)} checks) | " + " | ".join(cells) + " |"


def ratio_row(name: str, slow: Timings, fast: Timings) -> str:
    """Row of `slow` / `fast` at the cold check and the medians."""
    cells = [f"{slow.cold / fast.cold:.1f}x"]
    for pair in ((slow.warm, fast.warm), (slow.edited, fast.edited)):
        if pair[0] and pair[1]:
            cells += [f"{statistics.median(pair[0]) / statistics.median(pair[1]):.1f}x", ""]
        else:
            cells += ["-", ""]
    return f"| {name} | " + " | ".join(cells) + " |"


def fim_running() -> bool:
    """Tell whether the FIM latency benchmark is running on this machine."""
    for entry in Path("/proc").iterdir():
        try:
            if b"bench.fim" in (entry / "cmdline").read_bytes():
                return True
        except OSError:
            continue
    return False


def cpu_model() -> str:
    """The CPU's model name, as Linux reports it."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.machine()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    parser.add_argument("--checks", type=int, default=30, help="warm checks per approach")
    parser.add_argument("--uncached", type=int, default=5, help="checks without mypy's cache")
    parser.add_argument("--seed", type=int, default=0, help="order of the candidates")
    parser.add_argument("--force", action="store_true", help="run even while bench.fim runs")
    args = parser.parse_args(argv)
    if fim_running() and not args.force:
        raise SystemExit("bench.fim is running; measure later (or pass --force)")
    python = os.path.relpath(sys.executable) if sys.prefix.startswith(os.getcwd()) else "python"
    arguments = sys.argv[1:] if argv is None else argv
    print("command:", shlex.join([python, "-m", "bench.typecheck", *arguments]))
    print(f"machine: {cpu_model()}, {os.cpu_count()} cpus, python {platform.python_version()}")
    print(f"load average before: {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory(prefix="bench-typecheck-") as folder:
        root = Path(folder) / "workspace"
        root.mkdir()
        path = write_workspace(root)
        cases = make_cases(path, root, args.checks, args.seed)
        failing = sum(case.adds_error for case in cases)
        lines = path.read_text().count("\n")
        print(f"module: {lines} lines; {len(cases)} candidates, {failing} adding a type error")
        for name in ("cached", "uncached"):
            (Path(folder) / name).mkdir()
        plain = PlainMypy(root, Path(folder) / "cached")
        with MypyValidator(TypecheckSettings(budget_seconds=600.0)) as validator:
            both = measure({"daemon": validator.check, "cached": plain.check}, cases)
        no_cache = PlainMypy(root, Path(folder) / "uncached", cached=False)
        uncached = measure({"uncached": no_cache.check}, cases[: args.uncached], False)
    daemon, cached, full = both["daemon"], both["cached"], uncached["uncached"]
    print()
    print(
        "| approach | cold ms | warm median ms | warm p90 ms | edited median ms | edited p90 ms |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    print(row("mypy daemon, validators.typecheck", daemon))
    print(row("mypy.api.run, incremental cache", cached))
    print(row("mypy.api.run, no cache", full))
    print(ratio_row("api.run cached / daemon", cached, daemon))
    print(ratio_row("api.run uncached / daemon", full, daemon))
    print(f"\nload average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
