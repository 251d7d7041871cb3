from __future__ import annotations

import os
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from validators._typecheck_diff import (
    Comparison,
    MypyError,
    first_message,
    introduced,
    parse_errors,
)
from validators.base import Splice, Verdict
from validators.typecheck import MypyValidator, TypecheckSettings, judge, skipped

SERVER = "_typecheck_server.py"

PRICES = """\
def total(prices: list[int]) -> int:
    return sum(prices)
"""

ORDERS = """\
from shop.prices import total

EARLY: int = "early"


def count(items: list[int]) -> int:
    ║


def late() -> int:
    return "late"
"""
"""The document: an error before the cursor and one after it, which moves with the insert."""


def daemons_of_this_process() -> list[int]:
    """Pids of the mypy daemons started by this test process that are still running."""
    mark = f"--parent-pid={os.getpid()}".encode()
    pids = []
    for entry in Path("/proc").iterdir():
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if SERVER.encode() in cmdline and mark in cmdline:
            pids.append(int(entry.name))
    return pids


def splice_at(path: Path, marked: str, text: str, root: Path | None = None) -> Splice:
    """A splice inserting `text` at ║ of `marked`, the document of `path`."""
    start = marked.index("║")
    document = marked.replace("║", "")
    return Splice(document, start, start, text, str(path), str(root or ""))


def write_workspace(root: Path, config: str = "") -> Path:
    """A workspace with a package `shop` and, when given, a pyproject [tool.mypy] section."""
    (root / "shop").mkdir(parents=True)
    (root / "shop" / "__init__.py").write_text("")
    (root / "shop" / "prices.py").write_text(PRICES)
    (root / "shop" / "orders.py").write_text(ORDERS.replace("║", ""))
    if config:
        (root / "pyproject.toml").write_text(f"[tool.mypy]\n{config}\n")
    return root / "shop" / "orders.py"


@pytest.fixture(scope="module")
def no_stray_daemons() -> Iterator[None]:
    yield
    assert daemons_of_this_process() == []


@pytest.fixture(scope="module")
def validator(no_stray_daemons: None) -> Iterator[MypyValidator]:
    # A generous budget: the first check of each workspace builds its import graph.
    with MypyValidator(TypecheckSettings(budget_seconds=60.0)) as checker:
        yield checker


@pytest.fixture(scope="module")
def orders(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_workspace(tmp_path_factory.mktemp("shop"))


def check(validator: MypyValidator, path: Path, text: str, marked: str = ORDERS) -> Verdict:
    return validator.check(splice_at(path, marked, text, path.parent.parent))


def test_wrong_return_type_fails_with_the_error(validator: MypyValidator, orders: Path) -> None:
    verdict = check(validator, orders, 'return "many"')
    expected_detail = (
        'line 7: Incompatible return value type (got "str", expected "int")  [return-value]'
    )
    assert verdict == Verdict("mypy", False, "adds 1 type error", expected_detail)


def test_correct_candidate_passes(validator: MypyValidator, orders: Path) -> None:
    assert check(validator, orders, "return len(items)") == Verdict("mypy", True)


def test_errors_already_in_the_document_do_not_count(
    validator: MypyValidator, orders: Path
) -> None:
    # Three inserted lines move the document's own error in `late` down by two.
    text = "n = len(items)\n    m = n * 2\n    return m"
    assert check(validator, orders, text) == Verdict("mypy", True)


def test_errors_count_one_by_one(validator: MypyValidator, orders: Path) -> None:
    text = 'a: int = "a"\n    b: int = "b"\n    return 0'
    verdict = check(validator, orders, text)
    assert (verdict.ok, verdict.reason) == (False, "adds 2 type errors")
    assert verdict.detail.splitlines()[1].startswith("line 8: Incompatible types in assignment")


def test_imports_of_workspace_modules_resolve(validator: MypyValidator, orders: Path) -> None:
    assert check(validator, orders, "return total(items)") == Verdict("mypy", True)
    verdict = check(validator, orders, "return total(str(items))")
    assert not verdict.ok
    assert '"total" has incompatible type "str"' in verdict.detail


def test_modules_importing_the_document_see_the_buffer(
    validator: MypyValidator, orders: Path
) -> None:
    # `back` imports `Item` from the document, which is empty on disk: only a check at the
    # document's real module name, from the buffer, knows that `Item` has no `name`.
    (orders.parent / "back.py").write_text(
        "from shop.cycle import Item\n\n\ndef first() -> Item:\n    return Item()\n"
    )
    path = orders.parent / "cycle.py"
    path.write_text("")
    marked = "from shop import back\n\n\nclass Item:\n    price = 0\n\n\ndef f() -> int:\n    ║\n"
    assert check(validator, path, "return back.first().price", marked).ok
    verdict = check(validator, path, "return back.first().name", marked)
    assert '"Item" has no attribute "name"' in verdict.detail


def test_a_document_checked_before_is_read_from_disk_again(
    validator: MypyValidator, orders: Path
) -> None:
    constants = orders.parent / "constants.py"
    constants.write_text("VALUE = 1\n")
    assert not check(validator, constants, "VALUE = 'one'\n", "║VALUE = 1\n").ok
    user = orders.parent / "user.py"
    user.write_text("")
    marked = "from shop.constants import VALUE\n\n\ndef f() -> int:\n    ║\n"
    assert check(validator, user, "return VALUE", marked) == Verdict("mypy", True)


def test_a_path_relative_to_the_root_is_the_real_file(
    validator: MypyValidator, orders: Path
) -> None:
    root = orders.parent.parent
    marked = ORDERS.replace("║", "")
    start = marked.index("    \n\n") + 4
    splice = Splice(marked, start, start, "return total(str(items))", "shop/orders.py", str(root))
    assert '"total" has incompatible type "str"' in validator.check(splice).detail


def test_an_edit_to_another_file_refreshes_the_baseline(
    validator: MypyValidator, orders: Path
) -> None:
    rates = orders.parent / "rates.py"
    rates.write_text("def rate() -> int:\n    return 1\n")
    path = orders.parent / "report.py"
    path.write_text("")
    marked = "from shop.rates import rate\n\nLATER: int = rate()\n\n\ndef f() -> int:\n    ║\n"
    assert check(validator, path, "return 1", marked).ok
    # Saved elsewhere: the document's own line 3 breaks, with or without the candidate.
    rates.write_text("def rate() -> str:\n    return 'one'\n")
    assert check(validator, path, "return 2", marked) == Verdict("mypy", True)


def test_the_file_on_disk_is_never_written(validator: MypyValidator, orders: Path) -> None:
    root = orders.parent.parent
    before = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in root.rglob("*") if p.is_file()}
    check(validator, orders, 'return "many"')
    check(validator, orders, "return 1")
    after = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in root.rglob("*") if p.is_file()}
    assert after == before
    assert not (root / ".mypy_cache").exists()


@pytest.mark.parametrize(
    ("marked", "text", "ok"),
    [
        # An empty block body: the document does not parse until `...` fills the hole.
        ("def f() -> int:\n    ║\n", 'return "x"', False),
        ("def f() -> int:\n    ║\n", "return 1", True),
        # A missing value mid-line, filled the same way.
        ("x: int = ║\n", "'a'", False),
        ("x: int = ║\n", "1", True),
    ],
)
def test_untitled_documents_are_checked(
    validator: MypyValidator, marked: str, text: str, ok: bool
) -> None:
    assert validator.check(splice_at(Path("untitled.py"), marked, text)).ok is ok


LONGEST = """\
def longest(words: list[str]) -> str | None:
    for word in words:
        if len(word) > 3:
║
"""
"""A function that already lacks a final return: the right body adds no error."""


def test_a_new_documents_parse_error_is_seen_after_a_clean_check(
    tmp_path: Path, no_stray_daemons: None
) -> None:
    # mypy's first update after switching documents once missed the new document's parse
    # error, so the hole's blocked baseline read as "no errors" and the right line was
    # blamed for the function's missing final return.
    with MypyValidator(TypecheckSettings(budget_seconds=60.0)) as checker:
        first = tmp_path / "first.py"
        assert checker.check(splice_at(first, "x: int = ║\n", "1")).ok
        second = tmp_path / "second.py"
        verdict = checker.check(splice_at(second, LONGEST, "            return word"))
    assert verdict.ok, verdict


def test_concurrent_checks_are_serialized(validator: MypyValidator, orders: Path) -> None:
    texts = ["return 1", 'return "x"'] * 4
    with ThreadPoolExecutor(4) as pool:
        verdicts = list(pool.map(lambda text: check(validator, orders, text), texts))
    assert [v.ok for v in verdicts] == [True, False] * 4


def test_a_dead_daemon_is_restarted(validator: MypyValidator, orders: Path) -> None:
    check(validator, orders, "return 1")
    for pid in validator.daemon_pids():
        os.kill(pid, 9)
    deadline = time.monotonic() + 10
    while validator.daemon_pids() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not check(validator, orders, 'return "x"').ok


def test_workspace_config_is_respected(tmp_path: Path, no_stray_daemons: None) -> None:
    marked = "def f(x: int) -> int:\n    return x\n\n\n║\n"
    strict = write_workspace(tmp_path / "strict", "disallow_untyped_defs = true")
    lenient = write_workspace(tmp_path / "lenient")
    with MypyValidator(TypecheckSettings(budget_seconds=60.0)) as validator:
        untyped = "def g(x):\n    return x\n"
        verdict = check(validator, strict, untyped, marked)
        assert (verdict.ok, verdict.reason) == (False, "adds 1 type error")
        assert "[no-untyped-def]" in verdict.detail
        assert check(validator, lenient, untyped, marked) == Verdict("mypy", True)
        # An edited config restarts the daemon with the new settings.
        (lenient.parent.parent / "pyproject.toml").write_text(
            "[tool.mypy]\ndisallow_untyped_defs = true\n"
        )
        assert not check(validator, lenient, untyped, marked).ok


def test_a_broken_mypy_gives_an_ok_verdict_that_did_not_run(
    orders: Path, no_stray_daemons: None
) -> None:
    settings = TypecheckSettings(budget_seconds=60.0, flags=("--no-such-flag",))
    with MypyValidator(settings) as validator:
        verdict = check(validator, orders, 'return "many"')
    assert (verdict.ok, verdict.ran, verdict.reason) == (True, False, "did not run")
    assert "mypy daemon exited" in verdict.detail


def test_a_slow_check_gives_an_ok_verdict_that_did_not_run(
    orders: Path, no_stray_daemons: None
) -> None:
    with MypyValidator(TypecheckSettings(budget_seconds=0.001)) as validator:
        slow = check(validator, orders, 'return "many"')
        # The daemon goes on building in the background; meanwhile nobody waits for it.
        starting = check(validator, orders, 'return "many"')
    assert (slow.ok, slow.ran) == (True, False)
    assert slow == skipped("mypy", "mypy took longer than 0.001 s")
    assert starting == skipped("mypy", "mypy is starting (building the import graph)")


def test_prime_warms_the_workspace_in_the_background(orders: Path, no_stray_daemons: None) -> None:
    with MypyValidator(TypecheckSettings(budget_seconds=60.0)) as validator:
        validator.prime(splice_at(orders, ORDERS, ""))
        verdict = check(validator, orders, 'return "many"')
        deadline = time.monotonic() + 30
        while not verdict.ran and time.monotonic() < deadline:
            time.sleep(0.05)
            verdict = check(validator, orders, 'return "many"')
    assert (verdict.ok, verdict.reason) == (False, "adds 1 type error")


def test_close_stops_the_daemon(orders: Path, no_stray_daemons: None) -> None:
    validator = MypyValidator(TypecheckSettings(budget_seconds=60.0))
    check(validator, orders, "return 1")
    (pid,) = validator.daemon_pids()
    assert pid in daemons_of_this_process()
    validator.close()
    assert pid not in daemons_of_this_process()
    assert validator.daemon_pids() == []


# --- the diff, without mypy --------------------------------------------------------------


def error(line: int, message: str = "bad", code: str = "misc") -> MypyError:
    return MypyError(line, code, message)


@pytest.mark.parametrize(
    ("before", "after", "new"),
    [
        # Nothing before, one error on the inserted line: it is new.
        ([], [error(2)], [error(2)]),
        # An error before the cursor stays where it was.
        ([error(1)], [error(1)], []),
        # An error after the cursor moves down by the two added lines.
        ([error(4)], [error(6)], []),
        # ... and one left where it was is a different, new error.
        ([error(4)], [error(4), error(6)], [error(4)]),
        # The same error on the cursor's line before the insert is not new on any inserted line.
        ([error(2)], [error(3)], []),
        # A second identical error is new.
        ([error(1)], [error(1), error(1)], [error(1)]),
        # Same line, another message: new.
        ([error(2, "old")], [error(2, "new")], [error(2, "new")]),
        # Line numbers named in a message move with the lines they name.
        ([error(1, "defined on line 4")], [error(1, "defined on line 6")], []),
    ],
)
def test_introduced(before: list[MypyError], after: list[MypyError], new: list[MypyError]) -> None:
    # Lines 1-4; the candidate replaces nothing and adds lines 2-4 at the start of line 2.
    document = "a\nb\nc\nd\n"
    splice = Splice(document, 2, 2, "x\ny\nz")
    assert introduced(before, after, splice) == new


def test_introduced_over_a_replaced_range() -> None:
    # The candidate replaces lines 2-3 with one line: line 4 moves up to 3.
    splice = Splice("a\nb\nc\nd\n", 2, 5, "x")
    assert introduced([error(4), error(3)], [error(3), error(2)], splice) == []


def test_parse_errors_keeps_this_files_errors() -> None:
    output = "\n".join(
        [
            '{"file": "/w/a.py", "line": 3, "message": "m", "code": "c", "severity": "error"}',
            '{"file": "/w/a.py", "line": 3, "message": "n", "code": null, "severity": "note"}',
            '{"file": "/w/b.py", "line": 1, "message": "m", "code": "c", "severity": "error"}',
            "Found 1 error in 1 file",
        ]
    )
    assert parse_errors(output, "/w/a.py") == [MypyError(3, "c", "m")]


def test_judge_blames_only_inserted_lines_without_a_baseline() -> None:
    splice = Splice("a\nb(\nc\n", 2, 2, "x = 1")
    syntax = MypyError(2, "syntax", "invalid syntax")
    comparison = Comparison(splice, [syntax], [error(1), error(2, "inserted"), error(3)])
    assert judge("mypy", comparison) == Verdict(
        "mypy", False, "adds 1 type error", "line 2: inserted  [misc]"
    )


def test_judge_lists_the_first_errors() -> None:
    splice = Splice("a\n", 0, 0, "x\ny\nz\nw\n")
    comparison = Comparison(splice, [], [error(line) for line in (1, 2, 3, 4)])
    verdict = judge("mypy", comparison, shown=2)
    assert verdict.reason == "adds 4 type errors"
    assert verdict.detail == "line 1: bad  [misc]\nline 2: bad  [misc]\n... and 2 more"


def test_first_message_reads_a_json_line() -> None:
    line = '{"file": "pyproject.toml", "line": 1, "message": "Error importing plugin"}'
    assert first_message(line + "\nmore") == "pyproject.toml:1: Error importing plugin"
    assert first_message("mypy: can't read file\n") == "mypy: can't read file"
