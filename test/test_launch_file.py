"""Static checks of launch/tracker.launch.py (`launch`/`launch_ros` are not installable here).

The file is parsed with `ast`, never imported: it must define
generate_launch_description, start `tracker_node` of package `allinone_ros`, and
every declared argument must be read through a LaunchConfiguration (and vice versa).
"""
from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest

LAUNCH_FILE = Path(__file__).resolve().parents[1] / "launch" / "tracker.launch.py"
EXPECTED_ARGUMENTS = {"params_file", "checkpoint", "image_topic", "namespace", "debug_image", "device", "backend",
                      "precision", "follow", "command_topic", "fastdds_profile"}


@pytest.fixture(scope="module")
def tree() -> ast.Module:
    return ast.parse(LAUNCH_FILE.read_text(), filename=str(LAUNCH_FILE))


def _callee(call: ast.Call) -> str:
    func = call.func
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return ""


def _calls(node: ast.AST, name: str) -> list[ast.Call]:
    return [n for n in ast.walk(node) if isinstance(n, ast.Call) and _callee(n) == name]


def _first_str_arg(call: ast.Call) -> str:
    assert call.args and isinstance(call.args[0], ast.Constant) and isinstance(call.args[0].value, str), (
        f"{_callee(call)}() at line {call.lineno} needs a literal name as first argument"
    )
    return call.args[0].value


def _keyword(call: ast.Call, name: str) -> ast.expr:
    for keyword in call.keywords:
        if keyword.arg == name:
            return keyword.value
    raise AssertionError(f"{_callee(call)}() at line {call.lineno} has no {name}= argument")


def _string_constants(node: ast.AST) -> set[str]:
    return {n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str)}


def test_defines_generate_launch_description(tree: ast.Module) -> None:
    functions = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
    assert "generate_launch_description" in functions
    assert functions["generate_launch_description"].args.args == []


def _function(tree: ast.Module, name: str) -> ast.FunctionDef:
    (func,) = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == name]
    return func


def test_starts_tracker_node_and_optionally_the_follow_controller(tree: ast.Module) -> None:
    nodes = _calls(tree, "Node")
    assert len(nodes) == 2, f"expected two Node(...) (tracker, follow controller), found {len(nodes)}"
    for func, executable in (("_tracker_node", "tracker_node"), ("_follow_controller", "follow_controller")):
        (node,) = _calls(_function(tree, func), "Node")
        for field, want in (("package", "allinone_ros"), ("executable", executable), ("name", executable)):
            value = _keyword(node, field)
            assert isinstance(value, ast.Constant) and value.value == want, f"Node {field}= is {ast.dump(value)}"
        namespace = _keyword(node, "namespace")
        assert isinstance(namespace, ast.Call) and _first_str_arg(namespace) == "namespace"
    follow = _function(tree, "_follow_controller")
    assert {"follow", "command_topic"} <= {_first_str_arg(c) for c in _calls(follow, "LaunchConfiguration")}
    assert "tracker_node/target" in _string_constants(follow)  # the tracker's output in the same namespace


def test_declares_exactly_the_documented_arguments(tree: ast.Module) -> None:
    declared = [_first_str_arg(c) for c in _calls(tree, "DeclareLaunchArgument")]
    assert sorted(declared) == sorted(EXPECTED_ARGUMENTS)


def test_every_argument_is_used_and_every_use_is_declared(tree: ast.Module) -> None:
    declared = {_first_str_arg(c) for c in _calls(tree, "DeclareLaunchArgument")}
    used = {_first_str_arg(c) for c in _calls(tree, "LaunchConfiguration")}
    assert declared - used == set(), f"declared but never read: {sorted(declared - used)}"
    assert used - declared == set(), f"read but never declared: {sorted(used - declared)}"


def test_params_file_defaults_to_the_package_config(tree: ast.Module) -> None:
    (params,) = [c for c in _calls(tree, "DeclareLaunchArgument") if _first_str_arg(c) == "params_file"]
    default = _keyword(params, "default_value")
    (share,) = _calls(default, "FindPackageShare")
    assert _first_str_arg(share) == "allinone_ros"
    assert {"config", "tracker.yaml"} <= _string_constants(default)


def test_node_uses_the_arguments(tree: ast.Module) -> None:
    (node,) = _calls(_function(tree, "_tracker_node"), "Node")
    name = _keyword(node, "name")
    assert isinstance(name, ast.Constant) and name.value == "tracker_node"  # the section name in config/tracker.yaml
    overrides = {
        k.value: _first_str_arg(_calls(v, "LaunchConfiguration")[0])
        for d in ast.walk(_function(tree, "_tracker_node")) if isinstance(d, ast.Dict)
        for k, v in zip(d.keys, d.values)
        if isinstance(k, ast.Constant) and isinstance(v, ast.Call) and _calls(v, "LaunchConfiguration")
    }
    assert overrides == {name: name for name in ("debug_image", "image_topic", "checkpoint", "device", "backend",
                                                 "precision")}
    namespace = _keyword(node, "namespace")
    assert isinstance(namespace, ast.Call) and _first_str_arg(namespace) == "namespace"
    parameter_files = [_first_str_arg(c) for c in _calls(_keyword(node, "parameters"), "LaunchConfiguration")]
    assert parameter_files == ["params_file"]


def _load_functions(tree: ast.Module, *names: str) -> dict[str, Any]:
    """Compile only the named top-level definitions (no launch import needed)."""
    wanted: list[ast.stmt] = [
        n for n in tree.body
        if (isinstance(n, ast.FunctionDef) and n.name in names)
        or (isinstance(n, ast.Assign) and any(isinstance(t, ast.Name) and t.id in names for t in n.targets))
    ]
    namespace: dict[str, Any] = {}
    code = compile(ast.Module(body=wanted, type_ignores=[]), str(LAUNCH_FILE), "exec")
    exec(code, namespace)  # noqa: S102 - the project's own launch file, pure functions only
    return namespace


def test_debug_image_argument_parsing(tree: ast.Module) -> None:
    parse_bool = _load_functions(tree, "_TRUE", "_FALSE", "_parse_bool")["_parse_bool"]
    assert parse_bool("debug_image", "True") is True
    assert parse_bool("debug_image", " false ") is False
    assert parse_bool("debug_image", "1") is True
    with pytest.raises(ValueError, match=r"launch argument debug_image:='maybe' is not a boolean"):
        parse_bool("debug_image", "maybe")


def test_node_gets_the_large_frames_profile(tree: ast.Module) -> None:
    import xml.etree.ElementTree as ET

    node = _calls(tree, "Node")[0]
    _keyword(node, "additional_env")  # FASTDDS_DEFAULT_PROFILES_FILE for the node
    assert "fastdds_large_frames.xml" in _string_constants(tree)
    profile = LAUNCH_FILE.parents[1] / "config" / "fastdds_large_frames.xml"
    ns = {"d": "http://www.eprosima.com"}
    root = ET.parse(profile).getroot()
    segment = int(root.find(".//d:transport_descriptor[d:type='SHM']/d:segment_size", ns).text)
    assert segment >= 8 * 1280 * 720 * 3  # several 1280x720 bgr8 frames in flight
    participant = root.find(".//d:participant", ns)
    assert participant.get("is_default_profile") == "true"
