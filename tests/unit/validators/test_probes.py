"""Probe inputs for execution agreement."""

from __future__ import annotations

import pytest

from validators.probes import agreement_probes, mutate, probe_of_assert


@pytest.mark.parametrize(
    ("statement", "probe"),
    [
        ("assert f(1, 2) == 3", "f(1, 2)"),  # the value an equality checks
        ("assert f([1]) == [2]", "f([1])"),
        ("assert f(1) > 2", None),  # not an equality: no single value to compare
        ("assert f(", None),  # broken
        ("x = f(1)", None),  # not an assert
    ],
)
def test_probe_of_assert(statement: str, probe: str | None) -> None:
    assert probe_of_assert(statement) == probe


def test_mutate_changes_one_literal_argument_at_a_time() -> None:
    variants = mutate("f(2, 'ab')", "f")
    assert "f(3, 'ab')" in variants and "f(2, 'ba')" in variants
    assert "f(2, 'a b')" in variants  # a space: split() vs. split(' ')
    assert all(v.startswith("f(") for v in variants)
    assert "f(2, 'ab')" not in variants


@pytest.mark.parametrize(
    "call",
    [
        "g(1)",  # another function
        "f(x)",  # not a literal
        "f(*args)",
        "f(",
    ],
)
def test_mutate_leaves_what_it_cannot_vary(call: str) -> None:
    assert mutate(call, "f") == []


def test_agreement_probes_keep_known_calls_first_and_are_seeded() -> None:
    known = ["f([3, 1, 2])", "f([])"]
    probes = agreement_probes(known, "f", limit=10)
    assert probes[:2] == known and len(probes) == 12 and len(set(probes)) == 12
    assert agreement_probes(known, "f", limit=10) == probes
    assert agreement_probes(known, "f", limit=10, seed=1) != probes
