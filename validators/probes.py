"""Probe calls for execution agreement: the calls in known tests, and nearby inputs.

Candidates that implement the same function behave the same on every input; wrong ones
disagree with it, and with each other, somewhere. The more inputs the candidates are run
on, the more wrong candidates split away from the right ones, so the largest group of
candidates that behave alike is more often a correct one. Inputs come from the calls in the
user's examples and tests, and from small changes to their literal arguments.
"""

from __future__ import annotations

import ast
import random
from collections.abc import Iterator, Sequence
from typing import Any, TypeGuard

MAX_PROBE_CHARS = 200
"""Longest probe call kept: a probe is meant to be a small, quick input."""
_SMALL_INT = 50
"""Integers are doubled only below this, so recursive candidates stay quick."""


def _is_call_to(node: ast.AST, function: str) -> TypeGuard[ast.Call]:
    if not isinstance(node, ast.Call):
        return False
    target = node.func
    if isinstance(target, ast.Name):
        return target.id == function
    return isinstance(target, ast.Attribute) and target.attr == function


def probe_of_assert(statement: str) -> str | None:
    """The expression whose value an ``assert f(x) == y`` checks (``f(x)``), if it has one."""
    try:
        tree = ast.parse(statement)
    except (SyntaxError, ValueError, RecursionError):
        return None
    if len(tree.body) != 1 or not isinstance(tree.body[0], ast.Assert):
        return None
    test = tree.body[0].test
    if isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], ast.Eq):
        return ast.unparse(test.left)
    return None


def _literal_arguments(call: ast.Call) -> bool:
    if call.keywords and any(k.arg is None for k in call.keywords):
        return False
    for argument in [*call.args, *(k.value for k in call.keywords)]:
        try:
            ast.literal_eval(argument)
        except (ValueError, TypeError, SyntaxError, RecursionError):
            return False
    return True


def _variants(value: Any) -> Iterator[Any]:
    """Small changes of one literal value, of the same type."""
    if isinstance(value, bool):
        yield not value
    elif isinstance(value, int):
        yield from (value + 1, value - 1, 0, -value, 1)
        if abs(value) < _SMALL_INT:
            yield from (value * 2, value + 7)
    elif isinstance(value, float):
        yield from (value + 0.5, -value, 0.0, value * 2)
    elif isinstance(value, str):
        middle = len(value) // 2
        yield from ("", value[::-1], value[1:], value + value[:1], value.upper(), value.lower())
        # Other kinds of characters: the classic difference between near-miss solutions
        # (isalpha vs. isalnum, split() vs. split(" ")) shows on spaces, digits, punctuation.
        yield from (value[:middle] + " " + value[middle:], value + "1", value + "!", value.title())
    elif isinstance(value, list | tuple):
        kind = type(value)
        items = list(value)
        for changed in (items[:0], items[::-1], items[1:], items + items[:1], items[:1], items * 2):
            yield kind(changed)
        try:
            yield kind(sorted(items))
        except TypeError:
            pass
        if items:
            for first in _variants(items[0]):
                yield kind([first, *items[1:]])
    elif isinstance(value, dict):
        yield {}
        if value:
            yield dict(list(value.items())[1:])


def mutate(call: str, function: str) -> list[str]:
    """Calls like `call` with one literal argument changed a little."""
    try:
        node = ast.parse(call, mode="eval").body
    except (SyntaxError, ValueError, RecursionError):
        return []
    if not _is_call_to(node, function) or not _literal_arguments(node):
        return []
    args = [ast.literal_eval(a) for a in node.args]
    keywords = {k.arg: ast.literal_eval(k.value) for k in node.keywords if k.arg is not None}
    head = ast.unparse(node.func)
    out: list[str] = []
    for position, value in enumerate(args):
        for variant in _variants(value):
            changed = [*args[:position], variant, *args[position + 1 :]]
            out.append(_render(head, changed, keywords))
    for name, value in keywords.items():
        for variant in _variants(value):
            out.append(_render(head, args, {**keywords, name: variant}))
    original = _render(head, args, keywords)
    return [m for m in dict.fromkeys(out) if m != original]


def _render(head: str, args: Sequence[Any], keywords: dict[str, Any]) -> str:
    parts = [repr(a) for a in args] + [f"{k}={v!r}" for k, v in keywords.items()]
    return f"{head}({', '.join(parts)})"


def agreement_probes(
    known: Sequence[str], function: str, *, limit: int = 40, seed: int = 0
) -> list[str]:
    """The known calls first, then up to `limit` nearby inputs, in a seeded order."""
    seen = dict.fromkeys(c for c in known if len(c) <= MAX_PROBE_CHARS)
    extra = [m for c in seen for m in mutate(c, function) if len(m) <= MAX_PROBE_CHARS]
    fresh = list(dict.fromkeys(m for m in extra if m not in seen))
    random.Random(seed).shuffle(fresh)
    return [*seen, *fresh[:limit]]
