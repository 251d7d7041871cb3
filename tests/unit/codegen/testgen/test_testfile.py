from __future__ import annotations

from pathlib import Path

import pytest

from codegen.testgen.testfile import choose_test_file, existing_test_names
from codegen.testgen.writing import imports_used
from prompts.index import module_of
from prompts.testgen import ParsedTest
from validators.workspace_modules import workspace_imports


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("pkg/util.py", "pkg.util"),
        ("src/pkg/util.py", "pkg.util"),  # a src layout imports without "src"
        ("util.py", "util"),
        ("pkg/__init__.py", "pkg"),
    ],
)
def test_module_name(path: str, expected: str) -> None:
    assert module_of(path) == expected


@pytest.mark.parametrize(
    ("files", "directories", "path", "import_line"),
    [
        # The project's test file for the module is appended to, in its import style.
        ({"tests/test_util.py": "import pkg.util as u\n"}, {"tests"}, "tests/test_util.py",
         "import pkg.util as u"),
        # A new file goes to tests/, importing like the other tests import the module.
        ({"tests/test_other.py": "from pkg.util import g\n"}, {"tests"}, "tests/test_util.py",
         "from pkg.util import clamp"),
        # Tests that mirror the package folders get a mirrored new file.
        ({"tests/pkg/test_other.py": "x = 1\n"}, {"tests", "pkg"}, "tests/pkg/test_util.py",
         "from pkg.util import clamp"),
        # No test folder: beside the module, with the module's dotted path.
        ({}, {"pkg"}, "pkg/test_util.py", "from pkg.util import clamp"),
        # An existing util_test.py beside the module that imports it by its short name.
        ({"pkg/util_test.py": "from util import clamp\n"}, {"pkg"}, "pkg/util_test.py",
         "from util import clamp"),
    ],
)
def test_choose_test_file(
    files: dict[str, str], directories: set[str], path: str, import_line: str
) -> None:
    chosen = choose_test_file("pkg/util.py", "clamp", files, frozenset(directories))
    assert (chosen.path, chosen.import_line) == (path, import_line)
    assert chosen.exists == (path in files)


def test_a_method_is_reached_through_its_class() -> None:
    chosen = choose_test_file("pkg/stack.py", "Stack.push", {}, frozenset())
    assert chosen.import_line == "from pkg.stack import Stack" and chosen.reference == "Stack"


def test_existing_test_names() -> None:
    text = "def test_a():\n    pass\n\nasync def test_b():\n    pass\n\ndef helper():\n    pass\n"
    assert existing_test_names(text) == {"test_a", "test_b"}


def test_the_modules_a_module_imports_come_along(tmp_path: Path) -> None:
    files = {
        "pkg/__init__.py": "",
        "pkg/sub/__init__.py": "from .helpers import twice\n",
        "pkg/sub/helpers.py": "import os\n\ndef twice(x):\n    return 2 * x\n",
        "pkg/sub/rates.py": "RATE = 3\n",
        "pkg/sub/calc.py": "from . import rates\nfrom pkg.sub import twice\nimport json\n",
        "unrelated.py": "X = 1\n",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text, encoding="utf-8")
    found = workspace_imports(str(tmp_path), "pkg/sub/calc.py", files["pkg/sub/calc.py"])
    # The packages on the way, what it imports (relatively or not), what those import.
    assert sorted(found) == [
        "pkg/__init__.py", "pkg/sub/__init__.py", "pkg/sub/helpers.py", "pkg/sub/rates.py",
    ]


def test_a_src_layout_is_imported_without_src(tmp_path: Path) -> None:
    (tmp_path / "src" / "app").mkdir(parents=True)
    (tmp_path / "src" / "app" / "__init__.py").write_text("", encoding="utf-8")
    (tmp_path / "src" / "app" / "core.py").write_text("V = 1\n", encoding="utf-8")
    found = workspace_imports(str(tmp_path), "src/app/main.py", "from app.core import V\n")
    assert sorted(found) == ["app/__init__.py", "app/core.py"]


def test_a_test_keeps_the_imports_that_bind_its_names() -> None:
    # A helper of the module under test reached through a star import must still be
    # importable from the written file (HumanEval/38: decode_cyclic tested via encode_cyclic).
    test = ParsedTest(
        "test_round_trip",
        "def test_round_trip():\n    assert decode_cyclic(encode_cyclic('abc')) == 'abc'\n",
        ("import os", "from solution import *", "from json import loads as j"),
    )
    assert imports_used(test) == ("from solution import *",)
