"""Where runs execute: worker processes on this machine, or a Dask cluster.

A backend has `slots` (how many runs it works on at once), `submit(task)` returning a future,
`wait_any(futures)` returning those done, `lost(exc)` telling whether an exception from a
future means the worker was lost (not the model's fault: the driver retries the run),
`close(cancel)` and a one-line `description`.

Workers never outlive the driver, even after `kill -9` of the driver: local workers hold the
read end of a pipe whose only write end the driver holds, and exit the moment it reads end of
file (the kernel closes the driver's end however the driver dies); Dask's LocalCluster workers
watch their parent the same way (distributed's own parent-alive pipe). A parent-death signal
(prctl PR_SET_PDEATHSIG) would not do: forkserver workers are children of the forkserver,
which the workers themselves keep alive.
"""

from __future__ import annotations

import os
import signal
import socket
import threading
from concurrent.futures import FIRST_COMPLETED
from typing import Any

from aibubble.config import ConfigError
from aibubble.experiments.sweeps.execute import run_task


def _init_worker(lifeline: Any) -> None:
    """In each local worker: leave Ctrl-C to the driver, which stops workers in order, and exit
    at once when the driver is gone (its end of `lifeline` closes)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_exit_with_driver, args=(lifeline,), name="lifeline", daemon=True).start()


def _exit_with_driver(lifeline: Any) -> None:
    try:
        lifeline.recv()  # nothing is ever sent: this returns only by end of file
    except (EOFError, OSError):
        pass
    os._exit(1)


class LocalBackend:
    """Worker processes on this machine (forkserver with the model preloaded, or spawn), in the
    driver's process group.

    Called from a script, the script needs the usual `if __name__ == "__main__":` guard, as
    with any multiprocessing code: the workers import the main module.
    """

    def __init__(self, workers: int) -> None:
        import multiprocessing

        method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
        self.ctx = multiprocessing.get_context(method)
        if method == "forkserver":
            self.ctx.set_forkserver_preload(["aibubble.experiments.sweeps.execute", "aibubble.market"])
        self.slots = workers
        # The driver keeps the only write end; workers get the read end (forkserver and spawn
        # pass a child only the descriptors it is given, so no other process holds the write end).
        self._lifeline, self._lifeline_end = self.ctx.Pipe(duplex=False)
        self.pool = self._new_pool()
        self.description = f"local ({workers} processes, {method})"

    def _new_pool(self) -> Any:
        from concurrent.futures import ProcessPoolExecutor

        return ProcessPoolExecutor(
            max_workers=self.slots, mp_context=self.ctx, initializer=_init_worker, initargs=(self._lifeline,)
        )

    def submit(self, task: dict[str, Any]) -> Any:
        from concurrent.futures.process import BrokenProcessPool

        try:
            return self.pool.submit(run_task, task)
        except BrokenProcessPool:
            # A worker died (killed, the kernel's OOM killer): the runs in flight came back lost
            # and the driver resubmits them; start a fresh pool for them and the rest.
            self.pool.shutdown(wait=False, cancel_futures=True)
            self.pool = self._new_pool()
            return self.pool.submit(run_task, task)

    def imap(self, fn: Any, items: list[Any]) -> Any:
        """`fn` over `items` on the workers, results in the items' order (calibration's batches)."""
        return self.pool.map(fn, items)

    def wait_any(self, futures: Any) -> set[Any]:
        from concurrent.futures import wait

        return wait(futures, return_when=FIRST_COMPLETED).done

    @staticmethod
    def lost(exc: BaseException) -> bool:
        """A worker process died under the run (every run in flight then fails with this)."""
        from concurrent.futures.process import BrokenProcessPool

        return isinstance(exc, BrokenProcessPool)

    def close(self, cancel: bool = False) -> None:
        try:
            self.pool.shutdown(wait=True, cancel_futures=cancel)
        finally:
            self._lifeline_end.close()
            self._lifeline.close()


class DaskBackend:
    """Dask distributed: an existing scheduler, or a LocalCluster of single-threaded processes."""

    def __init__(self, workers: int, scheduler: str | None = None) -> None:
        try:
            from distributed import Client, LocalCluster
        except ImportError:
            raise ConfigError("--backend dask needs `pip install 'dask[distributed]'`") from None
        self.cluster = None
        if scheduler:
            try:
                self.client = Client(scheduler, timeout="20s")
            except OSError as exc:
                raise ConfigError(f"--scheduler {scheduler}: cannot connect ({exc})") from None
            threads = sum(self.client.nthreads().values())
            self.slots = max(workers, threads, 1)
            self.description = f"dask scheduler {scheduler} ({threads} worker threads)"
        else:
            self.cluster = LocalCluster(
                n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
            )
            self.client = Client(self.cluster)
            self.slots = workers
            self.description = f"dask LocalCluster ({workers} processes)"

    def submit(self, task: dict[str, Any]) -> Any:
        return self.client.submit(
            run_task, task, pure=False, key=f"aibubble-run-{task['run_id']}-{os.urandom(4).hex()}"
        )

    def imap(self, fn: Any, items: list[Any]) -> Any:
        """`fn` over `items` on the cluster, results in the items' order (calibration's batches)."""
        for future in self.client.map(fn, items, pure=False):
            yield future.result()

    def wait_any(self, futures: Any) -> set[Any]:
        from distributed import wait

        return set(wait(list(futures), return_when="FIRST_COMPLETED").done)

    @staticmethod
    def lost(exc: BaseException) -> bool:
        """The scheduler gave up on the run's workers (KilledWorker: they died under it more than
        distributed.scheduler.allowed-failures times), cancelled it, or the connection broke.
        A worker lost once is handled by the scheduler itself, which reruns the task elsewhere."""
        from concurrent.futures import CancelledError

        from distributed import KilledWorker
        from distributed.comm import CommClosedError

        return isinstance(exc, KilledWorker | CancelledError | CommClosedError)

    def close(self, cancel: bool = False) -> None:
        try:
            self.client.close()
        finally:
            if self.cluster is not None:
                self.cluster.close()


def check_scheduler(address: str, connect: bool = True, timeout_s: float = 5.0) -> None:
    """Fail early, before a sweep folder is made, on a scheduler address that is malformed or (with
    `connect`) where nothing listens at a tcp:// address."""
    from urllib.parse import urlsplit

    parts = urlsplit(address if "://" in address else f"tcp://{address}")
    try:
        port = parts.port
    except ValueError:  # a port that is not a number
        port = None
    if not parts.hostname or (parts.scheme == "tcp" and port is None):
        raise ConfigError(f"--scheduler {address}: expected an address like tcp://HOST:8786")
    if parts.scheme != "tcp" or not connect:
        return  # tls://, ucx://, ...: let distributed judge
    try:
        socket.create_connection((parts.hostname, port), timeout=timeout_s).close()
    except OSError as exc:
        raise ConfigError(f"--scheduler {address}: nothing answers there ({exc.strerror or exc})") from None


def make_backend(kind: str, workers: int, scheduler: str | None) -> LocalBackend | DaskBackend:
    if kind == "local":
        if scheduler:
            raise ConfigError("--scheduler needs --backend dask")
        return LocalBackend(workers)
    if kind == "dask":
        return DaskBackend(workers, scheduler)
    raise ConfigError(f"unknown backend '{kind}'; use local or dask")
