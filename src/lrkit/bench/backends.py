"""Execution backends: in-process, a local process pool, and Ray.

Every backend takes a list of :class:`~lrkit.bench.runner.Job` and calls ``on_result(record)``
in the driver as each run finishes, so the driver alone writes runs.jsonl (same semantics
everywhere: a killed driver loses only the runs in flight).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from lrkit.bench.runner import Job, error_record, run_job

__all__ = ["Backend", "LocalBackend", "RayBackend", "SerialBackend", "make_backend"]

OnResult = Callable[[dict[str, Any]], None]

_THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


class Backend(Protocol):
    """Runs jobs and reports each finished record to ``on_result`` (in the driver)."""

    def run(self, jobs: Sequence[Job], on_result: OnResult) -> None:
        """Run all jobs; return when every record has been delivered."""
        ...


class SerialBackend:
    """Runs jobs one after another in this process (debugging, tests, ``--workers 1``)."""

    def run(self, jobs: Sequence[Job], on_result: OnResult) -> None:
        """Run all jobs in order."""
        for job in jobs:
            on_result(run_job(job))


def _init_worker(gpu_queue: Any = None) -> None:
    # Set before any framework is imported in the fresh worker (spawn/forkserver).
    for var in _THREAD_VARS:
        os.environ[var] = "1"
    if gpu_queue is not None:
        from lrkit.bench.devices import init_gpu_worker

        init_gpu_worker(gpu_queue)


class LocalBackend:
    """A process pool of ``workers`` processes started with ``context`` ("spawn"/"forkserver").

    Each worker runs with one BLAS/torch thread (``TaskConfig.threads=1`` plus the usual
    environment variables) so workers do not oversubscribe the cores. ``devices`` (one GPU
    group per worker, see :func:`lrkit.bench.devices.assign_gpus`) makes each worker see only
    its own GPUs through ``CUDA_VISIBLE_DEVICES``.
    """

    def __init__(
        self,
        workers: int,
        context: str = "spawn",
        devices: Sequence[tuple[str, ...]] | None = None,
    ) -> None:
        if workers < 1:
            raise ValueError(f"LocalBackend: workers must be >= 1, got {workers!r}")
        if context not in ("spawn", "forkserver"):
            raise ValueError(
                f"LocalBackend: context must be 'spawn' or 'forkserver', got {context!r}"
            )
        if devices is not None and len(devices) != workers:
            raise ValueError(
                f"LocalBackend: devices must hold one GPU group per worker ({workers}), "
                f"got {len(devices)}"
            )
        self.workers = workers
        self.context = context
        self.devices = list(devices) if devices is not None else None

    def run(self, jobs: Sequence[Job], on_result: OnResult) -> None:
        """Submit all jobs to the pool; deliver records as they complete."""
        if not jobs:
            return
        import multiprocessing
        from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
        from concurrent.futures.process import BrokenProcessPool

        ctx = multiprocessing.get_context(self.context)
        n = min(self.workers, len(jobs))
        gpu_queue: Any = None
        if self.devices is not None:
            gpu_queue = ctx.SimpleQueue()
            for group in self.devices[:n]:
                gpu_queue.put(group)
        pool = ProcessPoolExecutor(
            max_workers=n, mp_context=ctx, initializer=_init_worker, initargs=(gpu_queue,)
        )
        try:
            pending: dict[Future[dict[str, Any]], Job] = {
                pool.submit(run_job, job): job for job in jobs
            }
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for fut in done:
                    job = pending.pop(fut)
                    try:
                        rec = fut.result()
                    except BrokenProcessPool as exc:
                        raise RuntimeError(
                            "bench: a worker process died (killed, out of memory, or the "
                            "calling script lacks an `if __name__ == '__main__':` guard, which "
                            "the spawn start method needs); finished runs are saved, rerun "
                            "the same command to resume"
                        ) from exc
                    except Exception as exc:
                        rec = error_record(job, exc)
                    on_result(rec)
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        pool.shutdown(wait=True)


class RayBackend:
    """Each job is one Ray task (``num_cpus=1``); the driver writes records as they arrive.

    ``address=None`` starts a private local Ray instance with ``num_cpus`` CPUs (shut down at the
    end); ``"auto"`` or ``"ray://host:10001"`` connects to an existing cluster, whose nodes need
    lrkit and the task's packages installed. An already initialised Ray session is reused.
    A task given as a file (``path/to/file.py:function``) reaches the workers through the
    ``runtime_env`` working directory: the file's folder is uploaded and the workers import
    the file from there. ``num_gpus`` (``--gpus-per-run``) is requested by every run; Ray sets
    ``CUDA_VISIBLE_DEVICES`` for it.
    """

    def __init__(
        self, address: str | None = None, num_cpus: int | None = None, num_gpus: int = 0
    ) -> None:
        self.address = address
        self.num_cpus = num_cpus
        self.num_gpus = num_gpus

    def run(self, jobs: Sequence[Job], on_result: OnResult) -> None:
        """Submit all jobs as Ray tasks; deliver records in completion order."""
        if not jobs:
            return
        try:
            import ray
        except ImportError:
            raise ImportError(
                "bench --backend ray needs the package ray (pip install 'lrkit[ray]')"
            ) from None
        started = False
        if not ray.is_initialized():
            kwargs: dict[str, Any] = {"log_to_driver": False}
            if self.address is None:
                kwargs.update(num_cpus=self.num_cpus, include_dashboard=False)
            else:
                kwargs["address"] = self.address
            runtime_env = ray_runtime_env(jobs)
            if runtime_env:
                kwargs["runtime_env"] = runtime_env
            ray.init(**kwargs)
            started = True
        try:
            if self.num_gpus:
                _check_ray_gpus(ray.cluster_resources(), self.num_gpus)  # type: ignore[no-untyped-call]
            remote = ray.remote(**self.remote_options())(run_job)
            pending = {remote.remote(job): job for job in jobs}
            while pending:
                done, _ = ray.wait(list(pending), num_returns=1)
                for ref in done:
                    job = pending.pop(ref)
                    try:
                        rec = ray.get(ref)
                    except Exception as exc:  # worker crashed / task failed in Ray itself
                        rec = error_record(job, exc)
                    on_result(rec)
        except BaseException:
            for ref in list(locals().get("pending", {})):
                ray.cancel(ref, force=True)
            raise
        finally:
            if started:
                ray.shutdown()

    def remote_options(self) -> dict[str, Any]:
        """The ``ray.remote`` options of every run: one CPU, ``num_gpus`` GPUs, no retry.

        >>> RayBackend(num_gpus=2).remote_options()
        {'num_cpus': 1, 'max_retries': 0, 'num_gpus': 2}
        """
        options: dict[str, Any] = {"num_cpus": 1, "max_retries": 0}
        if self.num_gpus:
            options["num_gpus"] = self.num_gpus
        return options


def _check_ray_gpus(resources: dict[str, Any], num_gpus: int) -> None:
    """ValueError when the cluster has fewer GPUs than one run requests."""
    have = float(resources.get("GPU", 0))
    if num_gpus and have < num_gpus:
        raise ValueError(
            f"bench --gpus-per-run {num_gpus}: the Ray cluster has {have:g} GPU(s); "
            f"drop the flag to run on CPUs"
        )


def ray_runtime_env(jobs: Sequence[Job]) -> dict[str, Any]:
    """The ``runtime_env`` that uploads the folder of the jobs' task file as the workers'
    working directory (empty when no job's task is a file). A worker that cannot find the
    file at its absolute path imports it from its working directory.

    >>> ray_runtime_env([])
    {}
    """
    from pathlib import Path

    folders: set[Path] = set()
    for job in jobs:
        file, sep, _ = (job.source or job.task).rpartition(":")
        if sep and file.endswith(".py"):
            folders.add(Path(file).expanduser().resolve().parent)
    if not folders:
        return {}
    if len(folders) > 1:
        raise ValueError(
            f"bench --backend ray: task files must share one folder (it is uploaded as the "
            f"workers' working directory), got {sorted(map(str, folders))}"
        )
    return {"working_dir": str(folders.pop())}


def make_backend(
    name: str,
    *,
    workers: int,
    address: str | None = None,
    context: str = "spawn",
    gpus_per_run: int = 0,
    workers_given: bool = True,
) -> Backend:
    """The backend called ``name`` ("local", "ray" or "serial").

    With ``gpus_per_run`` > 0 the local pool gets one GPU group per worker (workers default to
    GPUs // gpus_per_run when ``workers_given`` is False) and Ray requests that many GPUs per run.

    >>> type(make_backend("serial", workers=1)).__name__
    'SerialBackend'
    """
    if name == "serial" or (name == "local" and workers == 1 and not gpus_per_run):
        if gpus_per_run:  # in-process: no devices to hand out, but the GPUs must be there
            from lrkit.bench.devices import assign_gpus, visible_gpus

            assign_gpus(visible_gpus(), gpus_per_run, 1)
        return SerialBackend()
    if name == "local" and gpus_per_run:
        from lrkit.bench.devices import assign_gpus, visible_gpus

        groups = assign_gpus(visible_gpus(), gpus_per_run, workers if workers_given else None)
        return LocalBackend(len(groups), context, devices=groups)
    if name == "local":
        return LocalBackend(workers, context)
    if name == "ray":
        return RayBackend(
            address=address, num_cpus=workers if address is None else None, num_gpus=gpus_per_run
        )
    raise ValueError(f"bench: backend={name!r} is unknown; allowed: local, ray, serial")
