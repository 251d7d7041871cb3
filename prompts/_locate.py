"""Find the function around a cursor in a document that may be half written.

`ast` when the document parses; otherwise the tolerant readers of `prompts._spans`.
"""

from __future__ import annotations

import ast
import functools
import io
import re
import tokenize

from prompts._model import FunctionContext
from prompts._source import parse, strip_comment
from prompts._spans import Detail, Span, scanned_names, scanned_spans, tree_sitter_spans

MAX_DOCUMENT = 4_000_000
"""Longer documents are not searched (characters)."""
MAX_AST_DOCUMENT = 1_000_000
"""Longer documents skip `ast` and go straight to tree-sitter, which is much faster."""


def find_function(text: str, offset: int) -> FunctionContext | None:
    """The innermost function whose body the cursor at `offset` (index into `text`) is in."""
    return locate(text, offset)[0]


def locate(text: str, offset: int) -> tuple[FunctionContext | None, ast.Module | None]:
    """`find_function`, and the document's `ast` tree when it parses (for reuse)."""
    if not text or len(text) > MAX_DOCUMENT:
        return None, None
    offset = min(max(offset, 0), len(text))
    starts = _line_starts(text)
    cursor_line = text.count("\n", 0, offset) + 1
    parsed = parse(text) if len(text) <= MAX_AST_DOCUMENT else None
    tree = parsed if isinstance(parsed, ast.Module) else None
    if tree is not None:
        spans = _ast_spans(tree, text, starts, cursor_line)
    else:
        spans = tree_sitter_spans(text, offset)
    span = _innermost(spans, text, offset, starts)
    if span is None and tree is None:
        span = _innermost(scanned_spans(text, offset, starts), text, offset, starts)
    if span is None:
        return None, tree
    signature, literal, literal_line = span.detail()
    docstring, docstring_line = docstring_text(literal, literal_line) if literal else (None, 0)
    return FunctionContext(
        name=span.name,
        qualname=span.qualname,
        signature=signature,
        docstring=docstring,
        class_name=span.class_name,
        start_line=span.start_line,
        end_line=max(span.end_line, cursor_line),
        docstring_line=docstring_line,
        params=_params(signature, method=span.class_name is not None),
        defined=frozenset(_bound(tree.body) if tree else scanned_names(text)),
    ), tree


def docstring_text(literal: str, line: int) -> tuple[str | None, int]:
    r"""Docstring as written, dedented, and the line of its first line.

    Escapes stay (only `\\` is halved, as Python would) because examples become code again:
    a doctest `f("a\nb")` must stay one line.
    """
    match = re.match(r"([rRuU]{0,2})('''|\"\"\"|'|\")", literal)
    if not match:
        return None, 0
    quote = match.group(2)
    body = literal[match.end() :]
    body = body[: -len(quote)] if body.endswith(quote) else body
    if "r" not in match.group(1).lower():
        body = body.replace("\\\\", "\\")
    lines = body.expandtabs().split("\n")
    indent = min((len(x) - len(x.lstrip()) for x in lines[1:] if x.strip()), default=0)
    lines = [lines[0].strip(), *(x[indent:] for x in lines[1:])]
    skip = 0
    while skip < len(lines) and not lines[skip].strip():
        skip += 1
    text = "\n".join(lines[skip:]).rstrip()
    return (text or None), line + skip


def _bound(body: list[ast.stmt]) -> set[str]:
    """Names module-level statements bind, looking into `if`/`try`/`with` blocks."""
    names: set[str] = set()
    for node in body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names.update((a.asname or a.name).split(".")[0] for a in node.names if a.name != "*")
        elif isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign | ast.For | ast.With):
            targets = node.targets if isinstance(node, ast.Assign) else [node]
            for target in targets:
                names.update(
                    sub.id
                    for sub in ast.walk(target)
                    if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Store)
                )
        for field in ("body", "orelse", "finalbody"):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                names |= _bound(getattr(node, field, []))
        for handler in getattr(node, "handlers", []):
            names |= _bound(handler.body)
    return names


def _line_starts(text: str) -> list[int]:
    return [0, *(match.end() for match in re.finditer("\n", text))]


def _innermost(spans: list[Span], text: str, offset: int, starts: list[int]) -> Span | None:
    row = text.count("\n", 0, offset)
    inside = [span for span in spans if _contains(span, text, offset, row, starts)]
    return max(inside, key=lambda span: span.def_line, default=None)


def _contains(span: Span, text: str, offset: int, row: int, starts: list[int]) -> bool:
    """Inside the function, or just past its end with nothing but whitespace in between.

    Past the end counts on a later line indented deeper than `def`, or, while the function
    has no body yet, on the very next line (HumanEval prompts end right after the docstring).
    """
    line = row + 1
    if line <= span.end_line:
        return line >= span.start_line
    after = starts[span.end_line] if span.end_line < len(starts) else len(text)
    if text[after:offset].strip():
        return False
    return (span.bodiless and line == span.end_line + 1) or offset - starts[row] > span.indent


def _params(signature: str, method: bool) -> tuple[str, ...]:
    tree = parse(signature.strip() + " pass")
    node = tree.body[0] if isinstance(tree, ast.Module) and tree.body else None
    if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
        return ()
    names = [arg.arg for arg in [*node.args.posonlyargs, *node.args.args]]
    if method and names and names[0] in ("self", "cls"):
        names = names[1:]
    return tuple(names)


def _ast_spans(tree: ast.Module, text: str, starts: list[int], line: int) -> list[Span]:
    """Functions that may hold the cursor on 1-based `line`: the rest of the tree is skipped."""
    spans: list[Span] = []

    def visit(body: list[ast.stmt], prefix: str, class_name: str | None) -> None:
        before = [node for node in body if _first_line(node) <= line]
        for index, node in enumerate(before):
            # Only the last statement before the cursor can hold it past its own end.
            if (node.end_lineno or node.lineno) < line and index < len(before) - 1:
                continue
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                qualname = prefix + node.name
                spans.append(
                    Span(
                        node.name,
                        qualname,
                        class_name,
                        node.lineno,
                        _first_line(node),
                        node.end_lineno or node.lineno,
                        node.col_offset,
                        all(_placeholder(statement) for statement in node.body),
                        functools.partial(_ast_detail, node, text, starts),
                    )
                )
                visit(node.body, qualname + ".<locals>.", None)
            elif isinstance(node, ast.ClassDef):
                visit(node.body, f"{prefix}{node.name}.", node.name)
            else:
                for block in _blocks(node):
                    visit(block, prefix, class_name)

    visit(tree.body, "", None)
    return spans


def _first_line(node: ast.stmt) -> int:
    decorators: list[ast.expr] = getattr(node, "decorator_list", [])
    return min([node.lineno, *(decorator.lineno for decorator in decorators)])


def _blocks(node: ast.stmt) -> list[list[ast.stmt]]:
    """The statement lists inside a compound statement (`if`, `try`, `with`, `match`...)."""
    blocks = [getattr(node, field, []) for field in ("body", "orelse", "finalbody")]
    blocks += [handler.body for handler in getattr(node, "handlers", [])]
    blocks += [case.body for case in getattr(node, "cases", [])]
    return blocks


def _placeholder(node: ast.stmt) -> bool:
    """A docstring, import, `pass` or `...`: what a function has before its body is written."""
    if isinstance(node, ast.Pass | ast.Import | ast.ImportFrom):
        return True
    return isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)


def _ast_detail(
    node: ast.FunctionDef | ast.AsyncFunctionDef, text: str, starts: list[int]
) -> Detail:
    start = _char_offset(text, starts, node.lineno, node.col_offset)
    first = node.body[0]
    end = _char_offset(text, starts, first.lineno, first.col_offset)
    signature = _header(text[start:end])
    # Not Python's docstring when imports come first (HumanEval/115), but still the text
    # that documents the function.
    doc = next((s for s in node.body if not isinstance(s, ast.Import | ast.ImportFrom)), None)
    if isinstance(doc, ast.Expr) and isinstance(doc.value, ast.Constant):
        if isinstance(doc.value.value, str):
            return signature, ast.get_source_segment(text, doc.value), doc.lineno
    return signature, None, 0


def _char_offset(text: str, starts: list[int], lineno: int, col: int) -> int:
    """`ast` columns count UTF-8 bytes; turn (line, byte column) into an index into `text`."""
    start = starts[lineno - 1]
    line = text[start : start + col * 4 + 4]
    return start + len(line.encode("utf-8")[:col].decode("utf-8", errors="ignore"))


def _header(source: str) -> str:
    """The `def ...:` header at the start of `source`, without comments after the colon."""
    depth = 0
    try:
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            if token.type == tokenize.OP and token.string in "([{":
                depth += 1
            elif token.type == tokenize.OP and token.string in ")]}":
                depth -= 1
            elif token.type == tokenize.OP and token.string == ":" and depth == 0:
                row, col = token.end
                lines = source.split("\n")
                return "\n".join([*lines[: row - 1], lines[row - 1][:col]])
    except (tokenize.TokenError, SyntaxError):
        pass
    return strip_comment(source.strip().split("\n")[0])
