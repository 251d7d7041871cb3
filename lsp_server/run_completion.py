"""Run one completion off the event loop, with cancellation that reaches the model."""

from __future__ import annotations

import asyncio
import logging
import os
import posixpath
import threading
import time
from dataclasses import replace
from urllib.parse import unquote, urlparse

import attrs
from lsprotocol import types
from pygls.workspace import TextDocument

from codegen.loaded_model import enabled_validators
from codegen.runtime.model import ModelError
from codegen.types import CompletionResult, ContextFile, Trigger
from lsp_server.convert import from_lsp_request
from lsp_server.documents import document_of
from lsp_server.server import CompletionServer
from prompts.index import family
from prompts.languages import PLAIN, Language, language_for

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


async def complete_at(
    ls: CompletionServer, uri: str, position: types.Position, trigger: Trigger
) -> tuple[TextDocument, int, CompletionResult] | None:
    """Complete at a position; None when completions are off or no model is ready.

    The pipeline runs in a worker thread. When the client cancels, the awaiting task gets
    `CancelledError`; setting `cancel` makes the model stop within one decode step.
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
    root = ls.workspace.root_path or ""
    adapter = await adapter_for(ls, document.path)
    request = replace(request, context_files=context, repo_name=repo_name(ls), root=root,
                      adapter=adapter)
    switches = attrs.asdict(settings.validators)
    validators = enabled_validators(ls.service.validators, switches)
    cancel = threading.Event()
    started = time.perf_counter()
    try:
        result = await asyncio.to_thread(
            ls.service.complete,
            request,
            cancel,
            max_prompt_tokens=settings.max_prompt_tokens,
            tests_in_prompt=settings.tests_in_prompt,
            validators=validators,
            tests_budget=settings.validators.tests_budget,
            tests_python=settings.validators.tests_python,
        )
    except asyncio.CancelledError:
        cancel.set()
        logger.info("request at %s:%s cancelled", uri, position.line)
        ls.metrics.observe(None, "cancelled", time.perf_counter() - started, trigger)
        raise
    except ModelError as exc:  # the model failed this request (an endpoint down, say)
        logger.error("generation failed: %s", exc)
        ls.notify_once(f"vetted: no suggestion: {exc}")
        ls.metrics.observe(None, "error", time.perf_counter() - started, trigger)
        return None
    seconds = time.perf_counter() - started
    if result is None:
        ls.metrics.observe(None, "not_ready", seconds, trigger)
        return None
    outcome = "cancelled" if result.cancelled else "shown" if result.items else "suppressed"
    ls.metrics.observe(result, outcome, seconds, trigger)
    ls.recent_latencies.append(seconds)
    logger.info(
        "%d shown, %d discarded, %.0f ms generate",
        len(result.items),
        len(result.discarded),
        result.timings.generate * 1000,
    )
    return document, request.offset, result
