"""Run a job function in a child process, so that its Python work does not hold the server's GIL.

A training loop over a small model is mostly Python and op dispatch, all under the GIL: in a
thread of the server it competes with every student's page for the one interpreter, however
many cores the machine has. In its own process it competes for a core only, at a lower
priority. (On the 2-core lab machine at 10 predictions/s that is about even, p95 2.2 s in a
thread vs 2.0 s in a child, because the one core left is saturated either way; the default
classroom load is fine with both; bench/classroom.py.)

``run_in_subprocess(job, target, *args)`` calls ``target(child_job, *args)`` in a spawned
process (a fresh interpreter: forking a server full of threads is unsafe). ``child_job`` has the
same two methods as any job (``update``, ``should_stop``): updates travel back over a queue to
``job.update``, and ``job.should_stop()`` (Stop, or the page gone) is passed on. The target, its
arguments and its result cross the process boundary by pickling between our own two processes;
nothing a user uploaded is ever unpickled (an upload is parsed into a Dataset first).
"""

from __future__ import annotations

import multiprocessing as mp
import os
import queue
from collections.abc import Callable
from typing import Any, Protocol

import torch

from rnnviz.errors import RnnVizError

_UPDATE, _RESULT, _ERROR = "update", "result", "error"


class JobLike(Protocol):
    """What a job function reports to and asks: progress out, Stop in."""

    def update(self, **fields: Any) -> None: ...

    def should_stop(self) -> bool: ...


class ChildJob:
    """The job as the child process sees it."""

    def __init__(self, events: Any, stop: Any, parent_pid: int) -> None:
        self._events = events
        self._stop = stop
        self._parent_pid = parent_pid

    def update(self, **fields: Any) -> None:
        self._events.put((_UPDATE, fields))

    def should_stop(self) -> bool:
        # A parent that died (server killed) cannot say stop: do not train for nobody.
        return self._stop.is_set() or os.getppid() != self._parent_pid


def _child(target: Callable[..., Any], args: tuple, events: Any, stop: Any, parent_pid: int, threads: int,
           nice: int) -> None:  # fmt: skip
    if nice and hasattr(os, "nice"):
        os.nice(nice)  # background work: when the cores are short, students' predictions go first
    torch.set_num_threads(threads)
    try:
        result = target(ChildJob(events, stop, parent_pid), *args)
    except RnnVizError as exc:
        events.put((_ERROR, ("RnnVizError", str(exc))))
    except Exception as exc:  # the parent re-raises it with the type named
        events.put((_ERROR, (type(exc).__name__, str(exc))))
    else:
        events.put((_RESULT, result))


def run_in_subprocess(job: JobLike, target: Callable[..., Any], *args: Any, threads: int | None = None,
                      nice: int | None = None, poll_s: float = 0.1) -> Any:  # fmt: skip
    """``target(child_job, *args)`` in a child process; its return value, or its error raised
    here (an RnnVizError stays one). ``target`` must be a module-level function.

    ``threads``: torch threads in the child (default: this process's, which the server set
    from $RNNVIZ_TORCH_THREADS).
    ``nice``: how much lower the child's CPU priority is (default $RNNVIZ_TRAIN_NICE, else 10;
    0 keeps the server's): a busy machine serves the pages first and trains with what is left.
    """
    if threads is None:
        threads = torch.get_num_threads()
    if nice is None:
        nice = max(0, int(os.environ.get("RNNVIZ_TRAIN_NICE", "10")))
    ctx = mp.get_context("spawn")
    events, stop = ctx.Queue(), ctx.Event()
    proc = ctx.Process(target=_child, args=(target, args, events, stop, os.getpid(), threads, nice), daemon=True)
    proc.start()
    try:
        while True:
            if job.should_stop():
                stop.set()
            try:
                kind, payload = events.get(timeout=poll_s)
            except queue.Empty:
                if proc.is_alive():
                    continue
                try:  # it may have put its last message just before exiting
                    kind, payload = events.get(timeout=1.0)
                except queue.Empty:
                    raise RnnVizError(f"the training process ended unexpectedly (exit code {proc.exitcode})") from None
            if kind == _UPDATE:
                job.update(**payload)
            elif kind == _RESULT:
                return payload
            else:
                name, message = payload
                if name == "RnnVizError":
                    raise RnnVizError(message)
                raise RuntimeError(f"{name}: {message}")
    finally:
        stop.set()
        proc.join(timeout=10)
        if proc.is_alive():
            proc.terminate()
            proc.join(timeout=5)
        events.close()


__all__ = ["ChildJob", "JobLike", "run_in_subprocess"]
