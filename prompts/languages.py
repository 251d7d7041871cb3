"""The languages the assistant completes: how each is named, written and parsed.

One `Language` per language, found by the editor's LSP ``languageId`` (VS Code's names,
which Neovim's plugin sends too) or, when the editor sends none or one we do not know, by
the file's extension. A language without a grammar, or one we do not know at all
(`PLAIN`), still gets the language-independent filters; it has no syntax gate, and the
verdicts say so. Python alone has mypy and the embedded tests.

Grammars come from the per-language ``tree-sitter-*`` wheels pinned in pyproject.toml
(23 MB installed in all, each loaded in about a millisecond or less; bench/RESULTS.md),
loaded only when a document of that language is first checked (`prompts.grammars`).
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

Blocks = Literal["indent", "braces", "keywords", "tags", "none"]
"""How a block ends: by dedenting (Python, YAML), a closing bracket (C family, CSS), a
keyword such as ``end``/``fi``/``done`` (Ruby, Lua, Bash), a closing tag (HTML), or it has
no blocks worth cutting at (JSON, TOML)."""


@dataclass(frozen=True)
class Language:
    """What the pipeline needs to know about one language."""

    id: str
    """The canonical LSP languageId (``typescript``)."""
    name: str
    """For people (``TypeScript``)."""
    extensions: tuple[str, ...] = ()
    """File name endings, lowercase, with their dot (``.ts``)."""
    grammar: tuple[str, str] | None = None
    """(module, function) of the tree-sitter wheel that parses it; None: no syntax gate."""
    line_comments: tuple[str, ...] = ()
    """What starts a comment to the end of the line (``//``, ``#``, ``--``)."""
    block_comments: tuple[tuple[str, str], ...] = ()
    """(opening, closing) of comments that span lines (``/*``, ``*/``)."""
    quotes: tuple[str, ...] = ('"', "'")
    """Characters that open and close a string literal on one line."""
    blocks: Blocks = "braces"
    block_keywords: tuple[str, ...] = ()
    """For ``keywords`` blocks: the words that close one (``end``, ``fi``, ``done``)."""
    aliases: tuple[str, ...] = ()
    """Other languageIds editors send for it (``javascriptreact``, ``shellscript``)."""

    @property
    def has_grammar(self) -> bool:
        """Whether a syntax gate can parse it."""
        return self.grammar is not None


_SLASHES: tuple[str, ...] = ("//",)
_STARS: tuple[tuple[str, str], ...] = (("/*", "*/"),)

def _c_like(id: str, name: str, extensions: tuple[str, ...], grammar: tuple[str, str],
            quotes: tuple[str, ...] = ('"', "'"), aliases: tuple[str, ...] = ()) -> Language:
    """A language with C's comments and braces."""
    return Language(id, name, extensions, grammar, _SLASHES, _STARS, quotes, "braces",
                    aliases=aliases)


_TICKS = ('"', "'", "`")

LANGUAGES: tuple[Language, ...] = (
    Language("python", "Python", (".py", ".pyi", ".pyw"), ("tree_sitter_python", "language"),
             ("#",), (), ('"', "'"), "indent"),
    _c_like("javascript", "JavaScript", (".js", ".mjs", ".cjs", ".jsx"),
            ("tree_sitter_javascript", "language"), _TICKS, ("javascriptreact", "js", "jsx")),
    _c_like("typescript", "TypeScript", (".ts", ".mts", ".cts"),
            ("tree_sitter_typescript", "language_typescript"), _TICKS, ("ts",)),
    _c_like("typescriptreact", "TSX", (".tsx",),
            ("tree_sitter_typescript", "language_tsx"), _TICKS, ("tsx",)),
    _c_like("go", "Go", (".go",), ("tree_sitter_go", "language"), _TICKS, ("golang",)),
    _c_like("rust", "Rust", (".rs",), ("tree_sitter_rust", "language"), ('"',), ("rs",)),
    _c_like("java", "Java", (".java",), ("tree_sitter_java", "language")),
    _c_like("c", "C", (".c", ".h"), ("tree_sitter_c", "language")),
    _c_like("cpp", "C++", (".cc", ".cpp", ".cxx", ".c++", ".hpp", ".hh", ".hxx", ".h++"),
            ("tree_sitter_cpp", "language"), aliases=("c++", "cuda-cpp")),
    _c_like("csharp", "C#", (".cs",), ("tree_sitter_c_sharp", "language"),
            aliases=("cs", "c#")),
    Language("ruby", "Ruby", (".rb", ".rake", ".gemspec"), ("tree_sitter_ruby", "language"),
             ("#",), (("=begin", "=end"),), blocks="keywords", block_keywords=("end",),
             aliases=("rb",)),
    Language("php", "PHP", (".php", ".phtml"), ("tree_sitter_php", "language_php"),
             ("//", "#"), _STARS),
    Language("lua", "Lua", (".lua",), ("tree_sitter_lua", "language"), ("--",),
             (("--[[", "]]"),), blocks="keywords", block_keywords=("end",)),
    Language("shellscript", "Bash", (".sh", ".bash", ".zsh"), ("tree_sitter_bash", "language"),
             ("#",), (), blocks="keywords", block_keywords=("fi", "done", "esac", "}"),
             aliases=("sh", "bash", "zsh", "shell")),
    Language("json", "JSON", (".json",), ("tree_sitter_json", "language"), quotes=('"',),
             blocks="none", aliases=("jsonc", "json5")),
    Language("yaml", "YAML", (".yaml", ".yml"), ("tree_sitter_yaml", "language"), ("#",),
             blocks="indent", aliases=("yml",)),
    Language("toml", "TOML", (".toml",), ("tree_sitter_toml", "language"), ("#",),
             blocks="none"),
    Language("html", "HTML", (".html", ".htm"), ("tree_sitter_html", "language"),
             block_comments=(("<!--", "-->"),), blocks="tags"),
    Language("css", "CSS", (".css",), ("tree_sitter_css", "language"),
             block_comments=_STARS),
)
"""Every language with a grammar, in the order the README lists them."""

PYTHON = LANGUAGES[0]
"""The language with every check: mypy and the embedded tests run on Python alone."""

PLAIN = Language("plaintext", "plain text", blocks="none", quotes=())
"""A language we know nothing about: language-independent filters only, no syntax gate."""

_BY_ID: Mapping[str, Language] = {
    name: language for language in LANGUAGES for name in (language.id, *language.aliases)
}
_BY_EXTENSION: Mapping[str, Language] = {
    extension: language for language in LANGUAGES for extension in language.extensions
}


def language_for(language_id: str | None, path: str = "") -> Language:
    """The language of a document: its LSP languageId, else its file extension, else PLAIN.

    A languageId we know wins over the extension (a ``.h`` file an editor calls ``cpp`` is
    C++); an unknown one (``plaintext``, a new language) falls back to the extension.
    """
    if language_id:
        known = _BY_ID.get(language_id.lower())
        if known is not None:
            return known
    extension = posixpath.splitext(path.lower())[1]
    return _BY_EXTENSION.get(extension, PLAIN)


def by_id(language_id: str) -> Language | None:
    """The language an id or alias names, None when unknown."""
    return _BY_ID.get(language_id.lower())
