"""Secrets in code: found by pattern, kept out of prompts, never shown as a suggestion.

Other files go into the prompt as context; a line of them that holds a detected secret (a
private key block, a cloud or service token, a password or key assigned a literal, a URL
with credentials) is left out, so neither the local model nor a remote endpoint ever reads
it. The same detector, plus the user's own block list, drops suggestions that would write
one. Patterns follow the public formats of each token (AWS ``AKIA…``, GitHub ``ghp_…``,
Slack ``xox?-…``, Google ``AIza…``, Stripe ``sk_live_…``, OpenAI-style ``sk-…``, JWTs); the
assignment rule skips obvious placeholders and values read from the environment.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

_PATTERNS: tuple[tuple[str, str], ...] = (
    ("private key", r"-----BEGIN (?:[A-Z]+ )*PRIVATE KEY(?: BLOCK)?-----"),
    ("AWS access key", r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA)[0-9A-Z]{16}\b"),
    ("GitHub token", r"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,})\b"),
    ("GitLab token", r"\bglpat-[A-Za-z0-9_-]{20,}\b"),
    ("Slack token", r"\bxox[abposr]-[A-Za-z0-9-]{10,}\b"),
    ("Google API key", r"\bAIza[0-9A-Za-z_-]{35}\b"),
    ("Stripe key", r"\b[sr]k_(?:live|test)_[0-9A-Za-z]{16,}\b"),
    ("API key", r"\bsk-(?:ant-|proj-)?[A-Za-z0-9_-]{20,}\b"),
    ("JSON web token", r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"),
    ("URL with a password", r"\b[a-z][a-z0-9+.-]*://[^/\s:@'\"]+:[^/\s:@'\"]+@[^\s'\"]+"),
)
_DETECTORS = tuple((kind, re.compile(pattern)) for kind, pattern in _PATTERNS)

_ASSIGNED = re.compile(
    r"""\b(?P<name>[A-Za-z_][\w.-]*)["']?\]?\s*(?::|=|:=|=>)\s*"""
    r"""(?P<quote>["'])(?P<value>[^"'\n]{6,})(?P=quote)"""
)
_PASSWORD_NAME = re.compile(r"(?i)(?:passw(?:or)?d|passwd|pwd)$")
_KEY_NAME = re.compile(
    r"(?i)(?:secret|token|api[_-]?key|access[_-]?key|private[_-]?key|client[_-]?secret"
    r"|auth(?:orization)?|credentials?)$"
)
_PLACEHOLDER = re.compile(
    r"(?i)^(?:x+|\*+|\.+|changeme|change[_ -]?me|password|secret|token|example|dummy|test\w*"
    r"|fake\w*|placeholder|your[_ -].*|<[^>]*>|\$\{[^}]*\}|\{\{[^}]*\}\}|%\(.*\)s|none|null)$"
)


def _assigned_secret(name: str, value: str) -> bool:
    """Whether a literal assigned to `name` is a secret.

    A password literal always is (passwords are often plain words); a token, key or secret
    only when the value looks random (long, letters and digits, no spaces), so that
    ``STOP_TOKEN = "stop_token"`` or a format string is not taken for one.
    """
    if _PLACEHOLDER.match(value) or value.startswith(("os.", "env")) or "{" in value:
        return False
    if _PASSWORD_NAME.search(name):
        return True
    if not _KEY_NAME.search(name):
        return False
    return (len(value) >= 12 and " " not in value and any(c.isdigit() for c in value)
            and any(c.isalpha() for c in value))


@dataclass(frozen=True)
class Finding:
    """One detected secret."""

    kind: str
    line: int
    """1-based line."""


def find_secrets(text: str) -> list[Finding]:
    """Every line of `text` that holds a secret, with what kind."""
    found: list[Finding] = []
    in_key = False
    for number, line in enumerate(text.splitlines(), 1):
        if in_key:
            found.append(Finding("private key", number))
            in_key = "-----END" not in line
            continue
        kind = _line_secret(line)
        if kind is not None:
            found.append(Finding(kind, number))
            in_key = kind == "private key" and "-----END" not in line
    return found


def _line_secret(line: str) -> str | None:
    for kind, pattern in _DETECTORS:
        if pattern.search(line):
            return kind
    for match in _ASSIGNED.finditer(line):
        if _assigned_secret(match.group("name"), match.group("value").strip()):
            return f"literal {match.group('name').split('.')[-1]}"
    return None


def without_secrets(text: str) -> tuple[str, list[Finding]]:
    """`text` with every line that holds a secret removed, and what was removed."""
    findings = find_secrets(text)
    if not findings:
        return text, []
    drop = {f.line for f in findings}
    lines = text.splitlines(keepends=True)
    kept = "".join(line for number, line in enumerate(lines, 1) if number not in drop)
    return kept, findings


def blocked(text: str, patterns: Sequence[re.Pattern[str]]) -> str | None:
    """Why a suggestion must not be shown: a secret in it, or a user pattern; else None."""
    kind = next((f.kind for f in find_secrets(text)), None)
    if kind is not None:
        return f"it contains a {kind}"
    for pattern in patterns:
        if pattern.search(text):
            return f"it matches the block list ({pattern.pattern})"
    return None
