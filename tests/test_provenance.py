"""A study's code fingerprint changes with the code, not with its docstrings or comments."""

from jaxopt_lab import provenance

MODULE = '''"""A module."""

def f(x):
    """Doubles."""
    return 2 * x  # twice
'''


def test_docstrings_comments_and_formatting_do_not_change_the_digest():
    same = MODULE.replace('"""Doubles."""', '"""Twice x."""').replace("# twice", "")
    same = same.replace("2 * x", "2*x")
    assert provenance.code_digest(same) == provenance.code_digest(MODULE)


def test_a_change_of_code_changes_the_digest_and_is_named():
    changed = MODULE.replace("2 * x", "3 * x")
    assert provenance.code_digest(changed) != provenance.code_digest(MODULE)
    recorded = provenance.code_files()
    assert "optimizers/adam.py" in recorded and "engine/loop.py" in recorded
    assert provenance.changed_files(recorded) == []
    edited = {**recorded, "optimizers/adam.py": "0"}
    assert provenance.changed_files(edited) == ["optimizers/adam.py"]
