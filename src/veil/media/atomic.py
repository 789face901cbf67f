"""Atomic output: write beside the destination under a hidden name, rename onto it only when complete."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from veil.errors import OutputError


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


_FILE_MODE = 0o666 & ~_umask()


@contextmanager
def atomic_output(destination: Path) -> Iterator[Path]:
    """A temporary path beside ``destination`` (hidden, same extension), renamed onto it on success.

    On any exception, ``KeyboardInterrupt`` included, the temporary file is removed and nothing new
    appears at the destination; an existing file there is replaced only by a complete one. The
    temporary file is private (0600) while it is written and gets the usual permissions on rename.
    """
    destination = Path(destination)
    directory = destination.parent
    if not directory.is_dir():
        raise OutputError(f"{directory}: output folder does not exist")
    try:
        handle, name = tempfile.mkstemp(prefix=f".{destination.stem}.", suffix=f".veil-tmp{destination.suffix}", dir=directory)
    except OSError as error:
        raise OutputError(f"{destination}: cannot write ({error.strerror or error})") from error
    os.close(handle)
    temporary = Path(name)
    try:
        yield temporary
        with open(temporary, "rb") as written:
            os.fsync(written.fileno())
        os.chmod(temporary, _FILE_MODE)
        os.replace(temporary, destination)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
