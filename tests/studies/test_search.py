"""Random search: declared spaces are checked, and the points are reproducible."""

from __future__ import annotations

import pytest

from jaxopt_lab.studies import search

SPACE = {
    "learning_rate": {"log_uniform": [1e-4, 1e-1]},
    "b1": {"one_minus_log_uniform": [0.8, 0.99]},
    "warmup_steps": {"choice": [0, 250, 1000]},
}


def test_the_same_seed_draws_the_same_points_and_another_seed_others():
    dims = search.parse(SPACE)
    first = search.sample(dims, 16, 0, "Adam")
    assert first == search.sample(dims, 16, 0, "Adam")
    assert first != search.sample(dims, 16, 1, "Adam")
    assert first != search.sample(dims, 16, 0, "Nadam")  # each row its own stream
    # a smaller budget is a prefix of a larger one
    assert search.sample(dims, 3, 0, "Adam") == first[:3]


def test_points_lie_in_their_ranges_rounded_to_four_digits():
    dims = search.parse(SPACE)
    assert [d.name for d in dims] == ["learning_rate", "b1", "warmup_steps"]
    for p in search.sample(dims, 200, 0, "Adam"):
        assert 1e-4 <= p["learning_rate"] <= 1e-1
        assert 0.8 <= p["b1"] <= 0.99
        assert p["warmup_steps"] in (0, 250, 1000)
        assert p["learning_rate"] == float(f"{p['learning_rate']:.4g}")
    b1 = dims[1]
    assert b1.draw(0.0) == 0.8 and b1.draw(0.999999) == pytest.approx(0.99, abs=1e-4)
    assert b1.draw(0.5) == pytest.approx(1 - (0.2 * 0.01) ** 0.5, abs=1e-4)  # geometric mid
    assert b1.describe() == "1 − x log-uniform in [0.8, 0.99]"


@pytest.mark.parametrize(
    ("space", "match"),
    [
        ({"b1": {"uniform": [0.8, 0.9]}}, r"search\.learning_rate: missing"),
        ({**SPACE, "b2": {"uniform": [0.9, 0.99]}}, r"at most 2"),
        ({"learning_rate": {"normal": [0, 1]}}, r"expected one of"),
        ({"learning_rate": {"log_uniform": [0.0, 1.0]}}, r"log_uniform: needs 0 < low < high"),
        ({"learning_rate": {"log_uniform": [1e-3]}}, r"expected \[low, high\]"),
        (
            {**SPACE, "b1": {"one_minus_log_uniform": [0.9, 1.0]}},
            r"b1\.one_minus_log_uniform: needs low < high < 1",
        ),
        ({"learning_rate": {"choice": [0.1, 0.01]}}, r"learning_rate: needs a range"),
    ],
)
def test_a_malformed_space_names_the_key(space, match):
    with pytest.raises(search.SearchSpaceError, match=match):
        search.parse(space)
