"""A process pool that survives its runs: dead workers, hanging runs and a dead driver.

:class:`WorkerPool` starts ``workers`` processes with the ``spawn`` (or ``forkserver``) start
method, never ``fork``, and hands each one item at a time over a pipe, so the driver always
knows which item a worker holds:

- a worker that dies (``os._exit``, a signal, out of memory) turns its item into a
  :class:`WorkerDied` result carrying the exit code, and is replaced; the other items go on;
- an item that runs longer than ``timeout`` seconds gets a :class:`RunTimeout` result, its
  worker is killed and replaced;
- every worker watches its parent and exits when the driver is gone (``kill -9`` of the driver
  leaks no process);
- every worker leads its own session (POSIX), so the processes a task starts (``sleep 300``,
  data-loader workers) share its process group: the whole group is killed with the worker on
  a time-out, when the worker dies, when the driver is interrupted or gone, and when the pool
  closes, so no run leaves a process behind.

>>> with WorkerPool(1) as pool:
...     pool.map_unordered(abs, [-3, "x"], lambda item, result: print(item, repr(result)))
-3 3
x WorkerError("TypeError: bad operand type for abs(): 'str'")
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
import traceback
from collections.abc import Callable, Iterable
from multiprocessing.connection import Connection, wait
from types import TracebackType
from typing import Any

__all__ = ["PARENT_POLL_S", "RunTimeout", "WorkerDied", "WorkerError", "WorkerPool"]

#: How often (seconds) an idle or busy worker checks that its parent is still alive.
PARENT_POLL_S = 0.2


class WorkerDied(RuntimeError):
    """The worker process running an item died; ``exitcode`` as :attr:`Process.exitcode`."""

    def __init__(self, message: str, exitcode: int | None) -> None:
        super().__init__(message)
        self.exitcode = exitcode


class RunTimeout(TimeoutError):
    """An item ran longer than the pool's (or the run's) time limit."""


class WorkerError(RuntimeError):
    """An item raised in the worker; the message and traceback are the worker's."""

    def __init__(self, message: str, remote_traceback: str) -> None:
        super().__init__(message)
        self.remote_traceback = remote_traceback


_STARTED, _OK, _ERR = "started", "ok", "error"


def _kill_group(pgid: int | None) -> None:
    """SIGKILL the process group ``pgid`` (a worker's session); gone already is fine."""
    if pgid is not None and hasattr(os, "killpg"):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)


def _own_session() -> None:
    """Make this worker the leader of a new session and process group (POSIX)."""
    if hasattr(os, "setsid"):
        with contextlib.suppress(OSError):  # already a group leader: keep it
            os.setsid()


def _watch_parent(ppid: int) -> None:
    """Exit this process (code 70), with the processes its runs started, as soon as its
    parent ``ppid`` is gone."""

    def loop() -> None:
        while True:
            time.sleep(PARENT_POLL_S)
            if os.getppid() != ppid:
                if hasattr(os, "getpgrp") and os.getpgrp() == os.getpid():
                    _kill_group(os.getpid())  # its session: the worker and its children
                os._exit(70)

    threading.Thread(target=loop, name="lrkit-parent-watch", daemon=True).start()


def _worker_main(
    conn: Connection,
    ppid: int,
    initializer: Callable[..., None] | None,
    initargs: tuple[Any, ...],
    slot: int,
) -> None:
    """Worker loop: receive ``(fn, item)``; send ``("started", None)``, then ``("ok", result)``
    or ``("error", (message, traceback))``."""
    _own_session()
    _watch_parent(ppid)
    if initializer is not None:
        initializer(slot, *initargs)
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            return
        if msg is None:
            return
        fn, item = msg
        try:
            conn.send((_STARTED, None))  # the time limit counts from here, not from start-up
            reply: tuple[str, Any] = (_OK, fn(item))
        except BaseException as exc:
            reply = (_ERR, (f"{type(exc).__name__}: {exc}", traceback.format_exc()[-4000:]))
        try:
            conn.send(reply)
        except (EOFError, OSError):  # the driver is gone
            return
        except Exception as exc:  # the result cannot be pickled
            conn.send((_ERR, (f"{type(exc).__name__}: {exc}", traceback.format_exc()[-4000:])))


class _Worker:
    """One worker process, its end of the pipe, and the item it holds."""

    def __init__(self, pool: WorkerPool, slot: int) -> None:
        ctx = pool._ctx
        self.slot = slot
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(
            target=_worker_main,
            args=(child, os.getpid(), pool.initializer, pool.initargs, slot),
            name=f"lrkit-bench-worker-{slot}",
            daemon=False,  # a task may start processes of its own (DataLoader workers)
        )
        self.proc.start()
        child.close()
        self.item: Any = None
        self.busy = False
        self.deadline = float("inf")

    def stop(self, *, kill: bool) -> None:
        """End the worker (``kill``: at once, else once it has read the stop message) and
        every process left in its group.

        The group's id is the worker's pid (see :func:`_own_session`); it is killed while the
        exited worker is not yet reaped, so that pid cannot name anything else.
        """
        pid = self.proc.pid
        if kill:
            _kill_group(pid)  # the worker and its children, running or not
            self.proc.kill()  # a worker that had no session yet
        if not wait([self.proc.sentinel], 5.0):  # pragma: no cover - ignoring the stop
            self.proc.kill()
            wait([self.proc.sentinel])
        _kill_group(pid)  # what its items left running, before the join reaps the worker
        self.proc.join()
        self.conn.close()


class WorkerPool:
    """``workers`` spawned processes running one item each; see the module docstring.

    ``initializer(slot, *initargs)`` runs first in each worker; ``slot`` in
    ``range(workers)`` is the worker's place, which its replacement takes over (so per-slot
    resources such as GPUs stay with it). ``initializer`` and every ``fn`` passed to
    :meth:`map_unordered` must be importable module-level functions (spawn pickles them by
    name).
    """

    def __init__(
        self,
        workers: int,
        *,
        context: str = "spawn",
        initializer: Callable[..., None] | None = None,
        initargs: tuple[Any, ...] = (),
        timeout: float | None = None,
    ) -> None:
        import multiprocessing

        if not isinstance(workers, int) or isinstance(workers, bool) or workers < 1:
            raise ValueError(f"WorkerPool: workers must be an int >= 1, got {workers!r}")
        if context not in ("spawn", "forkserver"):
            raise ValueError(
                f"WorkerPool: context must be 'spawn' or 'forkserver', got {context!r}"
            )
        if timeout is not None and not (timeout > 0 and timeout < float("inf")):
            raise ValueError(
                f"WorkerPool: timeout must be None or a finite number > 0, got {timeout!r}"
            )
        self.workers = workers
        self.initializer = initializer
        self.initargs = tuple(initargs)
        self.timeout = timeout
        self._ctx: Any = multiprocessing.get_context(context)
        self._live: list[_Worker] = []

    def _spawn(self, slot: int | None = None) -> _Worker:
        if slot is None:  # the first free place
            taken = {w.slot for w in self._live}
            slot = next(i for i in range(self.workers) if i not in taken)
        worker = _Worker(self, slot)
        self._live.append(worker)
        return worker

    def _retire(self, worker: _Worker, *, kill: bool) -> None:
        self._live.remove(worker)
        worker.stop(kill=kill)

    def map_unordered(
        self,
        fn: Callable[[Any], Any],
        items: Iterable[Any],
        on_done: Callable[[Any, Any], None],
    ) -> None:
        """Run ``fn(item)`` for every item; call ``on_done(item, result)`` as each finishes.

        ``result`` is ``fn``'s return value, or a :class:`WorkerError`, :class:`WorkerDied` or
        :class:`RunTimeout` instance. ``on_done`` runs in the calling process.
        """
        queue = list(items)
        queue.reverse()
        while len(self._live) < min(self.workers, len(queue)):
            self._spawn()

        for worker in list(self._live):
            if not worker.busy:
                self._dispatch(fn, queue, worker)
        while any(w.busy for w in self._live):
            busy = [w for w in self._live if w.busy]
            nearest = min(w.deadline for w in busy)
            wait_s = None if nearest == float("inf") else max(0.0, nearest - time.monotonic())
            ready = set(wait([w.conn for w in busy] + [w.proc.sentinel for w in busy], wait_s))
            for worker in busy:
                outcome = self._outcome(worker, ready)
                if outcome is None:
                    continue
                result, dead = outcome
                item = worker.item
                worker.busy, worker.item = False, None
                if dead:
                    self._retire(worker, kill=True)
                on_done(item, result)
                if dead:
                    if queue:
                        self._dispatch(fn, queue, self._spawn(worker.slot))
                else:
                    self._dispatch(fn, queue, worker)

    def _dispatch(self, fn: Callable[[Any], Any], queue: list[Any], worker: _Worker) -> None:
        """Send the next queued item to ``worker``, replacing it if it died while idle."""
        while queue:
            item = queue.pop()
            try:
                worker.conn.send((fn, item))
            except (BrokenPipeError, OSError):  # died while idle: replace it, try again
                queue.append(item)
                self._retire(worker, kill=True)
                worker = self._spawn(worker.slot)
                continue
            worker.item, worker.busy = item, True
            worker.deadline = float("inf")  # set when the worker says it started the item
            return

    def _outcome(self, worker: _Worker, ready: set[Any]) -> tuple[Any, bool] | None:
        """A busy worker's news: (result, whether the worker is gone), or None for none yet.

        A "started" message arms the worker's ``run_timeout`` deadline and is no news.
        """
        if worker.conn in ready:
            try:
                tag, payload = worker.conn.recv()
            except (EOFError, OSError):
                return self._died(worker), True
            if tag == _STARTED:
                if self.timeout is not None:
                    worker.deadline = time.monotonic() + self.timeout
                return None
            return (payload if tag == _OK else WorkerError(*payload)), False
        if worker.proc.sentinel in ready:
            return self._died(worker), True
        if time.monotonic() >= worker.deadline:
            timeout = RunTimeout(
                f"the run did not finish within run_timeout={self.timeout:g} s "
                f"(a hanging train_step or evaluate?); its worker was stopped"
            )
            return timeout, True
        return None

    def _died(self, worker: _Worker) -> WorkerDied:
        _kill_group(worker.proc.pid)  # before the join reaps it: its pid names the group
        worker.proc.join(timeout=5.0)
        code = worker.proc.exitcode
        how = f"exit code {code}" if code is None or code >= 0 else f"signal {-code}"
        return WorkerDied(
            f"the worker process running this run died ({how}): os._exit, a crash, a kill or "
            f"out of memory; the other runs go on in a new worker",
            code,
        )

    def close(self, *, kill: bool = False) -> None:
        """Stop every worker (``kill=True``: at once, without waiting for their item)."""
        for worker in self._live:
            if not kill:
                with contextlib.suppress(BrokenPipeError, OSError):
                    worker.conn.send(None)
        for worker in list(self._live):
            self._retire(worker, kill=kill)

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close(kill=exc_type is not None)
