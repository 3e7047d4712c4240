"""Files at rest are private: the data directory is 0700 and everything in it 0600.

The databases hold every key hash (each integrator's webhook signing key) and the cursor secret;
the S3 data holds every company's uploads. ``restrict_new_files`` sets the process umask so
that whatever this process and its children (the worker, ``weed``) create is private;
``make_private`` fixes a data directory left by an older version, which created them 0644 in
a 0755 directory.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

logger = logging.getLogger("steve_lite.files")

PRIVATE_UMASK = 0o077
DIRECTORY_MODE = 0o700
FILE_MODE = 0o600
LOGGED_PATHS = 5


def restrict_new_files() -> None:
    """Files and directories created from now on get no group or other permissions."""
    os.umask(PRIVATE_UMASK)


def private_mode(mode: int) -> int | None:
    """The mode a path of ``mode`` must have, or None when it already is private (or is
    neither a file nor a directory, such as a socket)."""
    if stat.S_ISDIR(mode):
        wanted = DIRECTORY_MODE
    elif stat.S_ISREG(mode):
        wanted = FILE_MODE
    else:
        return None
    return wanted if stat.S_IMODE(mode) != wanted else None


def make_private(root: Path) -> list[Path]:
    """Make ``root`` and every directory under it 0700 and every file 0600; the paths changed.
    Symbolic links are not followed."""
    changed = []
    for path in [root, *root.rglob("*")]:
        try:
            wanted = private_mode(path.lstat().st_mode)
            if wanted is not None:
                path.chmod(wanted)
                changed.append(path)
        except FileNotFoundError:  # removed meanwhile (a SQLite journal, a temp file)
            continue
        except PermissionError:
            logger.warning("cannot make %s private: this user does not own it", path)
    return changed


def fix_data_dir(data_dir: Path) -> None:
    """Make the data directory private, saying so when it was not: older versions left it 0755
    with its files 0644."""
    changed = make_private(data_dir)
    if changed:
        shown = ", ".join(str(p.relative_to(data_dir)) for p in changed[:LOGGED_PATHS])
        more = f" and {len(changed) - LOGGED_PATHS} more" if len(changed) > LOGGED_PATHS else ""
        logger.warning(
            "data directory %s was readable by other users: made %d path(s) private "
            "(directories 0700, files 0600): %s%s",
            data_dir,
            len(changed),
            shown,
            more,
        )
