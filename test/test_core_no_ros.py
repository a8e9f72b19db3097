"""The tracker core must not import ROS: it has to run on machines without a ROS install."""
import ast
import subprocess
import sys
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / "allinone_ros"
ROS_LAYER = {"ros"}  # sub-packages allowed to import ROS
# rosbags is not among them: it is a pure-Python bag reader/writer that needs no ROS install
# (allinone_ros.data.bag uses it for the offline tools' --bag input).
ROS_MODULES = ("rclpy", "rosidl", "builtin_interfaces", "launch", "launch_ros", "ament_index_python")


def _is_ros(name: str) -> bool:
    root = name.split(".")[0]
    return root in ROS_MODULES or root.endswith("_msgs") or root.endswith("_srvs") or name.startswith("allinone_ros.ros")


def test_core_sources_import_no_ros_module():
    offenders = []
    for path in PKG.rglob("*.py"):
        rel = path.relative_to(PKG)
        if rel.parts[0] in ROS_LAYER or rel.parts[0] == "msg":
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            offenders += [f"{rel}: {n}" for n in names if _is_ros(n)]
    assert offenders == []


def test_importing_the_core_loads_no_ros_module():
    core = [".".join(p.relative_to(PKG.parent).with_suffix("").parts) for p in PKG.rglob("*.py")
            if p.relative_to(PKG).parts[0] not in ROS_LAYER | {"msg"} and p.name != "__main__.py"]
    code = (
        "import importlib, sys\n"
        f"for m in {sorted(core)!r}: importlib.import_module(m.removesuffix('.__init__'))\n"
        "print(','.join(sorted(m for m in sys.modules if m.split('.')[0] in ('rclpy','launch') "
        "or m.split('.')[0].endswith('_msgs'))))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == ""
