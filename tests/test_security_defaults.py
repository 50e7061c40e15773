"""Secure defaults, checked on the sources: no code runs from data files (YAML, pickles, checkpoints), no eval/exec,
and what sedstudy starts listens on 127.0.0.1 unless told otherwise."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("sed_core", "studies", "reports", "search_spaces")
SAFE_YAML_LOADERS = {"SafeLoader", "CSafeLoader", "BaseLoader", "CBaseLoader"}
# (file, call) pairs allowed despite the rules, each with its reason. Empty: the report cache is JSON now.
ALLOWED: dict[tuple[str, str], str] = {}


def _name(node: ast.AST) -> str:
    """`a.b.c` of a call's function, '' for anything else."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        head = _name(node.value)
        return f"{head}.{node.attr}" if head else ""
    return ""


def _keyword(call: ast.Call, name: str) -> ast.AST | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def findings(source: str) -> list[tuple[int, str]]:
    """(line, what) for each unsafe call in ``source``."""
    out = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        name = _name(node.func)
        if name in ("eval", "exec", "compile", "__import__"):  # the builtins, not model.eval()
            out.append((node.lineno, f"{name}()"))
        elif name in ("yaml.unsafe_load", "yaml.full_load", "yaml.unsafe_load_all", "yaml.full_load_all"):
            out.append((node.lineno, name))
        elif name in ("yaml.load", "yaml.load_all"):
            loader = _keyword(node, "Loader") or (node.args[1] if len(node.args) > 1 else None)
            if loader is None or _name(loader).rsplit(".", 1)[-1] not in SAFE_YAML_LOADERS:
                out.append((node.lineno, f"{name} without a safe Loader"))
        elif name in ("pickle.load", "pickle.loads", "cloudpickle.load", "cloudpickle.loads", "dill.load",
                      "pickle.Unpickler", "marshal.load", "marshal.loads", "shelve.open", "joblib.load",
                      "pd.read_pickle", "pandas.read_pickle", "numpy.load", "np.load"):
            allow = _keyword(node, "allow_pickle")
            if name in ("numpy.load", "np.load") and not (isinstance(allow, ast.Constant) and allow.value is True):
                continue  # np.load refuses pickles unless allow_pickle=True
            out.append((node.lineno, name))
        elif name == "torch.load":
            weights_only = _keyword(node, "weights_only")
            if not (isinstance(weights_only, ast.Constant) and weights_only.value is True):
                out.append((node.lineno, "torch.load without weights_only=True"))
        elif name.startswith("subprocess.") or name in ("os.system", "os.popen"):
            shell = _keyword(node, "shell")
            if name in ("os.system", "os.popen") or (isinstance(shell, ast.Constant) and shell.value is True):
                out.append((node.lineno, f"{name} through a shell"))
    return out


def test_the_package_sources_load_no_code_from_data():
    problems = []
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            relative = str(path.relative_to(REPO))
            for line, what in findings(path.read_text(encoding="utf-8")):
                if (relative, what) not in ALLOWED:
                    problems.append(f"{relative}:{line}: {what}")
    assert problems == [], "unsafe calls (fix them, or allow one in ALLOWED with its reason):\n" + "\n".join(problems)


@pytest.mark.parametrize("source", [
    "import yaml\nyaml.load(text)",
    "import yaml\nyaml.load(text, Loader=yaml.Loader)",
    "import yaml\nyaml.load(text, yaml.FullLoader)",
    "import yaml\nyaml.unsafe_load(text)",
    "eval('1 + 1')",
    "exec(code)",
    "import pickle\npickle.load(handle)",
    "import pickle\npickle.loads(data)",
    "import torch\ntorch.load(path)",
    "import torch\ntorch.load(path, weights_only=False)",
    "import numpy as np\nnp.load(path, allow_pickle=True)",
    "import subprocess\nsubprocess.run(command, shell=True)",
    "import os\nos.system('ls')",
])
def test_the_scan_finds_each_unsafe_call(source: str):
    assert len(findings(source)) == 1, source


@pytest.mark.parametrize("source", [
    "import yaml\nyaml.safe_load(text)",
    "import yaml\nyaml.load(text, Loader=yaml.SafeLoader)",
    "import torch\ntorch.load(path, map_location='cpu', weights_only=True)",
    "model.eval()",
    "import numpy as np\nnp.load(path)",
    "import subprocess\nsubprocess.run(['git', 'status'])",
    "import json\njson.loads(text)",
])
def test_the_scan_passes_safe_calls(source: str):
    assert findings(source) == [], source


def test_ui_binds_to_loopback_by_default(monkeypatch, tmp_path: Path):
    """`sedstudy ui` starts the MLflow UI on 127.0.0.1 unless --host says otherwise."""
    import os

    from studies.cli import main

    started = []

    def execv(program, argv):
        started.append(argv)
        raise SystemExit(0)

    monkeypatch.setattr(os, "execv", execv)
    with pytest.raises(SystemExit):
        main(["ui", "--workdir", str(tmp_path)])
    [argv] = started
    assert argv[argv.index("--host") + 1] == "127.0.0.1"
    assert "0.0.0.0" not in argv


def test_the_in_process_ray_starts_no_dashboard():
    """The embedded Ray (no --address) runs without its HTTP dashboard, the one Ray service meant for browsers."""
    tree = ast.parse((REPO / "studies" / "launcher.py").read_text(encoding="utf-8"))
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and _name(n.func) == "ray.init"]
    assert calls
    for call in calls:
        dashboard = _keyword(call, "include_dashboard")
        assert isinstance(dashboard, ast.Constant) and dashboard.value is False
