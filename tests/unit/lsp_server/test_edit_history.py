"""The recent-edits section follows the `recentEdits` setting."""

from __future__ import annotations

from lsp_server.config import Settings
from lsp_server.edit_history import recent_edits, recorder_of
from lsp_server.setup import create_server
from prompts.languages import PYTHON


def test_edits_reach_the_prompt_only_when_switched_on() -> None:
    for switched_on in (False, True):
        server = create_server(Settings(recent_edits=switched_on))
        recorder = recorder_of(server)
        recorder.opened("file:///w/a.py", "a.py", "x = 1\n\n\n\n\ny = 2\n", "python")
        recorder.changed("file:///w/a.py", "x = 10\n\n\n\n\ny = 2\n")
        recorder.changed("file:///w/a.py", "x = 10\n\n\n\n\ny = 20\n")  # ends the first edit
        found = recent_edits(server, "file:///w/b.py", 0, PYTHON)
        assert bool(found) is switched_on
        if found:
            assert "+x = 10" in found[0].text
