"""Run a job function in a child process, so that its Python work does not hold the server's GIL.

A training loop over a small model is mostly Python and op dispatch, all under the GIL: in a
thread of the server it competes with every student's page for the one interpreter, however
many cores the machine has. In its own process it competes for a core only, at a lower
priority. (bench/classroom.py measures prediction latency while one session trains; the README
holds the figures.)

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


TRAIN_CORES_ENV = "RNNVIZ_TRAIN_CORES"


def machine_cores() -> int:
    """The cores this process may run on."""
    affinity = getattr(os, "sched_getaffinity", None)
    return max(1, len(affinity(0)) if affinity is not None else (os.cpu_count() or 1))


def available_cores() -> int:
    """The cores the training jobs share: $RNNVIZ_TRAIN_CORES, else all but one, which the
    server keeps for the students' pages (at least one).

    Why not all of them: torch's threads wait for each other at every operation, and a thread
    that loses its core to another process holds up the rest. Measured on the 2-core machine
    (bench/class_training.py, Text-RNN class preset, 30 s; steps trained): one thread 656
    quiet / 739 with another process busy on one core; two threads spinning while they wait
    (OpenMP's default) 957 / 1 (the run took 41 s); two threads sleeping while they wait
    (``OMP_WAIT_POLICY=PASSIVE``, set for the children below) 552 / 642. On a machine that does
    nothing else, ``RNNVIZ_TRAIN_CORES=2 OMP_WAIT_POLICY=ACTIVE`` trains ~45 % more steps.
    """
    env = os.environ.get(TRAIN_CORES_ENV, "").strip()
    if env.isdigit() and int(env) > 0:
        return int(env)
    return max(1, machine_cores() - 1)


def threads_for(running: int, cores: int | None = None) -> int:
    """Torch threads for one training process while ``running`` jobs (itself included) share
    ``cores`` (default ``available_cores()``): each gets its share, at least one, so the
    shares never add up to more than the cores while there are enough of them."""
    cores = available_cores() if cores is None else cores
    return max(1, cores // max(1, running))


class ChildJob:
    """The job as the child process sees it."""

    def __init__(self, events: Any, stop: Any, parent_pid: int, threads: Any = None) -> None:
        self._events = events
        self._stop = stop
        self._parent_pid = parent_pid
        self._threads = threads  # a shared int the parent may change, or None
        self._applied = torch.get_num_threads()

    def update(self, **fields: Any) -> None:
        self._events.put((_UPDATE, fields))

    def should_stop(self) -> bool:
        self._follow_threads()  # asked at every step: the place to follow the parent's count
        # A parent that died (server killed) cannot say stop: do not train for nobody.
        return self._stop.is_set() or os.getppid() != self._parent_pid

    def _follow_threads(self) -> None:
        if self._threads is not None and self._threads.value != self._applied:
            self._applied = max(1, int(self._threads.value))
            torch.set_num_threads(self._applied)


def _child(target: Callable[..., Any], args: tuple, events: Any, stop: Any, parent_pid: int,
           threads: Any, nice: int) -> None:
    if nice and hasattr(os, "nice"):
        os.nice(nice)  # background work: when the cores are short, students' predictions go first
    torch.set_num_threads(max(1, int(threads.value)))
    try:
        result = target(ChildJob(events, stop, parent_pid, threads), *args)
    except RnnVizError as exc:
        events.put((_ERROR, ("RnnVizError", str(exc))))
    except Exception as exc:  # the parent re-raises it with the type named
        events.put((_ERROR, (type(exc).__name__, str(exc))))
    else:
        events.put((_RESULT, result))


def run_in_subprocess(job: JobLike, target: Callable[..., Any], *args: Any,
                      threads: int | Callable[[], int] | None = None, nice: int | None = None,
                      poll_s: float = 0.1) -> Any:
    """``target(child_job, *args)`` in a child process; its return value, or its error raised
    here (an RnnVizError stays one). ``target`` must be a module-level function.

    ``threads``: torch threads in the child (default: this process's, which the server set
    from $RNNVIZ_TORCH_THREADS), or a function asked at the start and then every ``poll_s``:
    the child follows its answer at its next ``should_stop`` (the training pages pass
    ``threads_for`` of the running-job count, so a run that started alone gives a core back
    when a second one starts).
    ``nice``: how much lower the child's CPU priority is (default $RNNVIZ_TRAIN_NICE, else 10;
    0 keeps the server's): a busy machine serves the pages first and trains with what is left.
    """
    ask = threads if callable(threads) else None
    # OpenMP threads that wait for each other spin by default; on a machine busy with other
    # work a spinning thread holds the core its partner needs (available_cores: a 30-second
    # run trained one step). Sleeping instead costs some speed, never that. Read once, when the
    # child's OpenMP starts; a value the administrator set stays.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    if nice is None:
        nice = max(0, int(os.environ.get("RNNVIZ_TRAIN_NICE", "10")))
    ctx = mp.get_context("spawn")
    events, stop = ctx.Queue(), ctx.Event()
    first = ask() if ask is not None else threads
    shared = ctx.Value("i", max(1, int(first or torch.get_num_threads())), lock=False)
    proc = ctx.Process(target=_child, daemon=True,
                       args=(target, args, events, stop, os.getpid(), shared, nice))
    proc.start()
    try:
        while True:
            if job.should_stop():
                stop.set()
            if ask is not None:
                shared.value = max(1, int(ask()))
            try:
                kind, payload = events.get(timeout=poll_s)
            except queue.Empty:
                if proc.is_alive():
                    continue
                try:  # it may have put its last message just before exiting
                    kind, payload = events.get(timeout=1.0)
                except queue.Empty:
                    raise RnnVizError("the training process ended unexpectedly "
                                      f"(exit code {proc.exitcode})") from None
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


__all__ = ["ChildJob", "JobLike", "TRAIN_CORES_ENV", "available_cores", "machine_cores",
           "run_in_subprocess", "threads_for"]
