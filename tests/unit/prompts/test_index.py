from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from codegen.watch import WorkspaceWatcher
from prompts.index import WorkspaceIndex, outline, related_files

SOURCE = '''import os
from .rates import TAX
from shop import money as m


@cache
def price(amount: float,
          tax: float = TAX) -> float:
    """Gross price.

    More words.
    """
    return amount * (1 + tax)


class Cart:
    """Items to buy."""

    def total(self) -> float:
        return 0.0

def broken(  # being typed
'''


def test_outline_reads_definitions_and_imports_even_of_broken_code() -> None:
    found = outline("shop/cart.py", SOURCE)
    assert [(d.qualname, d.kind, d.line) for d in found.definitions] == [
        ("price", "function", 7), ("Cart", "class", 16), ("Cart.total", "function", 19),
    ]
    assert found.definitions[0].signature == (
        "def price(amount: float, tax: float = TAX) -> float:")
    assert found.definitions[0].doc == "Gross price."
    assert found.imports == ("os", ".rates", ".rates.TAX", "shop", "shop.money")
    assert found.render(["Cart"]) == (
        'class Cart:\n    """Items to buy."""\n    ...\n'
        "    def total(self) -> float:\n        ...\n"
    )


def index_of(files: dict[str, str]) -> WorkspaceIndex:
    index = WorkspaceIndex()
    for path, text in files.items():
        index.update(path, text)
    index.text_of = files.get
    return index


def test_the_prompt_gets_what_the_code_near_the_cursor_uses() -> None:
    index = index_of({
        "shop/money.py": "def round_cents(x: float) -> float:\n    return round(x, 2)\n",
        "shop/tax.py": "def vat(country: str) -> float:\n    '''VAT rate.'''\n    return 0.2\n",
        "shop/unrelated.py": "def other() -> None:\n    pass\n",
    })
    index.update("shop/unrelated.py", "def other() -> None:\n    pass\n")  # changed last
    text = "from shop import money\n\n\ndef gross(net: float) -> float:\n    return vat('fr') * "
    related = related_files(index, "shop/cart.py", text, len(text), recent=1)
    # Least relevant first: a recently changed file, the imported module, the definition used.
    assert [path for path, _ in related] == ["shop/unrelated.py", "shop/money.py", "shop/tax.py"]
    assert related[1][1] == "def round_cents(x: float) -> float:\n    return round(x, 2)\n"
    assert related[2][1] == "def vat(country: str) -> float:\n    \"\"\"VAT rate.\"\"\"\n    ...\n"


def wait(condition: Callable[[], bool], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the index did not catch up"
        time.sleep(0.05)


def test_the_watcher_follows_files_created_edited_moved_and_deleted(tmp_path: Path) -> None:
    (tmp_path / ".gitignore").write_text("generated/\n*_pb2.py\n", encoding="utf-8")
    for name, text in {
        "app/core.py": "def run() -> None:\n    pass\n",
        "app/proto_pb2.py": "def ignored() -> None: ...\n",
        "generated/big.py": "def ignored() -> None: ...\n",
        ".venv/lib/site.py": "def ignored() -> None: ...\n",
        "app/huge.py": "x = 1\n" * 200_000,  # over the size limit
    }.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text, encoding="utf-8")
    index = WorkspaceIndex()
    watcher = WorkspaceWatcher(str(tmp_path), index)
    watcher.start()
    try:
        assert watcher.ready.wait(10)
        assert index.paths == ["app/core.py"]
        assert index.recent(3) == []  # the first scan changed nothing
        (tmp_path / "app" / "new.py").write_text("def fresh() -> int:\n    return 1\n")
        wait(lambda: index.get("app/new.py") is not None)
        assert index.recent(3) == ["app/new.py"]
        (tmp_path / "app" / "new.py").write_text("def renamed_def() -> int:\n    return 1\n")
        wait(lambda: [d.name for d in getattr(index.get("app/new.py"), "definitions", ())]
             == ["renamed_def"])
        assert index.definitions(["fresh", "renamed_def", "run"]) == [
            ("app/core.py", "run"), ("app/new.py", "renamed_def")]
        os.rename(tmp_path / "app" / "new.py", tmp_path / "app" / "moved.py")
        wait(lambda: index.get("app/new.py") is None and index.get("app/moved.py") is not None)
        (tmp_path / "app" / "moved.py").unlink()
        wait(lambda: index.paths == ["app/core.py"])
    finally:
        watcher.stop()


def test_the_watcher_indexes_every_language_the_index_outlines(tmp_path: Path) -> None:
    for name, text in {
        "web/shapes.ts": "export function area(r: number): number {\n  return r * r;\n}\n",
        "cmd/main.go": "package main\n\nfunc Run() int {\n\treturn 1\n}\n",
        "notes.txt": "area\n",
    }.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text, encoding="utf-8")
    index = WorkspaceIndex()
    watcher = WorkspaceWatcher(str(tmp_path), index)
    watcher.start()
    try:
        assert watcher.ready.wait(10)
        assert index.paths == ["cmd/main.go", "web/shapes.ts"]
        (tmp_path / "src").mkdir()
        (tmp_path / "src" / "lib.rs").write_text("pub fn grow(x: u32) -> u32 {\n    x + 1\n}\n")
        wait(lambda: index.get("src/lib.rs") is not None)
        assert ("src/lib.rs", "grow") in index.definitions(["grow"])
    finally:
        watcher.stop()


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_an_unreadable_file_is_left_out(tmp_path: Path) -> None:
    (tmp_path / "secret.py").write_text("def hidden() -> None: ...\n", encoding="utf-8")
    (tmp_path / "secret.py").chmod(0)
    index = WorkspaceIndex()
    watcher = WorkspaceWatcher(str(tmp_path), index)
    watcher.start()
    assert watcher.ready.wait(10)
    watcher.stop()
    assert index.paths == []
