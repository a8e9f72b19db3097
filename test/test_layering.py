"""The package's sub-packages import only downwards, as the layer table below says.

A unit (a sub-package or a top-level module of ``allinone_ros``) may import units of lower layers
and its own modules; importing a unit of the same or a higher layer is an error. The ROS-free
core itself is checked by test_core_no_ros.py; this test checks the direction inside the package.
Every ``import`` / ``from ... import`` anywhere in a file counts: absolute or relative, at module
level, inside functions or under ``if TYPE_CHECKING``.
"""
from __future__ import annotations

import ast
import shutil
import sys
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "allinone_ros"

# Lowest first. Units of one layer do not import each other.
LAYERS: tuple[frozenset[str], ...] = (
    frozenset({"__init__", "ops", "config_io"}),  # low-level helpers, typed-config loading
    frozenset({"model"}),  # the network
    frozenset({"checkpoint"}),  # reading, filtering, loading, saving weights
    frozenset({"tracker"}),  # the per-frame tracker loop
    frozenset({"backends", "grounding", "data", "visualize"}),
    frozenset({"lifecycle"}),  # target lifecycle over a tracker and a grounder
    frozenset({"training", "evaluation", "control"}),  # control: the follow controller reads the lifecycle's states
    frozenset({"simulation"}),  # the closed loop around the follow controller
    frozenset({"cli", "msg"}),  # console entry points; msg: the generated ROS messages
    frozenset({"ros"}),  # the ROS 2 layer
)
LAYER_OF = {unit: level for level, units in enumerate(LAYERS) for unit in units}


def _unit(rel: Path) -> str:
    """The unit a file belongs to: its first directory under the package, or its module name."""
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def _imported_modules(node: ast.AST, package: str) -> list[str]:
    """Absolute names an import statement refers to (``package`` is the importing file's package)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if not isinstance(node, ast.ImportFrom):
        return []
    if node.level == 0:
        base = node.module or ""
    else:
        parts = package.split(".")
        if node.level - 1 > len(parts) - 1:
            return []  # beyond the top package: not ours
        base = ".".join(parts[: len(parts) - (node.level - 1)] + ([node.module] if node.module else []))
    if node.module is None or base == "allinone_ros":  # from .. import model: the names are modules
        return [f"{base}.{alias.name}" for alias in node.names]
    return [base]


def layering_violations(package_dir: Path) -> list[str]:
    """``"<file>:<line>: <unit> -> <unit> (<module>)"`` for every import against the layer table."""
    found = []
    for path in sorted(package_dir.rglob("*.py")):
        rel = path.relative_to(package_dir)
        unit = _unit(rel)
        package = ".".join(("allinone_ros", *rel.parts[:-1]))
        if unit not in LAYER_OF:
            found.append(f"{rel}: unit {unit!r} is not placed in the layer table")
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            for name in _imported_modules(node, package):
                parts = name.split(".")
                if parts[0] != "allinone_ros" or len(parts) < 2:
                    continue
                target = parts[1]
                if target == unit:
                    continue
                if target not in LAYER_OF:
                    found.append(f"{rel}:{node.lineno}: {unit} -> {target} ({name}): {target!r} is not in the layer table")
                elif LAYER_OF[target] >= LAYER_OF[unit]:
                    found.append(f"{rel}:{node.lineno}: {unit} -> {target} ({name})")
    return found


def test_the_package_imports_only_downwards() -> None:
    assert layering_violations(PKG) == []


def test_every_unit_of_the_package_is_placed() -> None:
    units = {_unit(p.relative_to(PKG)) for p in PKG.rglob("*.py")}
    assert units - set(LAYER_OF) == set()


def test_ops_needs_only_the_standard_library_numpy_torch_and_opencv() -> None:
    allowed = set(sys.stdlib_module_names) | {"numpy", "torch", "cv2"}
    outside = []
    for path in sorted((PKG / "ops").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module] if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module else [])
            outside += [f"{path.name}: {n}" for n in names if n.split(".")[0] not in allowed]
    assert outside == []


@pytest.fixture()
def package_copy(tmp_path: Path) -> Path:
    """A copy of the package's sources, to plant wrong imports in."""
    copy = tmp_path / "allinone_ros"
    shutil.copytree(PKG, copy, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    assert layering_violations(copy) == []
    return copy


def _append(path: Path, text: str) -> int:
    """Append ``text`` to ``path``; the line number its first line gets."""
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines) + "\n" + text)
    return len(lines) + 1


@pytest.mark.parametrize("file, text, edge", [
    # relative, module level: the network must not know about ROS
    ("model/head.py", "from ..ros import tracker_node\n", "model -> ros (allinone_ros.ros)"),
    # relative, inside a function: the tracker must not reach up into the evaluation
    ("tracker/state.py", "def _late():\n    from ..evaluation.metrics import summarize\n",
     "tracker -> evaluation (allinone_ros.evaluation.metrics)"),
    # absolute import of a module, in a sub-package's __init__
    ("ops/__init__.py", "import allinone_ros.tracker.tracker\n", "ops -> tracker (allinone_ros.tracker.tracker)"),
    # `from .. import x` names the module x; same-layer siblings may not import each other
    ("grounding/base.py", "from .. import data\n", "grounding -> data (allinone_ros.data)"),
    # a nested sub-package (data/synthetic) resolves relative imports from its own depth
    ("data/synthetic/plan.py", "from ...lifecycle import TargetState\n", "data -> lifecycle (allinone_ros.lifecycle)"),
    # a top-level module counts as its own unit
    ("config_io.py", "from allinone_ros.model import ModelConfig\n", "config_io -> model (allinone_ros.model)"),
])
def test_a_planted_wrong_import_is_named(package_copy: Path, file: str, text: str, edge: str) -> None:
    lineno = _append(package_copy / file, text)
    if text.startswith("def "):
        lineno += 1
    assert layering_violations(package_copy) == [f"{file}:{lineno}: {edge}"]


def test_a_new_unit_must_be_placed(package_copy: Path) -> None:
    (package_copy / "extras").mkdir()
    (package_copy / "extras" / "__init__.py").write_text("")
    (package_copy / "model" / "blocks.py").write_text(
        (package_copy / "model" / "blocks.py").read_text() + "from ..extras import thing\n")
    found = layering_violations(package_copy)
    assert any(v.startswith("extras/__init__.py: unit 'extras' is not placed") for v in found)
    assert any("model -> extras (allinone_ros.extras): 'extras' is not in the layer table" in v for v in found)


def test_imports_of_other_packages_and_downward_imports_pass(package_copy: Path) -> None:
    _append(package_copy / "ros" / "annotate.py", "from ..ops.iou import iou_xywh\nimport numpy\n")
    _append(package_copy / "evaluation" / "report.py", "def _f():\n    from allinone_ros import lifecycle\n")
    assert layering_violations(package_copy) == []
