"""The server's workspace index: the watcher's file events, plus the editor's unsaved edits.

Started on `initialized` for the workspace root (`features/lifecycle.py`); edits of open
documents are indexed after a short pause in typing (`features/documents.py`), on a timer
thread, so neither ever delays a request. Requests read `context` for the prompt's
repository section.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

from codegen.types import ContextFile
from codegen.watch import WorkspaceWatcher
from prompts.index import WorkspaceIndex, related_files
from prompts.languages import Language

logger = logging.getLogger(__name__)

EDIT_PAUSE_SECONDS = 0.5


class ServerIndex:
    """One workspace's index and watcher, and the open documents' pending edits."""

    def __init__(self) -> None:
        """Nothing indexed until `start`."""
        self.index = WorkspaceIndex()
        self.watcher: WorkspaceWatcher | None = None
        self._edits: dict[str, str] = {}
        self._timer: threading.Timer | None = None
        self._lock = threading.Lock()

    def start(self, root: str, open_text: Callable[[str], str | None]) -> None:
        """Index `root` in the background and follow it; `open_text` reads unsaved text."""
        self.stop()
        if not root or not Path(root).is_dir():
            return
        self.index = WorkspaceIndex()
        watcher = WorkspaceWatcher(root, self.index)

        def text_of(relative: str) -> str | None:
            unsaved = open_text(relative)
            if unsaved is not None:
                return unsaved
            try:
                return (watcher.root / relative).read_text(encoding="utf-8", errors="replace")
            except OSError:
                return None

        self.index.text_of = text_of
        self.watcher = watcher
        watcher.start()

    def stop(self) -> None:
        """Stop the watcher and any pending edit; the prompt gets no indexed context."""
        if self.watcher is not None:
            self.watcher.stop()
            self.watcher = None
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()

    def edited(self, relative: str, text: str) -> None:
        """An open document changed: index its text once typing pauses."""
        with self._lock:
            self._edits[relative] = text
            if self._timer is not None:
                self._timer.cancel()
            self._timer = threading.Timer(EDIT_PAUSE_SECONDS, self._apply)
            self._timer.daemon = True
            self._timer.start()

    def _apply(self) -> None:
        with self._lock:
            edits, self._edits = self._edits, {}
        for relative, text in edits.items():
            try:
                self.index.update(relative, text)
            except Exception:  # noqa: BLE001 - a file the parser chokes on stays as it was
                logger.exception("indexing %s failed", relative)

    def context(
        self, path: str, text: str, offset: int, language: Language | None = None
    ) -> list[ContextFile]:
        """Other files of the document's language family from the index, least relevant first."""
        if self.watcher is None:
            return []
        try:
            found = related_files(self.index, path, text, offset, language=language)
            return [ContextFile(p, t) for p, t in found]
        except Exception:  # noqa: BLE001 - context is a help; the request goes on without it
            logger.exception("reading the workspace index failed")
            return []
