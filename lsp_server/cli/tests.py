"""`vetted tests path/to/module.py::function [-o FILE]`: test generation from the shell.

The tests go where the editor's code action puts them (the project's test file for the
module, created or appended to), or to `-o FILE` (`-o -` prints them). The report (what each
test covers, coverage before and after, tests left out, probable bugs) goes to stderr, or
as one JSON object to stdout with `--json`.
"""

from __future__ import annotations

import argparse
import ast
import json
import sys
import threading
from pathlib import Path

from codegen.runtime.backends import load_backend
from codegen.runtime.model import parse_spec, resolve_default_spec
from codegen.testgen.generation import (
    TestGenerationError,
    TestGenRequest,
    TestGenResult,
    generate_tests,
)
from codegen.testgen.testfile import top_directories
from lsp_server.convert import test_report
from validators.embedded import WorkspaceTestFiles
from validators.testrun import SandboxUnavailable, sandbox_for
from validators.workspace_modules import workspace_imports


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """The `tests` subcommand's arguments."""
    tests = sub.add_parser("tests", help="generate unit tests that pass and add coverage")
    tests.add_argument("target", help="path/to/module.py::function (Class.method for a method)")
    tests.add_argument("-o", "--output", default=None,
                       help="write the tests here ('-' prints the test file as it would be "
                       "written); default: the project's test file for the module")
    tests.add_argument("--model", default="", help="model spec; default: the built-in default")
    tests.add_argument("--device", default="auto")
    tests.add_argument("--samples", type=int, default=4, help="answers per round")
    tests.add_argument("--rounds", type=int, default=3)
    tests.add_argument("--max-new-tokens", type=int, default=768)
    tests.add_argument("--python", default="",
                       help="run the tests with this interpreter (the project's virtualenv's)")
    tests.add_argument("--json", action="store_true", help="print the report as JSON")


def run(args: argparse.Namespace, project_root: Path) -> int:
    """Generate the tests and write them; return the exit code."""
    file_part, _, function = args.target.partition("::")
    module = Path(file_part)
    try:
        text = module.read_text(encoding="utf-8")
        line = function_line(text, function)
    except SyntaxError as exc:
        print(f"vetted: {file_part}:{exc.lineno}: {exc.msg}", file=sys.stderr)
        return 2
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        print(f"vetted: {exc}", file=sys.stderr)
        return 2
    root = str(project_root)
    path = str(module.resolve().relative_to(project_root))
    request = TestGenRequest(
        root=root, path=path, text=text, line=line,
        test_files=WorkspaceTestFiles().read(root),
        module_files=workspace_imports(root, path, text),
        directories=top_directories(root),
        samples=args.samples, rounds=args.rounds, max_new_tokens=args.max_new_tokens,
    )
    spec = parse_spec(args.model) if args.model else resolve_default_spec()
    backend = load_backend(spec, device=args.device, progress=_say)
    try:
        sandbox = sandbox_for(python=args.python)
    except SandboxUnavailable as exc:
        print(f"vetted: {exc}", file=sys.stderr)
        return 2
    try:
        result = generate_tests(request, backend, sandbox, threading.Event(), _progress)
    except TestGenerationError as exc:
        print(f"vetted: {exc}", file=sys.stderr)
        return 2
    finally:
        sandbox.close()
        backend.close()
    assert result is not None
    written = _write(result, project_root, args.output)
    report = {**test_report(result), "written": written}
    if args.json:
        print(json.dumps(report))
    else:
        _print_report(result, written)
    return 0


def function_line(text: str, qualname: str) -> int:
    """The 0-based line of the `def` of `qualname` (``f`` or ``Class.method``).

    Raises SyntaxError when `text` does not parse, ValueError when it has no such function.
    """
    if not qualname:
        raise ValueError("name the function: path/to/module.py::function")
    tree = ast.parse(text)
    scope: list[ast.stmt] = tree.body
    *outer, name = qualname.split(".")
    for part in outer:
        found = next((n for n in scope if isinstance(n, ast.ClassDef) and n.name == part), None)
        if found is None:
            raise ValueError(f"no class {part!r} in the module")
        scope = found.body
    for node in scope:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == name:
            return node.lineno - 1
    raise ValueError(f"no function {qualname!r} in the module")


def _write(result: TestGenResult, root: Path, output: str | None) -> str:
    """Write the delivered tests; return where (empty when nothing was written).

    The file is read again and rewritten whole: the imports join its own on top, the tests
    go at its end (`TestGenResult.edits`).
    """
    if not result.delivered:
        return ""
    if output == "-":
        print(result.written(), end="")
        return "-"
    target = Path(output) if output is not None else root / result.test_file.path
    existing = target.read_text(encoding="utf-8") if target.exists() else ""
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(result.written(existing), encoding="utf-8")
    return str(target)


def _print_report(result: TestGenResult, written: str) -> None:
    report = test_report(result)
    print(f"tests for {result.function}: coverage {result.before.percent:.0f}% → "
          f"{result.after.percent:.0f}% ({report['stillUncovered']} still not run)",
          file=sys.stderr)
    for test in report["delivered"]:
        print(f"  kept {test['name']}: covers {test['covers']}", file=sys.stderr)
    for rejected in report["rejected"]:
        print(f"  left out {rejected['name']}: {rejected['reason']}", file=sys.stderr)
    for bug in report["bugs"]:
        print(f"  probable bug: {bug['test']} asserts the docstring's `{bug['example']}` and "
              f"fails: {bug['error']}", file=sys.stderr)
    if written and written != "-":
        print(f"wrote {len(result.delivered)} tests to {written}", file=sys.stderr)
    elif not written:
        print("no test was written", file=sys.stderr)


def _say(message: str) -> None:
    print(f"vetted: {message}", file=sys.stderr, flush=True)


def _progress(message: str, percent: int) -> None:
    print(f"vetted tests: [{percent:3d}%] {message}", file=sys.stderr, flush=True)
