"""The per-workspace mypy daemon: dmypy's server plus a command that checks an unsaved buffer.

Run as a script (``python -P _typecheck_server.py --status-file F -- MYPY_FLAGS``) with the
workspace root as working directory, so mypy finds the workspace's configuration file the way
``mypy`` run there would. It imports nothing but mypy: the script's own folder is kept off
``sys.path`` (``-P``) so that mypy's search for installed packages never sees this project.

Stock dmypy cannot check a buffer that differs from the file on disk: ``--shadow-file`` is part
of the options, so every new mapping restarts the daemon (python/mypy#9309, #11801), and its
file watcher stats the real path, so a changed shadow file goes unnoticed. ``check_overlay``
adds the mapping to the running build and tells the watcher the real path changed; the rest
is dmypy's fine-grained incremental checking, unchanged. The request loop is dmypy's protocol
(a status file naming a socket, JSON frames), so ``dmypy --status-file F status|stop`` work.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
import traceback
from typing import Any

from mypy.dmypy_server import CONNECTION_NAME, Server, process_start_options
from mypy.dmypy_util import receive, send
from mypy.find_sources import InvalidSourceList, create_source_list
from mypy.fswatcher import FileData
from mypy.ipc import IPCException, IPCServer
from mypy.modulefinder import BuildSource

_UNSEEN = FileData(st_mtime=-1.0, st_size=-1, hash="")
"""Watcher data no real file has, so the next check treats the path as changed."""


class Overlays:
    """The one document checked from a shadow file, and a count of edits to other files."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.document: str | None = None
        """Real path of the document read from a shadow file, None before the first check."""
        self.generation = 0
        """Bumped whenever a check finds that a file other than the document changed on
        disk: the client's cached errors of a document are stale once it moved."""

    def check(self, path: str, shadow: str) -> dict[str, object]:
        """Check `path` as if it held the contents of `shadow`; other files come from disk."""
        server = self.server
        path, shadow = os.path.abspath(path), os.path.abspath(shadow)
        previous, self.document = self.document, path
        server.options.shadow_file = [[path, shadow]]
        try:
            sources = create_source_list([path], server.options, server.fscache)
        except InvalidSourceList as err:
            return self._finish({"out": "", "err": str(err), "status": 2})
        if server.fine_grained_manager is None:
            return self._finish(server.check(sources, False, False, 0))
        # The build copied the mapping when it started, remembers per path whether it has
        # a shadow, and its watcher stats only real files: all must look again. A document
        # checked before goes back to its file on disk, not its last candidate.
        manager = server.fine_grained_manager.manager
        manager.shadow_map.clear()
        manager.shadow_map[path] = shadow
        reread = {path} if previous in (None, path) else {path, previous}
        for real in reread:
            manager.shadow_equivalence_map.pop(real, None)
            server.fswatcher.set_file_data(real, _UNSEEN)
        seen = server.fswatcher.dump_file_data()
        response = server.check(sources + self._packages(), False, False, 0)
        if previous not in (None, path):
            # The first update after the document changed can miss the new document's parse
            # error (no errors at all, no blocker: seen with mypy 2.4 after a clean check of
            # the previous document); the next update reports it.
            response = server.check(sources + self._packages(), False, False, 0)
        now = server.fswatcher.dump_file_data()
        if any(now[p] != seen[p] for p in seen.keys() & now.keys() if p not in reread):
            self.generation += 1
        return self._finish(response)

    def _packages(self) -> list[BuildSource]:
        """Every package of the build that some module of it lies in, as a root.

        dmypy's import following keeps what it reaches through imports, but not through
        the package a changed module lies in: a package reached only that way (the
        document's own, when a sibling module changed too) is dropped from the build, and
        a later check that reaches it crashes (KeyError in find_reachable_changed_modules).
        """
        assert self.server.fine_grained_manager is not None
        graph = self.server.fine_grained_manager.graph
        packages = {ancestor for state in graph.values() for ancestor in state.ancestors or []}
        return [
            BuildSource(graph[name].path, name, followed=True)
            for name in sorted(packages)
            if name in graph and graph[name].path
        ]

    def _finish(self, response: dict[str, Any]) -> dict[str, object]:
        """Add what the client needs besides mypy's output."""
        # A parse error (in any file) stops the check, and the errors of the other files
        # are then not reported at all: the client must not read that as "no errors".
        fine_grained = self.server.fine_grained_manager
        blocker = fine_grained is not None and fine_grained.blocking_error is not None
        response["blocked"] = blocker or response.get("status") == 2
        response["generation"] = self.generation
        return response


def _answer(overlays: Overlays, data: dict[str, Any]) -> dict[str, Any]:
    """Run one request; `check_overlay` here, every dmypy command by the server itself."""
    command = data.pop("command", None)
    if not isinstance(command, str):
        return {"error": "No command found in request"}
    if command == "check_overlay":
        return overlays.check(str(data["path"]), str(data["shadow"]))
    data.setdefault("is_tty", False)
    data.setdefault("terminal_width", 0)
    return overlays.server.run_command(command, data)


def serve(server: Server, status_file: str, timeout: int | None) -> None:
    """Answer requests one at a time until `stop`, a crash or `timeout` idle seconds."""
    overlays = Overlays(server)
    ipc = IPCServer(CONNECTION_NAME, timeout)
    # Written whole and then renamed, so a client never reads half a status file.
    with open(status_file + ".tmp", "w") as f:
        json.dump({"pid": os.getpid(), "connection_name": ipc.connection_name}, f)
    os.replace(status_file + ".tmp", status_file)
    serving = True
    try:
        while serving:
            with ipc:
                try:
                    data = receive(ipc)
                except OSError:
                    continue  # a client that hung up before asking anything
                serving = data.get("command") != "stop"
                try:
                    response = _answer(overlays, data)
                except Exception:
                    # The build may be half-updated: report, then exit so the client restarts us.
                    response = {"error": "Daemon crashed!\n" + traceback.format_exc()}
                    serving = False
                response["final"] = True
                try:
                    send(ipc, response)
                except OSError:
                    pass  # the client gave up waiting; the next request is answered as usual
    except IPCException:
        pass  # idle timeout
    finally:
        if os.path.exists(status_file):  # `stop` removed it already
            os.unlink(status_file)
        ipc.cleanup()


def _exit_with_parent(parent: int) -> None:
    """Exit as soon as the process that started this daemon is gone."""
    while True:
        time.sleep(1.0)
        if os.getppid() != parent:
            # The client can no longer stop us; leave no daemon behind it.
            os._exit(0)


def main(argv: list[str]) -> None:
    """Start the daemon in the foreground and serve until `stop` or the idle timeout."""
    parser = argparse.ArgumentParser(prog="vetted-mypy-daemon")
    parser.add_argument("--status-file", required=True)
    parser.add_argument("--parent-pid", type=int, default=0)
    parser.add_argument("--timeout", type=int, default=None, help="idle seconds before exit")
    parser.add_argument("flags", nargs="*", help="mypy flags, after --")
    args = parser.parse_args(argv)
    options = process_start_options(args.flags, allow_sources=False)
    if args.parent_pid:
        threading.Thread(target=_exit_with_parent, args=(args.parent_pid,), daemon=True).start()
    serve(Server(options, args.status_file), args.status_file, args.timeout)
    # Tearing the build down object by object takes a second or more, and nothing of it
    # needs saving: leave at once, so that stopping the daemon is quick.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    main(sys.argv[1:])
