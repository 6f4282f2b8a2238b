"""Writing files so that a reader never sees half of one, and values JSON can hold.

Every writer here writes under a hidden temporary name next to the target and renames it into
place: a file is either absent, the old one, or complete, even after `kill -9`. Temporary
names match `.*.tmp-*`, so a folder's leftovers can be found and removed.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # only for the annotations: the sweep workers need neither
    import pandas as pd
    from matplotlib.figure import Figure

TEMP_GLOB = ".*.tmp-*"
BARE_PNG = {"Software": None}  # PNG metadata without matplotlib's version: same figure, same bytes


def jsonable(value: Any) -> Any:
    """Plain JSON values: numpy scalars and arrays unwrapped, NaN and inf as null (JSON has no NaN),
    tuples as lists, times as ISO text."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, datetime):  # pd.Timestamp too
        return value.isoformat()
    return value


def safe_name(name: str, fallback: str) -> str:
    """A folder-name fragment: a name given as a path must not create sub-folders."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or fallback


@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """A temporary path to write `path`'s content to; renamed into place if the block succeeds,
    removed if it raises. The temporary name keeps the suffix, for writers that read the format
    from it (matplotlib)."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}{path.suffix}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()


def atomic_write_bytes(path: Path, data: bytes, fsync: bool = True) -> None:
    """Write `data` to `path`; with `fsync`, the content is on disk before the rename."""
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        if fsync:
            os.fsync(fh.fileno())


def atomic_write_text(path: Path, text: str, fsync: bool = True) -> None:
    atomic_write_bytes(path, text.encode(), fsync)


def write_json(path: Path, data: Any) -> None:
    """Indented JSON of `jsonable(data)`; anything else JSON cannot hold is written as its text."""
    atomic_write_text(path, json.dumps(jsonable(data), indent=2, default=str) + "\n")


def write_parquet(df: pd.DataFrame, path: Path) -> None:
    """Parquet; object columns of mixed types (e.g. event details) are stored as text rather than lost."""
    try:
        with atomic_path(path) as tmp:
            df.to_parquet(tmp)
    except (TypeError, ValueError, NotImplementedError):  # pyarrow's ArrowInvalid is a ValueError
        fixed = df.copy()
        for column in fixed.columns:
            if fixed[column].dtype == object:
                fixed[column] = fixed[column].map(lambda v: None if v is None else str(v))
        with atomic_path(path) as tmp:
            fixed.to_parquet(tmp)


def save_figure(fig: Figure, path: Path, dpi: int = 110, metadata: dict[str, Any] | None = None) -> None:
    """A figure as a PNG; with `metadata=BARE_PNG` the bytes do not depend on the installed
    matplotlib (pages compared byte for byte)."""
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi, metadata=metadata)
