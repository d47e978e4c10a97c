"""The studies need the [studies] extra; without it the import error names the extra."""

import subprocess
import sys


def test_a_missing_studies_extra_is_named_with_the_install_command():
    code = "import sys; sys.modules['scipy'] = None; import jaxopt_lab.studies"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode != 0
    assert "pip install 'jaxopt_lab[studies]'" in result.stderr
