"""Speculative decoding: a small draft model proposes tokens, the large model checks them at once.

Greedy only, so the output is exactly the large model's greedy output: the large model
reads its newest token plus k proposed ones in one forward, and every proposed token that
equals its own argmax is accepted (Leviathan et al. 2023, "Fast Inference from
Transformers via Speculative Decoding", with the greedy acceptance rule). At batch 1 a
decode step is bound by reading the weights, so checking k + 1 tokens costs about as much
as one; the round pays off when the draft is cheap and often right. `SpeculationGate`
keeps it on only while it does.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import torch

from codegen.runtime.forward import SlotModel
from codegen.runtime.kv import SlotCache, common_prefix

if TYPE_CHECKING:
    from codegen.runtime.decoder import Decoder
    from codegen.runtime.sequences import Seq, Stats

CHUNK = 512
"""Longest run of tokens the draft reads in one forward when it catches up."""


class Draft:
    """The draft model and the one sequence it follows (slot 0 of its own cache)."""

    def __init__(self, forward: SlotModel, capacity: int, tokens: int) -> None:
        """Allocate the draft's cache; `tokens` is how many it proposes per round."""
        if tokens < 1:
            raise ValueError("the draft must propose at least one token")
        self.forward = forward
        self.tokens = tokens
        self.cache = SlotCache(forward.kv_shape, 1, capacity)
        forward.rope_table(capacity)
        self.ids: list[int] = []
        """Tokens whose keys and values slot 0 holds, in order."""

    def grow(self, capacity: int) -> None:
        """Make room for longer sequences."""
        self.cache.grow(capacity)
        self.forward.rope_table(capacity)

    def propose(self, fed: Sequence[int], newest: int, count: int) -> list[int]:
        """Propose `count` greedy tokens after `fed` + `newest`.

        What the draft already read of the same tokens (the previous round, the previous
        request of the same document) is reused; the rest is read first.
        """
        if count <= 0:
            return []
        context = [*fed, newest]
        start = min(common_prefix(self.ids, context), len(context) - 1)
        logits = self._feed(context[start:], start)
        self.ids = context
        proposals: list[int] = []
        while True:
            token = int(logits.argmax())
            proposals.append(token)
            if len(proposals) == count:
                return proposals
            logits = self._feed([token], len(self.ids))
            self.ids.append(token)

    def settle(self, fed: Sequence[int]) -> None:
        """Forget what the large model did not keep (rejected proposals)."""
        del self.ids[common_prefix(self.ids, fed) :]

    def _feed(self, tokens: Sequence[int], start: int) -> torch.Tensor:
        """Read tokens at positions start.. and return the logits [V] after the last."""
        self.grow(start + len(tokens) + 1)
        logits = torch.empty(0)
        device = self.forward.device
        for offset in range(0, len(tokens), CHUNK):
            chunk = list(tokens[offset : offset + CHUNK])
            at = start + offset
            ids = torch.tensor([chunk], device=device)
            positions = torch.arange(at, at + len(chunk), device=device)[None]
            pick = torch.tensor([len(chunk) - 1], device=device)
            logits = self.forward.forward(
                self.cache.tensors, ids, positions, pick, 0, at + len(chunk), exact=True
            )[0, 0]
        return logits


Advance = Callable[["Seq", int, float], bool]
"""Adds a token (and its log-probability) to a sequence; tells whether it goes on."""


def speculate_round(
    seq: Seq, draft: Draft, decoder: Decoder, stats: Stats, advance: Advance
) -> tuple[int, bool]:
    """One round for a lone greedy sequence: (tokens emitted, whether it goes on).

    The sequence's next token comes from its logits; the draft proposes up to k more; the
    large model reads the next token and the proposals in one forward and keeps every
    proposal that equals its own argmax, plus its own token after the last one kept.
    """
    assert seq.logits is not None
    token = int(seq.logits.argmax())
    if not advance(seq, token, float(torch.log_softmax(seq.logits, dim=-1)[token])):
        return 1, False
    room = seq.job.params.max_new_tokens - len(seq.generated)
    proposal = draft.propose(seq.fed, seq.generated[-1], min(draft.tokens, room))
    fed = [seq.generated[-1], *proposal]
    logits = decoder.verify(seq.slot, fed, seq.length, seq.job.adapter_slot)  # [k + 1, V]
    greedy = logits.argmax(dim=-1).tolist()
    accepted = 0
    while accepted < len(proposal) and proposal[accepted] == greedy[accepted]:
        accepted += 1
    stats.proposed_tokens += len(proposal)
    stats.accepted_tokens += accepted
    logprobs = torch.log_softmax(logits, dim=-1)
    emitted, alive = 0, True
    seq.length += 1  # the newest token is in the cache now
    for i in range(accepted):
        seq.logits = logits[i]
        alive = advance(seq, proposal[i], float(logprobs[i, proposal[i]]))
        emitted += 1
        if not alive:
            break
        seq.length += 1
    seq.logits = logits[accepted if alive else emitted - 1]
    draft.settle(seq.fed)
    stats.speculative_rounds += 1
    stats.speculative_tokens += emitted + 1
    return emitted + 1, alive


class SpeculationGate:
    """Keeps speculation on while it emits tokens faster than plain decoding at batch 1.

    Both rates are running averages of seconds per token. When speculation is slower it is
    switched off for `retry_after` plain tokens, then tried again (the text may have become
    easier to predict).
    """

    def __init__(self, retry_after: int = 64, smoothing: float = 0.3, warm_up: int = 3) -> None:
        """Start by timing `warm_up` plain steps, then speculate and compare."""
        self.retry_after = retry_after
        self.smoothing = smoothing
        self.warm_up = warm_up
        self.speculative: float | None = None
        self.plain: float | None = None
        self._plain_steps = 0
        self._closed_for = 0

    def open(self) -> bool:
        """Tell whether the next round should speculate."""
        if self._closed_for > 0 or self._plain_steps < self.warm_up:
            return False
        if self.speculative is None or self.plain is None:
            return True
        return self.speculative <= self.plain

    def record(self, tokens: int, seconds: float) -> None:
        """A speculative round emitted `tokens` in `seconds`."""
        self.speculative = self._mix(self.speculative, seconds / max(tokens, 1))
        if self.plain is not None and self.speculative > self.plain:
            self._closed_for = self.retry_after

    def record_plain(self, seconds: float) -> None:
        """A plain decode step of a lone sequence took `seconds`."""
        self.plain = self._mix(self.plain, seconds)
        self._plain_steps += 1
        if self._closed_for > 0:
            self._closed_for -= 1
            if self._closed_for == 0:
                self.speculative = None  # measure afresh

    def _mix(self, old: float | None, new: float) -> float:
        return new if old is None else (1 - self.smoothing) * old + self.smoothing * new
