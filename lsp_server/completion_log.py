"""The local log of suggestions shown and accepted, for `vetted train data` (opt-in).

With `training.logCompletions` on, each shown inline suggestion is appended (its file's
workspace path, the text around the cursor, the suggestion) to
``<cache>/completions/<workspace hash>.jsonl``, and so is each acceptance (the
`vetted.accepted` command names the item) and what became of the others (partly accepted,
rejected, ignored: `lsp_server.signals`). Nothing leaves the machine; `vetted train data
REPO --completions FILE` turns the accepted ones into training examples.
"""

from __future__ import annotations

import hashlib
import json
import threading
from pathlib import Path
from typing import Any

from codegen.runtime.model import default_cache_dir

PREFIX_CHARS = 4000
SUFFIX_CHARS = 2000


def log_path(root: str) -> Path:
    """The log file of a workspace."""
    digest = hashlib.sha256(root.encode()).hexdigest()[:16]
    return default_cache_dir() / "completions" / f"{digest}.jsonl"


class CompletionLog:
    """Appends events to a workspace's log; safe from several threads."""

    def __init__(self) -> None:
        """Nothing is written until an event comes."""
        self._lock = threading.Lock()

    def shown(self, root: str, item_id: str, path: str, prefix: str, suffix: str,
              text: str) -> None:
        """A suggestion was shown."""
        self._write(root, {"event": "shown", "id": item_id, "path": path,
                           "prefix": prefix[-PREFIX_CHARS:], "suffix": suffix[:SUFFIX_CHARS],
                           "text": text})

    def accepted(self, root: str, item_id: str) -> None:
        """The user accepted a suggestion."""
        self._write(root, {"event": "accepted", "id": item_id})

    def ended(self, root: str, item_id: str, action: str, fraction: float) -> None:
        """What became of a suggestion: accepted, partial (`fraction` taken), rejected, ignored."""
        self._write(root, {"event": action, "id": item_id, "fraction": round(fraction, 3)})

    def _write(self, root: str, event: dict[str, Any]) -> None:
        path = log_path(root)
        with self._lock:
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("a", encoding="utf-8") as handle:
                handle.write(json.dumps(event, ensure_ascii=False) + "\n")
