"""What the command line prints besides its results: progress for a person, JSON logs."""

from __future__ import annotations

import json
import logging
import sys
from typing import Any


class JsonFormatter(logging.Formatter):
    """Structured logs: one JSON object per record."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as JSON (the exception's traceback as a string field)."""
        entry: dict[str, Any] = {
            "time": self.formatTime(record), "level": record.levelname,
            "logger": record.name, "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def say(message: str) -> None:
    """Progress for a person at a terminal, on stderr so `--json` output stays clean."""
    print(f"vetted: {message}", file=sys.stderr, flush=True)
