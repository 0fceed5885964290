"""Execution backends: in-process, a local process pool, and Ray.

Every backend takes a list of :class:`~lrkit.bench.execution.runner.Job` and calls ``on_result(record)``
in the driver as each run finishes, so the driver alone writes runs.jsonl (same semantics
everywhere: a killed driver loses only the runs in flight).
"""

from __future__ import annotations

import contextlib
import math
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Protocol

from lrkit.bench.execution.runner import Job, error_record, run_job

__all__ = [
    "Backend",
    "LocalBackend",
    "RayBackend",
    "SerialBackend",
    "make_backend",
    "run_job_limited",
]

OnResult = Callable[[dict[str, Any]], None]

_THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


class Backend(Protocol):
    """Runs jobs and reports each finished record to ``on_result`` (in the driver)."""

    def run(self, jobs: Sequence[Job], on_result: OnResult) -> None:
        """Run all jobs; return when every record has been delivered."""
        ...


class SerialBackend:
    """Runs jobs one after another in this process (debugging, tests, ``--workers 1``).

    Each run gets one torch thread, as a pool worker's does (:class:`LocalBackend`), so a run
    takes the same path and about the same time whichever backend runs it; the process's
    thread count is restored after each run. ``run_timeout`` is enforced with ``SIGALRM``
    (main thread, POSIX): it interrupts Python code, not a call blocked inside C code; the
    local pool kills a worker instead. The processes an interrupted run started (found below
    this process in ``/proc``) are ended with it.
    """

    def __init__(self, *, run_timeout: float | None = None) -> None:
        self.run_timeout = _check_timeout(run_timeout)

    def run(self, jobs: Sequence[Job], on_result: OnResult) -> None:
        """Run all jobs in order."""
        for job in jobs:
            with one_torch_thread():
                record = run_job_limited(job, self.run_timeout)
            on_result(record)


@contextlib.contextmanager
def one_torch_thread() -> Iterator[None]:
    """Run the block with torch's intra-op threads at 1 (when torch is imported), then restore.

    A pool worker starts with one thread (``OMP_NUM_THREADS=1``); a run in this process gets the
    same, so tiny models do not pay for threads they cannot use (on a busy 2-core machine a
    200-step MLP took 7.9 s with 2 threads and 0.23 s with 1).
    """
    torch = sys.modules.get("torch")
    before = torch.get_num_threads() if torch is not None else None
    if torch is not None:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        if torch is not None and before is not None:
            torch.set_num_threads(before)


def run_job_limited(job: Job, run_timeout: float | None) -> dict[str, Any]:
    """:func:`run_job` stopped by ``SIGALRM`` after ``run_timeout`` seconds (an error record).

    Without a limit, off the main thread or without ``SIGALRM`` it is plain ``run_job``.
    """
    if (
        run_timeout is None
        or not hasattr(signal, "setitimer")
        or threading.current_thread() is not threading.main_thread()
    ):
        return run_job(job)
    from lrkit.bench.execution.pool import RunTimeout

    fired = False

    def on_alarm(signum: int, frame: Any) -> None:
        nonlocal fired
        fired = True
        raise RunTimeout(
            f"the run did not finish within run_timeout={run_timeout:g} s "
            f"(a hanging train_step or evaluate?); it was interrupted"
        )

    before = descendants(os.getpid())
    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, run_timeout)
    try:
        return run_job(job)  # RunTimeout raised inside becomes an error record there
    except RunTimeout as exc:  # the alarm fired just as the run returned
        return error_record(job, exc)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if fired:  # the interrupted run's own processes end with it
            end_processes(descendants(os.getpid()) - before)


def descendants(root: int) -> set[int]:
    """The pids of every process below ``root`` (children, grandchildren, ...), read from
    ``/proc``; an empty set where there is no ``/proc`` (the local pool ends whole process
    groups instead, on every platform with ``killpg``).

    >>> os.getpid() in descendants(os.getppid()) or not os.path.isdir("/proc")
    True
    """
    children: dict[int, list[int]] = {}
    try:
        names = os.listdir("/proc")
    except OSError:
        return set()
    for name in names:
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                stat = f.read()
        except OSError:  # gone meanwhile
            continue
        # "pid (comm) state ppid ...": comm may hold spaces and ')', so split after the last ')'
        fields = stat[stat.rfind(b")") + 2 :].split()
        if len(fields) > 1:
            children.setdefault(int(fields[1]), []).append(int(name))
    found: set[int] = set()
    todo = [root]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def end_processes(pids: set[int]) -> None:
    """SIGKILL each of ``pids`` and reap the ones that are this process's children."""
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            continue
    for pid in pids:
        try:
            os.waitpid(pid, 0)
        except (ChildProcessError, OSError):  # not our child: its own parent reaps it
            continue


def _init_worker(slot: int, devices: Sequence[tuple[str, ...]] | None = None) -> None:
    # Set before any framework is imported in the fresh worker (spawn/forkserver).
    for var in _THREAD_VARS:
        os.environ[var] = "1"
    if devices is not None:  # worker slot i (and its replacements) owns GPU group i
        os.environ["CUDA_VISIBLE_DEVICES"] = ",".join(devices[slot])


def _check_timeout(run_timeout: float | None) -> float | None:
    if run_timeout is None:
        return None
    if (
        not isinstance(run_timeout, int | float)
        or isinstance(run_timeout, bool)
        or not 0 < run_timeout < math.inf
    ):
        raise ValueError(
            f"bench: run_timeout={run_timeout!r} must be None or a finite number of seconds > 0"
        )
    return float(run_timeout)


class LocalBackend:
    """A pool of ``workers`` processes started with ``context`` ("spawn"/"forkserver").

    Each worker runs with one BLAS/torch thread (``TaskConfig.threads=1`` plus the usual
    environment variables) so workers do not oversubscribe the cores. ``devices`` (one GPU
    group per worker, see :func:`lrkit.bench.execution.devices.assign_gpus`) makes each worker see only
    its own GPUs through ``CUDA_VISIBLE_DEVICES``. A worker that dies becomes an error record
    for its run (with the exit code) and is replaced (on the same GPUs); a run longer than
    ``run_timeout`` seconds is stopped and becomes an error record; workers exit when the
    driver dies (see :mod:`lrkit.bench.execution.pool`).
    """

    def __init__(
        self,
        workers: int,
        context: str = "spawn",
        devices: Sequence[tuple[str, ...]] | None = None,
        *,
        run_timeout: float | None = None,
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
        self.run_timeout = _check_timeout(run_timeout)

    def run(self, jobs: Sequence[Job], on_result: OnResult) -> None:
        """Submit all jobs to the pool; deliver records as they complete."""
        if not jobs:
            return
        from lrkit.bench.execution.pool import WorkerError, WorkerPool

        def done(job: Job, result: Any) -> None:
            if isinstance(result, BaseException):
                rec = error_record(job, result)
                if isinstance(result, WorkerError):
                    rec["traceback"] = result.remote_traceback
                exitcode = getattr(result, "exitcode", None)
                if exitcode is not None:
                    rec["exitcode"] = exitcode
                on_result(rec)
            else:
                on_result(result)

        with WorkerPool(
            min(self.workers, len(jobs)),
            context=self.context,
            initializer=_init_worker,
            initargs=(self.devices,),
            timeout=self.run_timeout,
        ) as pool:
            pool.map_unordered(run_job, jobs, done)


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
        self,
        address: str | None = None,
        num_cpus: int | None = None,
        num_gpus: int = 0,
        *,
        run_timeout: float | None = None,
    ) -> None:
        self.address = address
        self.num_cpus = num_cpus
        self.num_gpus = num_gpus
        self.run_timeout = _check_timeout(run_timeout)

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
                _check_ray_gpus(ray.cluster_resources(), self.num_gpus)
            remote = ray.remote(**self.remote_options())(run_job_limited)
            pending = {remote.remote(job, self.run_timeout): job for job in jobs}
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
    run_timeout: float | None = None,
) -> Backend:
    """The backend called ``name`` ("local", "ray" or "serial").

    With ``gpus_per_run`` > 0 the local pool gets one GPU group per worker (workers default to
    GPUs // gpus_per_run when ``workers_given`` is False) and Ray requests that many GPUs per run.
    ``local`` with one worker runs in this process, unless ``run_timeout`` is set: then it
    uses a one-process pool, so a run hanging inside C code can still be stopped.

    >>> type(make_backend("serial", workers=1)).__name__
    'SerialBackend'
    >>> type(make_backend("local", workers=1, run_timeout=60)).__name__
    'LocalBackend'
    """
    if name == "serial":
        if gpus_per_run:  # in-process: no devices to hand out, but the GPUs must be there
            from lrkit.bench.execution.devices import assign_gpus, visible_gpus

            assign_gpus(visible_gpus(), gpus_per_run, 1)
        return SerialBackend(run_timeout=run_timeout)
    if name == "local" and gpus_per_run:
        from lrkit.bench.execution.devices import assign_gpus, visible_gpus

        groups = assign_gpus(visible_gpus(), gpus_per_run, workers if workers_given else None)
        return LocalBackend(len(groups), context, devices=groups, run_timeout=run_timeout)
    if name == "local":
        if workers == 1 and run_timeout is None:
            return SerialBackend()
        return LocalBackend(workers, context, run_timeout=run_timeout)
    if name == "ray":
        return RayBackend(
            address=address,
            num_cpus=workers if address is None else None,
            num_gpus=gpus_per_run,
            run_timeout=run_timeout,
        )
    raise ValueError(f"bench: backend={name!r} is unknown; allowed: local, ray, serial")
