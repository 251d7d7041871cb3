"""Small, never-raising helpers over Python source text shared by the context extractors."""

from __future__ import annotations

import ast
import builtins
import sys
import warnings

BUILTIN_NAMES: frozenset[str] = frozenset(dir(builtins))
"""Names every check can use without defining them."""

STDLIB_MODULES: frozenset[str] = frozenset(sys.stdlib_module_names)
"""Top-level standard-library modules a check may import for itself (`math` in `math.pi`)."""

_SAFE_CALLS = frozenset(
    {"set", "frozenset", "tuple", "list", "dict", "float", "int", "complex", "str", "bytes"}
)
"""Builtins whose call on literals still reads as a value (`set((4, 5))`, `float('inf')`)."""

_ARITHMETIC = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Mod, ast.Pow)

_OPEN = {"(": ")", "[": "]", "{": "}"}
_CLOSE = frozenset(_OPEN.values())


def parse(source: str, mode: str = "exec") -> ast.AST | None:
    """Parse `source`, or return None when it is not valid Python (never raises)."""
    if len(source) > 100_000:
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # invalid escapes in user text are not our business
            return ast.parse(source, mode=mode)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


def parse_expression(source: str) -> ast.expr | None:
    """Parse one expression, or return None."""
    tree = parse(source.strip(), "eval")
    return tree.body if isinstance(tree, ast.Expression) else None


def unparse(node: ast.AST) -> str | None:
    """`ast.unparse`, or None for trees it cannot render."""
    try:
        return ast.unparse(node)
    except (ValueError, RecursionError, AttributeError):
        return None


def is_value(node: ast.AST) -> bool:
    """Whether `node` is a literal value a docstring can promise (`3`, `[1, 'a']`, `set((4,))`).

    Arithmetic on literals is allowed (`19 - 5 - 6`), names other than True/False/None are
    not: `is_happy(a) => False` mentions a name nobody defined.
    """
    if isinstance(node, ast.Constant):
        return True
    if isinstance(node, ast.Name):
        return node.id in {"True", "False", "None"}
    if isinstance(node, ast.List | ast.Tuple | ast.Set):
        return all(is_value(item) for item in node.elts)
    if isinstance(node, ast.Dict):
        keys_ok = all(key is not None and is_value(key) for key in node.keys)
        return keys_ok and all(is_value(value) for value in node.values)
    if isinstance(node, ast.UnaryOp):
        return isinstance(node.op, ast.USub | ast.UAdd | ast.Not) and is_value(node.operand)
    if isinstance(node, ast.BinOp):
        return isinstance(node.op, _ARITHMETIC) and is_value(node.left) and is_value(node.right)
    if isinstance(node, ast.Call):
        return (
            isinstance(node.func, ast.Name)
            and node.func.id in _SAFE_CALLS
            and not node.keywords
            and all(is_value(arg) for arg in node.args)
        )
    return False


def is_float_value(node: ast.AST) -> bool:
    """Whether `node` is a float literal, possibly signed: compared with a tolerance."""
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        node = node.operand
    return isinstance(node, ast.Constant) and isinstance(node.value, float)


def called_name(call: ast.Call) -> str | None:
    """The name a call goes through: `f` for `f(x)` and for `obj.f(x)`."""
    if isinstance(call.func, ast.Name):
        return call.func.id
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    return None


def calls(node: ast.AST, name: str) -> bool:
    """Whether `node` calls the function `name` anywhere inside it.

    A dotted `name` ("Stack.push") is a method: it matches `anything.push(...)`. A plain name
    matches only direct calls, `f(...)`, as a module-level function is called in checks.
    """
    method = "." in name
    target = name.rsplit(".", 1)[-1]
    for sub in ast.walk(node):
        if not isinstance(sub, ast.Call):
            continue
        if method and isinstance(sub.func, ast.Attribute) and sub.func.attr == target:
            return True
        if not method and isinstance(sub.func, ast.Name) and sub.func.id == target:
            return True
    return False


def free_names(node: ast.AST) -> set[str]:
    """Names `node` reads without binding them itself (scopes are ignored: an upper bound)."""
    loaded: set[str] = set()
    bound: set[str] = set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name):
            (loaded if isinstance(sub.ctx, ast.Load) else bound).add(sub.id)
        elif isinstance(sub, ast.arg):
            bound.add(sub.arg)
        elif isinstance(sub, ast.alias):
            bound.add((sub.asname or sub.name).split(".")[0])
        elif isinstance(sub, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            bound.add(sub.name)
        elif isinstance(sub, ast.ExceptHandler) and sub.name:
            bound.add(sub.name)
    return loaded - bound


def closing_bracket(text: str, start: int, limit: int = 20_000) -> int:
    """Index just past the bracket that closes the one at `text[start]`, or -1.

    Skips string literals (with escapes and triple quotes), so `f(")")` closes at the end.
    """
    depth = 0
    i = start
    end = min(len(text), start + limit)
    while i < end:
        char = text[i]
        if char in "'\"":
            i = string_end(text, i, end)
            if i < 0:
                return -1
            continue
        if char in _OPEN:
            depth += 1
        elif char in _CLOSE:
            depth -= 1
            if depth == 0:
                return i + 1
            if depth < 0:
                return -1
        i += 1
    return -1


def string_end(text: str, start: int, end: int) -> int:
    """Index just past the string literal opening at `text[start]`, or -1."""
    quote = text[start] * 3 if text.startswith(text[start] * 3, start) else text[start]
    i = start + len(quote)
    while i < end:
        if text[i] == "\\":
            i += 2
            continue
        if text.startswith(quote, i):
            return i + len(quote)
        if text[i] == "\n" and len(quote) == 1:
            return -1
        i += 1
    return -1


def top_level_cuts(text: str) -> list[int]:
    """Indices of spaces, commas, `#` and `=` outside brackets and strings: candidate cut points."""
    cuts: list[int] = []
    depth = 0
    i = 0
    while i < len(text):
        char = text[i]
        if char in "'\"":
            nxt = string_end(text, i, len(text))
            if nxt < 0:
                break
            i = nxt
            continue
        if char in _OPEN:
            depth += 1
        elif char in _CLOSE:
            depth = max(depth - 1, 0)
        elif depth == 0 and char in " \t,#=":
            cuts.append(i)
        i += 1
    return cuts


def strip_comment(text: str) -> str:
    """Drop a trailing `# comment` that is outside strings."""
    for cut in top_level_cuts(text):
        if text[cut] == "#":
            return text[:cut].rstrip()
    return text.rstrip()


def attribute_bases(node: ast.AST) -> set[str]:
    """Names used as `name.attribute`: the ones that may be modules to import."""
    return {
        sub.value.id
        for sub in ast.walk(node)
        if isinstance(sub, ast.Attribute) and isinstance(sub.value, ast.Name)
    }
