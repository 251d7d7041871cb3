"""Secrets in code: the one detector for prompts, suggestions and training data.

Other files go into the prompt as context; a line of them that holds a detected secret is
left out (`codegen.pipeline`), so neither the local model nor a remote endpoint reads it. A
suggestion that would write one is not shown (`codegen.postprocess.blocked`, with the user's
own block list). `vetted train data` drops such lines from what it learns from
(`codegen.jobs.train_data`). All three call `find_secrets` here, and only it.

A line holds a secret when it has:

- a token in a public format: private key blocks (PEM, OpenSSH, PGP), AWS ``AKIA…``,
  GitHub ``ghp_…``/``github_pat_…``, GitLab ``glpat-…``, Slack ``xox?-…``, Google ``AIza…``,
  Stripe ``sk_live_…``, OpenAI/Anthropic ``sk-…``, JWTs, a URL with a password;
- credentials in an HTTP header: ``Authorization: Bearer …``/``Basic …`` in a dict, a
  string or a curl line, a bare ``Bearer <token>``, ``curl -u user:password``;
- a literal assigned to a secret's name (``=``, ``:``, a keyword argument, a dict key, a
  ``.env`` line): a password-like name (``password``, ``DB_PASS``) takes any literal that is
  no placeholder, spaces included; a key-like name (``SIGNING_KEY``, ``hmacKey``) takes a
  value that looks random (`looks_random`); a secret or token name (``API_SECRET``,
  ``access_token``) takes one of 12 or more word characters with letters and digits (no
  spaces, dots or slashes: ``"Qwen2.5-Coder-7B"`` is a name), or a random-looking one;
- a ``Password=``/``AccountKey=`` inside a connection string.
  The name is read by its last word, so ``KEY_COLUMN``, ``API_KEY_ENV`` or ``token_count``
  are not secret names.

Not secrets: placeholders (``changeme``, ``<your token>``, ``${API_KEY}``), values read from
the environment or a call (``password = input()``, ``token = tokenizer.encode(text)``),
format strings, a Sentry DSN (its key is public by design), and hashes under their own
names (a sha256 test vector, a lockfile's ``sha256:…``): a digest is published, a key is
not. A hex or base64 literal named ``…_KEY``
is a secret even in a test, where dropping it costs nothing. Not found: a random literal
under a name that says nothing (``x = "…"``), a secret split over lines. Measured in
``bench/secrets.py``.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

_FORMATS: tuple[tuple[str, str], ...] = (
    ("private key", r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"),
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
_DETECTORS = tuple((kind, re.compile(pattern)) for kind, pattern in _FORMATS)

_CREDENTIAL = r"(?P<credential>[A-Za-z0-9._~+/-]{8,}=*)"
_HEADERS = (
    # After ``Authorization:`` (a dict, a header string, a curl -H): any scheme.
    re.compile(r"""(?i)\bauthorization\b["']?\s*[:=]\s*["']?\s*"""
               rf"(?P<scheme>bearer|basic|token|digest)\s+{_CREDENTIAL}"),
    # Alone (``"Bearer " + …`` is not, ``"Bearer 4f9a…"`` is): the two common schemes.
    re.compile(rf"\b(?P<scheme>Bearer|Basic)\s+{_CREDENTIAL}"),
)
_CONNECTION_STRING = re.compile(
    r"(?i)(?:^|[;\"'\s])(?:password|pwd|accountkey|sharedaccesskey)=(?P<value>[^;\"'\s{}]{4,})"
)
"""A password or key inside a connection string (``Server=…;Password=…;``)."""
_CURL_USER = re.compile(r"""\bcurl\b.*\s(?:-u|--user)[\s=]+["']?[^\s:"'$]+:[^\s"'$]{3,}""")

_ASSIGNED = re.compile(
    r"""\b(?P<name>[A-Za-z_][\w.-]*)["']?\]?\s*(?::|=|:=|=>)\s*"""
    r"""(?P<quote>["'])(?P<value>[^"'\n]{6,})(?P=quote)"""
)
_DOTENV = re.compile(r"""^(?:export\s+)?(?P<name>[A-Za-z_][\w.-]*)=(?P<value>[^\s"'#]{12,})\s*$""")
"""``NAME=value`` at the start of a line (``.env``, shell): Python puts spaces round ``=``."""

_PASSWORD_WORDS = frozenset({"password", "passwd", "pwd", "pass", "passphrase", "dbpassword"})
_SECRET_WORDS = frozenset({
    "secret", "secrets", "token", "credential", "credentials", "auth", "authorization",
    "apikey", "accesskey", "privatekey", "secretkey", "clientsecret", "authtoken",
})
_SECRET_PAIRS = frozenset({("api", "key"), ("access", "key"), ("private", "key"),
                           ("secret", "key"), ("client", "secret"), ("auth", "key")})
_PLACEHOLDER = re.compile(
    r"(?i)^(?:x+|\*+|\.+|changeme|change[_ -]?me|password|secret|token|example|dummy|test\w*"
    r"|fake\w*|placeholder|your[_ -].*|<[^>]*>|\$\{[^}]*\}|\{\{[^}]*\}\}|%\(.*\)s|none|null"
    r"|redacted|hidden|todo|fixme|\w*here)$"
)
_RANDOM_CHARACTERS = re.compile(r"[A-Za-z0-9+/]+=*|[A-Za-z0-9_-]+=*")
"""One base64 alphabet, standard or url-safe (a path or a version mixes ``/``, ``.``, ``-``)."""


def looks_random(value: str) -> bool:
    """Whether a literal looks like generated key material rather than a word or a name.

    Hex of 16 characters or more with at least 2.5 bits of entropy per character (so not
    ``0b0b0b…``), or 20 or more characters of one base64 alphabet mixing at least two of lower
    case, upper case and digits with at least 3.5 bits per character (an identifier such as
    ``OPENAI_API_KEY`` or ``user_profile_cache`` has one class or too little entropy).
    """
    if not _RANDOM_CHARACTERS.fullmatch(value):
        return False
    if re.fullmatch(r"[0-9a-fA-F]{16,}", value):
        return _entropy(value.lower()) >= 2.5
    classes = sum(bool(re.search(c, value)) for c in ("[a-z]", "[A-Z]", "[0-9]"))
    return len(value) >= 20 and classes >= 2 and _entropy(value) >= 3.5


def _entropy(value: str) -> float:
    """Shannon entropy in bits per character."""
    counts = Counter(value)
    return -sum(n / len(value) * math.log2(n / len(value)) for n in counts.values())


def _name_words(name: str) -> list[str]:
    """Lower-case words of the last part of a name: ``cfg.signingKey`` → signing, key."""
    last = re.split(r"[.\[\]]", name.strip("'\""))[-1] or name
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", last)
    return [word for word in re.split(r"[_\-\s]+", spaced.lower()) if word]


def _assigned_secret(name: str, value: str) -> bool:
    """Whether a literal assigned to `name` is a secret (see the module docstring)."""
    if _PLACEHOLDER.match(value) or value.startswith(("os.", "env")) or "{" in value:
        return False
    words = _name_words(name)
    if not words:
        return False
    last, pair = words[-1], tuple(words[-2:])
    if last in _PASSWORD_WORDS or last.endswith("password"):
        return True
    if last in _SECRET_WORDS or pair in _SECRET_PAIRS:
        return (len(value) >= 12 and re.fullmatch(r"[\w-]+", value) is not None
                and any(c.isdigit() for c in value) and any(c.isalpha() for c in value)
                ) or looks_random(value)
    if last == "key" or last.endswith(("key", "secret", "token")):
        return looks_random(value)
    return False


def _credential(value: str) -> bool:
    """Whether the credential of an HTTP header is a real one, not ``YOUR_TOKEN_HERE``."""
    classes = sum(bool(re.search(c, value)) for c in ("[a-z]", "[A-Z]", "[0-9]"))
    return classes >= 2 and not _PLACEHOLDER.match(value)


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
        kind = line_secret(line)
        if kind is not None:
            found.append(Finding(kind, number))
            in_key = kind == "private key" and "-----END" not in line
    return found


def line_secret(line: str) -> str | None:
    """What kind of secret one line holds, or None."""
    for kind, pattern in _DETECTORS:
        if pattern.search(line):
            return kind
    for header in _HEADERS:
        for match in header.finditer(line):
            if _credential(match.group("credential")):
                return f"{match.group('scheme').capitalize()} credential"
    if _CURL_USER.search(line):
        return "curl password"
    for match in _CONNECTION_STRING.finditer(line):
        if not _PLACEHOLDER.match(match.group("value")):
            return "connection string password"
    for match in _ASSIGNED.finditer(line):
        if _assigned_secret(match.group("name"), match.group("value").strip()):
            return f"literal {match.group('name').split('.')[-1]}"
    dotenv = _DOTENV.match(line)
    if dotenv and _assigned_secret(dotenv.group("name"), dotenv.group("value")):
        return f"literal {dotenv.group('name')}"
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
