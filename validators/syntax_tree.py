"""The syntax gate for every language with a tree-sitter grammar (Python has `syntax`).

A candidate fails when the spliced document has more ERROR or MISSING nodes than the
document had, or has one touching the inserted text (the hole the user is filling must be
closed by the completion, not left open). A language without a loadable grammar, or a
document over `prompts.grammars.MAX_PARSE_BYTES`, is not checked, and the verdict says why.
"""

from __future__ import annotations

import tree_sitter

from prompts import grammars
from validators.base import Splice, Verdict


def error_spans(tree: tree_sitter.Tree) -> list[tuple[int, int]]:
    """Byte spans of every ERROR and MISSING node, outermost first, in document order."""
    spans: list[tuple[int, int]] = []
    if not tree.root_node.has_error:
        return spans
    pending = [tree.root_node]
    while pending:
        node = pending.pop()
        if node.is_error or node.is_missing:
            spans.append((node.start_byte, node.end_byte))
        elif node.has_error:
            pending.extend(reversed(node.children))
    return spans


def check_tree(name: str, splice: Splice) -> Verdict:
    """The syntax verdict of `splice` in its (non-Python) language."""
    language = splice.language
    problem = grammars.grammar_problem(language)
    if problem:
        return Verdict(name, True, "not checked", problem, ran=False)
    try:
        before = error_spans(grammars.parse(language, splice.document))
        after = error_spans(grammars.parse(language, splice.result))
    except (ValueError, grammars.GrammarError) as exc:
        return Verdict(name, True, "not checked", str(exc), ran=False)
    if len(after) > len(before):
        return Verdict(name, False, "adds a syntax error",
                       f"{len(after) - len(before)} new error node(s) in {language.name}")
    start = len(splice.result[: splice.start].encode("utf-8", "surrogatepass"))
    end = start + len(splice.text.encode("utf-8", "surrogatepass"))
    touching = [span for span in after if span[0] <= end and span[1] >= start]
    if touching:
        line = splice.result.encode("utf-8", "surrogatepass")[: touching[0][0]].count(b"\n")
        return Verdict(name, False, "leaves a syntax error at the cursor", f"line {line + 1}")
    return Verdict(name, True)
