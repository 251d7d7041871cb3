"""complete(request): prompt → generate → post-process → validate → rank, in one visible order."""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from codegen.backends import Backend
from codegen.generate import OnText, SamplingParams
from codegen.postprocess import DEFAULT_FILTERS
from codegen.postprocess.base import Filter, FilterContext
from codegen.postprocess.scope import detect_indent_unit, is_single_line
from codegen.ranking import merge_identical, rank, syntax_ok
from codegen.types import Candidate, CompletionRequest, CompletionResult, Timings
from prompts.templates import FimTemplate, Prompt, PromptFile
from validators import DEFAULT_VALIDATORS, Splice, Validator, Verdict
from validators.base import check_all


@dataclass(frozen=True)
class Pipeline:
    """Everything one completion needs; the same object serves the LSP server and the CLI."""

    backend: Backend
    template: FimTemplate = FimTemplate()
    filters: Sequence[Filter] = DEFAULT_FILTERS
    validators: Sequence[Validator] = DEFAULT_VALIDATORS

    def build_prompt(self, request: CompletionRequest) -> Prompt | None:
        """Render the FIM prompt, or None for backends that take no prompt."""
        if self.backend.tokenizer is None:
            return None
        files = [PromptFile(f.path, f.text) for f in request.context_files]
        return self.template.render(
            self.backend.tokenizer,
            request.prefix,
            request.suffix,
            path=request.path,
            repo_name=request.repo_name,
            context_files=files,
        )

    def complete(
        self,
        request: CompletionRequest,
        cancel: threading.Event | None = None,
        on_text: OnText | None = None,
    ) -> CompletionResult:
        """Run one request through every stage and return the ranked, vetted candidates."""
        cancel = cancel or threading.Event()
        clock = time.perf_counter()
        context = FilterContext(
            request.text,
            request.offset,
            single_line=is_single_line(request.text, request.offset),
            indent_unit=detect_indent_unit(request.text),
        )
        prime(self.validators, request)
        prompt = self.build_prompt(request)
        started_generation = time.perf_counter()
        params = SamplingParams(request.n, request.max_new_tokens, request.temperature)
        generations = self.backend.generate(
            prompt,
            params,
            single_line=context.single_line,
            cancel=cancel,
            on_text=on_text,
            settled=settled_by(context, self.filters),
        )
        if cancel.is_set():
            return CompletionResult(request, (), cancelled=True)
        started_post = time.perf_counter()
        kept, discarded = postprocess(
            [
                Candidate(g.text, g.text, request.offset, g.logprob, g.finish_reason)
                for g in generations
            ],
            context,
            self.filters,
        )
        started_validation = time.perf_counter()
        vetted = validate(merge_identical(kept), request, self.validators)
        shown, rejected = select_shown(vetted)
        discarded += rejected
        done = time.perf_counter()
        timings = Timings(
            prompt=started_generation - clock,
            generate=started_post - started_generation,
            postprocess=started_validation - started_post,
            validate=done - started_validation,
            prompt_tokens=len(prompt.ids) if prompt else 0,
            prompt_sections=tuple(prompt.section_tokens.items()) if prompt else (),
            context_paths=prompt.context_paths if prompt else (),
        )
        return CompletionResult(request, tuple(shown), tuple(discarded), timings)


def prime(validators: Sequence[Validator], request: CompletionRequest) -> None:
    """Let validators that keep state warm up on the document while the model generates."""
    document = Splice(request.text, request.offset, request.offset, "", request.path, request.root)
    for validator in validators:
        warm = getattr(validator, "prime", None)
        if warm is not None:
            warm(document)


def settled_by(context: FilterContext, filters: Sequence[Filter]) -> Callable[[str], bool]:
    """Build the test that tells whether post-processing cut a text's last finished line.

    The test compares the filtered finished lines with and without the last one: when adding the
    line changes nothing, the filters removed it, and they will remove what follows too.
    """

    @functools.lru_cache(maxsize=256)
    def shown(text: str) -> str | None:
        kept, _ = postprocess([Candidate(text, text, context.offset)], context, filters)
        return kept[0].insert if kept else None

    def settled(text: str) -> bool:
        finished = text[: text.rfind("\n")].split("\n")
        if len(finished) < 2 or not finished[-1].strip():
            return False
        now = shown("\n".join(finished))
        return now is not None and now == shown("\n".join(finished[:-1]))

    return settled


def postprocess(
    candidates: Sequence[Candidate], context: FilterContext, filters: Sequence[Filter]
) -> tuple[list[Candidate], list[Candidate]]:
    """Apply the filters in order; return (kept, dropped with a verdict saying which filter)."""
    kept: list[Candidate] = []
    dropped: list[Candidate] = []
    for candidate in candidates:
        current: Candidate | None = candidate
        for step in filters:
            assert current is not None
            result = step(current, context)
            name = getattr(step, "__name__", type(step).__name__)
            if result is None:
                verdict = Verdict("postprocess", False, f"dropped by {name}")
                dropped.append(replace(current, verdicts=(verdict,)))
                current = None
                break
            if result != current:
                result = replace(result, applied=(*current.applied, name))
            current = result
        if current is not None:
            kept.append(current)
    return kept, dropped


def validate(
    candidates: Sequence[Candidate], request: CompletionRequest, validators: Sequence[Validator]
) -> list[Candidate]:
    """Run the validators in order, each on the candidates that passed the ones before it.

    A validator sees all its candidates at once (the sandbox runs them in one go); every
    verdict is attached to its candidate.
    """
    splices = [
        Splice(request.text, request.offset, c.end, c.insert, request.path, request.root)
        for c in candidates
    ]
    verdicts: list[list[Verdict]] = [[] for _ in candidates]
    alive = list(range(len(candidates)))
    for validator in validators:
        if not alive:
            break
        results = check_all(validator, [splices[i] for i in alive])
        for index, verdict in zip(alive, results, strict=True):
            verdicts[index].append(verdict)
        alive = [index for index, verdict in zip(alive, results, strict=True) if verdict.ok]
    return [replace(c, verdicts=tuple(v)) for c, v in zip(candidates, verdicts, strict=True)]


def select_shown(candidates: Sequence[Candidate]) -> tuple[list[Candidate], list[Candidate]]:
    """Split candidates into (shown, ranked best first) and discarded.

    A candidate that breaks the syntax is never shown, and nothing is shown when no
    candidate passes every check that ran; otherwise the rest are ranked by evidence.
    """
    parseable = [c for c in candidates if syntax_ok(c)]
    broken = [c for c in candidates if not syntax_ok(c)]
    if not any(c.passed for c in parseable):
        return [], [*broken, *parseable]
    return rank(parseable), broken
