"""The epoch profile at a tiny size: real trace events, matched with the compiled HLO."""

import pytest

from jaxopt_lab.bench.epoch_profile import CATEGORIES, _instructions, profile_epoch


def test_an_epoch_profile_attributes_the_ops_time_to_matmuls_copies_and_the_rest():
    result = profile_epoch(("sgd", "adam"), seeds=2, n_train=256, n_val=64, top=5)
    assert set(result["categories"]) == set(CATEGORIES)
    assert sum(result["categories"].values()) == pytest.approx(1.0)
    assert result["categories"]["matmul"] > 0  # the MLP's forward and backward products
    assert result["steps_traced"] == 2 * 256 // 32  # every step of both seeds was traced
    assert len(result["ops"]) == 5
    shares = [op["share"] for op in result["ops"]]
    assert shares == sorted(shares, reverse=True)
    assert any(op["source"].endswith("dot_general") for op in result["ops"])


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
