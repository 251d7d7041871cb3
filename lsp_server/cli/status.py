"""`vetted status` and `vetted explain`: ask running servers over their observability port.

A server listens only when `observability.port` is set; it notes its port in
``<cache>/servers/<pid>.json``, which is how these commands find it (or give `--port`).
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.request
from typing import Any

from lsp_server.observability import running_servers


def add_parsers(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """The `status` and `explain` subcommands' arguments."""
    for name, text in (("status", "what the running servers are doing"),
                       ("explain", "the last request of a running server, in full")):
        command = sub.add_parser(name, help=text)
        command.add_argument("--port", type=int, default=None,
                             help="the server's observability.port (default: every server)")
        if name == "status":
            command.add_argument("--json", action="store_true", help="print JSON")


def run(args: argparse.Namespace) -> int:
    """Print each server's answer; exit 1 when no server can be reached."""
    ports = [args.port] if args.port else [int(s["port"]) for s in running_servers()]
    if not ports:
        print("vetted: no running server has its observability port on "
              "(set observability.port, or give --port)", file=sys.stderr)
        return 1
    answers = []
    for port in ports:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/{args.command}",
                                        timeout=5) as response:
                answers.append((port, json.loads(response.read())))
        except (urllib.error.URLError, OSError, ValueError) as exc:
            print(f"vetted: no answer on port {port}: {exc}", file=sys.stderr)
    if not answers:
        return 1
    for port, answer in answers:
        if args.command == "explain" or getattr(args, "json", False):
            print(json.dumps(answer, indent=1, ensure_ascii=False))
        else:
            print(_summary(port, answer))
    return 0


def _summary(port: int, status: dict[str, Any]) -> str:
    last = status.get("lastRequest") or {}
    latencies = status.get("recentLatenciesMs") or []
    lines = [
        f"vetted on port {port}: {status['state']}, model {status['model'] or '-'}"
        + (f" on {status['device']}" if status.get("device") else ""),
        f"  indexed files: {status.get('indexedFiles', 0)}; generations running: "
        f"{status.get('activeGenerations', 0)}; accepted: {status.get('accepted', 0)}",
    ]
    if status.get("error"):
        lines.append(f"  error: {status['error']}")
    if latencies:
        ordered = sorted(latencies)
        lines.append(f"  last {len(latencies)} requests: median {ordered[len(ordered) // 2]} ms,"
                     f" latest {latencies[-1]} ms")
    if last:
        lines.append(f"  last request: {last.get('shown', 0)} shown, "
                     f"{last.get('discarded', 0)} discarded, answered by {last.get('source')}")
    for role, engine in (status.get("runtime", {}).get("engines") or {}).items():
        lines.append(f"  {role} engine: {engine['live']} live, {engine['queued']} queued, "
                     f"prefix cache hit rate {engine['prefixHitRate']}")
    return "\n".join(lines)
