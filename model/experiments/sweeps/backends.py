"""Where runs execute: worker processes on this machine, or a Dask cluster.

A backend has `slots` (how many runs it works on at once), `submit(task)` returning a future,
`wait_any(futures)` returning those done, `close(cancel)` and a one-line `description`.
"""

from __future__ import annotations

import os
import signal
import socket
from concurrent.futures import FIRST_COMPLETED
from typing import Any

from model.config import ConfigError
from model.experiments.sweeps.execute import run_task


def _ignore_sigint() -> None:
    """Worker processes leave Ctrl-C to the driver, which stops them in order."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


class LocalBackend:
    """Worker processes on this machine (forkserver with the model preloaded, or spawn).

    Called from a script, the script needs the usual `if __name__ == "__main__":` guard, as
    with any multiprocessing code: the workers import the main module.
    """

    def __init__(self, workers: int) -> None:
        import multiprocessing

        method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
        self.ctx = multiprocessing.get_context(method)
        if method == "forkserver":
            self.ctx.set_forkserver_preload(["model.experiments.sweeps.execute", "model.market"])
        self.slots = workers
        self.pool = self._new_pool()
        self.description = f"local ({workers} processes, {method})"

    def _new_pool(self) -> Any:
        from concurrent.futures import ProcessPoolExecutor

        return ProcessPoolExecutor(max_workers=self.slots, mp_context=self.ctx, initializer=_ignore_sigint)

    def submit(self, task: dict[str, Any]) -> Any:
        from concurrent.futures.process import BrokenProcessPool

        try:
            return self.pool.submit(run_task, task)
        except BrokenProcessPool:
            # A worker died (e.g. the kernel's OOM killer): the runs it had come back as failed
            # (BrokenProcessPool in their traceback); start a fresh pool for the rest.
            self.pool.shutdown(wait=False, cancel_futures=True)
            self.pool = self._new_pool()
            return self.pool.submit(run_task, task)

    def wait_any(self, futures: Any) -> set[Any]:
        from concurrent.futures import wait

        return wait(futures, return_when=FIRST_COMPLETED).done

    def close(self, cancel: bool = False) -> None:
        self.pool.shutdown(wait=True, cancel_futures=cancel)


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

    def wait_any(self, futures: Any) -> set[Any]:
        from distributed import wait

        return set(wait(list(futures), return_when="FIRST_COMPLETED").done)

    def close(self, cancel: bool = False) -> None:
        try:
            self.client.close()
        finally:
            if self.cluster is not None:
                self.cluster.close()


def check_scheduler(address: str, timeout_s: float = 5.0) -> None:
    """Fail early, before a sweep folder is made, if nothing listens at a tcp:// scheduler address."""
    from urllib.parse import urlsplit

    parts = urlsplit(address if "://" in address else f"tcp://{address}")
    if parts.scheme != "tcp" or not parts.hostname or not parts.port:
        return  # tls://, ucx://, ...: let distributed judge
    try:
        socket.create_connection((parts.hostname, parts.port), timeout=timeout_s).close()
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
