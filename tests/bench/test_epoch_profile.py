"""The epoch profile at a tiny size: real trace events, matched with the compiled HLO."""

import pytest

from jaxopt_lab.bench.epoch_profile import CATEGORIES, _instructions, profile_epoch


def test_an_epoch_profile_attributes_the_ops_time_to_matmuls_copies_and_the_rest():
    # Every op that ran (a tiny epoch has a few dozen); which ones lead varies between runs.
    result = profile_epoch(("sgd", "adam"), seeds=2, n_train=256, n_val=64, top=1000)
    assert set(result["categories"]) == set(CATEGORIES)
    assert sum(result["categories"].values()) == pytest.approx(1.0)
    assert result["categories"]["matmul"] > 0  # the MLP's forward and backward products
    steps = 2 * 256 // 32  # every step of both seeds was traced
    assert result["steps_traced"] == steps
    shares = [op["share"] for op in result["ops"]]
    assert shares == sorted(shares, reverse=True)
    assert sum(shares) == pytest.approx(1.0)
    # The first layer's forward product, one per group, in every training step.
    forward = [
        op
        for op in result["ops"]
        if op["source"] == "Dense_0/dot_general" and op["shape"] == "f32[32,128]"
    ]
    assert len(forward) == 2 and all(op["events"] == steps for op in forward)
    assert all(op["category"] == "matmul" for op in forward)
    assert len(profile_epoch(("adam",), n_train=64, n_val=16, top=3)["ops"]) == 3


def test_hlo_instructions_are_classified_by_opcode_and_source_operation():
    text = """
  %dot.6 = f32[784,128]{1,0} dot(%a, %b), metadata={op_name="jit(f)/Dense_0/transpose"}
  %ynn_fusion.3 = f32[32,128]{1,0} fusion(%x), metadata={op_name="jit(f)/Dense_0/dot_general"}
  %ynn_fusion = f32[128]{0} fusion(%g), kind=kCustom, metadata={op_name="jit(f)/Dense_0/reduce_sum"}
  %copy.24 = f32[1,784,128]{2,1,0} copy(%p)
  ROOT %add_fusion = f32[10]{0} fusion(%c, %d), kind=kLoop
"""
    found = _instructions(text)
    assert {name: op["category"] for name, op in found.items()} == {
        "dot.6": "matmul",
        "ynn_fusion.3": "matmul",
        "ynn_fusion": "other",
        "copy.24": "copy",
        "add_fusion": "other",
    }
    assert found["ynn_fusion.3"] == {
        "shape": "f32[32,128]",
        "category": "matmul",
        "source": "Dense_0/dot_general",
    }
