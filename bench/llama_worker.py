"""llama.cpp (llama-cpp-python) behind a line protocol, for `bench.latency`'s side-by-side runs.

Runs in the benchmark-only environment (``bash bench/llama_env.sh``), never in the
product's. Reads one JSON request per line on stdin and answers one JSON line on stdout:

* ``{"load": PATH, "threads": N, "context": C}`` → ``{"ok": true}``
* ``{"ids": [...], "new_tokens": K, "forced": bool, "stop_ids": [...], "reset": bool}``
  → ``{"tokens": [...], "first_s": s, "total_s": s, "reused": n}``: greedy decoding of the
  prompt token ids. The worker keeps the previous prompt's keys and values and re-reads
  only what follows the longest common prefix (what llama-server's prompt cache and
  llama.vim rely on); ``reset`` forgets them. Without ``forced``, decoding stops at a
  token of ``stop_ids`` or once a line with content is finished (the single-line rule of
  an inline client, as `codegen.runtime.stopping.StopAtNewline`).
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any


def main() -> int:
    """Serve requests until stdin closes."""
    from llama_cpp import Llama

    model: Any = None
    for line in sys.stdin:
        request = json.loads(line)
        if "load" in request:
            model = Llama(
                model_path=request["load"], n_ctx=request["context"],
                n_threads=request["threads"], n_threads_batch=request["threads"],
                n_batch=512, verbose=False,
            )
            answer: dict[str, Any] = {"ok": True}
        else:
            answer = generate(model, request)
        print(json.dumps(answer), flush=True)
    return 0


def generate(model: Any, request: dict[str, Any]) -> dict[str, Any]:
    """Greedy tokens for one prompt, with the prompt cache llama-cpp-python keeps."""
    ids: list[int] = request["ids"]
    if request.get("reset"):
        model.reset()
    previous = list(model.input_ids[: model.n_tokens])
    reused = 0
    while reused < min(len(previous), len(ids) - 1) and previous[reused] == ids[reused]:
        reused += 1
    stops = set(request.get("stop_ids", []))
    started = time.perf_counter()
    model.n_tokens = reused  # keep the shared prefix's keys and values, read the rest
    model.eval(ids[reused:])
    first = 0.0
    tokens: list[int] = []
    text = b""
    while len(tokens) < request["new_tokens"]:
        token = int(model.sample(temp=0.0))
        tokens.append(token)
        if not first:
            first = time.perf_counter() - started
        if not request.get("forced"):
            if token in stops:
                break
            text += model.detokenize([token])
            head, newline, _ = text.partition(b"\n")
            if newline and head.strip():
                break
        model.eval([token])
    return {"tokens": tokens, "first_s": first, "total_s": time.perf_counter() - started,
            "reused": reused}


if __name__ == "__main__":
    sys.exit(main())
