"""A sweep folder on disk: what was asked, what finished, and the tables built from it.

    runs/sweeps/<YYYYmmdd-HHMMSS>_<name>/
        spec.yaml            the validated sweep spec (normalised: every default written out)
        base_config.yaml     the base scenario with the fixed overrides, resolved once; runs apply
                             their design values to it, so workers need no config files
        manifest.json        how the sweep was made: command, versions, git commit, sessions
        design.parquet       one row per run: run_id, point_id, replicate, seed, swept values
        ledger.jsonl         append-only status ledger, one JSON object per finished attempt
                             (ok, failed, or lost: the worker died under the run, which is then
                             run again; attempt number, duration, host, traceback), fsync'd
        runs/000/000123.json one file per finished run: its summary, sampled series and thresholds
        results.parquet      one row per run (sorted by run_id): design, status, summary numbers
        series.parquet       long table of the sampled series: run_id, step, one column each
        thresholds.parquet   long table: run_id, the detector's thresholds, glut and bubble at them
        status.parquet       one row per run: status, attempts, duration, host, error line
        analysis/            pictures and tables written by `aibubble analyze`

Crash safety: every file is written under a temporary name and renamed into place (see
`model.experiments.files`), so a reader never sees half a file; a run counts as done only if
its result file exists and parses, which makes `kill -9` at any moment safe to resume from.
The ledger is only ever appended to; a torn last line (a kill during the write) is skipped
when read. One driver at a time holds an exclusive lock on the folder.

Everything in results.parquet is a function of the spec and the seeds (no durations, host names
or timestamps), so the same sweep gives the same file on any backend; those live in the ledger
and status.parquet.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import shutil
import socket
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from aibubble.config import read_yaml
from aibubble.errors import UserMistake
from aibubble.experiments.files import (
    TEMP_GLOB,
    atomic_path,
    atomic_write_text,
    jsonable,
    safe_name,
    write_json,
)

SPEC = "spec.yaml"
BASE_CONFIG = "base_config.yaml"
MANIFEST = "manifest.json"
DESIGN = "design.parquet"
LEDGER = "ledger.jsonl"
RUNS = "runs"
RESULTS = "results.parquet"
SERIES = "series.parquet"
THRESHOLDS = "thresholds.parquet"
STATUS = "status.parquet"
ANALYSIS = "analysis"
LOCK = ".lock"
REQUIRED = (SPEC, BASE_CONFIG, MANIFEST, DESIGN)
DESIGN_COLUMNS = ("run_id", "point_id", "replicate", "seed")
BATCH_ROWS = 200  # rows per record batch when aggregating: memory stays flat in the number of runs


class StoreError(UserMistake):
    """A sweep folder that cannot be used (missing, incomplete, locked): one line for people."""


class SweepStore:
    """Reads and writes one sweep folder; the driver process is its only writer."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._lock_fd: int | None = None

    # ------------------------------------------------------------------ paths
    def path(self, name: str) -> Path:
        return self.root / name

    def result_path(self, run_id: int) -> Path:
        return self.root / RUNS / f"{run_id // 1000:03d}" / f"{run_id:06d}.json"

    # ------------------------------------------------------------------ create / open
    @classmethod
    def create(
        cls,
        out_root: Path,
        name: str,
        spec_text: str,
        base_config: dict[str, Any],
        design: Any,
        manifest: dict[str, Any],
    ) -> SweepStore:
        """Make `out_root/<timestamp>_<name>/` (or `-2`, `-3`, ... if taken) with the fixed files."""
        out_root = Path(out_root)
        out_root.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        base = f"{stamp}_{safe_name(name, 'sweep')}"
        for n in range(1, 1000):
            root = out_root / (base if n == 1 else f"{base}-{n}")
            try:
                root.mkdir()
            except FileExistsError:
                continue
            break
        else:
            raise StoreError(f"{out_root}: no free folder name for {base}")
        store = cls(root)
        (root / RUNS).mkdir()
        header = "# base scenario plus the sweep's fixed overrides, resolved; runs add their design values\n"
        atomic_write_text(root / BASE_CONFIG, header + yaml.safe_dump(base_config, sort_keys=False))
        with atomic_path(root / DESIGN) as tmp:
            design.to_parquet(tmp, index=False)
        write_json(root / MANIFEST, manifest)
        atomic_write_text(root / SPEC, spec_text)  # last: a folder with spec.yaml is complete
        return store

    @classmethod
    def open(cls, root: Path) -> SweepStore:
        root = Path(root)
        if not root.is_dir():
            raise StoreError(f"{root}: no such sweep folder")
        missing = [name for name in REQUIRED if not (root / name).is_file()]
        if missing:
            raise StoreError(f"{root}: not a sweep folder (missing {', '.join(missing)})")
        (root / RUNS).mkdir(exist_ok=True)
        return cls(root)

    def discard(self) -> None:
        """Remove the folder of a sweep that never recorded a run (its backend did not start)."""
        if not self.path(LEDGER).exists():
            shutil.rmtree(self.root, ignore_errors=True)

    def read_base_config(self) -> dict[str, Any]:
        return read_yaml(self.path(BASE_CONFIG))

    def read_design(self) -> Any:
        return self._design_table().to_pandas()

    def design_columns(self) -> list[str]:
        """The design table's column names (its schema only: cheap for any size)."""
        return list(self._read_design_with(pq.read_schema).names)

    def _design_table(self) -> pa.Table:
        return self._read_design_with(pq.read_table)

    def _read_design_with(self, read: Any) -> Any:
        """`read(design.parquet)`; a truncated or foreign file is a StoreError naming it."""
        try:
            return read(self.path(DESIGN))
        except (OSError, pa.ArrowException) as exc:
            raise StoreError(f"{self.path(DESIGN)}: cannot read ({_first_line(exc)})") from None

    def read_manifest(self) -> dict[str, Any]:
        try:
            manifest = json.loads(self.path(MANIFEST).read_bytes())
        except (OSError, ValueError) as exc:
            raise StoreError(f"{self.path(MANIFEST)}: cannot read ({_first_line(exc)})") from None
        if not isinstance(manifest, dict):
            raise StoreError(f"{self.path(MANIFEST)}: expected a JSON object")
        return manifest

    def write_manifest(self, manifest: dict[str, Any]) -> None:
        write_json(self.path(MANIFEST), manifest)

    # ------------------------------------------------------------------ locking
    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold an exclusive lock on the folder (released by the kernel even on kill -9)."""
        fd = os.open(self.path(LOCK), os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                raise StoreError(f"{self.root}: another sweep process is using this folder") from None
            raise
        try:
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()} {socket.gethostname()}\n".encode())
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def is_locked(self) -> bool:
        """True while a sweep process works on this folder."""
        if not self.path(LOCK).exists():
            return False
        fd = os.open(self.path(LOCK), os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:
            return True
        else:
            fcntl.flock(fd, fcntl.LOCK_UN)
            return False
        finally:
            os.close(fd)

    def remove_temp_files(self) -> int:
        """Delete temporary files left by a killed writer; returns how many."""
        count = 0
        for tmp in self.root.rglob(TEMP_GLOB):
            with contextlib.suppress(OSError):
                tmp.unlink()
                count += 1
        return count

    # ------------------------------------------------------------------ per-run results and ledger
    def write_result(self, payload: dict[str, Any]) -> None:
        """One finished run's summary and series, atomically (then, and only then, it counts)."""
        path = self.result_path(int(payload["run_id"]))
        path.parent.mkdir(exist_ok=True)
        atomic_write_text(path, json.dumps(jsonable(payload), separators=(",", ":")))

    def read_result(self, run_id: int) -> dict[str, Any] | None:
        """A run's result, or None if it is missing, unreadable or not this run's."""
        try:
            payload = json.loads(self.result_path(run_id).read_bytes())
        except (OSError, ValueError):
            return None
        if not isinstance(payload, dict) or payload.get("run_id") != run_id or "summary" not in payload:
            return None
        return payload

    def append_ledger(self, record: dict[str, Any]) -> None:
        """Append one record as one line and fsync it: the ledger survives any crash but a torn tail."""
        path = self.path(LEDGER)
        line = (json.dumps(jsonable(record), separators=(",", ":")) + "\n").encode()
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            size = os.fstat(fd).st_size
            if size and _last_byte(path, size) != b"\n":  # a torn line from a killed writer
                line = b"\n" + line
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)

    def read_ledger(self) -> Iterator[dict[str, Any]]:
        """Every complete record, oldest first; torn or foreign lines are skipped."""
        path = self.path(LEDGER)
        if not path.is_file():
            return
        with open(path, "rb") as fh:
            for raw in fh:
                try:
                    record = json.loads(raw)
                except ValueError:
                    continue
                if isinstance(record, dict) and isinstance(record.get("run_id"), int):
                    yield record

    def scan(self, run_ids: Iterable[int], reconcile: bool = False) -> dict[int, str]:
        """Status of each run: ok (its result file parses), failed (last attempt raised) or pending.

        With `reconcile` (the driver, under the lock), a result file without an ok record in the
        ledger (killed between the two writes) gets its record now, marked `recovered`, so that
        the ledger lists every finished run. Readers leave the ledger alone.
        """
        last: dict[int, str] = {}  # run id -> status of its latest attempt (small: no tracebacks)
        ok_recorded: set[int] = set()
        for record in self.read_ledger():
            last[record["run_id"]] = str(record.get("status"))
            if record.get("status") == "ok":
                ok_recorded.add(record["run_id"])
        status: dict[int, str] = {}
        for run_id in run_ids:
            payload = self.read_result(run_id)
            if payload is not None:
                status[run_id] = "ok"
                if reconcile and run_id not in ok_recorded:
                    meta = payload.get("meta", {})
                    self.append_ledger(
                        {
                            "run_id": run_id,
                            "status": "ok",
                            "seed": payload.get("seed"),
                            **meta,
                            "recovered": True,
                        }
                    )
            elif last.get(run_id) == "failed":
                status[run_id] = "failed"
            else:
                status[run_id] = "pending"
        return status

    # ------------------------------------------------------------------ aggregation
    def aggregate(self, series_columns: list[str]) -> dict[str, int]:
        """(Re)build results.parquet, series.parquet and status.parquet from the run files.

        Streams in batches of BATCH_ROWS runs, so memory does not grow with the number of runs.
        Returns the status counts.
        """
        design = self._design_table()
        run_ids = design.column("run_id").to_pylist()
        status = self.scan(run_ids)
        columns = self._outcome_columns(rid for rid in run_ids if status[rid] == "ok")

        design = design.replace_schema_metadata(None)  # pandas' metadata would describe only the design
        results_schema = design.schema.append(pa.field("status", pa.string()))
        for name, typ in columns.items():
            results_schema = results_schema.append(pa.field(_unique(name, design.schema.names), typ))
        series_schema = pa.schema(
            [("run_id", pa.int64()), ("step", pa.int64())] + [(c, pa.float64()) for c in series_columns]
        )
        with (
            atomic_path(self.path(RESULTS)) as results_tmp,
            atomic_path(self.path(SERIES)) as series_tmp,
            atomic_path(self.path(THRESHOLDS)) as thresholds_tmp,
            pq.ParquetWriter(results_tmp, results_schema) as results_out,
            pq.ParquetWriter(series_tmp, series_schema) as series_out,
            pq.ParquetWriter(thresholds_tmp, THRESHOLDS_SCHEMA) as thresholds_out,
        ):
            for start in range(0, len(run_ids), BATCH_ROWS):
                chunk = design.slice(start, BATCH_ROWS)
                ids = chunk.column("run_id").to_pylist()
                payloads = [self.read_result(rid) if status[rid] == "ok" else None for rid in ids]
                results_out.write_table(self._results_batch(chunk, ids, status, payloads, columns))
                series_out.write_table(self._series_batch(ids, payloads, series_columns, series_schema))
                thresholds_out.write_table(self._thresholds_batch(ids, payloads))
        self._write_status(run_ids, status)
        counts = {"ok": 0, "failed": 0, "pending": 0}
        for value in status.values():
            counts[value] += 1
        return counts

    def _outcome_columns(self, ok_ids: Iterable[int]) -> dict[str, pa.DataType]:
        """Summary keys in order of first appearance with one Arrow type each; events as counts."""
        kinds: dict[str, set[type]] = {}
        events: set[str] = set()
        for rid in ok_ids:
            payload = self.read_result(rid)
            if payload is None:
                continue
            for key, value in flat_summary(payload["summary"]).items():
                if key.startswith("events_"):
                    events.add(key)
                else:
                    kinds.setdefault(key, set()).add(type(value))
        columns = {key: _arrow_type(types) for key, types in kinds.items()}
        columns.update({key: pa.int64() for key in sorted(events)})
        return columns

    @staticmethod
    def _results_batch(
        chunk: pa.Table,
        ids: list[int],
        status: dict[int, str],
        payloads: list[dict[str, Any] | None],
        columns: dict[str, pa.DataType],
    ) -> pa.Table:
        flats = [flat_summary(p["summary"]) if p is not None else None for p in payloads]
        arrays = list(chunk.columns) + [pa.array([status[rid] for rid in ids], pa.string())]
        names = list(chunk.schema.names) + ["status"]
        for key, typ in columns.items():
            default = 0 if key.startswith("events_") else None
            values = [None if f is None else f.get(key, default) for f in flats]
            if pa.types.is_floating(typ):
                values = [None if v is None else float(v) for v in values]
            arrays.append(pa.array(values, typ))
            names.append(_unique(key, chunk.schema.names))
        return pa.Table.from_arrays(arrays, names=names)

    @staticmethod
    def _series_batch(
        ids: list[int], payloads: list[dict[str, Any] | None], columns: list[str], schema: pa.Schema
    ) -> pa.Table:
        cols: dict[str, list[Any]] = {name: [] for name in schema.names}
        for rid, payload in zip(ids, payloads, strict=True):
            series = (payload or {}).get("series") or {}
            steps = series.get("step", [])
            cols["run_id"].extend([rid] * len(steps))
            cols["step"].extend(steps)
            for c in columns:
                values = series.get(c, [None] * len(steps))
                cols[c].extend(None if v is None else float(v) for v in values)
        return pa.Table.from_pydict(cols, schema=schema)

    @staticmethod
    def _thresholds_batch(ids: list[int], payloads: list[dict[str, Any] | None]) -> pa.Table:
        cols: dict[str, list[Any]] = {name: [] for name in THRESHOLDS_SCHEMA.names}
        for rid, payload in zip(ids, payloads, strict=True):
            for row in (payload or {}).get("thresholds") or []:  # none in sweeps made before the grid
                cols["run_id"].append(rid)
                for name in THRESHOLDS_SCHEMA.names[1:]:
                    cols[name].append(row[name])
        return pa.Table.from_pydict(cols, schema=THRESHOLDS_SCHEMA)

    def _write_status(self, run_ids: list[int], status: dict[int, str]) -> None:
        attempts: dict[int, int] = {}
        last: dict[int, tuple[Any, ...]] = {}  # run id -> (duration, host, finished, error line)
        for record in self.read_ledger():
            rid = record["run_id"]
            if not record.get("recovered"):
                attempts[rid] = attempts.get(rid, 0) + 1
            last[rid] = (
                record.get("duration_s"),
                record.get("host"),
                record.get("finished_utc"),
                _error_line(record),
            )
        blank = (None, None, None, None)
        rows = {
            "run_id": run_ids,
            "status": [status[r] for r in run_ids],
            "attempts": [attempts.get(r, 0) for r in run_ids],
            "duration_s": [last.get(r, blank)[0] for r in run_ids],
            "host": [last.get(r, blank)[1] for r in run_ids],
            "finished_utc": [last.get(r, blank)[2] for r in run_ids],
            "error": [last.get(r, blank)[3] if status[r] == "failed" else None for r in run_ids],
        }
        schema = pa.schema(
            [
                ("run_id", pa.int64()),
                ("status", pa.string()),
                ("attempts", pa.int64()),
                ("duration_s", pa.float64()),
                ("host", pa.string()),
                ("finished_utc", pa.string()),
                ("error", pa.string()),
            ]
        )
        with atomic_path(self.path(STATUS)) as tmp:
            pq.write_table(pa.Table.from_pydict(rows, schema=schema), tmp)


THRESHOLDS_SCHEMA = pa.schema(
    [
        ("run_id", pa.int64()),
        ("persistence_months", pa.int64()),
        ("utilization_threshold", pa.float64()),
        ("impairment_share_threshold", pa.float64()),
        ("glut", pa.bool_()),
        ("bubble", pa.bool_()),
    ]
)


def flat_summary(summary: dict[str, Any]) -> dict[str, Any]:
    """A run summary as flat columns: the event counts become `events_<kind>`; the seed is in the
    design; the list of glut episodes stays in the run's own result file (its counts and totals
    are columns already)."""
    out: dict[str, Any] = {}
    for key, value in summary.items():
        if key in ("seed", "episodes"):
            continue
        if key == "events" and isinstance(value, dict):
            out.update({f"events_{k}": int(v) for k, v in value.items()})
        else:
            out[key] = value
    return out


def _arrow_type(types: set[type]) -> pa.DataType:
    types = types - {type(None)}
    if types == {bool}:
        return pa.bool_()
    if types == {int}:
        return pa.int64()
    if types and types <= {int, float}:
        return pa.float64()
    if types == {str}:
        return pa.string()
    if not types:
        return pa.float64()  # only nulls seen (e.g. no run had a bubble onset)
    return pa.string()


def _unique(name: str, taken: list[str]) -> str:
    """An outcome column that would collide with a design column (e.g. a swept `steps`) gets a suffix."""
    return f"{name}_result" if name in taken else name


def _last_byte(path: Path, size: int) -> bytes:
    with open(path, "rb") as fh:
        fh.seek(size - 1)
        return fh.read(1)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0]}" if text else type(exc).__name__


def _error_line(record: dict[str, Any]) -> str | None:
    text = (record.get("traceback") or "").strip()
    return text.splitlines()[-1] if text else None
