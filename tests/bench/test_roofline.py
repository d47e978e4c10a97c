"""The roofline helpers at tiny sizes: positive figures, the roofline is the best kernel."""

from __future__ import annotations

import pytest

from jaxopt_lab.bench import roofline


def test_stream_bandwidth_reports_each_kernel_and_the_best():
    bandwidth = roofline.stream_bandwidth(n=100_000, repeats=2)
    result = bandwidth.to_dict()
    assert set(result) == {"copy_gbps", "scale_gbps", "triad_gbps", "n_elements", "roofline_gbps"}
    assert all(result[k] > 0 for k in ("copy_gbps", "scale_gbps", "triad_gbps"))
    assert result["roofline_gbps"] == max(
        result["copy_gbps"], result["scale_gbps"], result["triad_gbps"]
    )


def test_prepared_triad_moves_twelve_bytes_per_element():
    triad = roofline.prepare_triad(1000, warmup=1)
    timing = triad.timing([triad.run() for _ in range(3)])
    assert (timing.n_params, timing.bytes_per_param, timing.repeats) == (1000, 12, 3)
    assert timing.gbps > 0


def test_matmul_flops_is_positive():
    assert roofline.matmul_flops(n=64, repeats=2) > 0


@pytest.mark.parametrize(
    "fn", [roofline.stream_bandwidth, roofline.matmul_flops, roofline.prepare_triad]
)
def test_empty_sizes_are_rejected(fn):
    with pytest.raises(ValueError, match="n=0"):
        fn(n=0)
