"""Drop a suggestion that would write a secret or something on the user's block list.

The last filter, on the text that would be shown: a detected secret (`prompts.secrets`: a
key, a token, a password literal) or a match of one of the `blockedOutput` patterns.
"""

from __future__ import annotations

from codegen.postprocess.base import FilterContext
from codegen.types import Candidate
from prompts.secrets import blocked


def drop_blocked(candidate: Candidate, context: FilterContext) -> Candidate | None:
    """Return None for a candidate that writes a secret or matches the block list."""
    if blocked(candidate.insert, context.blocked) is not None:
        return None
    return candidate
