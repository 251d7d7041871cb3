"""Examples from `>>>` doctests, read with the standard library's own doctest parser."""

from __future__ import annotations

import ast
import doctest
import re
from dataclasses import replace

from prompts._model import Example
from prompts._source import called_name, calls, is_value, parse, parse_expression

_EXCEPTION = re.compile(r"^\s*([A-Za-z_][\w.]*)\s*(?::|$)", re.MULTILINE)
_BLOCK_BREAK = re.compile(r"\n[ \t]*\n")


def doctest_examples(docstring: str, name: str, *, first_line: int, path: str) -> list[Example]:
    """Examples of `>>>` lines in `docstring` that call `name`, in order."""
    found: list[Example] = []
    setup: list[str] = []
    setup_calls = False  # an earlier statement called the function: later outputs show its effect
    for item, line in _parsed(docstring, first_line):
        if item.options.get(doctest.SKIP):
            continue
        tree = parse(item.source)
        if not isinstance(tree, ast.Module) or not tree.body:
            continue
        want = item.want.rstrip("\n")
        statement = tree.body[0] if len(tree.body) == 1 else None
        if not isinstance(statement, ast.Expr):
            if not want:  # imports, assignments, definitions: context for what follows
                setup.append(item.source.rstrip("\n"))
                setup_calls = setup_calls or calls(tree, name)
            continue
        source = _segment(item.source, statement.value)
        example = _example(statement.value, item.source, want, item.exc_msg, name, setup_calls)
        loose = example is not None and example.call == source and _loose(item)
        if loose and example is not None and example.expected not in (None, "None"):
            # `+ELLIPSIS`/`+NORMALIZE_WHITESPACE`: compared as doctest compares, not by `==`.
            example = replace(example, expected=None, output=want)
        if example is not None:
            found.append(replace(example, line=line, path=path, setup=tuple(setup)))
        if not want and (example is None or example.expected == "None"):
            setup.append(source)  # a call for its effect (`s.push(1)`), not a claim
            setup_calls = setup_calls or calls(statement, name)
    return found


def _loose(item: doctest.Example) -> bool:
    """Tell whether the example's directives make doctest compare its output loosely."""
    return any(item.options.get(flag) for flag in (doctest.ELLIPSIS, doctest.NORMALIZE_WHITESPACE))


def _parsed(docstring: str, first_line: int) -> list[tuple[doctest.Example, int]]:
    """Doctest examples with their file lines; a malformed block costs only that block."""
    parser = doctest.DocTestParser()
    try:
        return [(item, first_line + item.lineno) for item in parser.get_examples(docstring)]
    except ValueError:  # inconsistent indentation somewhere, or `>>>x` without a space
        pass
    found: list[tuple[doctest.Example, int]] = []
    start = 0
    for match in [*_BLOCK_BREAK.finditer(docstring), None]:
        end = match.start() if match else len(docstring)
        block = docstring[start:end]
        offset = first_line + docstring.count("\n", 0, start)
        try:
            found += [(item, offset + item.lineno) for item in parser.get_examples(block)]
        except ValueError:
            pass
        start = match.end() if match else end
    return found


def _example(
    expr: ast.expr, text: str, want: str, exc_msg: str | None, name: str, setup_calls: bool
) -> Example | None:
    """The outcome of doctest expression `expr` (parsed from `text`), or None if not about `name`.

    Line and path are filled in by the caller.
    """
    source = _segment(text, expr)
    relevant = setup_calls or calls(expr, name)
    if exc_msg is not None:
        match = _EXCEPTION.search(exc_msg)
        if not match or not relevant:
            return None
        return Example(source, None, "doctest", 0, raises=match.group(1).rsplit(".", 1)[-1])
    equality = isinstance(expr, ast.Compare) and [type(op) for op in expr.ops] == [ast.Eq]
    if isinstance(expr, ast.Compare) and equality and want in ("", "True") and relevant:
        # `>>> f(x) == y` written as a claim, with or without the `True` doctest would show.
        call, other = expr.left, expr.comparators[0]
        if calls(other, name) and not calls(call, name):
            call, other = other, call
        return Example(_segment(text, call), _segment(text, other), "doctest", 0)
    if not want:
        # No output means the value is None; only a bare call of the function says that.
        if isinstance(expr, ast.Call) and called_name(expr) == name.rsplit(".", 1)[-1]:
            return Example(source, "None", "doctest", 0)
        return None
    if not relevant:
        return None
    printed = isinstance(expr, ast.Call) and called_name(expr) == "print"
    value = None if printed else parse_expression(want)
    if value is not None and is_value(value):
        return Example(source, want.strip(), "doctest", 0)
    if " at 0x" in want and "..." not in want:
        return None  # an object address never shows again
    return Example(source, None, "doctest", 0, output=want)


def _segment(text: str, node: ast.expr) -> str:
    return ast.get_source_segment(text, node) or ""
