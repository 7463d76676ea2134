"""Distributed training with torchrun (rnnviz/core/distributed.py): the sharded
length-bucketing batches and the agreed stop in-process, then real 2-process CPU (gloo) runs of
``python -m torch.distributed.run --standalone --nproc-per-node 2 -m rnnviz train`` on a small
synthetic THUCNews folder: the run finishes with falling loss and a checkpoint that loads and
predicts, it matches one process training on the same global batch, Ctrl-C to the group saves
the best weights, and a rank that crashes or hangs fails the run naming it, never hanging.

Every torchrun is bounded by a hard timeout that kills its whole process tree (the workers run
in sessions of their own) and fails with the output so far.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import psutil
import pytest
import torch
from helpers import FINANCE_POOL, GAME_POOL, SPORTS_POOL, pooled_dataset

from rnnviz.cli import main
from rnnviz.core import distributed
from rnnviz.core.callbacks import TrainerControl
from rnnviz.core.checkpoint import load_checkpoint
from rnnviz.core.config import ModelConfig, TrainConfig
from rnnviz.core.data import load_split
from rnnviz.core.predict import Predictor
from rnnviz.core.train import make_batches, train

ROOT = Path(__file__).resolve().parent.parent
POOLS = {"finance": FINANCE_POOL, "sports": SPORTS_POOL, "game": GAME_POOL}
PER_RANK_BATCH, WORLD = 16, 2
# A tiny GRU; dropout off so that one process and two see the same function of the same data.
MODEL = ["--model", "textrnn", "--cell", "gru", "--embed", "16", "--hidden", "16", "--layers",
         "1", "--dropout", "0", "--embed-dropout", "0"]
RUN_TIMEOUT_S = 300  # generous for a busy 2-core machine; a broken run fails, never hangs
if not hasattr(signal, "SIGINT") or os.name == "nt":
    pytest.skip("POSIX signals and torchrun's process groups", allow_module_level=True)


# ---- the distributed length-bucketing batches, in-process ------------------------------------


@pytest.mark.parametrize("world", [1, 2, 3])
@pytest.mark.parametrize("n", [1, 2, 5, 16, 17])
def test_shard_rows_split_a_batch_into_disjoint_near_equal_parts(n: int, world: int) -> None:
    parts = [distributed.shard_rows(n, rank, world) for rank in range(world)]
    assert sorted(np.concatenate(parts).tolist()) == list(range(n))
    sizes = [len(p) for p in parts]
    assert max(sizes) - min(sizes) <= 1


def _rows(batch) -> list[tuple[tuple[int, ...], int]]:
    """Each example of a batch as (its ids without padding, its label)."""
    return [(tuple(batch.ids[i, : int(batch.lengths[i])].tolist()), int(batch.labels[i]))
            for i in range(len(batch.labels))]


def test_each_rank_gets_its_share_of_the_same_global_batches() -> None:
    rng = np.random.default_rng(0)
    encoded = [list(range(1, int(rng.integers(2, 30)))) for _ in range(103)]
    labels = rng.integers(0, 3, len(encoded)).tolist()

    def global_batches():  # the same seed on every rank: the same shuffled, bucketed order
        return make_batches(encoded, labels, 32, shuffle=True, bucket=True,
                            rng=np.random.default_rng(7))

    shards = [list(distributed.shard_batches(global_batches(), r, WORLD)) for r in range(WORLD)]
    whole = global_batches()
    assert len(shards[0]) == len(shards[1]) == len(whole)  # equal step counts on every rank
    for step, batch in enumerate(whole):
        parts = [shards[r][step] for r in range(WORLD)]
        assert sorted(_rows(parts[0].batch) + _rows(parts[1].batch)) == sorted(_rows(batch))
        assert sum(p.share for p in parts) == pytest.approx(1.0)
        for part in parts:  # re-padded to the shard's own longest text
            assert part.batch.ids.shape[1] == int(part.batch.lengths.max())


def test_a_rank_with_no_rows_steps_on_a_stand_in_that_adds_nothing() -> None:
    one = make_batches([[4, 5, 6]], [2], 8, shuffle=False, bucket=False)  # 1 example, 2 ranks
    (first,) = distributed.shard_batches(one, 0, WORLD)
    (second,) = distributed.shard_batches(one, 1, WORLD)
    assert (first.share, second.share) == (1.0, 0.0)
    assert _rows(second.batch) == _rows(first.batch)  # it still takes the step, weighted 0


def test_a_stop_is_only_a_request_until_the_ranks_agree() -> None:
    user = TrainerControl()
    control = distributed.AgreedControl(user)
    control.stop("early stopping")
    control.stop("time budget")
    assert not control.should_stop and control.request() == "early stopping"
    control.settle("early stopping")
    assert control.should_stop and control.reason == "early stopping"
    assert user.should_stop and user.reason == "early stopping"  # the caller hears why

    outside = distributed.AgreedControl(TrainerControl())
    outside.user.stop("interrupted (Ctrl-C)")  # the signal handler writes to the user control
    assert not outside.should_stop and outside.request() == "interrupted (Ctrl-C)"


def _agree_worker(rank: int, store: str, out: str) -> None:
    """One rank of a 2-process gloo group (no torchrun): two agreements, the results to JSON."""
    import datetime as dt

    import torch.distributed as dist

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=WORLD,
                            timeout=dt.timedelta(seconds=60))
    ctx = distributed.DistContext(rank=rank, world_size=WORLD, backend="gloo")
    control = distributed.AgreedControl(TrainerControl())
    # Each rank's own schedule would give its own rate (a time budget reads the clock).
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1 + 0.6 * rank)
    went_on = not ctx._agree(control, optimizer)
    lr = optimizer.param_groups[0]["lr"]
    if rank == 1:
        control.stop("time budget of 60s reached")  # only rank 1 sees it
    stopped = ctx._agree(control, optimizer)
    Path(out, f"{rank}.json").write_text(json.dumps({
        "went_on": went_on, "lr": lr, "stopped": stopped, "reason": control.reason,
        "user": control.user.reason}))
    dist.destroy_process_group()
    os._exit(0)  # as rnnviz/__main__.py does for a torchrun worker: no teardown abort


def test_ranks_agree_on_the_stop_and_take_rank_0s_learning_rate(tmp_path: Path) -> None:
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_agree_worker, args=(r, str(tmp_path / "store"), str(tmp_path)))
             for r in range(WORLD)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(timeout=RUN_TIMEOUT_S)
    for proc in procs:
        if proc.is_alive():
            proc.kill()
    assert [proc.exitcode for proc in procs] == [0, 0]
    zero, one = (json.loads((tmp_path / f"{r}.json").read_text()) for r in range(WORLD))
    assert zero["went_on"] and one["went_on"]  # nobody asked to stop: both go on
    assert zero["lr"] == one["lr"] == pytest.approx(0.1)  # rank 0's rate everywhere
    assert zero["stopped"] and one["stopped"]  # rank 1's request stops rank 0 too
    assert one["reason"] == "time budget of 60s reached"
    assert zero["reason"] == zero["user"] == "time budget of 60s reached (rank 1)"


def test_outside_torchrun_the_loop_is_the_single_process_one() -> None:
    ctx = distributed.context()
    assert not ctx.distributed and ctx.is_main and ctx.world_size == 1
    control, model = TrainerControl(), torch.nn.Linear(2, 2)
    assert ctx.agreed(control) is control
    assert ctx.wrap(model, seed=0) is model
    batches = make_batches([[1, 2], [3]], [0, 1], 1, shuffle=False, bucket=False)
    assert list(ctx.batches(batches, control)) == batches
    assert ctx.place(torch.device("cpu")) == torch.device("cpu")


def test_a_malformed_crash_hook_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    from rnnviz.errors import RnnVizError

    monkeypatch.setenv(distributed.CRASH_ENV, "1:x")
    with pytest.raises(RnnVizError, match="RANK:STEP"):
        distributed._crash_plan(1)
    monkeypatch.setenv(distributed.CRASH_ENV, "1:3:hang")
    assert distributed._crash_plan(1) == (3, True) and distributed._crash_plan(0) == (0, False)


# ---- real torchrun runs ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def data_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A THUCNews-format folder a tiny model learns in a few dozen steps."""
    folder = tmp_path_factory.mktemp("thucnews")
    (folder / "class.txt").write_text("\n".join(POOLS) + "\n", encoding="utf-8")
    for name, n, seed in (("train.txt", 601, 1), ("dev.txt", 150, 2)):
        ds = pooled_dataset(n, seed, POOLS)
        lines = (f"{t}\t{y}\n" for t, y in zip(ds.texts, ds.labels, strict=True))
        (folder / name).write_text("".join(lines), encoding="utf-8")
    return folder


def _env(**extra: str) -> dict[str, str]:
    return {**os.environ, "PYTHONIOENCODING": "utf-8", "OMP_NUM_THREADS": "1",
            distributed.TIMEOUT_ENV: "30", **extra}


def _torchrun_cmd(*args: object) -> list[str]:
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node",
            str(WORLD), "-m", "rnnviz", "train", *map(str, args)]


def _kill_tree(proc: subprocess.Popen) -> None:
    """torchrun and its workers (each in a session of its own), by pid: only what we started."""
    try:
        family = [psutil.Process(proc.pid), *psutil.Process(proc.pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        family = []
    for p in family:
        with contextlib.suppress(psutil.NoSuchProcess):
            p.kill()
    proc.wait()


def torchrun(*args: object, timeout: float = RUN_TIMEOUT_S,
             **env: str) -> subprocess.CompletedProcess[str]:
    proc = subprocess.Popen(_torchrun_cmd(*args), cwd=ROOT, env=_env(**env), text=True,
                            encoding="utf-8", stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_tree(proc)
        out, err = proc.communicate()
        pytest.fail(f"torchrun did not finish within {timeout:.0f} s (killed):\n{err[-3000:]}")
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


@pytest.fixture(scope="module")
def ddp_run(data_folder: Path, tmp_path_factory: pytest.TempPathFactory
            ) -> tuple[Path, subprocess.CompletedProcess[str]]:
    out = tmp_path_factory.mktemp("ddp") / "ddp.safetensors"
    proc = torchrun("--data-dir", data_folder, *MODEL, "--batch-size", PER_RANK_BATCH,
                    "--max-steps", 30, "--eval-every", 10, "--out", out)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out, proc


def test_two_processes_finish_print_once_and_state_the_global_batch(ddp_run) -> None:
    path, proc = ddp_run
    assert proc.stdout.count("saved checkpoint") == 1  # rank 0 alone prints and saves
    assert proc.stderr.count("training textrnn") == 1
    assert proc.stderr.count("dev acc") == 3  # evaluations at steps 10, 20, 30, shown once
    assert "2 processes (gloo), global batch 32 = 16 per process x 2" in proc.stderr
    info = load_checkpoint(path).info
    assert (info["processes"], info["backend"], info["global_batch_size"]) == (2, "gloo", 32)


def test_the_loss_falls(ddp_run) -> None:
    history = load_checkpoint(ddp_run[0]).history
    assert [h["step"] for h in history] == [10, 20, 30]
    assert history[-1]["dev_loss"] < history[0]["dev_loss"] - 0.1
    assert history[-1]["dev_accuracy"] > 0.8  # three classes: chance is 1/3


def test_the_checkpoint_loads_evaluates_and_predicts_in_one_process(
        ddp_run, data_folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path, _ = ddp_run
    checkpoint = load_checkpoint(path)
    prediction = Predictor(checkpoint).predict("球队比赛冠军", with_trace=True)
    assert prediction.label == "sports" and prediction.layers
    assert main(["evaluate", "--checkpoint", str(path), "--data", str(data_folder / "dev.txt"),
                 "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["accuracy"] == pytest.approx(checkpoint.metrics["accuracy"])


def test_two_processes_match_one_process_with_the_same_global_batch(
        ddp_run, data_folder: Path) -> None:
    """Same seed, data and global batch (2 x 16 vs 1 x 32), dropout off: the same training.

    Tolerance: 1e-4 on every weight and a relative 1e-4 on every dev loss. The two runs do
    the same arithmetic in a different order (a share-weighted sum of two 16-row mean
    gradients vs one 32-row mean; GEMMs over 16 vs 32 rows), so float32 rounding (~1e-7
    relative) differs per step and Adam carries it on; measured: 2.4e-7 on the weights and
    1e-7 relative on the dev loss after 30 steps. A real difference moves them far more: on
    this data (601 titles, so each epoch ends on a 25-row batch split 13/12) DDP's plain
    average of the two shard gradients instead of the share-weighted one moved the weights by
    3e-3 and the dev loss by 2e-4 relative (checked once with that one line changed).
    """
    train_set, _ = load_split(data_folder, "train")
    dev_set, _ = load_split(data_folder, "dev")
    model_config = ModelConfig.for_model("textrnn", cell="gru", embed_dim=16, hidden_size=16,
                                         num_layers=1, dropout=0.0, embed_dropout=0.0)
    single = train(model_config, TrainConfig(batch_size=PER_RANK_BATCH * WORLD, max_steps=30,
                                             eval_every=10), train_set, dev_set)
    checkpoint = load_checkpoint(ddp_run[0])
    assert [h["step"] for h in checkpoint.history] == [h["step"] for h in single.history]
    for ours, reference in zip(checkpoint.history, single.history, strict=True):
        assert ours["dev_loss"] == pytest.approx(reference["dev_loss"], rel=1e-4)
        assert ours["dev_accuracy"] == reference["dev_accuracy"]
    assert checkpoint.info["steps"] == single.state.step == 30
    reference_weights = single.model.state_dict()
    for name, weight in checkpoint.model.state_dict().items():
        torch.testing.assert_close(weight, reference_weights[name], atol=1e-4, rtol=0,
                                   msg=lambda m, name=name: f"{name}: {m}")


def _read_until(proc: subprocess.Popen, marker: bytes, deadline: float) -> bytes:
    seen = b""
    while marker not in seen:
        left = deadline - time.monotonic()
        if left <= 0:
            _kill_tree(proc)
            pytest.fail(f"no {marker!r} on stderr in time; so far:\n{seen.decode()[-3000:]}")
        if not select.select([proc.stderr], [], [], left)[0]:
            continue
        chunk = os.read(proc.stderr.fileno(), 4096)
        if not chunk:
            pytest.fail(f"torchrun exited ({proc.wait()}) first:\n{seen.decode()[-3000:]}")
        seen += chunk
    return seen


def test_ctrl_c_to_the_group_stops_every_rank_and_saves_the_best(
        data_folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "interrupted.safetensors"
    proc = subprocess.Popen(
        _torchrun_cmd("--data-dir", data_folder, *MODEL, "--batch-size", PER_RANK_BATCH,
                      "--max-steps", 100_000, "--eval-every", 10, "--out", out),
        cwd=ROOT, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        seen = _read_until(proc, b"dev acc", time.monotonic() + RUN_TIMEOUT_S)
        # What a terminal's Ctrl-C does: SIGINT to torchrun, whose agent passes it to every
        # worker (they run in sessions of their own).
        proc.send_signal(signal.SIGINT)
        try:
            stdout, stderr = proc.communicate(timeout=RUN_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            _kill_tree(proc)
            pytest.fail("the group did not exit after Ctrl-C")
    finally:
        if proc.poll() is None:
            _kill_tree(proc)
    text = (seen + stderr).decode("utf-8")
    assert "training was interrupted; the checkpoint holds the best weights seen" in text
    assert "saved checkpoint" in stdout.decode("utf-8")
    checkpoint = load_checkpoint(out)
    assert checkpoint.info["stop_reason"] == "interrupted (Ctrl-C)"
    assert checkpoint.info["steps"] < 100_000
    assert checkpoint.metrics["accuracy"] == max(h["dev_accuracy"] for h in checkpoint.history)


def test_a_crashed_rank_fails_the_run_naming_it_and_rank_0_keeps_the_best(
        data_folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "crashed.safetensors"
    proc = torchrun("--data-dir", data_folder, *MODEL, "--batch-size", PER_RANK_BATCH,
                    "--max-steps", 30, "--eval-every", 10, "--quiet", "--out", out,
                    **{distributed.CRASH_ENV: "1:15"})
    assert proc.returncode != 0
    failed = "rank 1 of 2 failed: RuntimeError: injected failure on rank 1 at step 15"
    assert f"error: {failed}" in proc.stderr  # rank 1's own line
    # Rank 0 names it too (from the rendezvous store) and saves what it had.
    assert "the checkpoint holds the best weights seen before it" in proc.stderr, proc.stderr
    assert proc.stderr.count(failed) >= 2
    checkpoint = load_checkpoint(out)
    assert checkpoint.info["stop_reason"].startswith("rank 1 of 2 failed")
    assert checkpoint.history[0]["step"] == 10  # the evaluation before the crash was kept


def test_a_hung_rank_times_out_instead_of_hanging_the_group(
        data_folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "hung.safetensors"
    started = time.monotonic()
    proc = torchrun("--data-dir", data_folder, *MODEL, "--batch-size", PER_RANK_BATCH,
                    "--max-steps", 30, "--eval-every", 10, "--quiet", "--out", out,
                    **{distributed.CRASH_ENV: "1:15:hang", distributed.TIMEOUT_ENV: "5"})
    assert proc.returncode != 0
    assert "another rank failed or stopped answering" in proc.stderr
    assert "Timed out" in proc.stderr  # gloo's own words: the process-group timeout fired
    assert load_checkpoint(out).history[0]["step"] == 10
    assert time.monotonic() - started < RUN_TIMEOUT_S
