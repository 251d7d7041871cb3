"""The workspace index beyond Python: definitions as stubs, imports followed, one family."""

from __future__ import annotations

from pathlib import Path

import pytest

from codegen.pipeline import Pipeline
from codegen.runtime.backends import HFTokenizer
from codegen.types import CompletionRequest, ContextFile
from prompts.index import WorkspaceIndex, indexable, outline, related_files

POLYGLOT = Path(__file__).parents[2] / "workspaces" / "polyglot"


def _index() -> tuple[WorkspaceIndex, dict[str, str]]:
    files = {p.relative_to(POLYGLOT).as_posix(): p.read_text() for p in POLYGLOT.rglob("*")
             if p.is_file()}
    index = WorkspaceIndex()
    for path, text in sorted(files.items()):
        index.update(path, text, changed=False)
    index.text_of = files.get
    return index, files


@pytest.mark.parametrize(
    ("path", "source", "stubs", "imports"),
    [
        (  # TypeScript: a doc comment stays, bodies go, an interface keeps its fields
            "src/shapes.ts",
            'import { x } from "./x";\n/** Area. */\nexport function area(s: Shape): number {\n'
            "  return s.w * s.h;\n}\nexport interface Shape {\n  w: number;\n  h: number;\n}\n"
            "export class Box implements Shape {\n  w = 1;\n  h = 2;\n"
            "  scale(by: number): Box {\n    return this;\n  }\n}\n"
            "export const handler = async (req: Request): Promise<number> => {\n"
            "  const local = 1;\n  return local;\n};\n",
            "/** Area. */\nexport function area(s: Shape): number { ... }\n"
            "export interface Shape {\n    w: number;\n    h: number;\n}\n"
            "export class Box implements Shape {\n    w = 1;\n    h = 2;\n"
            "    scale(by: number): Box { ... }\n}\n"
            "export const handler = async (req: Request): Promise<number> => { ... }\n",
            ("./x",),
        ),
        (  # JavaScript: require() counts as an import; a nested function is not listed
            "lib/a.js",
            'const fs = require("fs");\nfunction outer() {\n  function inner() {}\n}\n',
            'const fs = require("fs");\nfunction outer() { ... }\n',
            ("fs",),
        ),
        (  # Go: a method belongs to its receiver's type; consts and types whole
            "server/s.go",
            'package server\n\nimport "example.com/app/util"\n\n// Server serves.\n'
            "type Server struct {\n\tPort int\n}\n\nconst Max = 10\n\n"
            "func (s *Server) Start() error {\n\treturn nil\n}\n",
            "// Server serves.\ntype Server struct {\n\tPort int\n}\nconst Max = 10\n"
            "func (s *Server) Start() error { ... }\n",
            ("example.com/app/util",),
        ),
        (  # Rust: a trait keeps its signatures, an impl shows with its type
            "src/lib.rs",
            "mod util;\nuse crate::a::B;\n/// A point.\npub struct P { pub x: f64 }\n"
            "pub trait Area {\n    fn area(&self) -> f64;\n}\n"
            "impl Area for P {\n    fn area(&self) -> f64 { self.x }\n}\n"
            "pub fn origin() -> P {\n    P { x: 0.0 }\n}\n",
            "/// A point.\npub struct P { pub x: f64 }\npub trait Area {\n"
            "    fn area(&self) -> f64;\n}\nimpl Area for P {\n"
            "    fn area(&self) -> f64 { ... }\n}\npub fn origin() -> P { ... }\n",
            ("util", "crate::a::B"),
        ),
        (  # Java: fields whole, methods and constructors as stubs
            "com/x/Circle.java",
            "package com.x;\nimport com.y.Util;\npublic class Circle {\n"
            "    private double r;\n    public Circle(double r) { this.r = r; }\n"
            "    public double area() {\n        return r * r;\n    }\n}\n",
            "public class Circle {\n    private double r;\n    public Circle(double r) { ... }\n"
            "    public double area() { ... }\n}\n",
            ("com.y.Util",),
        ),
        (  # C: a header's macros, typedefs and prototypes; <system> headers are no file
            "inc/vec.h",
            '#include <stdio.h>\n#include "other.h"\n#define DIM 2\n'
            "typedef struct vec { double x, y; } vec_t;\ndouble vec_len(const vec_t *v);\n"
            "static const int LIMIT = 4;\n",
            "#define DIM 2\ntypedef struct vec { double x, y; } vec_t;\n"
            "double vec_len(const vec_t *v);\nstatic const int LIMIT = 4;\n",
            ("other.h",),
        ),
        (  # C++: a class in a namespace, access labels kept, method bodies gone
            "src/c.cpp",
            "namespace geo {\nclass C {\n public:\n  double area() const { return 1; }\n"
            " private:\n  double r_;\n};\n}\n",
            "class C {\n    public:\n    double area() const { ... }\n    private:\n"
            "    double r_;\n};\n",
            (),
        ),
    ],
)
def test_outline_reads_each_language_as_stubs(
    path: str, source: str, stubs: str, imports: tuple[str, ...]
) -> None:
    found = outline(path, source)
    assert found.render() == stubs
    assert found.imports == imports


def test_only_languages_with_queries_are_indexed() -> None:
    assert [p for p in ("a.py", "a.ts", "a.tsx", "a.go", "a.rs", "a.h", "a.hpp", "A.java",
                        "a.rb", "README.md", "a.json") if indexable(p)] == [
        "a.py", "a.ts", "a.tsx", "a.go", "a.rs", "a.h", "a.hpp", "A.java"]
    index = WorkspaceIndex()
    index.update("README.md", "# area\n")
    assert index.paths == []


@pytest.mark.parametrize(
    ("path", "marker", "expected"),
    [
        # TS: the relative import, whole (small); Python's `area` and legacy.js stay out
        ("web/src/app.ts", "total += ", ["web/src/shapes.ts"]),
        # Go: the package's other file (stubs of Server and listen, the names used)
        ("server/server.go", "s.listen(", ["server/types.go"]),
        # Rust: `mod shapes;` (nothing defined there) and `use crate::shapes::circle::…`
        ("geo/src/main.rs", "c.", ["geo/src/shapes/mod.rs", "geo/src/shapes/circle.rs"]),
        # C: #include "…" relative to the file
        ("native/src/main.c", "vec_\n", ["native/include/vec.h"]),
        # Java: the imported class's file
        ("jvm/com/example/app/Main.java", "c.\n", ["jvm/com/example/shapes/Circle.java"]),
    ],
)
def test_context_is_the_imported_files_of_the_same_language(
    path: str, marker: str, expected: list[str]
) -> None:
    index, files = _index()
    text = files[path]
    found = related_files(index, path, text, text.index(marker) + len(marker))
    assert [p for p, _ in found] == expected
    for other, shown in found:
        if path.endswith(".go"):  # the package's files are not imported: stubs
            assert shown == (
                "// Server accepts connections on Port.\ntype Server struct {\n\tPort int\n}\n"
                "func (s *Server) listen(port int) error { ... }\n")
        else:  # small imported files go in whole
            assert shown == files[other]


def test_names_near_the_cursor_find_definitions_in_the_same_family_only() -> None:
    index, files = _index()
    text = "const p = perimeter(s) + area(s);\n"
    found = related_files(index, "web/src/other.ts", text, len(text) - 1)
    # `area` is defined in shapes.ts and tools/shapes.py: only the TypeScript one is shown;
    # `perimeter` comes from a JavaScript file, which TypeScript imports as well.
    assert found == [
        ("web/src/legacy.js", "export function perimeter(shape) { ... }\n"),
        ("web/src/shapes.ts", "export function area(shape: Shape): number { ... }\n"),
    ]
    python = "x = area(s)\n"
    assert related_files(index, "tools/use.py", python, len(python) - 1) == [
        ("tools/shapes.py", 'def area(shape: dict[str, float]) -> float:\n'
                            '    """Area of a shape read from JSON."""\n    ...\n'),
    ]


def test_a_typescript_prompt_shows_the_imported_definition_not_the_python_one(
    qwen_tokenizer: HFTokenizer,
) -> None:
    index, files = _index()
    path = "web/src/app.ts"
    text = files[path]
    offset = text.index("total += ") + len("total += ")
    context = tuple(related_files(index, path, text, offset))

    class Tokenized:
        tokenizer = qwen_tokenizer

    request = CompletionRequest(text, offset, path=path, language="typescript",
                                context_files=tuple(ContextFile(p, t) for p, t in context))
    prompt = Pipeline(Tokenized()).build_prompt(request)  # type: ignore[arg-type]
    assert prompt is not None
    assert prompt.context_paths == ("web/src/shapes.ts",)
    assert "<|file_sep|>web/src/shapes.ts\n/** A rectangle, in metres. */" in prompt.text
    assert "export function area(shape: Shape): number {" in prompt.text
    assert "def area" not in prompt.text
    assert prompt.text.endswith(f"<|file_sep|>{path}\n<|fim_prefix|>{text[:offset]}"
                                f"<|fim_suffix|>{text[offset:]}<|fim_middle|>")
