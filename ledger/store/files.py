"""Folders and files that hold personal data or secrets: 0700 and 0600, whatever the umask.

The journal's SQLite file holds donors' names, phones, e-mails and receipt secrets; the
evidence folder holds invoices. They are created readable by their owner only: the mode
is set explicitly after creation, so neither a permissive umask (000) nor a strict one
changes it. A folder or file that already exists is left as it is (the operator may
share it on purpose, e.g. with a backup group); an existing database file open to others
is named in a warning with the command that makes it private (ADR 0019).
"""

from __future__ import annotations

import logging
import os
import stat
import tempfile
from pathlib import Path

PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600

log = logging.getLogger("shanlian.files")


def warn_if_exposed(path: Path) -> bool:
    """Log a warning if group or others may read or enter ``path``; whether they may."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return False
    if not mode & 0o077:
        return False
    private = PRIVATE_DIR_MODE if path.is_dir() else PRIVATE_FILE_MODE
    log.warning(
        "%s is open to other users of this machine (mode %03o) and holds personal data or "
        "secrets; make it private: chmod %03o %s",
        path,
        mode,
        private,
        path,
    )
    return True


def private_dir(path: Path) -> Path:
    """Create ``path`` as a folder only its owner may enter (missing parents: default mode).

    An existing folder keeps its mode: the files we put in it are private themselves, and
    the folder may be the working directory or shared on purpose.
    """
    if path.is_dir():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        path.mkdir(mode=PRIVATE_DIR_MODE)
    except FileExistsError:  # made meanwhile by another process
        return path
    os.chmod(path, PRIVATE_DIR_MODE)  # mkdir's mode is masked by the umask
    return path


def create_private_file(path: Path) -> bool:
    """Create ``path`` empty with mode 0600 if it does not exist; whether it was created.

    An existing file keeps its mode; a warning is logged if it is open to others.
    """
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)
    except FileExistsError:
        warn_if_exposed(path)
        return False
    try:
        os.fchmod(fd, PRIVATE_FILE_MODE)
    finally:
        os.close(fd)
    return True


def write_private_file(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` as a new file with mode 0600, whole or not at all.

    The bytes go to a temporary file beside ``path`` (created 0600), renamed over it: an
    existing file is replaced, with its mode, never widened nor left half written.
    """
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), PRIVATE_FILE_MODE)  # mkstemp's 0600 is umasked
            handle.write(data)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
