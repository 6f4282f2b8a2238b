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
        parts/part-000017.parquet
                             finished runs, many per file (up to `driver.PART_RUNS`, 500, or
                             what finished in `driver.PART_SECONDS`, 30 s): one row per run with
                             run_id, seed, and its summary, sampled series, thresholds and meta
                             as JSON text; sorted by run_id, in row groups of PART_ROW_GROUP runs
        results.parquet      one row per run (sorted by run_id): design, status, summary numbers
        series.parquet       long table of the sampled series: run_id, step, one column each
        thresholds.parquet   long table: run_id, the detector's thresholds, glut and bubble at them
        status.parquet       one row per run: status, attempts, duration, host, error line
        analysis/            pictures and tables written by `aibubble analyze`

Crash safety: every file is written under a temporary name and renamed into place (see
`model.experiments.files`); part files are fsync'd before the rename, so a reader never sees
half a part. A run counts as done only if it is in a part that can be read (its run_id column),
which makes `kill -9` at any moment safe to resume from: the runs the driver had not yet
written are run again. The driver writes a part first and the ledger lines of its runs after
it, in one write and one fsync; a kill between the two is reconciled on resume (the missing
lines are added, marked `recovered`). The ledger is only ever appended to; a torn last line
(a kill during the write) is skipped when read. One driver at a time holds an exclusive lock
on the folder.

Folders made before part files hold one JSON file per finished run, `runs/000/000123.json`;
they are still read (a run counts as done if its file parses), and resuming one writes the new
runs as parts beside them.

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
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
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
PARTS = "parts"
LEGACY_RUNS = "runs"  # one JSON file per run: sweep folders made before part files
RESULTS = "results.parquet"
SERIES = "series.parquet"
THRESHOLDS = "thresholds.parquet"
STATUS = "status.parquet"
ANALYSIS = "analysis"
LOCK = ".lock"
REQUIRED = (SPEC, BASE_CONFIG, MANIFEST, DESIGN)
DESIGN_COLUMNS = ("run_id", "point_id", "replicate", "seed")
BATCH_ROWS = 200  # rows per record batch when aggregating: memory stays flat in the number of runs
PART_ROW_GROUP = 100  # runs per row group of a part file: the unit in which results are read back
CACHE_BYTES = 64 * 2**20  # row groups kept decoded while reading results back
PAYLOAD_FIELDS = ("summary", "series", "thresholds", "meta")
PART_SCHEMA = pa.schema(
    [("run_id", pa.int64()), ("seed", pa.int64())] + [(name, pa.string()) for name in PAYLOAD_FIELDS]
)
NOT_FOUND, LEGACY = -1, -2  # in the run index, instead of a part number


class StoreError(UserMistake):
    """A sweep folder that cannot be used (missing, incomplete, locked): one line for people."""


class SweepStore:
    """Reads and writes one sweep folder; the driver process is its only writer."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._next_part: int | None = None  # number of the next part file, found when first needed
        self._index: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None  # see _build_index
        self._paths: dict[int, Path] = {}
        self._cache: OrderedDict[tuple[Any, ...], tuple[dict[str, list[Any]], int]] = OrderedDict()
        self._cached_bytes = 0
        self.unreadable_parts: list[Path] = []

    # ------------------------------------------------------------------ paths
    def path(self, name: str) -> Path:
        return self.root / name

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
        (root / PARTS).mkdir()
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
        return cls(root)

    def discard(self) -> None:
        """Remove the folder of a sweep that never recorded a run (its backend did not start)."""
        if not self.path(LEDGER).exists() and not self._part_files():
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

    # ------------------------------------------------------------------ results in part files
    @staticmethod
    def encode_result(payload: dict[str, Any]) -> dict[str, Any]:
        """One finished run as a part row: run id, seed, and its summary, series, thresholds and
        meta as JSON texts (what `read_result` gives back). Done as the result arrives, so that the
        driver buffers compact text rather than Python objects."""
        row: dict[str, Any] = {"run_id": int(payload["run_id"]), "seed": int(payload["seed"])}
        for name in PAYLOAD_FIELDS:
            value = payload.get(name)
            row[name] = None if value is None else json.dumps(jsonable(value), separators=(",", ":"))
        return row

    def write_part(self, rows: list[dict[str, Any]]) -> Path:
        """Write finished runs (rows of `encode_result`) as the next part file, atomically and
        fsync'd: until the rename they do not count, after it they all do."""
        parts = self.path(PARTS)
        parts.mkdir(exist_ok=True)
        if self._next_part is None:
            self._next_part = max((n for n, _ in self._part_files()), default=-1) + 1
        path = parts / f"part-{self._next_part:06d}.parquet"
        rows = sorted(rows, key=lambda r: r["run_id"])
        table = pa.Table.from_pylist(rows, schema=PART_SCHEMA)
        with atomic_path(path) as tmp, open(tmp, "wb") as fh:
            pq.write_table(table, fh, row_group_size=PART_ROW_GROUP, compression="zstd")
            fh.flush()
            os.fsync(fh.fileno())
        _fsync_dir(parts)  # the rename itself survives a power cut too
        self._next_part += 1
        return path

    def _part_files(self) -> list[tuple[int, Path]]:
        """(number, path) of every part file, in the order they were written."""
        found = []
        for path in self.path(PARTS).glob("part-*.parquet"):
            number = path.name[len("part-") : -len(".parquet")]
            if number.isdigit():
                found.append((int(number), path))
        return sorted(found)

    def _build_index(self, run_ids: list[int]) -> None:
        """Find every finished run: its part, row group and row, or its old-layout run file.

        Reads only the run_id column of each part. A part that cannot be read (a disk fault:
        writes are atomic) is skipped, listed in `unreadable_parts`, and its runs count as not
        run. A run found twice keeps its first copy (they are equal: runs are deterministic).
        """
        n = max(run_ids, default=-1) + 1
        part = np.full(n, NOT_FOUND, dtype=np.int32)
        group = np.zeros(n, dtype=np.int32)
        row = np.zeros(n, dtype=np.int32)
        self.unreadable_parts = []
        for number, path in self._part_files():
            try:
                with pq.ParquetFile(path) as pf:
                    groups = [
                        pf.read_row_group(g, columns=["run_id"]).column(0).to_numpy()
                        for g in range(pf.num_row_groups)
                    ]
            except (OSError, pa.ArrowException):
                self.unreadable_parts.append(path)
                continue
            for g, ids in enumerate(groups):
                ids, first = np.unique(ids, return_index=True)
                keep = (ids >= 0) & (ids < n)
                ids, first = ids[keep], first[keep]
                new = part[ids] == NOT_FOUND
                ids, first = ids[new], first[new]
                part[ids], group[ids], row[ids] = number, g, first
        legacy = self.path(LEGACY_RUNS)
        if legacy.is_dir():  # a folder made before part files: one JSON file per run
            for path in legacy.glob("*/*.json"):
                rid = int(path.stem) if path.stem.isdigit() else -1
                if 0 <= rid < n and part[rid] == NOT_FOUND and self._read_legacy(rid) is not None:
                    part[rid] = LEGACY
        self._index = (part, group, row)
        self._paths = dict(self._part_files())

    def _found(self, run_id: int) -> bool:
        assert self._index is not None
        part = self._index[0]
        return 0 <= run_id < len(part) and part[run_id] != NOT_FOUND

    def read_results(self, run_ids: list[int], fields: tuple[str, ...] = PAYLOAD_FIELDS) -> list[Any]:
        """The results of finished runs (as `{"run_id", "seed", field: ...}` dicts; None for a run
        not found), read by row group through a small cache: runs finish roughly in run id
        order, so reading them in run id order reads each row group about once."""
        if self._index is None:
            self._build_index(self._design_table().column("run_id").to_pylist())
        assert self._index is not None
        part, group, row = self._index
        out: list[Any] = []
        for rid in run_ids:
            if not self._found(rid):
                out.append(None)
            elif part[rid] == LEGACY:
                payload = self._read_legacy(rid)
                out.append(payload and {k: payload.get(k) for k in ("run_id", "seed", *fields)})
            else:
                cols = self._row_group(int(part[rid]), int(group[rid]), fields)
                i = int(row[rid])
                result = {"run_id": rid, "seed": cols["seed"][i]}
                for name in fields:
                    text = cols[name][i]
                    result[name] = None if text is None else json.loads(text)
                out.append(result)
        return out

    def read_result(self, run_id: int) -> dict[str, Any] | None:
        """One finished run's result (None if it has none); see `read_results`."""
        return self.read_results([run_id])[0]

    def _row_group(self, number: int, group: int, fields: tuple[str, ...]) -> dict[str, list[Any]]:
        key = (number, group, fields)
        cached = self._cache.get(key)
        if cached is not None:
            self._cache.move_to_end(key)
            return cached[0]
        with pq.ParquetFile(self._paths[number]) as pf:
            table = pf.read_row_group(group, columns=["seed", *fields])
        cols = table.to_pydict()
        self._cache[key] = (cols, table.nbytes)
        self._cached_bytes += table.nbytes
        while self._cached_bytes > CACHE_BYTES and len(self._cache) > 1:
            _, (_, size) = self._cache.popitem(last=False)
            self._cached_bytes -= size
        return cols

    def _clear_cache(self) -> None:
        self._cache.clear()
        self._cached_bytes = 0

    def legacy_path(self, run_id: int) -> Path:
        """Where a sweep folder made before part files kept a run's result."""
        return self.root / LEGACY_RUNS / f"{run_id // 1000:03d}" / f"{run_id:06d}.json"

    def _read_legacy(self, run_id: int) -> dict[str, Any] | None:
        """An old-layout run file, or None if it is missing, unreadable or not this run's."""
        try:
            payload = json.loads(self.legacy_path(run_id).read_bytes())
        except (OSError, ValueError):
            return None
        if not isinstance(payload, dict) or payload.get("run_id") != run_id or "summary" not in payload:
            return None
        return payload

    # ------------------------------------------------------------------ ledger
    def append_ledger(self, record: dict[str, Any]) -> None:
        """Append one record as one line and fsync it: the ledger survives any crash but a torn tail."""
        self.append_ledger_many([record])

    def append_ledger_many(self, records: list[dict[str, Any]]) -> None:
        """Append records, one line each, in one write and one fsync."""
        if not records:
            return
        path = self.path(LEDGER)
        lines = b"".join(
            (json.dumps(jsonable(record), separators=(",", ":")) + "\n").encode() for record in records
        )
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            size = os.fstat(fd).st_size
            if size and _last_byte(path, size) != b"\n":  # a torn line from a killed writer
                lines = b"\n" + lines
            os.write(fd, lines)
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
        """Status of each run: ok (it is in a readable part, or an old-layout run file that
        parses), failed (its last attempt raised) or pending.

        With `reconcile` (the driver, under the lock), a finished run without an ok record in the
        ledger (killed between writing its part and the ledger lines) gets its record now, marked
        `recovered`, so that the ledger lists every finished run. Readers leave the ledger alone.
        """
        run_ids = list(run_ids)
        self._clear_cache()
        self._build_index(run_ids)
        last: dict[int, str] = {}  # run id -> status of its latest attempt (small: no tracebacks)
        ok_recorded: set[int] = set()
        for record in self.read_ledger():
            last[record["run_id"]] = str(record.get("status"))
            if record.get("status") == "ok":
                ok_recorded.add(record["run_id"])
        status: dict[int, str] = {}
        unrecorded: list[int] = []
        for run_id in run_ids:
            if self._found(run_id):
                status[run_id] = "ok"
                if reconcile and run_id not in ok_recorded:
                    unrecorded.append(run_id)
            elif last.get(run_id) == "failed":
                status[run_id] = "failed"
            else:
                status[run_id] = "pending"
        for start in range(0, len(unrecorded), BATCH_ROWS):
            found = self.read_results(unrecorded[start : start + BATCH_ROWS], ("meta",))
            self.append_ledger_many(
                [
                    {
                        "run_id": r["run_id"],
                        "status": "ok",
                        "seed": r["seed"],
                        **(r["meta"] or {}),
                        "recovered": True,
                    }
                    for r in found
                ]
            )
        self._clear_cache()
        return status

    # ------------------------------------------------------------------ aggregation
    def aggregate(self, series_columns: list[str]) -> dict[str, int]:
        """(Re)build results.parquet, series.parquet, thresholds.parquet and status.parquet from the
        part files (and the run files of an old-layout folder).

        Streams in batches of BATCH_ROWS runs, so memory does not grow with the number of runs.
        Returns the status counts.
        """
        design = self._design_table()
        run_ids = design.column("run_id").to_pylist()
        status = self.scan(run_ids)
        columns = self._outcome_columns([rid for rid in run_ids if status[rid] == "ok"])

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
                payloads = self.read_results([rid for rid in ids if status[rid] == "ok"])
                by_id = {p["run_id"]: p for p in payloads if p is not None}
                payloads = [by_id.get(rid) for rid in ids]
                results_out.write_table(self._results_batch(chunk, ids, status, payloads, columns))
                series_out.write_table(self._series_batch(ids, payloads, series_columns, series_schema))
                thresholds_out.write_table(self._thresholds_batch(ids, payloads))
        self._clear_cache()
        self._write_status(run_ids, status)
        counts = {"ok": 0, "failed": 0, "pending": 0}
        for value in status.values():
            counts[value] += 1
        return counts

    def _outcome_columns(self, ok_ids: list[int]) -> dict[str, pa.DataType]:
        """Summary keys in order of first appearance with one Arrow type each; events as counts."""
        kinds: dict[str, set[type]] = {}
        events: set[str] = set()
        for start in range(0, len(ok_ids), BATCH_ROWS):
            for result in self.read_results(ok_ids[start : start + BATCH_ROWS], ("summary",)):
                if result is None:
                    continue
                for key, value in flat_summary(result["summary"]).items():
                    if key.startswith("events_"):
                        events.add(key)
                    else:
                        kinds.setdefault(key, set()).add(type(value))
        self._clear_cache()  # the next pass reads every field
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
    design; the list of glut episodes stays in the run's summary in its part file (its counts and
    totals are columns already)."""
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


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


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
