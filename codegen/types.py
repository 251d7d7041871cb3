"""Frozen value types that flow through the completion pipeline."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from codegen.runtime.types import FinishReason as FinishReason
from codegen.runtime.types import Generation as Generation
from prompts.templates import Prompt
from validators.base import Verdict

Trigger = Literal["automatic", "invoked"]


@dataclass(frozen=True)
class ContextFile:
    """Another file shown to the model as repository context."""

    path: str
    """Path relative to the workspace root, as the model sees it."""
    text: str


@dataclass(frozen=True)
class CompletionRequest:
    """One request for completions at a cursor, independent of any protocol."""

    text: str
    """The whole document."""
    offset: int
    """Cursor as an index into `text` (code points)."""
    path: str = "untitled.py"
    """Document path relative to the workspace root."""
    language: str = ""
    """The editor's LSP languageId ("": tell it by the path's extension, as the command
    line and batch files without one do)."""
    context_files: tuple[ContextFile, ...] = ()
    """Other files (open documents), most relevant last."""
    repo_name: str = ""
    """Workspace name, used for repository-level prompts."""
    root: str = ""
    """Workspace root directory (its configuration and tests); empty when unknown."""
    n: int = 1
    """Number of alternatives to sample."""
    max_new_tokens: int = 64
    temperature: float = 0.0
    """0 means greedy for the first candidate; later ones are sampled at `sample_temperature`."""
    trigger: Trigger = "automatic"
    tests: tuple[str, ...] = ()
    """Assert statements that come with the request (batch): run like the workspace's tests."""
    blocked_output: tuple[str, ...] = ()
    """Regular expressions: a suggestion matching one is never shown."""
    adapter: str = ""
    """Folder of the LoRA adapter to complete with ("" = the base model)."""

    def __post_init__(self) -> None:
        """Reject requests the pipeline cannot answer."""
        if not 0 <= self.offset <= len(self.text):
            raise ValueError(f"cursor offset {self.offset} outside document of {len(self.text)}")
        if self.n < 1:
            raise ValueError("n must be at least 1")
        if self.max_new_tokens < 1:
            raise ValueError("max_new_tokens must be at least 1")

    @property
    def prefix(self) -> str:
        """Text before the cursor."""
        return self.text[: self.offset]

    @property
    def suffix(self) -> str:
        """Text after the cursor."""
        return self.text[self.offset :]


@dataclass(frozen=True)
class Candidate:
    """A completion candidate: replace `text[offset:end]` of the document with `insert`."""

    insert: str
    raw: str
    end: int
    """End of the replaced range: the cursor, unless the rest of the line is replaced."""
    logprob: float | None = None
    finish_reason: FinishReason = FinishReason.STOP_TOKEN
    verdicts: tuple[Verdict, ...] = ()
    applied: tuple[str, ...] = field(default=())
    """Names of the post-processing filters that changed this candidate."""
    votes: int = 1
    """How many sampled candidates came out as this same edit (merged into this one)."""
    tokens: int = 0
    """Generated tokens behind `raw` (0 when the backend does not count them)."""
    token_logprobs: tuple[float, ...] = ()
    """Log-probability of each token of `raw`, when the backend keeps them (else empty)."""
    token_ends: tuple[int, ...] = ()
    """Where each token of `raw` ends in it (same length as `token_logprobs`)."""

    @property
    def passed(self) -> bool:
        """True when no validator rejected the candidate."""
        return all(v.ok for v in self.verdicts)


@dataclass(frozen=True)
class Timings:
    """Seconds spent in each stage of one request."""

    prompt: float = 0.0
    generate: float = 0.0
    postprocess: float = 0.0
    validate: float = 0.0
    prompt_tokens: int = 0
    prompt_sections: tuple[tuple[str, int], ...] = ()
    """Tokens per prompt section (context, prefix, suffix, control)."""
    context_paths: tuple[str, ...] = ()
    """Other files that made it into the prompt."""
    test_paths: tuple[str, ...] = ()
    """Of those, the sections holding the function's tests from other files."""
    prefill: float = 0.0
    """Part of `generate` spent reading the prompt (the model's own measure)."""
    first_token: float = 0.0
    """From the start of `generate` to the first generated token."""
    reused_tokens: int = 0
    """Prompt tokens whose keys and values came from the prefix cache."""
    generated_tokens: int = 0
    """Tokens the model generated for the longest alternative."""
    source: str = "model"
    """"model"; "type-through" (answered from an earlier generation the user typed
    into) or "resumed" (an earlier, cancelled generation continued)."""


@dataclass(frozen=True)
class CompletionResult:
    """Ranked, vetted candidates of one request, best first."""

    request: CompletionRequest
    items: tuple[Candidate, ...]
    discarded: tuple[Candidate, ...] = ()
    """Candidates a filter emptied or a validator rejected, with their verdicts."""
    timings: Timings = Timings()
    cancelled: bool = False
    raw: tuple[str, ...] = ()
    """The model's texts before post-processing, in the order it generated them."""
    prompt: Prompt | None = None
    """The prompt the model read (None for replay models and type-through answers)."""
