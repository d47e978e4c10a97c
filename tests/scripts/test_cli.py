"""The scripts share one ``--set`` convention: several values per flag, the flag repeatable."""

import argparse

from jaxopt_lab._cli import add_set_argument


def test_set_takes_several_values_and_repeats():
    parser = argparse.ArgumentParser()
    add_set_argument(parser, "overrides")
    parser.add_argument("--out")
    args = parser.parse_args(
        ["--set", "train.epochs=2", "optimizer.learning_rate=1e-3", "--out", "x", "--set", "a=1"]
    )
    assert args.set == ["train.epochs=2", "optimizer.learning_rate=1e-3", "a=1"]
    assert args.out == "x"
    assert parser.parse_args([]).set == []
