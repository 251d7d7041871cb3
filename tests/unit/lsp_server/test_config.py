from __future__ import annotations

from lsp_server.config import Settings, ValidatorSettings, parse_settings, to_wire


def test_camel_case_settings_wrapped_or_not() -> None:
    wrapped, errors = parse_settings({"vetted": {"maxNewTokens": 16, "alternatives": 3}})
    bare, _ = parse_settings({"maxNewTokens": 16, "alternatives": 3})
    assert errors == []
    assert wrapped == bare == Settings(max_new_tokens=16, alternatives=3)


def test_invalid_fields_keep_their_previous_value_and_are_reported() -> None:
    base = Settings(model="random:tiny", max_new_tokens=32)
    settings, errors = parse_settings(
        {"maxNewTokens": 100000, "trigger": "sometimes", "alternatives": 2}, base
    )
    assert settings == Settings(model="random:tiny", max_new_tokens=32, alternatives=2)
    assert [e.split(":")[0] for e in errors] == ["maxNewTokens", "trigger"]


def test_nested_validator_switches_merge() -> None:
    settings, errors = parse_settings({"validators": {"syntax": False}, "unknownField": 1})
    assert errors == [] and settings.validators == ValidatorSettings(syntax=False)


def test_non_object_settings() -> None:
    assert parse_settings(None) == (Settings(), [])
    assert parse_settings([]) == (Settings(), [])
    settings, errors = parse_settings("fast")
    assert settings == Settings() and errors == ["settings must be an object, got 'fast'"]


def test_wire_form_is_camel_case() -> None:
    assert to_wire(Settings())["maxNewTokens"] == 64
    assert to_wire(Settings())["validators"] == {
        "syntax": True, "mypy": True, "tests": True, "testsBudget": 2.0, "testsPython": ""
    }
