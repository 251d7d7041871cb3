"""What clients tell of the suggestions they show: shown, partially accepted, dismissed.

Notifications (the first two as Copilot's language server names them), each naming the
inline item as the server sent it (its id is in ``item.command.arguments[0].id``):

* ``textDocument/didShowCompletion`` ``{"item": ...}``: this alternative is on screen;
* ``textDocument/didPartiallyAcceptCompletion`` ``{"item": ..., "acceptedLength": N}``: the
  first N UTF-16 units of the item's text are in the document (accept next word or line);
* ``vetted/didDismissCompletion`` ``{"item": ...}``: the user dismissed it: it is not
  offered at that place again.

A whole accept is the item's own command (`features/accept.py`); typing over a suggestion
and ignoring it the server reads from the document's changes (`lsp_server.signals`). A
notification that names no known item is logged and dropped: a client must not break
the server with it.
"""

from __future__ import annotations

import logging
from typing import Any

from lsp_server.server import CompletionServer

logger = logging.getLogger(__name__)

DID_SHOW = "textDocument/didShowCompletion"
DID_PARTIALLY_ACCEPT = "textDocument/didPartiallyAcceptCompletion"
DID_DISMISS = "vetted/didDismissCompletion"


def register(server: CompletionServer) -> None:
    """Register the notifications."""

    @server.feature(DID_SHOW)
    def did_show(ls: CompletionServer, params: Any) -> None:
        item_id = item_id_of(params)
        if item_id:
            ls.signals.shown(item_id)

    @server.feature(DID_PARTIALLY_ACCEPT)
    def did_partially_accept(ls: CompletionServer, params: Any) -> None:
        item_id = item_id_of(params)
        length = field_of(params, "acceptedLength")
        if not item_id or not isinstance(length, int) or isinstance(length, bool) or length < 0:
            logger.warning("%s without an item id and a length: %r", DID_PARTIALLY_ACCEPT,
                           _plain(params))
            return
        ls.signals.partially_accepted(item_id, length)

    @server.feature(DID_DISMISS)
    def did_dismiss(ls: CompletionServer, params: Any) -> None:
        item_id = item_id_of(params)
        if item_id:
            ls.signals.dismissed(item_id)


def item_id_of(params: Any) -> str:
    """The item id a notification names (``item.command.arguments[0].id``); "" if none."""
    item = field_of(params, "item")
    command = field_of(item, "command")
    arguments = field_of(command, "arguments")
    first = arguments[0] if isinstance(arguments, list | tuple) and arguments else None
    item_id = field_of(first, "id")
    if not isinstance(item_id, str) or not item_id:
        logger.warning("suggestion notification names no item: %r", _plain(params))
        return ""
    return item_id


def field_of(value: Any, name: str) -> Any:
    """`value[name]` for the dicts, namedtuples and objects pygls hands custom methods."""
    value = _plain(value)
    return value.get(name) if isinstance(value, dict) else None


def _plain(value: Any) -> Any:
    if hasattr(value, "_asdict"):
        return dict(value._asdict())
    if isinstance(value, dict):
        return value
    return getattr(value, "__dict__", value)
