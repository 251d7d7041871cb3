from __future__ import annotations

import pytest

from codegen.runtime.backends import HFTokenizer
from prompts._chunks import cache_for
from prompts.templates import (
    SPECIAL_TOKEN_IDS,
    FimTemplate,
    PromptFile,
    SpecialTokenError,
    check_special_tokens,
    encode_document,
    encode_text,
    keep_head,
    keep_tail,
)

FIM_PREFIX, FIM_MIDDLE, FIM_SUFFIX = 151659, 151660, 151661
REPO_NAME, FILE_SEP = 151663, 151664


def test_file_level_prompt_is_the_exact_qwen_fim_sequence(qwen_tokenizer: HFTokenizer) -> None:
    prompt = FimTemplate().render(qwen_tokenizer, "def add(a, b):\n    ", "\n")
    # 750 'def', 912 ' add', 2877 '(a', 11 ',', 293 ' b', 982 '):\n', 257 '    ', 198 '\n'
    assert prompt.ids == (
        FIM_PREFIX, 750, 912, 2877, 11, 293, 982, 257, FIM_SUFFIX, 198, FIM_MIDDLE,
    )  # fmt: skip
    assert prompt.section_tokens == {"context": 0, "prefix": 7, "suffix": 1, "control": 3}


def test_repo_level_prompt_puts_other_files_first_and_the_current_file_last(
    qwen_tokenizer: HFTokenizer,
) -> None:
    prompt = FimTemplate().render(
        qwen_tokenizer,
        "def add(a, b):\n    ",
        "\n",
        path="b.py",
        repo_name="repo",
        context_files=[PromptFile("a.py", "X = 1\n")],
    )
    # 23476 'repo'; 64 'a', 7197 '.py'; 55 'X', 284 ' =', 220 ' ', 16 '1'; 65 'b'
    assert prompt.ids == (
        REPO_NAME, 23476, 198,
        FILE_SEP, 64, 7197, 198, 55, 284, 220, 16, 198,
        FILE_SEP, 65, 7197, 198,
        FIM_PREFIX, 750, 912, 2877, 11, 293, 982, 257, FIM_SUFFIX, 198, FIM_MIDDLE,
    )  # fmt: skip


def test_budget_keeps_the_lines_nearest_the_cursor(qwen_tokenizer: HFTokenizer) -> None:
    prefix = "".join(f"line_{i} = {i}\n" for i in range(400))
    suffix = "".join(f"after_{i} = {i}\n" for i in range(400))
    template = FimTemplate(max_prompt_tokens=200)
    prompt = template.render(qwen_tokenizer, prefix, suffix)
    assert len(prompt.ids) <= 200
    assert prefix.endswith(prompt.prefix) and prompt.prefix.startswith("line_")
    assert suffix.startswith(prompt.suffix) and prompt.suffix.endswith("\n")
    assert "line_399 = 399\n" in prompt.prefix and "after_0 = 0\n" in prompt.suffix
    # The suffix gets its share; the prefix takes the rest.
    assert prompt.section_tokens["suffix"] <= int(197 * 0.25)
    assert prompt.section_tokens["prefix"] > prompt.section_tokens["suffix"]


def test_short_prefix_leaves_room_for_a_longer_suffix(qwen_tokenizer: HFTokenizer) -> None:
    suffix = "".join(f"after_{i} = {i}\n" for i in range(400))
    prompt = FimTemplate(max_prompt_tokens=200).render(qwen_tokenizer, "x = 1\n", suffix)
    assert prompt.section_tokens["suffix"] > int(197 * 0.25)
    assert len(prompt.ids) <= 200


def test_context_files_that_do_not_fit_are_dropped_least_relevant_first(
    qwen_tokenizer: HFTokenizer,
) -> None:
    big = "".join(f"value_{i} = {i}\n" for i in range(300))
    files = [PromptFile("old.py", big), PromptFile("near.py", "NEAR = 1\n")]
    prompt = FimTemplate(max_prompt_tokens=120).render(
        qwen_tokenizer, "x = ", "\n", context_files=files
    )
    assert len(prompt.ids) <= 120
    ids = list(prompt.ids)
    near = qwen_tokenizer.encode("near.py\nNEAR = 1\n")
    assert any(ids[i : i + len(near)] == near for i in range(len(ids)))
    assert prompt.context_paths[-1] == "near.py"


def test_control_token_text_in_a_document_stays_plain_text(qwen_tokenizer: HFTokenizer) -> None:
    ids = encode_text(qwen_tokenizer, 'marker = "<|fim_prefix|><|endoftext|>"')
    assert not set(ids) & set(SPECIAL_TOKEN_IDS.values())
    prompt = FimTemplate().render(qwen_tokenizer, "s = '<|fim_middle|>'\n", "")
    assert prompt.ids.count(FIM_MIDDLE) == 1 and prompt.ids[-1] == FIM_MIDDLE


def test_special_tokens_are_checked(qwen_tokenizer: HFTokenizer) -> None:
    check_special_tokens(qwen_tokenizer)

    class Wrong:
        def encode(self, text: str) -> list[int]:
            return [1]

        def token_to_id(self, token: str) -> int | None:
            return None if token == "<|fim_middle|>" else SPECIAL_TOKEN_IDS[token]

    with pytest.raises(SpecialTokenError, match="<\\|fim_middle\\|> is None"):
        check_special_tokens(Wrong())


def test_a_budget_too_small_for_the_control_tokens_is_an_error(
    qwen_tokenizer: HFTokenizer,
) -> None:
    with pytest.raises(ValueError, match="no room"):
        FimTemplate(max_prompt_tokens=3).render(qwen_tokenizer, "x", "y")


def test_a_keystroke_keeps_the_prompt_start_of_a_long_file(qwen_tokenizer: HFTokenizer) -> None:
    # The prefix is cut at a multiple of 16 lines from the top, so typing a line at the
    # cursor leaves the first kept line, and so the prompt's leading tokens, unchanged.
    lines = [f"value_{i} = compute({i})\n" for i in range(300)]
    template = FimTemplate(max_prompt_tokens=400)
    before = template.render(qwen_tokenizer, "".join(lines), "\n")
    after = template.render(qwen_tokenizer, "".join(lines) + "total = 0\n", "\n")
    assert before.prefix.startswith("value_") and after.prefix.startswith(before.prefix[:40])
    shared = next(
        (i for i, (a, b) in enumerate(zip(before.ids, after.ids, strict=False)) if a != b),
        len(before.ids),
    )
    assert shared >= before.section_tokens["prefix"] - 2
    first_kept = int(before.prefix.split("_", 1)[1].split(" ", 1)[0])
    assert first_kept % 16 == 0


def test_typing_does_not_change_how_much_of_the_other_files_is_kept(
    qwen_tokenizer: HFTokenizer,
) -> None:
    other = PromptFile("helpers.py", "".join(f"def helper_{i}(): pass\n" for i in range(400)))
    template = FimTemplate(max_prompt_tokens=1536)
    prompts = [
        template.render(qwen_tokenizer, "x = " + "y" * typed, "\n", context_files=[other])
        for typed in range(0, 12)
    ]
    assert len({p.section_tokens["context"] for p in prompts}) == 1


@pytest.mark.parametrize("budget", [1, 7, 40, 150, 333, 900])
@pytest.mark.parametrize("from_end", [True, False])
def test_kept_lines_are_the_most_that_fit(
    qwen_tokenizer: HFTokenizer, budget: int, from_end: bool
) -> None:
    text = "".join(
        ("x" * (i % 7)) + f"value_{i} = {'[' * (i % 5)}{i * 31}\n" + ("\n" if i % 11 == 0 else "")
        for i in range(260)
    )
    kept, ids = (keep_tail if from_end else keep_head)(qwen_tokenizer, text, budget)
    assert ids == encode_text(qwen_tokenizer, kept) and len(ids) <= budget
    lines = text.splitlines(keepends=True)
    count = len(kept.splitlines(keepends=True)) if kept else 0
    # One more line with text (and the blank lines that go with it) would not fit.
    more = count + 1
    while more < len(lines) and not (lines[-more] if from_end else lines[more - 1]).strip():
        more += 1
    bigger = "".join(lines[len(lines) - more :] if from_end else lines[:more])
    assert len(encode_text(qwen_tokenizer, bigger)) > budget


@pytest.mark.parametrize(
    "text",
    [
        "def f(x):\n    return x\n",
        "a\n \n b\n",  # a whitespace-only line: the newlines around it make one token
        "x = '你好'\n\n\n  y = 1\r\n\r\nz\t=\t2\n\t\tw 😀\n",  # CJK, emoji, CRLF, tabs
        "s = '''\n\n'''\n  \n\n  x",
        "x\n\u3000y\n\xa0z",  # Unicode spaces at a line start
        'marker = "<|fim_prefix|>"\nnext = 1\n',
    ],
)
def test_chunked_encoding_is_exactly_the_whole_encoding(
    qwen_tokenizer: HFTokenizer, text: str
) -> None:
    chunks = encode_document(qwen_tokenizer, text)
    assert [i for chunk in chunks for i in chunk] == encode_text(qwen_tokenizer, text)


def test_a_keystroke_encodes_only_the_line_being_typed(qwen_tokenizer: HFTokenizer) -> None:
    lines = "".join(f"def helper_{i}(value):\n    return value * {i}\n\n" for i in range(200))
    encode_document(qwen_tokenizer, lines + "result = hel")
    cache = cache_for(qwen_tokenizer, lambda chunk: [])
    misses = cache.misses
    encode_document(qwen_tokenizer, lines + "result = help")
    assert cache.misses - misses == 1


def test_the_prompt_text_spells_out_every_token(qwen_tokenizer: HFTokenizer) -> None:
    prompt = FimTemplate().render(
        qwen_tokenizer, "x = ", "\n", path="b.py", repo_name="repo",
        context_files=[PromptFile("a.py", "X = 1\n")],
    )
    assert prompt.text == (
        "<|repo_name|>repo\n<|file_sep|>a.py\nX = 1\n<|file_sep|>b.py\n"
        "<|fim_prefix|>x = <|fim_suffix|>\n<|fim_middle|>"
    )
    assert qwen_tokenizer.inner.decode(list(prompt.ids), skip_special_tokens=False) == prompt.text


@pytest.mark.parametrize(
    ("path", "named"),
    [
        ("src/app.ts", True),  # a TypeScript file: its path tells the model the language
        ("include/util.h", True),  # C or C++: the extension decides
        ("Untitled-1", True),  # no extension: still named (the server adds the language's)
        ("b.py", False),  # Python alone keeps the file-level format (bench/RESULTS.md)
        ("stubs/m.PYI", False),  # Python stubs too, whatever the case
    ],
)
def test_a_file_alone_is_named_unless_it_is_python(
    qwen_tokenizer: HFTokenizer, path: str, named: bool
) -> None:
    prompt = FimTemplate().render(qwen_tokenizer, "x = ", "\n", path=path, repo_name="repo")
    head = f"<|repo_name|>repo\n<|file_sep|>{path}\n" if named else ""
    assert prompt.text == f"{head}<|fim_prefix|>x = <|fim_suffix|>\n<|fim_middle|>"
    decoded = qwen_tokenizer.inner.decode(list(prompt.ids), skip_special_tokens=False)
    assert decoded == prompt.text


def test_a_minified_line_is_cut_by_characters_next_to_the_cursor(
    qwen_tokenizer: HFTokenizer,
) -> None:
    """One 200 KB line: whole lines cannot fit, the code either side of the cursor can."""
    code = "".join(f"function f{i}(a){{return a+{i}}};" for i in range(8000))
    offset = len(code) // 2
    template = FimTemplate(max_prompt_tokens=512)
    prompt = template.render(qwen_tokenizer, code[:offset], code[offset:], path="app.min.js")
    assert len(prompt.ids) <= 512
    assert prompt.section_tokens["prefix"] > 200 and prompt.section_tokens["suffix"] > 50
    text = qwen_tokenizer.decode(list(prompt.ids))
    before = text.split("<|fim_prefix|>")[1].split("<|fim_suffix|>")[0]
    after = text.split("<|fim_suffix|>")[1].split("<|fim_middle|>")[0]
    assert code[:offset].endswith(before) and code[offset:].startswith(after)
