"""The VS Code extension's settings mirror the server's configuration one to one."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from lsp_server.config import Settings, to_wire

EXTENSION = Path(__file__).parents[3] / "editor-clients" / "vscode"
CLIENT_ONLY = {"enabled", "languages", "server.path", "server.args"}


def flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        if isinstance(value, dict) and value:  # an empty mapping is a setting of its own
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = list(value) if isinstance(value, tuple) else value
    return flat


def test_package_json_declares_every_server_setting_with_its_default() -> None:
    package = json.loads((EXTENSION / "package.json").read_text(encoding="utf-8"))
    properties = package["contributes"]["configuration"]["properties"]
    declared = {key.removeprefix("vetted."): spec["default"] for key, spec in properties.items()}
    server = flatten(to_wire(Settings()))
    assert {k: v for k, v in declared.items() if k not in CLIENT_ONLY} == server


def test_the_extension_sends_exactly_the_server_settings() -> None:
    source = (EXTENSION / "src" / "settings.ts").read_text(encoding="utf-8")
    listed = re.search(r"SERVER_SETTINGS = \[(.*?)\] as const", source, re.DOTALL)
    assert listed is not None
    assert set(re.findall(r'"([\w.]+)"', listed.group(1))) == set(flatten(to_wire(Settings())))
