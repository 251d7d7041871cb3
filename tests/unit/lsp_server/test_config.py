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


def test_adapter_folders_keep_their_spelling_both_ways() -> None:
    """Paths are keys here: ``/home/Alice/Shop`` became ``/home/_alice/_shop`` before."""
    adapters = {"/home/Alice/Shop": "/models/Shop_LoRA", "/srv/my_project": "/models/p"}
    settings, errors = parse_settings({"vetted": {"adapters": adapters, "maxNewTokens": 8}})
    assert errors == [] and settings == Settings(adapters=adapters, max_new_tokens=8)
    assert to_wire(settings)["adapters"] == adapters
    assert parse_settings(to_wire(settings)) == (settings, [])


def test_an_infinite_temperature_keeps_the_previous_one() -> None:
    settings, errors = parse_settings({"temperature": float("inf"),
                                       "testGeneration": {"temperature": float("nan")}})
    assert settings == Settings()
    assert [e.split(":")[0] for e in errors] == ["temperature", "testGeneration"]
