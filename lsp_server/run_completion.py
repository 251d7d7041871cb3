"""Run one completion off the event loop, with cancellation that reaches the model."""

from __future__ import annotations

import asyncio
import logging
import os
import posixpath
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from urllib.parse import unquote, urlparse

import attrs
from lsprotocol import types
from pygls.workspace import TextDocument

from codegen.loaded_model import enabled_validators
from codegen.runtime.model import ModelError
from codegen.types import Candidate, CompletionRequest, CompletionResult, ContextFile, Trigger
from lsp_server.convert import from_lsp_request
from lsp_server.documents import document_of
from lsp_server.eagerness import gate_reason
from lsp_server.edit_history import recent_edits
from lsp_server.prefetch import answer
from lsp_server.server import CompletionServer
from prompts.index import family
from prompts.languages import PLAIN, Language, language_for
from validators import Verdict

logger = logging.getLogger(__name__)


def relative_path(ls: CompletionServer, uri: str) -> str:
    """The document's path relative to the workspace root, as the model should see it."""
    path = unquote(urlparse(uri).path)
    root = ls.workspace.root_path
    if root and path.startswith(root.rstrip("/") + "/"):
        return path[len(root.rstrip("/")) + 1 :]
    return path.rsplit("/", 1)[-1] or "untitled.py"


MAX_CONTEXT_FILES = 8
"""Open documents offered to the prompt; its token budget decides how many fit."""


def document_language(language_id: str | None, uri: str) -> Language:
    """A document's language: its languageId, else its path's extension (`language_for`)."""
    return language_for(language_id, unquote(urlparse(uri).path))


def named_path(path: str, language: Language) -> str:
    """`path`, with its language's extension when it has none (an untitled document).

    The prompt names the file, and the name is the model's cue to the language.
    """
    if posixpath.splitext(posixpath.basename(path))[1] or not language.extensions:
        return path
    return path + language.extensions[0]


def open_context(
    ls: CompletionServer, uri: str, language: Language
) -> tuple[ContextFile, ...]:
    """Other open documents of `language`'s family, least recently used first.

    Family: TypeScript, TSX and JavaScript share context, as C and C++ do (`family`); a
    document without a languageId is known by its extension, and a language we do not
    know (`PLAIN`) shares with nothing. The prompt template puts them before the current
    file as repository-level sections and drops the least relevant ones (first) when they
    do not fit its budget.
    """
    if language is PLAIN:
        return ()
    documents = ls.workspace.text_documents
    others = [u for u in ls.recent_documents if u != uri and u in documents]
    kin = family(language)
    files = [
        ContextFile(relative_path(ls, other), documents[other].source)
        for other in others[-MAX_CONTEXT_FILES:]
        if family(document_language(documents[other].language_id, other)) == kin
    ]
    return tuple(files)


def repo_name(ls: CompletionServer) -> str:
    """The workspace's name: its first folder's name, or the root directory's."""
    folders = list(ls.workspace.folders.values())
    if folders:
        return str(folders[0].name)
    root = ls.workspace.root_path or ""
    return root.rstrip("/").rsplit("/", 1)[-1]


async def adapter_for(ls: CompletionServer, path: str) -> str:
    """The LoRA adapter of the innermost configured folder holding `path` ("" = none).

    An adapter the model cannot serve is reported once and left out (the base model
    answers instead). Its files are read and checked in a worker thread, not on the event loop.
    """
    best = ""
    adapter = ""
    for folder, candidate in ls.settings.adapters.items():
        base = os.path.abspath(os.path.expanduser(folder)).rstrip("/") + "/"
        if path.startswith(base) and len(base) > len(best):
            best, adapter = base, candidate
    if not adapter:
        return ""
    backend = ls.service.backend
    if backend is None:
        return ""
    try:
        await asyncio.to_thread(backend.check_adapter, adapter)
    except ModelError as exc:
        ls.notify_once(f"vetted: adapter not used: {exc}")
        return ""
    return adapter


@dataclass(frozen=True)
class Found:
    """An answer at a position of a document, as the features turn it into items."""

    document: TextDocument
    offset: int
    result: CompletionResult
    seconds: float
    """From the request's start to its answer."""


async def complete_at(
    ls: CompletionServer, uri: str, position: types.Position, trigger: Trigger
) -> Found | None:
    """Complete at a position; None when completions are off or no model is ready.

    A prefetched answer for exactly this text and position answers at once; otherwise the
    model runs (`run_live`). What the user rejected here, or the eagerness level holds back,
    is not shown (`held_back`). When the answer has suggestions and the model is idle, the
    one that follows accepting the top suggestion is prefetched.
    """
    settings = ls.settings
    if settings.trigger == "off" or (settings.trigger == "invoked" and trigger == "automatic"):
        return None
    document = document_of(ls.workspace, uri)
    language = document_language(document.language_id, uri)
    path = named_path(relative_path(ls, uri), language)
    request = from_lsp_request(document, position, settings, trigger, path)
    context = open_context(ls, uri, language)
    indexed = ls.workspace_index.context(request.path, request.text, request.offset, language)
    seen = {f.path for f in indexed}
    context = (*[f for f in context if f.path not in seen], *indexed)
    context = (*context, *recent_edits(ls, uri, position.line, language))  # last: nearest the file
    root = ls.workspace.root_path or ""
    adapter = await adapter_for(ls, document.path)
    request = replace(request, context_files=context, repo_name=repo_name(ls), root=root,
                      adapter=adapter)
    switches = attrs.asdict(settings.validators)
    validators = enabled_validators(ls.service.validators, switches)

    def run(request: CompletionRequest, cancel: threading.Event,
            remember: bool = True) -> CompletionResult | None:
        return ls.service.complete(
            request,
            cancel,
            max_prompt_tokens=settings.max_prompt_tokens,
            tests_in_prompt=settings.tests_in_prompt,
            validators=validators,
            tests_budget=settings.validators.tests_budget,
            tests_python=settings.validators.tests_python,
            remember=remember,
        )

    started = time.perf_counter()
    result = await prefetched(ls, uri, request)
    if result is None:
        result = await run_live(ls, request, trigger, run, started)
        if result is None:
            return None
    result = held_back(ls, uri, result, trigger)
    seconds = time.perf_counter() - started
    outcome = "cancelled" if result.cancelled else "shown" if result.items else "suppressed"
    ls.metrics.observe(result, outcome, seconds, trigger)
    ls.recent_latencies.append(seconds)
    logger.info(
        "%d shown, %d discarded, %.0f ms generate (%s)",
        len(result.items),
        len(result.discarded),
        result.timings.generate * 1000,
        result.timings.source,
    )
    if (settings.suggestions.prefetch and result.items and ls.in_flight == 0
            and ls.service.active_generations == 0):
        ls.prefetcher.start(uri, request, result, settings,
                            lambda r, c: run(r, c, remember=False))
    return Found(document, request.offset, result, seconds)


async def prefetched(
    ls: CompletionServer, uri: str, request: CompletionRequest
) -> CompletionResult | None:
    """The prefetched answer to `request` (`lsp_server.prefetch`), adopted as the last one."""
    pending = ls.prefetcher.claim(uri, request, ls.settings)
    if pending is None:
        return None
    result = await answer(pending)
    if result is None:
        return None
    ls.prefetcher.served += 1
    # The answer was made for exactly this text; only its context may be older.
    result = replace(result, request=replace(result.request, context_files=request.context_files),
                     timings=replace(result.timings, source="prefetch"))
    ls.service.adopt(result)
    return result


async def run_live(
    ls: CompletionServer,
    request: CompletionRequest,
    trigger: Trigger,
    run: Callable[[CompletionRequest, threading.Event], CompletionResult | None],
    started: float,
) -> CompletionResult | None:
    """Run the model for `request`, after the gate's pause for an automatic one.

    The pipeline runs in a worker thread. When the client cancels, the awaiting task gets
    `CancelledError` (during the pause the model never starts); setting `cancel` makes the
    model stop within one decode step.
    """
    cancel = threading.Event()
    ls.in_flight += 1
    try:
        pause = ls.level().debounce if trigger == "automatic" else 0.0
        if pause and not ls.service.remembers(request):  # memory answers at once
            await asyncio.sleep(pause)
        result = await asyncio.to_thread(run, request, cancel)
    except asyncio.CancelledError:
        cancel.set()
        logger.info("request at %s:%d cancelled", request.path,
                    request.text.count("\n", 0, request.offset))
        ls.metrics.observe(None, "cancelled", time.perf_counter() - started, trigger)
        raise
    except ModelError as exc:  # the model failed this request (an endpoint down, say)
        logger.error("generation failed: %s", exc)
        ls.notify_once(f"vetted: no suggestion: {exc}")
        ls.metrics.observe(None, "error", time.perf_counter() - started, trigger)
        return None
    finally:
        ls.in_flight -= 1
    if result is None:
        ls.metrics.observe(None, "not_ready", time.perf_counter() - started, trigger)
    return result


def held_back(
    ls: CompletionServer, uri: str, result: CompletionResult, trigger: Trigger
) -> CompletionResult:
    """`result` without what the user rejected here or the eagerness level holds back.

    The level (`lsp_server.eagerness`) speaks for automatic requests only; what is held
    back joins the discarded, with a verdict saying why.
    """
    request = result.request
    level = ls.level() if trigger == "automatic" else None
    shown: list[Candidate] = []
    held: list[Candidate] = []
    for candidate in result.items:
        if ls.signals.is_rejected(uri, request.text, request.offset, candidate):
            reason = "you rejected this suggestion here"
        else:
            reason = gate_reason(candidate, level) if level is not None else ""
        if reason:
            check = "rejected" if reason.startswith("you") else "eagerness"
            verdict = Verdict(check, ok=False, reason=reason)
            held.append(replace(candidate, verdicts=(*candidate.verdicts, verdict)))
        else:
            shown.append(candidate)
    if not held:
        return result
    return replace(result, items=tuple(shown), discarded=(*result.discarded, *held))
