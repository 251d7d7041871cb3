"""Keep a `WorkspaceIndex` current: one scan at start, then watchdog's file events.

Events (created, modified, moved, deleted) are collected and applied after a short quiet
spell, so a save that touches a file three times, or a branch checkout that touches
hundreds, is indexed once per file. `.git`, virtualenvs, caches, build output and whatever
the workspace's `.gitignore` names are left out, as are files too large or unreadable.
Everything runs on the watcher's threads; a completion never waits for it.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pathspec
from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

from prompts.index import MAX_FILE_BYTES, WorkspaceIndex, indexable

logger = logging.getLogger(__name__)

SKIPPED_DIRS = frozenset({
    ".git", ".hg", ".svn", ".venv", "venv", "env", ".env", "__pycache__", "node_modules",
    "site-packages", "build", "dist", ".tox", ".nox", ".mypy_cache", ".pytest_cache",
    ".ruff_cache", ".eggs", ".idea", ".vscode",
})
MAX_FILES = 20000
"""Most files indexed in one workspace."""
DEBOUNCE_SECONDS = 0.3


class WorkspaceWatcher:
    """Index a workspace folder and follow its changes until `stop`."""

    def __init__(self, root: str, index: WorkspaceIndex) -> None:
        """Prepare to watch `root`; nothing runs before `start`."""
        self.root = Path(root).resolve()
        self.index = index
        self._ignore = gitignore_of(self.root)
        self._pending: dict[str, str] = {}
        """Relative path → "update" or "remove", waiting for the quiet spell."""
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None
        self._observer: Observer | None = None  # type: ignore[valid-type]
        self.ready = threading.Event()
        """Set once the first scan is done."""

    def start(self) -> None:
        """Scan in the background, then watch."""
        threading.Thread(target=self._scan, name="vetted-index", daemon=True).start()

    def stop(self) -> None:
        """Stop watching."""
        observer = self._observer
        if observer is not None:
            observer.stop()
            observer.join(timeout=5)
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()

    def _scan(self) -> None:
        try:
            for path in self._files():
                self._index(path, changed=False)
            observer = Observer()
            observer.schedule(_Handler(self), str(self.root), recursive=True)
            observer.daemon = True
            observer.start()
            self._observer = observer
        except Exception:  # noqa: BLE001 - indexing is a help, never a failure
            logger.exception("indexing %s failed", self.root)
        finally:
            self.ready.set()

    def _files(self) -> Iterator[Path]:
        count = 0
        for directory, subdirs, names in os.walk(self.root):
            base = Path(directory)
            subdirs[:] = sorted(d for d in subdirs if not self._skipped(base / d, folder=True))
            for name in sorted(names):
                path = base / name
                if indexable(name) and not self._skipped(path, folder=False):
                    count += 1
                    if count > MAX_FILES:
                        logger.warning("indexing stopped at %d files", MAX_FILES)
                        return
                    yield path

    def _skipped(self, path: Path, *, folder: bool) -> bool:
        try:
            relative = path.relative_to(self.root)
        except ValueError:
            return True
        if any(part in SKIPPED_DIRS or part.endswith(".egg-info") for part in relative.parts):
            return True
        text = relative.as_posix() + ("/" if folder else "")
        return bool(self._ignore and self._ignore.match_file(text))

    def _index(self, path: Path, *, changed: bool = True) -> None:
        relative = path.relative_to(self.root).as_posix()
        try:
            if path.stat().st_size > MAX_FILE_BYTES:
                self.index.remove(relative)
                return
            self.index.update(
                relative, path.read_text(encoding="utf-8", errors="replace"), changed=changed
            )
        except OSError:
            self.index.remove(relative)  # gone or unreadable: nothing to show of it

    def changed(self, source: str, destination: str | None, deleted: bool) -> None:
        """Note an event (called on watchdog's thread); apply after the quiet spell."""
        with self._lock:
            targets = [(source, deleted or destination is not None), (destination, False)]
            if destination is not None and Path(destination).is_dir():  # a folder moved in
                targets += [(str(p), False) for p in Path(destination).rglob("*")
                            if indexable(p.name)]
            for raw, gone in targets:
                if raw is None:
                    continue
                path = Path(raw)
                if not indexable(path.name) and not gone:
                    continue
                if self._skipped(path, folder=False):
                    continue
                self._pending[path.relative_to(self.root).as_posix()] = (
                    "remove" if gone else "update")
            if self._timer is not None:
                self._timer.cancel()
            self._timer = threading.Timer(DEBOUNCE_SECONDS, self._apply)
            self._timer.daemon = True
            self._timer.start()

    def _apply(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, {}
        for relative, action in pending.items():
            if action == "remove":
                self.index.remove(relative)
            else:
                self._index(self.root / relative)


class _Handler(FileSystemEventHandler):
    def __init__(self, watcher: WorkspaceWatcher) -> None:
        self.watcher = watcher

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type not in ("created", "modified", "moved", "deleted", "closed"):
            return
        destination = getattr(event, "dest_path", None) or None
        self.watcher.changed(
            _str(event.src_path), _str(destination) if destination else None,
            event.event_type == "deleted",
        )


def _str(path: str | bytes) -> str:
    return path.decode() if isinstance(path, bytes) else path


def gitignore_of(root: Path) -> pathspec.PathSpec[Any] | None:
    """The patterns of the folder's .gitignore, or None without one."""
    try:
        lines = (root / ".gitignore").read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return None
    return pathspec.PathSpec.from_lines("gitignore", lines)
