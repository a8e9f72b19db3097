"""File modes of what the command-line tools write (no heavy imports: every CLI uses it)."""
from __future__ import annotations

import os

OUTPUT_UMASK = 0o022  # the CLIs' files get the usual modes (0644 files, 0755 directories), whatever the caller's umask


def use_output_umask() -> None:
    """Make this process's new files 0644 and directories 0755, also under a restrictive umask such as 077."""
    os.umask(OUTPUT_UMASK)
