"""The driver: make or reopen a sweep folder and run what is not done yet, writing as runs finish.

The driver is the folder's only writer. It submits at most IN_FLIGHT_PER_WORKER runs per worker
ahead of the results and buffers the results as they arrive (as JSON text), writing them as one
part file every PART_RUNS runs or PART_SECONDS seconds, whichever comes first (and at the end,
on Ctrl-C or SIGTERM, or when the buffer holds PART_BYTES), so its memory does not grow with the
number of runs and a sweep of a million runs writes a few thousand files, not a million. The
ledger lines of the buffered attempts follow their part, in one write and one fsync. After
`kill -9` the runs of the unflushed buffer are simply run again on resume.

Two kinds of failure are told apart. A model failure (the model raised) comes back from the
worker as a result with its traceback and is recorded `failed` (its ledger line goes out with
the next part). An infrastructure failure (the worker process died under the run, a Dask worker
was lost: see the backends' `lost`) is no fault of the run: it is recorded `lost` and the run
is resubmitted, up to MAX_RETRIES times in a session, then recorded `failed`. A run that kills
its worker every time (a segfault, the OOM killer) therefore fails after 1 + MAX_RETRIES
attempts; the runs that were in flight beside it are lost too and each such loss uses up one of
their retries. Every attempt is one ledger line with its `attempt` number in the session.
"""

from __future__ import annotations

import os
import signal
import sys
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aibubble.config import resolve_path
from aibubble.experiments.provenance import VERSIONED, git_state, now_utc, version
from aibubble.experiments.sweeps.backends import make_backend
from aibubble.experiments.sweeps.design import Prepared, RowReader, prepare
from aibubble.experiments.sweeps.spec import read_spec, spec_yaml
from aibubble.experiments.sweeps.store import SPEC, SweepStore

IN_FLIGHT_PER_WORKER = 2
MAX_RETRIES = 3  # resubmissions of a run after infrastructure failures, per session
PART_RUNS = 500  # finished runs per part file at most
PART_SECONDS = 30.0  # a buffered result waits at most this long (checked as results arrive)
PART_BYTES = 64 * 2**20  # buffered JSON text at most


@dataclass
class Outcome:
    """What a sweep session did: the folder, counts over the whole sweep, and this session's."""

    root: Path
    total: int
    ok: int
    failed: int
    pending: int
    ran: int = 0
    retried: int = 0
    interrupted: bool = False
    seconds: float = 0.0


def default_workers() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def create_sweep(prepared: Prepared, out_root: Path, command: str) -> SweepStore:
    spec = prepared.spec
    manifest = {
        "name": spec.name,
        "description": spec.description,
        "spec_file": prepared.origin,
        "base": spec.base,
        "base_file": str(resolve_path(spec.base)),
        "design": spec.design.kind,
        "params": {k.name: {"path": k.path, "unit": k.unit} for k in prepared.keys.values()},
        "n_points": prepared.n_points,
        "replicates": spec.replicates,
        "n_runs": len(prepared.design),
        "master_seed": spec.seed,
        "created_utc": now_utc(),
        "command": command,
        "python": sys.version.split()[0],
        "versions": {dist: version(dist) for dist in (*VERSIONED, "SALib", "distributed")},
        "git": git_state(),
        "sessions": [],
    }
    return SweepStore.create(
        out_root, spec.name, spec_yaml(spec), prepared.base_config, prepared.design, manifest
    )


def open_sweep(root: Path) -> tuple[SweepStore, Prepared]:
    """An existing sweep folder and its spec, re-validated against its own frozen design."""
    store = SweepStore.open(root)
    store.read_manifest()  # a broken manifest stops here, before the folder is locked or written
    origin = str(store.path(SPEC))
    spec = read_spec(origin)
    prepared = prepare(spec, origin, design=store.read_design(), base_config=store.read_base_config())
    return store, prepared


def _progress(total: int, initial: int, desc: str, enabled: bool | None) -> Any:
    from tqdm import tqdm

    return tqdm(
        total=total,
        initial=initial,
        desc=desc,
        unit="run",
        file=sys.stderr,
        disable=None if enabled is None else not enabled,  # None: only on a terminal
        dynamic_ncols=True,
        smoothing=0.1,
    )


@dataclass
class _Counters:
    ok: int = 0
    failed: int = 0
    ran: int = 0
    retried: int = 0  # resubmissions after infrastructure failures


class _Buffer:
    """Finished attempts not yet on disk: ok results as part rows, and every attempt's ledger line."""

    def __init__(self, store: SweepStore) -> None:
        self.store = store
        self.rows: list[dict[str, Any]] = []
        self.records: list[dict[str, Any]] = []
        self.bytes = 0
        self.since: float | None = None  # when the oldest buffered attempt arrived

    def add(self, payload: dict[str, Any], counts: _Counters) -> None:
        """Buffer one attempt; a `lost` one gets its ledger line only (it will be run again)."""
        record = {
            "run_id": payload["run_id"],
            "status": payload["status"],
            "seed": payload["seed"],
            **payload["meta"],
        }
        if payload["status"] == "ok":
            row = self.store.encode_result(payload)
            self.rows.append(row)
            self.bytes += sum(len(v) for v in row.values() if isinstance(v, str))
            counts.ok += 1
        else:
            record["traceback"] = payload.get("traceback", "")
            self.bytes += len(record["traceback"])
            if payload["status"] == "failed":
                counts.failed += 1
        if payload["status"] != "lost":
            counts.ran += 1
        self.records.append(record)
        if self.since is None:
            self.since = time.monotonic()

    def due(self) -> bool:
        return bool(self.records) and (
            len(self.rows) >= PART_RUNS
            or self.bytes >= PART_BYTES
            or time.monotonic() - (self.since or 0.0) >= PART_SECONDS
        )

    def flush(self) -> None:
        """The part first, then the ledger lines: a run never counts before its part is complete,
        and a kill between the two is reconciled on resume (see `SweepStore.scan`)."""
        if self.rows:
            self.store.write_part(self.rows)
            self.rows = []  # written: a Ctrl-C before the ledger lines must not write them twice
        self.store.append_ledger_many(self.records)
        self.records, self.bytes, self.since = [], 0, None


def run_sweep(
    store: SweepStore,
    prepared: Prepared,
    *,
    workers: int,
    backend: str = "local",
    scheduler: str | None = None,
    retry_failed: bool = False,
    command: str = "",
    progress: bool | None = None,
    on_record: Callable[[dict[str, Any]], None] | None = None,
) -> Outcome:
    """Run every run of the sweep that is not done yet, writing the results in part files.

    Memory stays flat: the driver holds the design table, at most 2 x workers tasks in flight,
    counters, and at most PART_RUNS buffered results (as text) until they are written. On Ctrl-C
    or SIGTERM the buffered results are written, the runs in flight are abandoned, the folder
    stays resumable and `interrupted` is set.
    """
    t0 = time.perf_counter()
    with store.locked():
        store.remove_temp_files()
        status = store.scan(prepared.design["run_id"].tolist(), reconcile=True)
        for path in store.unreadable_parts:
            print(f"note: {path} cannot be read; its runs are run again", file=sys.stderr)
        todo_status = ("pending", "failed") if retry_failed else ("pending",)
        todo = [rid for rid, s in status.items() if s in todo_status]
        counts = _Counters(
            ok=sum(s == "ok" for s in status.values()),
            failed=sum(s == "failed" for s in status.values() if not retry_failed),
        )
        manifest = store.read_manifest()
        session = {
            "started_utc": now_utc(),
            "command": command,
            "backend": backend,
            "workers": workers,
            "scheduler": scheduler,
            "to_run": len(todo),
        }
        manifest.setdefault("sessions", []).append(session)
        store.write_manifest(manifest)

        interrupted = False
        if todo:
            interrupted = _drive(
                store, prepared, todo, counts, workers, backend, scheduler, progress, on_record
            )
        totals = store.aggregate(list(prepared.spec.series.columns))

        session.update(
            finished_utc=now_utc(),
            ran=counts.ran,
            retried=counts.retried,
            interrupted=interrupted,
            seconds=round(time.perf_counter() - t0, 2),
        )
        session.update(totals)
        manifest["sessions"][-1] = session
        manifest["status"] = totals
        store.write_manifest(manifest)
    return Outcome(
        root=store.root,
        total=len(status),
        ok=totals["ok"],
        failed=totals["failed"],
        pending=totals["pending"],
        ran=counts.ran,
        retried=counts.retried,
        interrupted=interrupted,
        seconds=time.perf_counter() - t0,
    )


def _drive(
    store: SweepStore,
    prepared: Prepared,
    todo: list[int],
    counts: _Counters,
    workers: int,
    backend_kind: str,
    scheduler: str | None,
    progress: bool | None,
    on_record: Callable[[dict[str, Any]], None] | None,
) -> bool:
    """The submit/collect loop; returns True if interrupted."""
    rows = RowReader(prepared.design)  # run_id == row position (checked in prepare)
    total = len(prepared.design)
    bar = _progress(total, total - len(todo), prepared.spec.name, progress)
    bar.set_postfix(ok=counts.ok, failed=counts.failed)
    backend = make_backend(backend_kind, workers, scheduler)
    bar.write(f"{len(todo)} of {total} runs to do on {backend.description}; writing to {store.root}")
    pending_ids: Iterator[int] = iter(todo)
    retry: deque[int] = deque()  # lost runs, resubmitted before new ones
    attempts: dict[int, int] = {}  # run id -> attempts this session, for runs that were lost
    in_flight: dict[Any, int] = {}
    limit = IN_FLIGHT_PER_WORKER * backend.slots
    previous = signal.getsignal(signal.SIGTERM)
    interrupted = False
    buffer = _Buffer(store)

    def on_term(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    if _main_thread():
        signal.signal(signal.SIGTERM, on_term)
    try:

        def fill() -> None:
            while len(in_flight) < limit:
                rid = retry.popleft() if retry else next(pending_ids, None)
                if rid is None:
                    return
                in_flight[backend.submit(prepared.task(rows[rid]))] = rid

        fill()
        while in_flight:
            for fut in backend.wait_any(in_flight):
                rid = in_flight.pop(fut)
                attempt = attempts.get(rid, 0) + 1
                try:
                    payload = fut.result()
                except Exception as exc:  # not the model: run_task returns the model's errors
                    payload = {
                        "run_id": rid,
                        "seed": rows[rid]["seed"],
                        "status": "failed",
                        "traceback": traceback.format_exc(),
                        "meta": {"finished_utc": now_utc()},
                    }
                    if backend.lost(exc) and attempt <= MAX_RETRIES:
                        attempts[rid] = attempt
                        payload["status"] = "lost"
                        retry.append(rid)
                        counts.retried += 1
                payload["meta"]["attempt"] = attempt
                buffer.add(payload, counts)
                if on_record is not None:
                    on_record(payload)
                if payload["status"] != "lost":
                    bar.update(1)
                bar.set_postfix(ok=counts.ok, failed=counts.failed, retried=counts.retried, refresh=False)
                if buffer.due():
                    buffer.flush()
            fill()
    except KeyboardInterrupt:
        interrupted = True
        bar.write(
            f"interrupted: {len(in_flight)} runs in flight are dropped; resume with --resume {store.root}"
        )
    finally:
        if _main_thread():
            signal.signal(signal.SIGTERM, previous)
        try:
            buffer.flush()  # what finished is kept, however the loop ended
        finally:
            bar.close()
            backend.close(cancel=True)
    return interrupted


def _main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()
