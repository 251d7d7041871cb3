"""How eager the server is to speak: a score from the user's recent actions, and a gate.

Each suggestion the user saw ends in one action (`lsp_server.signals`): accepted, partially
accepted, rejected (dismissed, or typed over with different text) or ignored. Their values,
the most recent weighted most (`score`), give a number between 0 and 1; few actions leave it
near the neutral prior. `level_for` turns the `suggestions.eagerness` setting and that score
into a `Level`: how confident a suggestion must be, how long it may be, and how long an
automatic request waits before the model starts.

The gate speaks only for automatic requests: a suggestion the user asked for (invoked) is
always shown when it is vetted. A suggestion whose tests ran and passed is shown whatever its
confidence: a passing test says more than the model's own certainty.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from codegen.types import Candidate

Action = Literal["accepted", "partial", "rejected", "ignored"]

VALUES: dict[Action, float] = {"accepted": 1.0, "partial": 0.5, "rejected": 0.0, "ignored": 0.2}
"""What each action says of the suggestions' usefulness; a partial accept also earns half
the fraction it took (`action_value`). Ignoring is a weak no: the user may not have looked."""

PRIOR = 0.3
"""The score with no data: published acceptance rates of inline assistants are about a
quarter to a third of the suggestions shown, so a user at that rate is an ordinary one."""
PRIOR_WEIGHT = 4.0
"""How many actions the prior counts as: the score leaves it only after several actions."""
HALF_LIFE = 10.0
"""Actions back at which an action weighs half as much as the latest one."""

SUBTLE_BELOW = 0.15
"""`auto` turns subtle below this score (about one accept in eight, recently)."""
EAGER_ABOVE = 0.5
"""`auto` turns eager above this score (half the recent suggestions taken)."""


@dataclass(frozen=True)
class Level:
    """What an automatic suggestion must be to be shown, and when the model starts."""

    name: Literal["eager", "normal", "subtle"]
    min_confidence: float | None
    """Mean log-probability per generated token a suggestion needs; None: any."""
    max_lines: int | None
    """Lines a suggestion may have; None: any."""
    debounce: float
    """Seconds an automatic request waits before the model starts (a keystroke meanwhile
    cancels it, and the model never runs)."""


EAGER = Level("eager", None, None, 0.0)
NORMAL = Level("normal", -1.5, None, 0.0)
SUBTLE = Level("subtle", -0.5, 1, 0.3)
LEVELS = {level.name: level for level in (EAGER, NORMAL, SUBTLE)}


def action_value(action: Action, fraction: float = 0.0) -> float:
    """The value of one action; `fraction` is how much of a partial accept was taken."""
    if action == "partial":
        return VALUES["partial"] + 0.5 * min(max(fraction, 0.0), 1.0)
    return VALUES[action]


def score(values: Sequence[float]) -> float:
    """Recency-weighted mean of action values (oldest first), pulled towards `PRIOR`."""
    total = PRIOR * PRIOR_WEIGHT
    weight = PRIOR_WEIGHT
    for age, value in enumerate(reversed(values)):
        w = 0.5 ** (age / HALF_LIFE)
        total += w * value
        weight += w
    return total / weight


def level_for(eagerness: str, current: float) -> Level:
    """The level the setting asks for; `auto` picks it from the score."""
    if eagerness == "eager":
        return EAGER
    if eagerness == "subtle":
        return SUBTLE
    if current < SUBTLE_BELOW:
        return SUBTLE
    if current > EAGER_ABOVE:
        return EAGER
    return NORMAL


CHARS_PER_TOKEN = 3.5
"""For backends that do not count tokens (replay, some endpoints): a rough code average."""


def confidence(candidate: Candidate) -> float | None:
    """Mean log-probability per generated token; None when the backend gave none."""
    if candidate.logprob is None:
        return None
    tokens = candidate.tokens or max(1.0, len(candidate.raw) / CHARS_PER_TOKEN)
    return candidate.logprob / tokens


def tests_passed(candidate: Candidate) -> bool:
    """Whether tests ran on the candidate and all of them passed."""
    return any(v.check == "tests" and v.ran and v.ok and v.total for v in candidate.verdicts)


def gate_reason(candidate: Candidate, level: Level) -> str:
    """Why `level` holds the candidate back; empty when it may be shown."""
    lines = candidate.insert.rstrip("\n").count("\n") + 1
    if level.max_lines is not None and lines > level.max_lines:
        return f"{lines} lines, {level.name} suggestions have at most {level.max_lines}"
    sure = confidence(candidate)
    if level.min_confidence is None or sure is None or tests_passed(candidate):
        return ""
    if sure < level.min_confidence:
        return (f"confidence {sure:.2f} per token, {level.name} suggestions need "
                f"{level.min_confidence:.2f}")
    return ""
