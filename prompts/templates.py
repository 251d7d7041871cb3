r"""Qwen2.5-Coder fill-in-the-middle prompts, budgeted in real tokens.

Token format from the Qwen2.5-Coder technical report (arXiv 2409.12186, section 3) and
model card: file level ``<|fim_prefix|>P<|fim_suffix|>S<|fim_middle|>``; repository level
``<|repo_name|>R\n<|file_sep|>path\ncontent\n ... <|file_sep|>path\n`` followed by the
file-level FIM of the current file. Only the repository level names the current file, and
its path is the model's one cue to the language: every prompt is repository level except a
Python file's with no other files (`FimTemplate.bare_suffixes`).

Text is encoded piece by piece and the control tokens are inserted as ids, so truncation
can never split a special token and no document text can turn into one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from prompts._chunks import cache_for, split_chunks

FIM_PREFIX = "<|fim_prefix|>"
FIM_MIDDLE = "<|fim_middle|>"
FIM_SUFFIX = "<|fim_suffix|>"
FIM_PAD = "<|fim_pad|>"
REPO_NAME = "<|repo_name|>"
FILE_SEP = "<|file_sep|>"
END_OF_TEXT = "<|endoftext|>"
IM_START = "<|im_start|>"
IM_END = "<|im_end|>"

SPECIAL_TOKEN_IDS: Mapping[str, int] = {
    FIM_PREFIX: 151659,
    FIM_MIDDLE: 151660,
    FIM_SUFFIX: 151661,
    FIM_PAD: 151662,
    REPO_NAME: 151663,
    FILE_SEP: 151664,
    END_OF_TEXT: 151643,
    IM_START: 151644,
    IM_END: 151645,
}
"""Ids in the Qwen2.5 vocabulary (`added_tokens` in Qwen2.5-Coder's tokenizer_config.json)."""

STOP_TOKEN_IDS: frozenset[int] = frozenset(
    {151643, 151645, 151659, 151660, 151661, 151662, 151663, 151664}
)
"""End of text, end of an instruct turn, and every FIM/repo control token."""

_SPECIAL_TEXT = re.compile(r"<\|[a-z_]+\|>")


class Tokenizer(Protocol):
    """The part of a tokenizer that prompts need."""

    def encode(self, text: str) -> list[int]:
        """Return the ids of `text`, without adding any special token."""
        ...

    def token_to_id(self, token: str) -> int | None:
        """Return the id of a single token, or None if the vocabulary lacks it."""
        ...


class SpecialTokenError(ValueError):
    """The tokenizer does not encode Qwen2.5-Coder's control tokens as expected."""


def check_special_tokens(tokenizer: Tokenizer) -> None:
    """Raise `SpecialTokenError` unless every control token is the expected single id."""
    problems = []
    for token, expected in SPECIAL_TOKEN_IDS.items():
        got = tokenizer.token_to_id(token)
        if got != expected:
            problems.append(f"{token} is {got}, expected {expected}")
    if problems:
        raise SpecialTokenError("tokenizer is not a Qwen2.5 tokenizer: " + "; ".join(problems))


def encode_text(tokenizer: Tokenizer, text: str) -> list[int]:
    """Encode document text so that a literal control token in it stays plain text."""
    ids: list[int] = []
    start = 0
    for match in _SPECIAL_TEXT.finditer(text):
        if match.group() not in SPECIAL_TOKEN_IDS and tokenizer.token_to_id(match.group()) is None:
            continue
        # Split after "<" so the added-token matcher cannot see the whole string.
        ids += tokenizer.encode(text[start : match.start() + 1])
        start = match.start() + 1
    ids += tokenizer.encode(text[start:])
    return ids


@dataclass(frozen=True)
class PromptFile:
    """A context file as it enters the prompt."""

    path: str
    text: str


@dataclass(frozen=True)
class Prompt:
    """A rendered prompt: the token ids the model reads, plus what went into them."""

    ids: tuple[int, ...]
    prefix: str
    """The part of the text before the cursor that was kept."""
    suffix: str
    """The part of the text after the cursor that was kept."""
    section_tokens: Mapping[str, int]
    """Tokens spent per section: context, prefix, suffix, control."""
    context_paths: tuple[str, ...] = ()
    """Paths of the other files that fit the budget, in prompt order."""
    path: str = ""
    """The current file's path: prompts of one file replace each other in the KV cache."""

    head: str = ""
    """Text before the FIM part: repository name and the other files, as the ids read."""

    @property
    def text(self) -> str:
        """The whole prompt as text, control tokens spelled out (the ids are what counts)."""
        return f"{self.head}{FIM_PREFIX}{self.prefix}{FIM_SUFFIX}{self.suffix}{FIM_MIDDLE}"


def encode_document(tokenizer: Tokenizer, text: str) -> list[tuple[int, ...]]:
    """Document text as chunks of whole lines (`prompts._chunks`), the ids of each.

    Joined, the ids are exactly `encode_text(tokenizer, text)`; chunks seen before (every
    line but the one being typed) come from a cache.
    """
    return _chunked(tokenizer, text)[1]


def _chunked(tokenizer: Tokenizer, text: str) -> tuple[list[str], list[tuple[int, ...]]]:
    chunks = split_chunks(text)
    cache = cache_for(tokenizer, lambda chunk: encode_text(tokenizer, chunk))
    return chunks, cache.encode(chunks)


def keep_tail(
    tokenizer: Tokenizer, text: str, budget: int, stride: int = 1
) -> tuple[str, list[int]]:
    """Keep the longest run of whole lines at the end of `text` that fits in `budget` tokens.

    When lines must go, the first kept line is one whose index (from the top of `text`) is
    a multiple of `stride` (smaller when the budget keeps few lines): typing at the end
    then keeps the same first line for a while, so a prompt built a keystroke later starts
    with the same tokens. Blank lines just before the first kept line go too.
    """
    chunks, ids = _chunked(tokenizer, text)
    if sum(map(len, ids)) <= budget:
        return text, [i for chunk in ids for i in chunk]
    first, used = len(chunks), 0
    while first > 0 and used + len(ids[first - 1]) <= budget:
        first -= 1
        used += len(ids[first])
    if first == len(chunks) and chunks:  # the cursor's line alone is over budget (minified)
        return _cut(tokenizer, chunks[-1], budget, keep="end")
    if stride > 1 and first < len(chunks):
        starts = _line_numbers(chunks)
        kept_lines = starts[-1] + chunks[-1].count("\n") - starts[first]
        step = max(1, min(stride, kept_lines // 4))  # never give up more than a quarter
        aligned = -(-starts[first] // step) * step
        while first < len(chunks) - 1 and starts[first] < aligned:
            first += 1
    return "".join(chunks[first:]), [i for chunk in ids[first:] for i in chunk]


def keep_head(tokenizer: Tokenizer, text: str, budget: int) -> tuple[str, list[int]]:
    """Keep the longest run of whole lines at the start of `text` that fits in `budget` tokens.

    Blank lines go with the line before them.
    """
    return _head_of(tokenizer, *_chunked(tokenizer, text), budget)


def _head_of(
    tokenizer: Tokenizer, chunks: Sequence[str], ids: Sequence[tuple[int, ...]], budget: int
) -> tuple[str, list[int]]:
    """`keep_head` over a text already split into chunks and encoded."""
    count, used = 0, 0
    while count < len(chunks) and used + len(ids[count]) <= budget:
        used += len(ids[count])
        count += 1
    if count == 0 and chunks and budget > 0:  # the first line alone is over budget
        return _cut(tokenizer, chunks[0], budget, keep="start")
    return "".join(chunks[:count]), [i for chunk in ids[:count] for i in chunk]


def _cut(tokenizer: Tokenizer, line: str, budget: int, keep: Literal["start", "end"],
         ) -> tuple[str, list[int]]:
    """The longest part of one over-long line at its `keep` end that fits in `budget` tokens.

    Cut by characters, for a minified file whose single line holds the cursor: its code
    next to the cursor is worth more than none. Starts from 4 characters per token and
    shrinks by what the encoding says, a few encodings at most.
    """
    size = min(len(line), 4 * budget)
    while size > 0:
        piece = line[:size] if keep == "start" else line[len(line) - size:]
        ids = encode_text(tokenizer, piece)
        if len(ids) <= budget:
            return piece, ids
        size = min(size - 1, size * budget // len(ids))
    return "", []


def _line_numbers(chunks: Sequence[str]) -> list[int]:
    """The 0-based line number at which each chunk starts."""
    numbers, line = [], 0
    for chunk in chunks:
        numbers.append(line)
        line += chunk.count("\n")
    return numbers


@dataclass(frozen=True)
class FimTemplate:
    """Qwen2.5-Coder fill-in-the-middle, file level or repository level."""

    max_prompt_tokens: int = 1536
    """Upper bound on the prompt length in tokens, control tokens included."""
    suffix_share: float = 0.25
    """Share of the current file's budget reserved for text after the cursor."""
    max_suffix_tokens: int = 384
    """Cap on the text after the cursor when the prefix leaves budget unused: in the FIM
    format it follows the prefix, so every keystroke makes the model read it again."""
    context_share: float = 0.35
    """Share of the whole budget offered to other files when there are any."""
    prefix_stride: int = 16
    """When the text before the cursor must be cut, cut it at a multiple of this many lines
    from the top, so the prompts of consecutive keystrokes share their first tokens (and
    the model reuses their cached keys and values)."""
    context_quantum: int = 128
    """The other files' token budget is rounded down to a multiple of this (when four fit),
    so typing in the current file rarely changes how much of them the prompt keeps."""
    bare_suffixes: tuple[str, ...] = (".py", ".pyi", ".pyw")
    """A file ending so, with no other files, gets the file-level format, which names no
    path: for Python the repository format cost the 0.5B 16 points of MBPP pass@1
    (bench/RESULTS.md). Every other file is named, so the model knows its language (a
    ``.ts`` file's first lines read as JavaScript, a ``.h`` file's as C or C++)."""

    def repo_level(self, path: str, context_files: Sequence[PromptFile] = ()) -> bool:
        """Whether the prompt names `path` in Qwen's repository format."""
        return bool(context_files) or not path.lower().endswith(self.bare_suffixes)

    def render(
        self,
        tokenizer: Tokenizer,
        prefix: str,
        suffix: str,
        *,
        path: str = "untitled.py",
        repo_name: str = "",
        context_files: Sequence[PromptFile] = (),
    ) -> Prompt:
        """Build the prompt ids, keeping the lines nearest the cursor within the budget."""
        sid = SPECIAL_TOKEN_IDS
        repo_level = self.repo_level(path, context_files)
        repo_head: list[int] = []
        file_head: list[int] = []
        if repo_level:
            repo_head = [sid[REPO_NAME], *encode_text(tokenizer, f"{repo_name or 'workspace'}\n")]
            file_head = [sid[FILE_SEP], *encode_text(tokenizer, f"{path}\n")]
        control = 3 + len(repo_head) + len(file_head)
        available = self.max_prompt_tokens - control
        if available <= 0:
            raise ValueError(f"max_prompt_tokens={self.max_prompt_tokens} leaves no room for text")
        file_budget = available - int(available * self.context_share) if repo_level else available

        suffix_chunks, suffix_chunk_ids = _chunked(tokenizer, suffix)  # once for all three uses
        suffix_total = sum(map(len, suffix_chunk_ids))
        suffix_text, suffix_ids = _head_of(
            tokenizer, suffix_chunks, suffix_chunk_ids, int(file_budget * self.suffix_share)
        )
        prefix_text, prefix_ids = keep_tail(
            tokenizer, prefix, file_budget - len(suffix_ids), self.prefix_stride
        )
        if len(suffix_ids) < suffix_total:
            # Prefix did not use its share: give the rest back to the suffix.
            spare = max(file_budget - len(prefix_ids), len(suffix_ids))
            cap = max(self.max_suffix_tokens, len(suffix_ids))
            suffix_text, suffix_ids = _head_of(tokenizer, suffix_chunks, suffix_chunk_ids,
                                               min(spare, cap))

        room = available - len(prefix_ids) - len(suffix_ids)
        quantum = self.context_quantum if room >= 4 * self.context_quantum else 1
        context_ids, context_paths, context_text = self._context_ids(
            tokenizer, context_files, room // quantum * quantum
        )
        ids = [
            *repo_head,
            *context_ids,
            *file_head,
            sid[FIM_PREFIX],
            *prefix_ids,
            sid[FIM_SUFFIX],
            *suffix_ids,
            sid[FIM_MIDDLE],
        ]
        assert len(ids) <= self.max_prompt_tokens, (len(ids), self.max_prompt_tokens)
        sections = {
            "context": len(context_ids),
            "prefix": len(prefix_ids),
            "suffix": len(suffix_ids),
            "control": control,
        }
        head = ""
        if repo_level:
            head = f"{REPO_NAME}{repo_name or 'workspace'}\n{context_text}{FILE_SEP}{path}\n"
        return Prompt(tuple(ids), prefix_text, suffix_text, sections, context_paths, path, head)

    def _context_ids(
        self, tokenizer: Tokenizer, files: Sequence[PromptFile], budget: int
    ) -> tuple[list[int], tuple[str, ...], str]:
        """Other files, most relevant nearest the current file; the least relevant dropped.

        Returns their ids, their paths and their text as the prompt spells it.
        """
        chunks: list[list[int]] = []
        paths: list[str] = []
        texts: list[str] = []
        for file in reversed(files):
            head = [SPECIAL_TOKEN_IDS[FILE_SEP], *encode_text(tokenizer, f"{file.path}\n")]
            room = budget - len(head) - 1
            if room <= 0:
                break
            text, ids = keep_head(tokenizer, file.text.rstrip("\n") + "\n", room)
            if not ids:
                break
            chunk = head + ids
            chunks.append(chunk)
            paths.append(file.path)
            texts.append(f"{FILE_SEP}{file.path}\n{text}")
            budget -= len(chunk)
        ids = [tok for chunk in reversed(chunks) for tok in chunk]
        return ids, tuple(reversed(paths)), "".join(reversed(texts))
