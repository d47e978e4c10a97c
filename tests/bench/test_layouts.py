"""The layout comparison at a tiny size: one device against every device (here, one)."""

import pytest

from jaxopt_lab.bench.layouts import Layout, compare_layouts, parse_layout


def test_layouts_parse_from_optimizers_seeds_and_rates():
    assert parse_layout("sgd,adam:2:4") == Layout(("sgd", "adam"), 2, 4)
    assert parse_layout("adam:3:1").runs == 3
    assert str(parse_layout("sgd,adam:2:4")) == "sgd,adam:2:4"
    for bad in ("adam", "adam:2", "adam:0:1", "adam:1:x", ":1:1"):
        with pytest.raises(ValueError, match="OPT\\[,OPT\\]:SEEDS:LRS"):
            parse_layout(bad)


def test_a_layout_with_an_unknown_optimizer_names_it_and_the_known_ones():
    with pytest.raises(
        ValueError,
        match=r"layout 'sgd,nosuchopt:1:1': unknown optimizer "
        r"'nosuchopt'; give a registry name \(sgd, momentum",
    ):
        parse_layout("sgd,nosuchopt:1:1")


def test_each_layout_is_timed_on_one_device_and_on_every_device():
    layouts = [parse_layout("adam:2:1"), parse_layout("sgd,adam:1:2")]
    results = compare_layouts(layouts, epochs=1, n_train=256, n_val=64)
    assert [r["layout"] for r in results] == ["adam:2:1", "sgd,adam:1:2"]
    assert [r["runs"] for r in results] == [2, 4]
    for r in results:
        assert r["one_device"] > 0 and r["every_device"] > 0
        assert r["mesh"] == "1 device"  # the test process sees one CPU device
