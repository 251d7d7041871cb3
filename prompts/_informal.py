"""Examples written in prose, as HumanEval and MBPP docstrings and many users write them.

Forms read: ``f(x) == y`` (also ``=``, ``->``, ``=>``, ``==>``, ``➞``, ``returns``, ``should
return``, ``# => y``), ``assert f(x) == y``, ``Input: ... / Output: ...`` and ``For x = 1 the
output should be y``, after bullets and ``Example:`` / ``for`` lead-ins. A wrong example would
reject correct completions, so anything ambiguous is dropped: expected values must be literals,
arguments too, and a paragraph that defines the function by recurrence (``fib(n) = fib(n-1) +
...``, where "fib(1) = 3" may be maths rather than the return value) yields nothing.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Sequence
from dataclasses import replace

from prompts._model import Example
from prompts._source import (
    BUILTIN_NAMES,
    STDLIB_MODULES,
    calls,
    closing_bracket,
    free_names,
    is_value,
    parse,
    parse_expression,
    string_end,
    strip_comment,
    top_level_cuts,
)

_LEAD_IN = re.compile(
    r"(?:[-*•+]\s+|\d{1,2}[.)]\s+"
    r"|(?:for\s+example|examples?(?:\s+\d+)?|e\.g\.|ex|usage)\s*[:.,]?\s+"
    r"|for\s+(?=[A-Za-z_]\w*\s*\())",
    re.IGNORECASE,
)
_ARROW = re.compile(
    r"\s*(?:#\s*)?(?:==>|-->|=>|->|➞|→|⇒|==|=(?![=>])|(?:should\s+)?returns?\b"
    r"|should\s+(?:be|give)\b|gives\b|evaluates\s+to\b)\s*:?\s*",
    re.IGNORECASE,
)
_HEADER = re.compile(r"(?:for\s+example|examples?|usage)\b|.*:\s*$", re.IGNORECASE)
_INPUT = re.compile(r"\s*(?:[-*]\s*)?input\s*:\s*(.*)$", re.IGNORECASE)
_OUTPUT = re.compile(r"\s*(?:[-*]\s*)?output\s*:\s*", re.IGNORECASE)
_FOR_OUTPUT = re.compile(
    r"\s*(?:[-*]\s*)?for\s+(?P<args>\w+\s*=.+?)[\s,]+(?:the\s+)?(?:output|result|answer)\s+"
    r"(?:should\s+be|will\s+be|is)\s*:?\s*",
    re.IGNORECASE,
)
_NAMED_PART = re.compile(r"([A-Za-z_]\w*)\s*:\s*(\S.*)$")
_WORDS = {"true": "True", "false": "False", "none": "None", "null": "None"}
_OPERATOR_WORDS = frozenset({"and", "or", "not", "if", "else", "in", "is", "for", "lambda"})


def informal_examples(
    docstring: str, name: str, *, params: Sequence[str], first_line: int, path: str
) -> list[Example]:
    """Examples written in prose in `docstring`, for the function `name`."""
    lines = docstring.split("\n")
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line) + 1)
    blocks = _blocks(lines)
    found: list[tuple[int, Example]] = []
    recurrences: set[int] = set()
    method = "." in name
    for i, line in enumerate(lines):
        pos = _lead_in_end(line)
        rest = line[pos:]
        if rest.startswith((">>>", "...")):
            continue
        example: Example | None = None
        if rest.startswith("assert "):
            example = _assert(docstring, starts[i] + pos + 7, name)
            pos += 7 + len(rest[7:]) - len(rest[7:].lstrip())
            rest = line[pos:]
        if example is None and not method and re.match(rf"{re.escape(name)}\s*\(", rest):
            example, recurrence = _call_line(docstring, starts[i] + pos, name)
            if recurrence:
                recurrences.add(blocks[i])
        if example is None and not method and params:
            example = _described(docstring, lines, starts, i, name, params)
        if example is not None:
            found.append((blocks[i], replace(example, line=first_line + i, path=path)))
    return [example for block, example in found if block not in recurrences]


def _lead_in_end(line: str) -> int:
    """Index after the indentation, bullets and `Example:`-like words that start `line`."""
    pos = len(line) - len(line.lstrip())
    while match := _LEAD_IN.match(line, pos):
        if match.end() == pos:
            break
        pos = match.end()
    return pos


def _blocks(lines: list[str]) -> list[int]:
    """Paragraph number of each line: blank lines and headings (`Examples:`) start one."""
    numbers: list[int] = []
    number = 0
    for line in lines:
        if not line.strip() or _HEADER.match(line.strip()):
            number += 1
        numbers.append(number)
    return numbers


def _call_line(text: str, start: int, name: str) -> tuple[Example | None, bool]:
    """Read `name(args) <arrow> value` at `start`; also say whether it defines by recurrence."""
    close = closing_bracket(text, text.index("(", start))
    if close < 0:
        return None, False
    call = parse_expression(text[start:close])
    if not isinstance(call, ast.Call) or not isinstance(call.func, ast.Name):
        return None, False
    arrow = _ARROW.match(text, close, _line_end(text, close))
    if arrow is None:
        return None, False
    raw = _through_brackets(text, arrow.end())
    literal_args = all(is_value(arg) for arg in call.args) and all(
        keyword.arg is not None and is_value(keyword.value) for keyword in call.keywords
    )
    if not literal_args or re.search(rf"\b{re.escape(name)}\s*\(", raw):
        return None, True
    expected = clean_expected(raw)
    if expected is None:
        return None, False
    return Example(text[start:close], expected, "informal", 0), False


def _assert(text: str, start: int, name: str) -> Example | None:
    """`assert <condition on name(...)>` written in a docstring (MBPP style)."""
    source = "assert " + _through_brackets(text, start)
    tree = parse(source)
    if not isinstance(tree, ast.Module) or not isinstance(tree.body[0], ast.Assert):
        return None
    test = tree.body[0].test
    allowed = BUILTIN_NAMES | STDLIB_MODULES | set(name.split("."))
    if not calls(test, name) or free_names(test) - allowed:
        return None
    if isinstance(test, ast.Compare) and len(test.ops) == 1:
        left, right = test.left, test.comparators[0]
        equal = isinstance(test.ops[0], ast.Eq) or (
            isinstance(test.ops[0], ast.Is)
            and isinstance(right, ast.Constant)
            and right.value in (None, True, False)
        )
        if equal:
            if calls(right, name) and not calls(left, name):
                left, right = right, left
            expected = ast.get_source_segment(source, right)
            call = ast.get_source_segment(source, left)
            return Example(call or "", expected, "informal", 0) if call and expected else None
    condition = ast.get_source_segment(source, test)
    return Example(condition, None, "informal", 0) if condition else None


def _described(
    text: str, lines: list[str], starts: list[int], i: int, name: str, params: Sequence[str]
) -> Example | None:
    """`Input: x = 1 ... Output: y` over a few lines, or `For x = 1 the output should be y`."""
    line = lines[i]
    if match := _FOR_OUTPUT.match(line):
        call = _bind(name, params, [match.group("args")])
        expected = clean_expected(_through_brackets(text, starts[i] + match.end()))
    elif match := _INPUT.match(line):
        parts = [match.group(1)]
        j = i + 1
        while j < min(len(lines), i + 10) and not _OUTPUT.match(lines[j]):
            if _INPUT.match(lines[j]):
                return None
            parts.append(lines[j])
            j += 1
        output = _OUTPUT.match(lines[j]) if j < len(lines) else None
        if output is None:
            return None
        call = _bind(name, params, parts)
        expected = clean_expected(_through_brackets(text, starts[j] + output.end()))
    else:
        return None
    return Example(call, expected, "informal", 0) if call and expected else None


def _bind(name: str, params: Sequence[str], parts: list[str]) -> str | None:
    """Call `name` with the inputs in `parts` (`x = 1, y = 2`, `grid : [...]`, `[1, 2]`)."""
    named = [_named(part.strip()) for part in parts if part.strip()]
    for joined in (", ".join(named), " ".join(named)):
        for cut in [len(joined), *reversed(_commas(joined))]:
            source = f"{name}({joined[:cut]})"
            call = parse_expression(source)
            if isinstance(call, ast.Call):
                return _arguments(source, call, name, params)
    return None


def _named(part: str) -> str:
    """`grid : [[0, 1]]` as a keyword argument, `grid=[[0, 1]]`."""
    match = _NAMED_PART.match(part)
    return f"{match.group(1)}={match.group(2)}" if match else part


def _arguments(source: str, call: ast.Call, name: str, params: Sequence[str]) -> str | None:
    values: dict[str, ast.expr] = dict(zip(params, call.args, strict=False))
    if len(call.args) > len(params):
        return None
    for keyword in call.keywords:
        if keyword.arg is None:
            return None
        target = keyword.arg if keyword.arg in params else _similar(keyword.arg, params, values)
        if target is None or target in values:
            return None
        values[target] = keyword.value
    if set(values) != set(params) or not all(is_value(value) for value in values.values()):
        return None
    arguments = [ast.get_source_segment(source, values[param]) or "" for param in params]
    return f"{name}({', '.join(arguments)})"


def _similar(word: str, params: Sequence[str], taken: dict[str, ast.expr]) -> str | None:
    """The one free parameter whose name contains `word` or is contained in it."""
    matches = [p for p in params if p not in taken and (p in word or word in p)]
    return matches[0] if len(matches) == 1 else None


def _commas(text: str) -> list[int]:
    return [cut for cut in top_level_cuts(text) if text[cut] == ","]


def clean_expected(raw: str) -> str | None:
    """The literal at the start of `raw` ("8." -> "8", "'No' (because ...)" -> "'No'"), or None."""
    text = strip_comment(raw.strip())
    # "19 - 5 - 6 = 8": a worked computation ends with the value after its last "=".
    for cut in reversed(top_level_cuts(text)):
        if (
            text[cut] == "="
            and text[cut - 1 : cut] not in ("=", "<", ">", "!")
            and (text[cut + 1 : cut + 2] not in ("=", ">"))
        ):
            text = text[cut + 1 :].strip()
            break
    # A final "." is punctuation more often than a float's point ("should return 16.").
    for candidate in (text.rstrip(".,;:"), text):
        if value := _literal(candidate):
            return value
    for cut in reversed(top_level_cuts(text)):
        head, tail = text[:cut].rstrip(" ,"), text[cut:].strip(" ,#")
        if text[cut] in " \t," and _is_prose(tail) and (value := _literal(head)):
            return value
    return None


def _literal(text: str) -> str | None:
    text = _WORDS.get(text.lower(), text)
    node = parse_expression(text)
    if node is None or not is_value(node):
        return None
    if text.startswith("(") and closing_bracket(text, 0) == len(text):
        if not isinstance(node, ast.Tuple):
            return None  # ("Venus") is a str, but its author most likely meant a tuple
    return text


def _is_prose(text: str) -> bool:
    """Whether `text` reads as an explanation after a value rather than more of the value."""
    word = re.match(r"[A-Za-z_]\w*", text)
    if word:
        return word.group() not in _OPERATOR_WORDS
    return text.startswith("(")


def _line_end(text: str, start: int) -> int:
    end = text.find("\n", start)
    return len(text) if end < 0 else end


def _through_brackets(text: str, start: int) -> str:
    """From `start` to the end of the line, or further while a bracket opened there is open."""
    end = _line_end(text, start)
    i = start
    while i < end:
        char = text[i]
        if char in "'\"":
            i = string_end(text, i, len(text))
            if i < 0:
                break
        elif char in "([{":
            close = closing_bracket(text, i)
            if close < 0:
                break
            end = max(end, _line_end(text, close))
            i = close
        else:
            i += 1
    return text[start:end]
