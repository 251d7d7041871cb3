"""Settings: one typed tree, camelCase on the wire through one converter, defaults on bad input."""

from __future__ import annotations

import math
import re
from typing import Any, Literal, TypeGuard, get_type_hints

import attrs
import cattrs

Trigger = Literal["automatic", "invoked", "off"]
Dtype = Literal["auto", "bfloat16", "float16", "float32"]


@attrs.frozen
class ValidatorSettings:
    """Which checks run on every candidate."""

    syntax: bool = True
    """Reject candidates that add syntax errors (tree-sitter and `ast`)."""
    mypy: bool = True
    """Rank down candidates that add mypy errors (the workspace's mypy configuration)."""
    tests: bool = True
    """Run the function's docstring examples and workspace tests in a sandbox."""
    tests_budget: float = attrs.field(
        default=2.0, validator=[attrs.validators.ge(0.1), attrs.validators.le(60.0)]
    )
    """Seconds the tests of one request may take, all candidates together; a candidate not
    tested by then is shown as "tests not run", never as failing."""
    tests_python: str = ""
    """Interpreter the tests run under (relative to the workspace root, or absolute); empty:
    the workspace's `.venv`/`venv` when it has one, else /usr/bin/python3."""


def _finite(instance: object, attribute: object, value: float) -> None:
    if not math.isfinite(value):
        raise ValueError(f"{value!r} is not a finite number")


def _regexes(instance: object, attribute: object, value: tuple[str, ...]) -> None:
    for pattern in value:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"{pattern!r} is not a regular expression: {exc}") from exc


@attrs.frozen
class RuntimeSettings:
    """How the local model runs (changing any of these reloads it)."""

    compile: Literal["auto", "on", "off"] = "auto"
    """Compiled decoding (CUDA graphs on GPUs): "auto" = on GPUs, not on CPUs."""
    quantize: Literal["auto", "int4", "int8", "off"] = "auto"
    """Decoding weights: "auto" = int4 on a CPU (about 3× faster per token than bf16) and
    the model's own precision on a GPU; "int4", "int8" or "off"."""
    slots: int = attrs.field(default=0, validator=attrs.validators.in_(range(0, 257)))
    """Sequences decoded together at most (all requests and alternatives); 0 = 64 on a GPU,
    8 on a CPU."""
    prefix_cache_mb: int = attrs.field(default=512, validator=attrs.validators.in_(range(65537)))
    """Memory for prompt keys and values reused between keystrokes; 0 turns reuse off."""
    speculate_tokens: int = attrs.field(default=4, validator=attrs.validators.in_(range(1, 17)))
    """Tokens the draft model proposes per speculative round."""


@attrs.frozen
class TestGenerationSettings:
    """How "Generate unit tests" asks the model (it uses `model`, the larger one)."""

    samples: int = attrs.field(default=4, validator=attrs.validators.in_(range(1, 17)))
    """Answers sampled per round."""
    rounds: int = attrs.field(default=3, validator=attrs.validators.in_(range(1, 11)))
    """Rounds at most; later rounds ask for what is still not covered."""
    max_new_tokens: int = attrs.field(default=768, validator=attrs.validators.in_(range(64, 4097)))
    """Upper bound on the tokens of one answer."""
    temperature: float = attrs.field(default=0.7, validator=[attrs.validators.ge(0.0), _finite])
    """Sampling temperature of the answers (0: the first one greedy)."""
    python: str = ""
    """Interpreter the tests run with, so they can import the project's dependencies: the
    project's virtualenv's `bin/python`; empty = the system `python3` (standard library)."""


@attrs.frozen
class RemoteSettings:
    """How an ``openai:URL`` model (an OpenAI-compatible server such as vLLM) is reached."""

    api_key: str = ""
    """Sent as ``Authorization: Bearer <key>``; empty sends none."""
    timeout_seconds: float = attrs.field(default=30.0, validator=attrs.validators.gt(0.0))
    """Connect and read timeout of one request."""
    retries: int = attrs.field(default=2, validator=attrs.validators.in_(range(0, 11)))
    """Further attempts after a refused connection, a timeout or a server error."""


@attrs.frozen
class ObservabilitySettings:
    """Metrics, status and explanations for people running the server."""

    port: int = attrs.field(default=0, validator=attrs.validators.in_(range(0, 65536)))
    """Serve /metrics (Prometheus), /status and /explain on 127.0.0.1:port; 0 = off."""
    log_prompts: bool = False
    """Keep the last prompt's text for /explain and `vetted explain` (it holds your code)."""


@attrs.frozen
class TrainingSettings:
    """What the server keeps for `vetted train data`."""

    log_completions: bool = False
    """Log shown and accepted suggestions locally (``~/.cache/vetted/completions/``)."""


Eagerness = Literal["auto", "eager", "subtle"]


@attrs.frozen
class SuggestionSettings:
    """When the server speaks: how eager it is, and what it prepares ahead."""

    eagerness: Eagerness = "auto"
    """"auto": learn from what you accept and reject in this workspace (quieter after
    rejections, bolder after acceptances); "eager": show every vetted suggestion at once;
    "subtle": only confident one-line suggestions, after a pause."""
    prefetch: bool = True
    """While a suggestion is shown and the model is idle, prepare the one that follows its
    acceptance, so it appears the moment you accept."""


@attrs.frozen
class Settings:
    """What a client can configure (`initializationOptions`, `didChangeConfiguration`)."""

    model: str = ""
    """Model spec: hub id, directory, .gguf, pypi:..., random:tiny, replay:FILE; empty = default."""
    device: str = "auto"
    """"auto" (GPU when available), "cpu", "cuda" or "cuda:N"."""
    dtype: Dtype = "auto"
    """Weight precision: "auto" (bf16 on GPUs and bf16-capable CPUs, else fp32), "bfloat16",
    "float16" or "float32"."""
    max_new_tokens: int = attrs.field(default=64, validator=attrs.validators.in_(range(1, 2049)))
    """Upper bound on generated tokens per candidate."""
    max_prompt_tokens: int = attrs.field(
        default=1536, validator=attrs.validators.in_(range(64, 32769))
    )
    """Prompt budget in tokens (context, prefix and suffix together)."""
    tests_in_prompt: bool = True
    """Show the model the tests other files have for the function at the cursor, when the
    prompt has other files already (see bench/RESULTS.md)."""
    alternatives: int = attrs.field(default=4, validator=attrs.validators.in_(range(1, 17)))
    """Number of candidates sampled per request (one batched pass sharing the prompt)."""
    temperature: float = attrs.field(default=0.0, validator=[attrs.validators.ge(0.0), _finite])
    """0 = the first candidate is greedy."""
    trigger: Trigger = "automatic"
    """"automatic": complete as you type; "invoked": only when asked; "off": never."""
    validators: ValidatorSettings = ValidatorSettings()
    """Per-validator switches."""
    automatic_model: str = ""
    """Model spec for automatic (as-you-type) requests; empty = `model`. A small model here
    keeps typing fast while invoked requests use `model`."""
    speculative: bool = True
    """Let `automaticModel` draft tokens for `model` (speculative decoding of greedy
    requests decoded alone; only where it measures faster)."""
    runtime: RuntimeSettings = RuntimeSettings()
    """Engine settings: compilation, slots, prefix cache, speculation length."""
    test_generation: TestGenerationSettings = TestGenerationSettings()
    """"Generate unit tests": samples, rounds, answer length, temperature."""
    adapters: dict[str, str] = attrs.field(factory=dict)
    """LoRA adapters by workspace folder: ``{"/path/to/project": "/path/to/adapter"}``. A
    document uses the adapter of the innermost folder holding it; a change takes effect for
    the next request, without reloading the model."""
    training: TrainingSettings = TrainingSettings()
    """Opt-in logging of suggestions for training an adapter."""
    workspace_index: bool = True
    """Index the workspace's Python files (read at startup) so the prompt shows the
    definitions the code near the cursor uses and the files it imports."""
    recent_edits: bool = False
    """Show the model the last edits of open documents of the file's language family, as a
    diff section nearest the file (a quarter of the prompt at most; the edit being typed at
    the cursor and lines holding a secret left out). Off by default: on this project's own
    history it gained nothing with the 0.5B model (bench/RESULTS.md)."""
    remote: RemoteSettings = RemoteSettings()
    """For ``openai:URL`` models: authentication, timeout, retries."""
    observability: ObservabilitySettings = ObservabilitySettings()
    """The local metrics/status/explain port and whether prompts are kept."""
    suggestions: SuggestionSettings = SuggestionSettings()
    """Eagerness (adaptive by default) and prefetching after an accept."""
    blocked_output: tuple[str, ...] = attrs.field(default=(), validator=_regexes)
    """Regular expressions (Python syntax): a suggestion matching one is never shown.
    Detected secrets (keys, tokens, password literals) are always blocked."""


_converter = cattrs.Converter(forbid_extra_keys=False)


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _keys_to_snake(value: Any, tree: type = Settings) -> Any:
    """Snake-case the keys that name fields of `tree`, nested; other keys are user data.

    The `adapters` mapping's keys are folders: ``/home/Alice/Shop`` stays as it is.
    """
    if not isinstance(value, dict):
        return value
    fields = get_type_hints(tree)
    snake = {}
    for key, item in value.items():
        name = _snake(str(key))
        kind = fields.get(name)
        snake[name] = _keys_to_snake(item, kind) if _is_tree(kind) else item
    return snake


def _keys_to_camel(value: Any, tree: type = Settings) -> Any:
    """Camel-case the field names of `tree` in its unstructured form, nested; user keys stay."""
    fields = get_type_hints(tree)
    return {_camel(name): _keys_to_camel(item, kind) if _is_tree(kind := fields[name])
            else item for name, item in value.items()}


def _is_tree(kind: Any) -> TypeGuard[type]:
    """Tell whether a field's type is a section of settings (not a value or user mapping)."""
    return isinstance(kind, type) and attrs.has(kind)


def parse_settings(raw: object, base: Settings | None = None) -> tuple[Settings, list[str]]:
    """Merge client settings over `base`; return the settings and a message per rejected field.

    Accepts the settings object itself or one wrapped as ``{"vetted": {...}}``. A field with a
    bad value keeps its previous value; unknown fields are ignored.
    """
    current = base or Settings()
    if raw is None or raw == []:  # Lua sends an empty table as []
        return current, []
    if not isinstance(raw, dict):
        return current, [f"settings must be an object, got {raw!r}"]
    if isinstance(raw.get("vetted"), dict):
        raw = raw["vetted"]
    assert isinstance(raw, dict)
    data = _keys_to_snake(raw)
    errors: list[str] = []
    merged = _converter.unstructure(current)
    sections = get_type_hints(Settings)
    for field in attrs.fields(Settings):
        if field.name not in data:
            continue
        candidate = dict(merged)
        value = data[field.name]
        if _is_tree(sections.get(field.name)) and isinstance(value, dict):
            value = {**merged[field.name], **value}
        candidate[field.name] = value
        try:
            _converter.structure(candidate, Settings)
        except Exception as exc:  # noqa: BLE001 - cattrs raises grouped errors
            errors.append(f"{_camel(field.name)}: invalid value {data[field.name]!r} ({exc})")
            continue
        merged = candidate
    return _converter.structure(merged, Settings), errors


def to_wire(settings: Settings) -> dict[str, Any]:
    """Settings as the client spells them (camelCase)."""
    result = _keys_to_camel(_converter.unstructure(settings))
    assert isinstance(result, dict)
    return result
