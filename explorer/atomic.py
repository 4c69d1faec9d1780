"""Files replaced at once: a reader sees the old file or the new one, never half of one."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any


@contextlib.contextmanager
def atomic_write(
    path: Path, *, binary: bool = False, durable: bool = False, mode: int | None = None
) -> Iterator[IO[Any]]:
    """A file to write ``path``'s new contents into; they replace ``path`` when the block ends without error.

    The contents go to a temporary file beside ``path`` (``.<stem>-….tmp``: no glob for ``*.json`` or ``*.npz``
    sees it), renamed over ``path`` at the end and deleted on any error. ``durable`` flushes it to the disk
    before the rename; ``mode`` sets its permissions (a temporary file is private to its owner).
    """
    descriptor, scratch = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}-", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "wb" if binary else "w", encoding=None if binary else "utf-8") as handle:
            yield handle
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
        if mode is not None:
            os.chmod(scratch, mode)
        os.replace(scratch, path)
    except BaseException:
        Path(scratch).unlink(missing_ok=True)
        raise
