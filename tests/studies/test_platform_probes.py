"""MLflow's per-request Databricks probe imports packages that are not installed; they are marked absent once."""
from __future__ import annotations

import subprocess
import sys

from studies import platform_probes

SCRIPT = """
import sys, time
from studies import platform_probes
platform_probes.PROBED = ("sedstudy_no_such_package", "json")
print(platform_probes.skip_absent_platform_probes())
try:
    import sedstudy_no_such_package
except ModuleNotFoundError:
    print("absent")
import json
print(json.dumps({"installed": "untouched"}))
print("sedstudy_no_such_package" in sys.modules, platform_probes.skip_absent_platform_probes())
"""


def test_a_package_that_is_not_installed_fails_to_import_at_once_and_an_installed_one_is_untouched() -> None:
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=True)
    assert done.stdout.splitlines() == ["('sedstudy_no_such_package',)", "absent", '{"installed": "untouched"}',
                                        "False ()"]


def test_the_probed_packages_are_those_mlflow_imports_before_each_request() -> None:
    import inspect

    from mlflow.utils import _spark_utils, databricks_utils

    source = inspect.getsource(databricks_utils) + inspect.getsource(_spark_utils)
    for name in platform_probes.PROBED:
        assert f"import {name}" in source or f"from {name}" in source, name
