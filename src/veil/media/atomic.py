"""Atomic output: write beside the destination under a hidden name, rename onto it only when complete."""

from __future__ import annotations

import glob
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from veil.errors import OutputError


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


_FILE_MODE = 0o666 & ~_umask()


def temporary_pattern(destination: Path) -> str:
    """Glob pattern of the temporary names :func:`atomic_output` gives for ``destination``."""
    return glob.escape(f".{destination.stem}.") + "?" * 8 + glob.escape(f".veil-tmp{destination.suffix}")


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
    # The name is chosen before the file is made (tempfile.mkstemp only hands it over once the file
    # exists), so an interrupt arriving while it is being created still finds it to remove.
    temporary: Path | None = directory / f".{destination.stem}.{secrets.token_hex(4)}.veil-tmp{destination.suffix}"
    try:
        try:
            os.close(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        except OSError as error:
            if isinstance(error, FileExistsError):
                temporary = None  # someone else's file (32 random bits: all but impossible)
            raise OutputError(f"{destination}: cannot write ({error.strerror or error})") from error
        yield temporary
        with open(temporary, "rb") as written:
            os.fsync(written.fileno())
        os.chmod(temporary, _FILE_MODE)
        os.replace(temporary, destination)
    except BaseException:
        if temporary is not None:
            temporary.unlink(missing_ok=True)
        raise
