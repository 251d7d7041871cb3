"""Tree-sitter queries that find what a file defines and imports, per language.

Captures, as in tree-sitter's ``tags.scm`` files (https://tree-sitter.github.io/tree-sitter/
4-code-navigation.html), but only definitions: ``@function``, ``@class`` (a body whose
members are shown, methods as stubs), ``@type`` (shown whole: a struct's fields, a type
alias), ``@constant``, ``@method`` (a Go method, with its receiver's type as ``@owner``),
``@impl`` (a Rust ``impl`` block, ``@name`` being its type), each with its ``@name``. A
definition counts only where every node above it is in `OutlineSpec.scopes` (top level,
``export``, a namespace), so locals and nested functions stay out.

``@import`` captures the text naming another file: a JS/TS module specifier, a Go import
path, a Rust ``mod``/``use`` path, a C/C++ ``#include "..."``, a Java import.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class OutlineSpec:
    """How one language's definitions and imports are found."""

    definitions: str
    """Query capturing definitions (see the module docstring)."""
    scopes: frozenset[str]
    """Node types a counted definition may sit in: the root, ``export``, namespaces."""
    imports: str = ""
    """Query capturing ``@import`` specifiers (strings keep their quotes, stripped later)."""


_JS_COMMON = """
(function_declaration name: (identifier) @name) @function
(generator_function_declaration name: (identifier) @name) @function
(lexical_declaration (variable_declarator name: (identifier) @name)) @constant
(variable_declaration (variable_declarator name: (identifier) @name)) @constant
"""

_JS_IMPORTS = """
(import_statement source: (string) @import)
(export_statement source: (string) @import)
(call_expression function: (identifier) @_require arguments: (arguments . (string) @import)
  (#eq? @_require "require"))
(call_expression function: (import) arguments: (arguments . (string) @import))
"""

_JS_SCOPES = frozenset({"program", "export_statement"})

JAVASCRIPT = OutlineSpec(
    _JS_COMMON + "(class_declaration name: (identifier) @name) @class\n",
    _JS_SCOPES,
    _JS_IMPORTS,
)

TYPESCRIPT = OutlineSpec(
    _JS_COMMON
    + """
(function_signature name: (identifier) @name) @function
(class_declaration name: (type_identifier) @name) @class
(abstract_class_declaration name: (type_identifier) @name) @class
(interface_declaration name: (type_identifier) @name) @class
(enum_declaration name: (identifier) @name) @type
(type_alias_declaration name: (type_identifier) @name) @type
""",
    _JS_SCOPES | {"ambient_declaration"},
    _JS_IMPORTS,
)

GO = OutlineSpec(
    """
(function_declaration name: (identifier) @name) @function
(method_declaration
  receiver: (parameter_list (parameter_declaration type: [
    (type_identifier) @owner
    (pointer_type (type_identifier) @owner)
    (generic_type type: (type_identifier) @owner)
    (pointer_type (generic_type type: (type_identifier) @owner))]))
  name: (field_identifier) @name) @method
(type_declaration (type_spec name: (type_identifier) @name)) @type
(type_declaration (type_alias name: (type_identifier) @name)) @type
(const_declaration (const_spec name: (identifier) @name)) @constant
(var_declaration (var_spec name: (identifier) @name)) @constant
""",
    frozenset({"source_file"}),
    "(import_spec path: (interpreted_string_literal) @import)",
)

RUST = OutlineSpec(
    """
(function_item name: (identifier) @name) @function
(function_signature_item name: (identifier) @name) @function
(struct_item name: (type_identifier) @name) @type
(enum_item name: (type_identifier) @name) @type
(union_item name: (type_identifier) @name) @type
(type_item name: (type_identifier) @name) @type
(trait_item name: (type_identifier) @name) @class
(const_item name: (identifier) @name) @constant
(static_item name: (identifier) @name) @constant
(impl_item type: [(type_identifier) @name (generic_type type: (type_identifier) @name)]) @impl
""",
    frozenset({"source_file", "mod_item", "declaration_list"}),
    """
(mod_item name: (identifier) @import !body)
(use_declaration argument: (_) @import)
""",
)

JAVA = OutlineSpec(
    """
(class_declaration name: (identifier) @name) @class
(interface_declaration name: (identifier) @name) @class
(enum_declaration name: (identifier) @name) @class
(record_declaration name: (identifier) @name) @class
(annotation_type_declaration name: (identifier) @name) @class
""",
    frozenset({"program"}),
    "(import_declaration (scoped_identifier) @import)",
)

_C_FUNCTIONS = """
(function_definition declarator: (function_declarator declarator: (_) @name)) @function
(function_definition declarator: (pointer_declarator
  declarator: (function_declarator declarator: (_) @name))) @function
(declaration declarator: (function_declarator declarator: (_) @name)) @function
(declaration declarator: (pointer_declarator
  declarator: (function_declarator declarator: (_) @name))) @function
(declaration (type_qualifier) declarator: (init_declarator declarator: (identifier) @name))
  @constant
(enum_specifier name: (type_identifier) @name body: (enumerator_list)) @type
(type_definition declarator: (type_identifier) @name) @type
(preproc_def name: (identifier) @name) @constant
(preproc_function_def name: (identifier) @name) @constant
"""

_C_SCOPES = frozenset({
    "translation_unit", "preproc_ifdef", "preproc_if", "preproc_else", "preproc_elif",
    "linkage_specification", "declaration_list",
})

_C_IMPORTS = "(preproc_include path: (string_literal) @import)"

C = OutlineSpec(
    _C_FUNCTIONS
    + "(struct_specifier name: (type_identifier) @name body: (field_declaration_list)) @type\n"
    + "(union_specifier name: (type_identifier) @name body: (field_declaration_list)) @type\n",
    _C_SCOPES,
    _C_IMPORTS,
)

CPP = OutlineSpec(
    _C_FUNCTIONS
    + """
(struct_specifier name: (type_identifier) @name body: (field_declaration_list)) @class
(class_specifier name: (type_identifier) @name body: (field_declaration_list)) @class
(union_specifier name: (type_identifier) @name body: (field_declaration_list)) @type
(alias_declaration name: (type_identifier) @name) @type
""",
    _C_SCOPES | {"namespace_definition", "template_declaration"},
    _C_IMPORTS,
)

SPECS: Mapping[str, OutlineSpec] = {
    "javascript": JAVASCRIPT,
    "typescript": TYPESCRIPT,
    "typescriptreact": TYPESCRIPT,
    "go": GO,
    "rust": RUST,
    "java": JAVA,
    "c": C,
    "cpp": CPP,
}
"""Languages (LSP languageId) whose files the workspace index outlines, besides Python."""
