"""Which dataset kind a directory holds, from its layout (the readers are :mod:`allinone_ros.data.datasets`)."""
from __future__ import annotations

from pathlib import Path
from typing import Iterable

from .datasets import BAG_KIND, LASOT_EXT_CLASSES, OTB_QUERY_DIRS, require_dir, subdirs
from .sequence import DatasetLayoutError, PathLike, list_frames


def _any_file(dirs: Iterable[Path], name: str) -> bool:
    return any((d / name).is_file() for d in dirs)


def detect_dataset_kind(root: PathLike) -> str:
    """Guess the dataset kind from the layout under ``root``.

    LaSOT and LaSOT_ext share a layout; ``lasot_ext`` is returned only when every
    class directory is one of the LaSOT_ext classes.
    """
    root = require_dir(Path(root), "dataset root")
    from .bag import find_bags

    if find_bags(root):
        return BAG_KIND
    if any((root / d).is_dir() for d in OTB_QUERY_DIRS.values()):
        return "otb99_lang"
    children = subdirs(root)
    grandchildren = [g for c in children for g in subdirs(c)]
    if _any_file(children, "groundtruth_rect.txt") or _any_file(grandchildren, "groundtruth_rect.txt"):
        return "webuav3m"
    lasot_like = [
        g for g in grandchildren if g.name.startswith(g.parent.name + "-") and (g / "groundtruth.txt").is_file()
    ]
    if lasot_like:
        classes = {g.parent.name for g in lasot_like}
        return "lasot_ext" if classes <= LASOT_EXT_CLASSES else "lasot"
    for dirs in (children, grandchildren):
        if _any_file(dirs, "meta_info.ini") or _any_file(dirs, "absence.label"):
            return "got10k"
        if any((d / "imgs").is_dir() and (d / "groundtruth.txt").is_file() for d in dirs):
            return "tnl2k"
        if any((d / "groundtruth.txt").is_file() and list_frames(d) for d in dirs):
            return "got10k"
    raise DatasetLayoutError(
        f"{root}: cannot detect the dataset kind; expected one of: LaSOT <class>/<class>-<n>/groundtruth.txt, "
        "TNL2K <seq>/imgs/ + groundtruth.txt, OTB99-L OTB_query_test/, WebUAV-3M <split>/<seq>/groundtruth_rect.txt, "
        "GOT-10k <seq>/meta_info.ini"
    )
