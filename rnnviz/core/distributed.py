"""Data-parallel training across processes with PyTorch's own launcher (torchrun) and DDP.

    torchrun --standalone --nproc-per-node 2 -m rnnviz train --model textrnn ...
    torchrun --nnodes 2 --nproc-per-node 1 --rdzv-backend c10d --rdzv-endpoint HOST:PORT \\
             --rdzv-id RUN -m rnnviz train ...            # the same line on every machine

torchrun starts one process per worker and tells each who it is through the environment
(``RANK``, ``LOCAL_RANK``, ``WORLD_SIZE``, ``MASTER_ADDR``/``MASTER_PORT``); ``session`` joins
the process group from there (gloo on CPU, nccl on CUDA: one GPU per process, ``LOCAL_RANK``
picks it) and ``context()`` tells the training loop (rnnviz/core/train.py) what it needs:

* **The batches.** Every rank builds the same shuffled, length-bucketed batch order of the
  *global* batch (``--batch-size`` x world size) from the same seed, and keeps every
  world-size-th row of each (``shard_rows``): the union of the shards is exactly the batch one
  process would train on, every rank takes the same number of steps, and strided rows give
  every rank texts of about the same length (the batches are sorted by length).
* **The gradient.** DDP averages gradients over ranks; a short last batch can leave ranks
  with unequal shares, so the communication hook weights each rank's mean gradient by its
  share of the examples (``n_rank / n_batch``) before the sum. The result is the gradient of
  the mean loss over the whole global batch, as one process computes it (up to float32
  summation order: tests/test_distributed.py compares both runs).
* **The decisions.** Whatever ends a run (the epochs, early stopping on rank 0's dev score,
  the time budget, Stop, Ctrl-C, SIGTERM) is only *requested* on one rank; once per step one
  tiny all_reduce of a stop flag makes it every rank's decision at the same step, so nobody is
  left waiting at the next collective. The reason travels with it (an all_gather of strings,
  once). The same all_reduce gives every rank rank 0's learning rate: a schedule fitted to a
  time budget (rnnviz/core/schedule.py) reads each rank's clock, and replicas stepping with
  different rates would drift apart.
* **A failed rank.** It records which rank it was in the rendezvous store and in torchrun's
  error file, then exits; the others see their next collective fail (or time out after
  ``$RNNVIZ_DIST_TIMEOUT_S``, default 300 s), stop without further collectives, and rank 0
  saves the best weights it has seen, naming the rank that failed (the step in flight when
  the failure shows finishes on rank 0's own gradient and is scored like any other: the
  checkpoint holds the best-scoring weights, its ``stop_reason`` the failure). torchrun's
  agent tears the rest of the group down: SIGTERM (which a rank takes as a stop request, so
  rank 0 still saves), then SIGKILL 30 s later (torch 2.13's agent waits a fixed 30 s after
  a worker failure; its ``--shutdown-timeout`` applies when torchrun itself gets a signal).
* **Rank 0** alone evaluates on the dev set, prints progress and writes the checkpoint, in
  the same format as a single process (the weights are DDP's inner module, float32).

A process not started by torchrun (or started with one worker) runs exactly the
single-process loop: ``context()`` is then a no-op.

Progress lines and the ``train_loss`` of the history are rank 0's own shard (about
1/world of each batch); the dev figures are the whole dev set.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from rnnviz.core.callbacks import TrainerControl
from rnnviz.errors import RnnVizError

TIMEOUT_ENV = "RNNVIZ_DIST_TIMEOUT_S"
DEFAULT_TIMEOUT_S = 300.0  # longer than rank 0's dev evaluation, which the others wait out
# Tests only: "RANK:STEP" makes that rank raise just before that (1-based) training step;
# "RANK:STEP:hang" makes it stop answering until it is told to stop (the others'
# collectives then time out), then raise.
CRASH_ENV = "RNNVIZ_TEST_CRASH"
_FAILED_KEY = "rnnviz/failed"  # the rendezvous store key a failing rank writes its name to


def launched_ranks() -> int:
    """The number of processes torchrun started for this run (1 outside torchrun)."""
    try:
        return max(1, int(os.environ.get("WORLD_SIZE", "1")))
    except ValueError:
        return 1


# ---- the distributed length-bucketing sampler ------------------------------------------------


def shard_rows(n: int, rank: int, world_size: int) -> np.ndarray:
    """The rows of an ``n``-row global batch that ``rank`` trains on: every world-size-th one,
    so the shards are disjoint, cover the batch, and differ in size by at most one."""
    return np.arange(rank, n, world_size)


@dataclass
class Shard:
    """One rank's part of a global batch."""

    batch: object  # a train.Batch holding only this rank's rows
    share: float  # this rank's real examples / the global batch's (0 for a stand-in row)


def shard_batches(batches: Iterable, rank: int, world_size: int) -> Iterator[Shard]:
    """Each global batch cut to ``rank``'s rows (``shard_rows``), re-padded to their own
    longest text. A rank whose shard would be empty (a last batch smaller than the world)
    trains on the batch's first row with share 0, so every rank still takes the step and
    adds nothing to the gradient."""
    for batch in batches:
        n = len(batch.labels)
        rows = shard_rows(n, rank, world_size)
        share = len(rows) / n
        if not len(rows):
            rows, share = np.array([0]), 0.0
        index = torch.as_tensor(rows)
        lengths = batch.lengths[index]
        width = int(lengths.max())
        yield Shard(type(batch)(batch.ids[index, :width], lengths, batch.labels[index]), share)


# ---- agreeing on when to stop ----------------------------------------------------------------


class AgreedControl(TrainerControl):
    """The control the training loop reads on every rank of a distributed run.

    ``stop(reason)`` (a callback, early stopping, the time budget) only records a request;
    ``should_stop`` changes when the ranks agree (``DistContext.batches``), on all of them at
    the same step. ``user`` is the control the outside world holds (the CLI's Ctrl-C handler,
    the app's Stop): its requests count too, and it hears the agreed reason.
    """

    def __init__(self, user: TrainerControl) -> None:
        super().__init__()
        self.user = user
        self.requested = ""

    def stop(self, reason: str = "stopped by user") -> None:
        self.requested = self.requested or reason

    def request(self) -> str:
        """This rank's reason to stop, '' when it has none."""
        if self.requested:
            return self.requested
        return (self.user.reason or "stopped") if self.user.should_stop else ""

    def settle(self, reason: str) -> None:
        """Every rank agreed to stop, for ``reason``."""
        self.should_stop, self.reason = True, reason
        if not self.user.should_stop:
            self.user.stop(reason)


# ---- the process's place in the run ----------------------------------------------------------


_REASON_BYTES = 512  # a stop reason as it travels between ranks (UTF-8, cut to fit)


@dataclass
class DistContext:
    """This process's rank in a distributed run; the default instance is a single process."""

    rank: int = 0
    local_rank: int = 0
    world_size: int = 1
    backend: str = ""
    device: torch.device | None = None
    failure: str = ""  # why the group broke ('' while it holds)
    _share: float = 1.0  # this rank's share of the current step's examples
    _steps: int = 0
    _crash_at: int = 0
    _hang: bool = False
    _store: object = field(default=None, repr=False)

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Rank 0: the one that evaluates, prints and saves."""
        return self.rank == 0

    def describe(self) -> str:
        return f"rank {self.rank} of {self.world_size}"

    # -- hooks the training loop calls (no-ops in a single process) --------------------------

    def place(self, device: torch.device) -> torch.device:
        """The device this rank trains on: its own GPU under nccl."""
        return self.device if self.distributed and self.device is not None else device

    def agreed(self, control: TrainerControl) -> TrainerControl:
        """The control the loop should read: ``control`` itself in one process."""
        return AgreedControl(control) if self.distributed else control

    def wrap(self, model: nn.Module, seed: int) -> nn.Module:
        """``model`` as the loop should call it: DDP over the group, each rank then seeded
        apart (``seed + rank``) so dropout differs between ranks. DDP copies rank 0's
        weights to every rank at construction."""
        if not self.distributed:
            return model
        from torch.nn.parallel import DistributedDataParallel

        ddp = DistributedDataParallel(
            model,
            # None: DDP leaves the inputs where they are (the lengths stay where the batch put
            # them); the module is already on this rank's device.
            device_ids=None,
            # The only buffer, the bigram keys, is equal on every rank and never changes.
            forward_sync_buffers=False,
        )
        ddp.register_comm_hook(self, _weighted_allreduce)
        torch.manual_seed(seed + self.rank)
        return ddp

    def batches(self, batches: Iterable, control: TrainerControl,
                optimizer: torch.optim.Optimizer | None = None) -> Iterator:
        """This rank's shard of each global batch, after the ranks agree to go on (one small
        all_reduce per step, which also hands every rank rank 0's learning rate: a schedule
        fitted to a time budget reads the clock, and each rank's would differ); ends, on every
        rank at once, when they agree to stop. ``batches`` unchanged in one process."""
        if not self.distributed:
            yield from batches
            return
        assert isinstance(control, AgreedControl)
        for shard in shard_batches(batches, self.rank, self.world_size):
            if self._agree(control, optimizer):
                return
            self._steps += 1
            if self._steps == self._crash_at:
                while self._hang and not control.user.should_stop:  # until torchrun's SIGTERM
                    time.sleep(0.2)
                raise RuntimeError(f"injected failure on rank {self.rank} at step "
                                   f"{self._steps} (${CRASH_ENV})")
            self._share = shard.share
            yield shard.batch

    # -- collectives --------------------------------------------------------------------------

    def _agree(self, control: AgreedControl, optimizer: torch.optim.Optimizer | None) -> bool:
        """True when the ranks agree to stop; else every rank takes rank 0's learning rates."""
        if control.should_stop:
            return True
        if self.failure:
            control.settle(self.failure)
            return True
        request = control.request()
        groups = optimizer.param_groups if optimizer is not None else []
        # One MAX all_reduce: [stop?, rank 0's LR per group] (the others send -1 for an LR).
        values = [1.0 if request else 0.0]
        values += [float(g["lr"]) if self.is_main else -1.0 for g in groups]
        try:
            agreed = torch.tensor(values, dtype=torch.float64, device=self._collective_device())
            dist.all_reduce(agreed, op=dist.ReduceOp.MAX)
            flag, *lrs = agreed.tolist()
            for group, lr in zip(groups, lrs, strict=True):
                group["lr"] = lr
            if flag == 0:
                return False
            # The first rank that asked, then its reason, in plain tensor collectives (gloo's
            # all_gather_object made a rank abort at exit now and then).
            first = torch.tensor([self.rank if request else self.world_size])
            dist.all_reduce(first, op=dist.ReduceOp.MIN)
            asker = int(first.item())
            said = torch.zeros(_REASON_BYTES, dtype=torch.uint8)
            if asker == self.rank:
                raw = (request or "").encode("utf-8")[:_REASON_BYTES]
                said[:len(raw)] = torch.frombuffer(bytearray(raw), dtype=torch.uint8)
            dist.broadcast(said, src=asker)
        except Exception as exc:  # a rank died or hung: no collective from here on
            self.lost_peer(exc)
            control.settle(self.failure)
            return True
        why = bytes(said.tolist()).rstrip(b"\0").decode("utf-8", errors="ignore")
        control.settle(why if asker == self.rank else f"{why} (rank {asker})")
        return True

    def _collective_device(self) -> torch.device:
        return self.device if self.backend == "nccl" and self.device else torch.device("cpu")

    # -- failures -----------------------------------------------------------------------------

    def lost_peer(self, exc: BaseException) -> None:
        """A collective failed: name the rank that failed when it left its name in the store."""
        if self.failure:
            return
        who = self._read_failure()
        detail = " ".join(f"{type(exc).__name__}: {exc}".split())[:300]
        self.failure = (f"{who}; training stopped" if who
                        else f"another rank failed or stopped answering ({detail})")

    def report_failure(self, exc: BaseException) -> str:
        """This rank failed: leave its name for the others and for torchrun's summary
        (call from an ``except`` block). Returns the one-line message."""
        message = f"{self.describe()} failed: {type(exc).__name__}: {exc}"
        message = " ".join(message.split())
        try:
            if self._store is not None:
                self._store.set(_FAILED_KEY, message)
        except Exception:  # the store may be gone too; the message still goes to stderr
            pass
        try:
            from torch.distributed.elastic.multiprocessing.errors import ErrorHandler

            ErrorHandler().record_exception(exc)  # torchrun's "Root Cause" shows it
        except Exception:
            pass
        return message

    def _read_failure(self) -> str:
        try:
            if self._store is not None and self._store.check([_FAILED_KEY]):
                return self._store.get(_FAILED_KEY).decode("utf-8", "replace")
        except Exception:
            pass
        return ""


_SINGLE = DistContext()
_current = _SINGLE


def context() -> DistContext:
    """This process's place in the run (a single process unless ``session`` is active)."""
    return _current


def _weighted_allreduce(ctx, bucket):  # noqa: ANN001, ANN202 - see below
    """DDP's gradient reduction, weighted by each rank's share of the global batch:
    sum_r share_r * grad_r = the mean-loss gradient over the whole batch. A failed
    collective leaves this rank's own gradient and marks the group broken.

    (DDP compares the hook's annotations with ``dist.GradBucket`` and
    ``Future[Tensor]`` objects; postponed string annotations would fail that check, so
    this hook has none: ``ctx`` is a DistContext, ``bucket`` a GradBucket, and it returns a
    Future of the reduced tensor.)"""
    buffer = bucket.buffer()
    if not ctx.failure:
        buffer.mul_(ctx._share)
        try:
            work = dist.all_reduce(buffer, async_op=True)
        except Exception as exc:
            ctx.lost_peer(exc)
        else:
            def finish(fut: torch.futures.Future) -> torch.Tensor:
                try:
                    return fut.value()[0]
                except Exception as exc:
                    ctx.lost_peer(exc)
                    return buffer

            return work.get_future().then(finish)
    done: torch.futures.Future = torch.futures.Future()
    done.set_result(buffer)
    return done


# ---- joining and leaving the group ----------------------------------------------------------


def _timeout_s() -> float:
    text = os.environ.get(TIMEOUT_ENV, "").strip()
    try:
        value = float(text) if text else DEFAULT_TIMEOUT_S
    except ValueError:
        raise RnnVizError(f"${TIMEOUT_ENV} must be a number of seconds, got {text!r}") from None
    if not value > 0:
        raise RnnVizError(f"${TIMEOUT_ENV} must be > 0, got {text!r}")
    return value


def _crash_plan(rank: int) -> tuple[int, bool]:
    """(the step at which this rank fails, whether it hangs instead of raising)."""
    spec = os.environ.get(CRASH_ENV, "").strip()
    if not spec:
        return 0, False
    parts = spec.split(":")
    try:
        crash_rank, step = int(parts[0]), int(parts[1])
        if len(parts) > 3 or parts[2:] not in ([], ["hang"]):
            raise ValueError
    except (ValueError, IndexError):
        raise RnnVizError(f"${CRASH_ENV} must be RANK:STEP or RANK:STEP:hang, "
                          f"got {spec!r}") from None
    return (step, parts[2:] == ["hang"]) if crash_rank == rank else (0, False)


def _env_int(name: str) -> int:
    try:
        return int(os.environ[name])
    except (KeyError, ValueError):
        raise RnnVizError(f"${name} is missing or not a number: start several processes "
                          "with torchrun (it sets RANK, LOCAL_RANK and WORLD_SIZE)") from None


@contextmanager
def session(device: torch.device) -> Iterator[DistContext]:
    """Join the process group torchrun described in the environment, for the duration:
    gloo on the CPU, nccl on CUDA (this rank's GPU is ``LOCAL_RANK``). Outside torchrun, or
    with one worker, a single-process context and nothing to join."""
    global _current
    world = launched_ranks()
    if world == 1:
        yield _SINGLE
        return
    if not dist.is_available():
        raise RnnVizError("this torch build has no torch.distributed: train in one process")
    rank, local_rank = _env_int("RANK"), _env_int("LOCAL_RANK")
    if device.type == "cuda":
        count = torch.cuda.device_count()
        if local_rank >= count:
            raise RnnVizError(f"rank {rank} needs GPU {local_rank} but this machine has "
                              f"{count}: start at most {count} processes per node "
                              "(--nproc-per-node)")
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
        backend = "nccl"
    elif device.type == "cpu":
        backend = "gloo"
    else:
        raise RnnVizError(f"distributed training runs on the CPU (gloo) or CUDA GPUs (nccl), "
                          f"not {device.type}: choose --device cpu or --device cuda")
    timeout = dt.timedelta(seconds=_timeout_s())
    dist.init_process_group(backend, timeout=timeout)
    crash_at, hang = _crash_plan(rank)
    ctx = DistContext(rank=rank, local_rank=local_rank, world_size=world, backend=backend,
                      device=device, _crash_at=crash_at, _hang=hang, _store=_failure_store())
    _current = ctx
    try:
        yield ctx
    except BaseException:
        _current = _SINGLE  # failed here: leave the group to process exit, never wait on it
        raise
    _current = _SINGLE
    if not ctx.failure:  # with a dead peer, likewise
        dist.destroy_process_group()


def _failure_store() -> object | None:
    """A client of the rendezvous store torchrun runs (it outlives a failed worker)."""
    try:
        return dist.TCPStore(os.environ["MASTER_ADDR"], int(os.environ["MASTER_PORT"]),
                             is_master=False, timeout=dt.timedelta(seconds=10))
    except Exception:
        return None


__all__ = ["CRASH_ENV", "TIMEOUT_ENV", "AgreedControl", "DistContext", "Shard", "context",
           "launched_ranks", "session", "shard_batches", "shard_rows"]
