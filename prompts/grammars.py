"""Tree-sitter parsers per language, loaded on first use; a grammar that fails says why.

A grammar's wheel is imported the first time a document of its language is parsed. One
that is missing or does not load (an ABI the installed tree-sitter cannot read) is
remembered with its reason, logged once, and its language has no syntax gate, never a
failed request. Parsers are not thread-safe, so each thread gets its own.
"""

from __future__ import annotations

import importlib
import logging
import threading
from functools import cache

import tree_sitter

from prompts.languages import Language

logger = logging.getLogger(__name__)

MAX_PARSE_BYTES = 1_000_000
"""Largest document the syntax gate parses. Tree-sitter reads about 6 MB/s of minified
JavaScript on this project's 2-core test machine (5 MB: 0.9 s), too slow for a keystroke;
larger documents get no syntax gate, and their verdict says why."""


class GrammarError(RuntimeError):
    """A language's grammar cannot be loaded; the message says which and why."""


@cache
def _grammar(language: Language) -> tree_sitter.Language | str:
    """The loaded grammar, or the reason it cannot be loaded."""
    if language.grammar is None:
        return f"no grammar for {language.name}"
    module_name, function = language.grammar
    try:
        module = importlib.import_module(module_name)
        return tree_sitter.Language(getattr(module, function)())
    except Exception as exc:  # noqa: BLE001 - any failure means: no syntax gate for it
        reason = f"the {language.name} grammar ({module_name}) does not load: {exc}"
        logger.warning("%s; %s documents get no syntax check", reason, language.name)
        return reason


def grammar_problem(language: Language) -> str:
    """Why `language` cannot be parsed ("" when it can)."""
    loaded = _grammar(language)
    return loaded if isinstance(loaded, str) else ""


_local = threading.local()


def parser_for(language: Language) -> tree_sitter.Parser:
    """Return the calling thread's parser for `language` (`GrammarError`: no grammar)."""
    parsers: dict[str, tree_sitter.Parser] = _local.__dict__.setdefault("parsers", {})
    parser = parsers.get(language.id)
    if parser is None:
        loaded = _grammar(language)
        if isinstance(loaded, str):
            raise GrammarError(loaded)
        parser = parsers[language.id] = tree_sitter.Parser(loaded)
    return parser


def parse(language: Language, source: str, old_tree: tree_sitter.Tree | None = None,
          ) -> tree_sitter.Tree:
    """The tree of `source` (incrementally from `old_tree`, already edited, when given).

    Raises `GrammarError` for a language without a loadable grammar and `ValueError` for a
    source over `MAX_PARSE_BYTES`.
    """
    data = source.encode("utf-8", "surrogatepass")
    if len(data) > MAX_PARSE_BYTES:
        raise ValueError(f"{len(data) // 1000} KB is over the syntax check's "
                         f"{MAX_PARSE_BYTES // 1000} KB")
    parser = parser_for(language)
    tree = parser.parse(data, old_tree) if old_tree is not None else parser.parse(data)
    if tree is None:  # only without a language, which parser_for rules out
        raise GrammarError(f"the {language.name} parser returned no tree")
    return tree
