"""complete(request): prompt → generate → post-process → validate → rank, in one visible order."""

from __future__ import annotations

import functools
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from codegen.postprocess import DEFAULT_FILTERS
from codegen.postprocess.base import Filter, FilterContext
from codegen.postprocess.indentation import shift_to_block
from codegen.postprocess.scope import completion_scope, detect_indent_unit, inserts_line_above
from codegen.ranking import merge_identical, rank, syntax_ok
from codegen.runtime.backends import Backend
from codegen.runtime.call import GenerateCall, OnTiming, Resume
from codegen.runtime.generate import OnText, SamplingParams
from codegen.runtime.sequences import Timing
from codegen.types import Candidate, CompletionRequest, CompletionResult, Generation, Timings
from codegen.typethrough import Continuation, Entry, TypeThrough
from prompts.context import prompt_test_sections
from prompts.languages import PYTHON, Language, language_for
from prompts.secrets import without_secrets
from prompts.templates import FimTemplate, Prompt, PromptFile
from validators import DEFAULT_VALIDATORS, Splice, Validator, Verdict
from validators.base import RunControl, check_all
from validators.embedded import REQUEST_TESTS, WorkspaceTestFiles


@dataclass(frozen=True)
class Recording:
    """One request's place in the type-through memory, passed between the stages."""

    memory: TypeThrough
    entry: Entry
    """The request's own entry: its prompt, and what its generations stream into."""
    continuation: Continuation | None
    """An earlier suggestion the user typed into, which may answer this request."""


@dataclass(frozen=True)
class Pipeline:
    """Everything one completion needs; the same object serves the LSP server and the CLI."""

    backend: Backend
    template: FimTemplate = FimTemplate()
    filters: Sequence[Filter] = DEFAULT_FILTERS
    validators: Sequence[Validator] = DEFAULT_VALIDATORS
    typethrough: TypeThrough | None = None
    """Recent generations per document, shared by the requests of a server."""
    tests_in_prompt: bool = True
    """Put the tests that other files (and a batch request) have for the function at the
    cursor into the prompt, as those files' sections, nearest the document, when the prompt
    has other files already."""
    test_files: WorkspaceTestFiles = field(default_factory=WorkspaceTestFiles)
    """The workspace's test files, read again only when they change."""
    tests_budget: float | None = None
    """Seconds the sandboxed tests of one request may take; None: the validator's own."""
    tests_python: str = ""
    """Interpreter for the sandboxed tests; empty: the workspace's virtualenv, or the system's."""

    def build_prompt(self, request: CompletionRequest) -> Prompt | None:
        """Render the FIM prompt, or None for backends that take no prompt."""
        if self.backend.tokenizer is None:
            return None
        # Other files may hold keys and passwords: those lines never reach a prompt.
        files = [PromptFile(f.path, without_secrets(f.text)[0]) for f in request.context_files]
        if self.tests_in_prompt and files:
            # Tests join the other files; they never turn a one-file prompt into Qwen's
            # repository format, which alone cost the 0.5B 16 points on MBPP (RESULTS.md).
            files += self.prompt_tests(request, {f.path for f in files})
        # Tokenizing a 5 MB file took 1.5 s; the budget keeps far less than this reach.
        reach = max(FILTER_WINDOW, 16 * self.template.max_prompt_tokens)
        start, end = window(request.text, request.offset, reach)
        if start and request.text[start - 1] == "\n":
            # The template cuts the prefix every `prefix_stride` lines from its top: from the
            # document's top, as without the window.
            for _ in range(request.text.count("\n", 0, start) % self.template.prefix_stride):
                start = request.text.rfind("\n", 0, start - 1) + 1
        return self.template.render(
            self.backend.tokenizer,
            request.text[start : request.offset],
            request.text[request.offset : end],
            path=request.path,
            repo_name=request.repo_name,
            context_files=files,
        )

    def prompt_tests(self, request: CompletionRequest, shown: set[str]) -> list[PromptFile]:
        """Sections holding the tests of the function at the cursor, from files not `shown`."""
        files = self.test_files.read(request.root)
        if request.tests:
            files = {**files, REQUEST_TESTS: "\n".join(request.tests) + "\n"}
        found = prompt_test_sections(request.text, request.offset, files, request.path)
        return [PromptFile(path, without_secrets(text)[0]) for path, text in found
                if path not in shown]

    @staticmethod
    def memory_key(backend: Backend, request: CompletionRequest) -> str:
        """Whose generations a type-through record holds: the backend and the adapter."""
        return f"{backend.description}|{request.adapter}"

    def complete(
        self,
        request: CompletionRequest,
        cancel: threading.Event | None = None,
        on_text: OnText | None = None,
    ) -> CompletionResult:
        """Run one request through every stage and return the ranked, vetted candidates."""
        cancel = cancel or threading.Event()
        clock = time.perf_counter()
        context = filter_context(request)
        prime(self.validators, request)
        memory = self.typethrough if self.backend.tokenizer is not None else None
        if memory is None:
            prompt = self.build_prompt(request)
            return self._complete(request, prompt, context, cancel, on_text, None, clock)
        entry, continuation = memory.start(
            request, self.memory_key(self.backend, request),
            lambda: self.build_prompt(request), cancel,
        )
        prompt = entry.prompt if continuation is None else None
        try:
            return self._complete(
                request, prompt, context, cancel, on_text, Recording(memory, entry, continuation),
                clock,
            )
        finally:
            memory.settle(entry)

    def _complete(
        self,
        request: CompletionRequest,
        prompt: Prompt | None,
        context: FilterContext,
        cancel: threading.Event,
        on_text: OnText | None,
        through: Recording | None,
        clock: float,
    ) -> CompletionResult:
        started_generation = time.perf_counter()
        model_timing: list[Timing] = []
        if through is not None and through.continuation is not None:
            generations, source = self._continue(
                through, through.continuation, request, context, cancel, model_timing.append
            )
        else:
            generations = self._generate(
                request, prompt, context, cancel, on_text, model_timing.append, through
            )
            source = "model"
        if cancel.is_set():
            return CompletionResult(request, (), cancelled=True)
        started_post = time.perf_counter()
        kept, discarded = postprocess(
            [
                Candidate(g.text, g.text, context.offset, g.logprob, g.finish_reason,
                          tokens=g.tokens, token_logprobs=g.token_logprobs,
                          token_ends=g.token_ends)
                for g in generations
            ],
            context,
            self.filters,
        )
        shift = request.offset - context.offset  # the filters read a window of the document
        kept, discarded = moved(kept, shift), moved(discarded, shift)
        started_validation = time.perf_counter()
        control = RunControl(cancel, self.tests_budget, self.tests_python)
        vetted = validate(merge_identical(kept), request, self.validators, control)
        shorter = moved(shorter_forms(vetted, context, self.filters), shift)
        if shorter:  # repair before rejecting: the failing candidates' shorter forms
            vetted += validate(shorter, request, self.validators, control)
        shown, rejected = select_shown(vetted)
        discarded += rejected
        if through is not None:
            # Only pure insertions can be typed into; the memory keeps them as the user sees them.
            through.memory.show(through.entry, [c for c in shown if c.end == request.offset])
        done = time.perf_counter()
        timings = Timings(
            prompt=started_generation - clock,
            generate=started_post - started_generation,
            postprocess=started_validation - started_post,
            validate=done - started_validation,
            prompt_tokens=len(prompt.ids) if prompt else 0,
            prompt_sections=tuple(prompt.section_tokens.items()) if prompt else (),
            context_paths=prompt.context_paths if prompt else (),
            test_paths=sections_with_tests(prompt, request),
            source=source,
        )
        if model_timing:
            timings = replace(
                timings,
                prefill=model_timing[0].prefill,
                first_token=model_timing[0].first_token,
                reused_tokens=model_timing[0].reused_tokens,
                generated_tokens=model_timing[0].generated_tokens,
            )
        return CompletionResult(request, tuple(shown), tuple(discarded), timings,
                                raw=tuple(g.text for g in generations), prompt=prompt)

    def _generate(
        self,
        request: CompletionRequest,
        prompt: Prompt | None,
        context: FilterContext,
        cancel: threading.Event,
        on_text: OnText | None,
        on_timing: OnTiming,
        through: Recording | None,
    ) -> list[Generation]:
        """Raw generations from the model, recorded for type-through when it is on."""
        params = SamplingParams(request.n, request.max_new_tokens, request.temperature)
        stream = on_text
        if through is not None:
            memory, entry = through.memory, through.entry

            def stream(index: int, text: str) -> None:
                memory.stream(entry, index, text)
                if on_text is not None:
                    on_text(index, text)

        found: list[Generation] = []
        try:
            found = self.backend.generate(GenerateCall(
                prompt, params, context.single_line, cancel, on_text=stream,
                settled=settled_by(context, self.filters), on_timing=on_timing,
                adapter=request.adapter,
            ))
        finally:
            if through is not None:
                through.memory.generated(through.entry, found)
        return found

    def _continue(
        self,
        through: Recording,
        continuation: Continuation,
        request: CompletionRequest,
        context: FilterContext,
        cancel: threading.Event,
        on_timing: OnTiming,
    ) -> tuple[list[Generation], str]:
        """Answer from what the user typed into; texts come back without the typed part.

        Finished suggestions answer as they are; cancelled generations are resumed.
        """
        memory, entry, typed = through.memory, through.entry, continuation.typed
        params = SamplingParams(request.n, request.max_new_tokens, request.temperature)
        resumed: list[Generation] = []

        def stream(index: int, text: str) -> None:
            memory.stream(entry, index, typed + text)

        try:
            if continuation.resumable and continuation.entry.prompt is not None:
                resumed = self.backend.generate(GenerateCall(
                    continuation.entry.prompt,
                    params,
                    context.single_line,
                    cancel,
                    on_text=stream,
                    settled=settled_by(context, self.filters),
                    resume=tuple(Resume(g.token_ids, typed) for g in continuation.resumable),
                    on_timing=on_timing,
                    adapter=request.adapter,
                ))
        finally:
            memory.generated(entry, [replace(g, text=typed + g.text) for g in resumed])
        answered = [replace(g, text=g.text[len(typed) :]) for g in continuation.finished]
        if resumed:
            memory.resumed += 1
        else:
            memory.answered += 1
        return answered + resumed, "resumed" if resumed else "type-through"


def sections_with_tests(prompt: Prompt | None, request: CompletionRequest) -> tuple[str, ...]:
    """The prompt's sections that hold tests: those not among the request's other files."""
    if prompt is None:
        return ()
    given = {f.path for f in request.context_files}
    return tuple(path for path in prompt.context_paths if path not in given)


@functools.lru_cache(maxsize=32)
def compiled(patterns: tuple[str, ...]) -> tuple[re.Pattern[str], ...]:
    """The block list's patterns, compiled once (invalid ones were refused by the settings)."""
    return tuple(re.compile(pattern) for pattern in patterns)


FILTER_WINDOW = 100_000
"""Characters of the document on each side of the cursor that the filters and the scope
read. Their lexers are plain Python loops (about 0.6 s per MB): a 5 MB minified file
must cost them no more than a 200 KB one. Only documents longer than this are cut."""


def filter_context(request: CompletionRequest) -> FilterContext:
    """What the filters read: the decided scope, on a window of the document at the cursor.

    The next keystrokes see the same window (`window`), so its parse is reused.
    """
    start, end = window(request.text, request.offset, FILTER_WINDOW)
    text, offset = request.text[start:end], request.offset - start
    language = language_of(request)
    scope = completion_scope(text, offset, language)
    return FilterContext(
        text,
        offset,
        single_line=scope == "line",
        statement=scope == "statement",
        line_above=inserts_line_above(text, offset),
        indent_unit=detect_indent_unit(text, language),
        blocked=compiled(request.blocked_output),
        language=language,
    )


def window(text: str, offset: int, reach: int) -> tuple[int, int]:
    """Start and end of about `reach` characters of `text` on each side of `offset`.

    Both ends fall at line breaks where they can, the start at a multiple of a tenth of
    `reach`, so that the next keystrokes see the same text.
    """
    step = max(reach // 10, 1)
    start = max(0, (offset - reach) // step * step)
    if start:
        line = text.find("\n", start, start + step)
        start = line + 1 if 0 <= line < offset else start
    end = min(len(text), offset + reach)
    if end < len(text):
        line = text.rfind("\n", offset, end)
        end = line + 1 if line >= 0 else end
    return start, end


def moved(candidates: Sequence[Candidate], shift: int) -> list[Candidate]:
    """The candidates with their ends `shift` characters on (from the window to the document)."""
    return [replace(c, end=c.end + shift) for c in candidates] if shift else list(candidates)


def prime(validators: Sequence[Validator], request: CompletionRequest) -> None:
    """Let validators that keep state warm up on the document while the model generates."""
    document = Splice(request.text, request.offset, request.offset, "", request.path, request.root,
                      language=language_of(request))
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


def shorter_forms(
    candidates: Sequence[Candidate], context: FilterContext, filters: Sequence[Filter]
) -> list[Candidate]:
    """The repaired and shorter forms of the candidates that failed a check, new ones only.

    A candidate that went on past what the cursor needed is rejected whole although its
    first statement or first line alone may be right (a plain first-line client would show
    that line). Each form is the candidate's raw text post-processed again in a narrower
    scope: one statement (its body included when it opens a block), then one line. A
    candidate whose only fault is its indentation is first moved, as a whole, to the level
    the block at the cursor needs (`shift_to_block`) and post-processed again.
    """
    seen = {c.insert for c in candidates}
    forms: list[Candidate] = []
    scopes = (("shortened to its first statement", replace(context, statement=True)),
              ("shortened to its first line", replace(context, single_line=True)))

    def add(label: str, candidate: Candidate, text: str, scope: FilterContext) -> None:
        fresh = replace(candidate, insert=text, end=context.offset, applied=(), verdicts=())
        kept, _ = postprocess([fresh], scope, filters)
        if kept and kept[0].insert not in seen:
            seen.add(kept[0].insert)
            forms.append(replace(kept[0], applied=(*kept[0].applied, label)))

    for candidate in candidates:
        if candidate.passed:
            continue
        if context.language is PYTHON and badly_indented(candidate):  # ast says "indent"
            moved = shift_to_block(candidate.insert, context)
            if moved is not None:
                add("re-indented to the block", candidate, moved, context)
        if context.single_line:
            continue
        for label, narrower in scopes:
            add(label, candidate, candidate.raw, narrower)
    return forms


_INDENTATION = re.compile(r"\bindent|\bunindent")


def language_of(request: CompletionRequest) -> Language:
    """The request's language: its editor's languageId, else its path's extension."""
    return language_for(request.language, request.path)


def badly_indented(candidate: Candidate) -> bool:
    """Tell whether the syntax check failed the candidate on its indentation."""
    return any(v.check == "syntax" and not v.ok and _INDENTATION.search(v.detail) is not None
               for v in candidate.verdicts)


def validate(
    candidates: Sequence[Candidate],
    request: CompletionRequest,
    validators: Sequence[Validator],
    control: RunControl | None = None,
) -> list[Candidate]:
    """Run the validators in order, each on the candidates that passed the ones before it.

    A validator sees all its candidates at once (the sandbox runs them in one go); every
    verdict is attached to its candidate.
    """
    language = language_of(request)
    splices = [
        Splice(request.text, request.offset, c.end, c.insert, request.path, request.root,
               request.tests, language)
        for c in candidates
    ]
    verdicts: list[list[Verdict]] = [[] for _ in candidates]
    alive = list(range(len(candidates)))
    for validator in validators:
        if not alive:
            break
        results = check_all(validator, [splices[i] for i in alive], control)
        for index, verdict in zip(alive, results, strict=True):
            verdicts[index].append(verdict)
        alive = [index for index, verdict in zip(alive, results, strict=True) if verdict.ok]
    return [replace(c, verdicts=tuple(v)) for c, v in zip(candidates, verdicts, strict=True)]


def select_shown(candidates: Sequence[Candidate]) -> tuple[list[Candidate], list[Candidate]]:
    """Split candidates into (shown, ranked best first) and discarded.

    Nothing is shown when no candidate passes every check that ran. Otherwise a candidate is
    shown unless it breaks the syntax or fails the tests the code already has (or dies
    before they run): such a one is never ranked beside candidates that pass them, whatever
    it did in the sandbox. One that only adds a mypy error is shown, ranked lower.
    """
    if not any(c.passed and syntax_ok(c) for c in candidates):
        return [], list(candidates)
    shown = [c for c in candidates if syntax_ok(c) and not failed_tests(c)]
    return rank(shown), [c for c in candidates if not syntax_ok(c) or failed_tests(c)]


def failed_tests(candidate: Candidate) -> bool:
    """Tell whether the candidate failed the embedded tests (or died before they ran)."""
    return any(v.check == "tests" and v.ran and not v.ok for v in candidate.verdicts)
