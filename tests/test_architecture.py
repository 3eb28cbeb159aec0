"""The layout is the architecture: core knows no application; applications import core only."""

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "emberfit"
APPS = ("text", "tabular", "collab")


def imports_of(py: Path) -> set[str]:
    tree = ast.parse(py.read_text())
    mods = set()
    pkg_parts = py.relative_to(PKG.parent).with_suffix("").parts[:-1]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            mods.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = list(pkg_parts[: len(pkg_parts) - node.level + 1])
                mods.add(".".join(base + ([node.module] if node.module else [])))
            else:
                mods.add(node.module)
    return {m for m in mods if m}


def test_core_imports_no_application():
    for py in (PKG / "core").rglob("*.py"):
        bad = [m for m in imports_of(py) if any(m.startswith(f"emberfit.{a}") for a in APPS)]
        assert not bad, f"{py} imports {bad}"


@pytest.mark.parametrize("app", APPS)
def test_applications_import_only_core(app):
    others = [a for a in APPS if a != app]
    for py in (PKG / app).rglob("*.py"):
        bad = [m for m in imports_of(py) if any(m.startswith(f"emberfit.{a}") for a in others)]
        assert not bad, f"{py} imports {bad}"


def test_no_unsafe_loads_in_package():
    """No pickle.load(s) and no torch.load without weights_only=True, anywhere in the package."""
    for py in PKG.rglob("*.py"):
        for node in ast.walk(ast.parse(py.read_text())):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            owner = node.func.value.id if isinstance(node.func.value, ast.Name) else None
            if owner == "pickle" and node.func.attr in ("load", "loads"):
                raise AssertionError(f"{py}:{node.lineno} calls pickle.{node.func.attr}")
            if owner == "torch" and node.func.attr == "load":
                kw = {k.arg: k.value for k in node.keywords}
                ok = isinstance(kw.get("weights_only"), ast.Constant) and kw["weights_only"].value is True
                assert ok, f"{py}:{node.lineno} torch.load without weights_only=True"
