"""The remember-the-first-symbol task and the side-by-side RNN / LSTM / GRU run."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file
from torch import nn

from rnnviz.errors import RnnVizError
from rnnviz.lessons.longdep import (
    FirstSymbolTask,
    LongDepConfig,
    LongDepProgress,
    build_model,
    chrono_init_,
    downsample_indices,
    evaluate_accuracy,
    moving_average,
    summary_rows,
    train_side_by_side,
)
from rnnviz.lessons.longdep_models import (
    LENGTHS,
    MAX_BYTES,
    TrainedSet,
    held_out_accuracy,
    learns_up_to,
    load_set,
    load_shipped,
    path_for,
    save_set,
    sweep,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread_per_test")


def test_labels_are_the_first_symbol_and_the_rest_are_distractors() -> None:
    task = FirstSymbolTask(length=17, num_symbols=4, num_distractors=8)
    x, y = task.sample(500, torch.Generator().manual_seed(0))
    assert x.shape == (500, 17) and y.shape == (500,)
    assert torch.equal(x[:, 0], y)
    assert bool((y >= 0).all() and (y < 4).all())
    assert bool((x[:, 1:] >= 4).all() and (x[:, 1:] < task.vocab_size).all())
    # Every class and every distractor actually occurs (the generator is not degenerate).
    assert set(y.tolist()) == {0, 1, 2, 3}
    assert set(x[:, 1:].flatten().tolist()) == set(range(4, 12))
    assert task.chance == 0.25


def test_format_names_signals_and_distractors_and_elides_the_middle() -> None:
    task = FirstSymbolTask(length=40)
    x = torch.tensor([2] + [4 + i % 8 for i in range(39)])
    text = task.format(x, max_shown=10)
    assert text.startswith("C 0 1 2 3 …")
    assert text.split()[-1] == str(38 % 8)
    assert len(text.split()) == 11  # 5 + ellipsis + 5
    line = task.examples(1, seed=3)[0]
    assert line.split("→")[0].split()[0] == line.split("→")[1].strip()


def test_bad_settings_name_the_field() -> None:
    with pytest.raises(RnnVizError, match="longdep.length"):
        FirstSymbolTask(length=1)
    with pytest.raises(RnnVizError, match="longdep.steps"):
        LongDepConfig(steps=0)
    with pytest.raises(RnnVizError, match="longdep.kinds"):
        LongDepConfig(kinds=("transformer",))
    with pytest.raises(RnnVizError, match="longdep.lr"):
        LongDepConfig(lr=0.0)


def test_models_follow_torch_default_init_ranges_from_their_own_seed() -> None:
    config = LongDepConfig(length=20, hidden_size=16, gate_bias_init=False)
    bound = 1 / math.sqrt(16)
    for kind in ("rnn", "lstm", "gru"):
        model = build_model(kind, config)
        for name, p in model.rnn.named_parameters():
            assert p.abs().max() <= bound, name
        # Same config -> same weights, whatever the global RNG did in between.
        torch.manual_seed(1234)
        again = build_model(kind, config)
        for a, b in zip(model.parameters(), again.parameters(), strict=True):
            assert torch.equal(a, b)
    x = torch.randint(0, 12, (3, 20))
    assert build_model("lstm", config)(x).shape == (3, 4)


def test_chrono_init_sets_forget_and_update_gate_biases() -> None:
    T, H = 50, 64
    g = torch.Generator().manual_seed(0)
    lstm, gru, rnn = nn.LSTM(3, H), nn.GRU(3, H), nn.RNN(3, H)
    rnn_before = [p.clone() for p in rnn.parameters()]
    for m in (lstm, gru, rnn):
        chrono_init_(m, T, g)
    b_f = (lstm.bias_ih_l0[H:2 * H] + lstm.bias_hh_l0[H:2 * H]).detach()
    b_i = (lstm.bias_ih_l0[:H] + lstm.bias_hh_l0[:H]).detach()
    # b_f = log(u), u in [1, T-1]: the forget gate at rest, u/(1+u), lies in [1/2, (T-1)/T].
    f_rest = torch.sigmoid(b_f)
    assert float(f_rest.min()) >= 0.5 - 1e-6 and float(f_rest.max()) <= (T - 1) / T + 1e-6
    assert torch.allclose(b_i, -b_f)
    b_z = (gru.bias_ih_l0[H:2 * H] + gru.bias_hh_l0[H:2 * H]).detach()
    assert float(b_z.min()) >= 0 and float(b_z.max()) <= math.log(T - 1) + 1e-6
    # The plain RNN has no gate: untouched.
    for a, b in zip(rnn_before, rnn.parameters(), strict=True):
        assert torch.equal(a, b)


def test_the_run_is_deterministic_given_the_seed() -> None:
    config = LongDepConfig(length=8, steps=6, batch_size=16, hidden_size=8, eval_size=64, seed=3)
    first = train_side_by_side(config)
    torch.manual_seed(999)  # the global RNG must not matter
    second = train_side_by_side(config)
    assert first.history == second.history
    assert first.final_accuracy == second.final_accuracy
    other = train_side_by_side(LongDepConfig(length=8, steps=6, batch_size=16, hidden_size=8,
                                             eval_size=64, seed=4))
    assert other.history != first.history


def test_callback_reports_snapshots_and_should_stop_ends_the_run() -> None:
    seen: list[LongDepProgress] = []
    config = LongDepConfig(length=6, steps=20, batch_size=8, hidden_size=4, report_every=5,
                           eval_size=32)
    result = train_side_by_side(config, callback=seen.append)
    assert [p.step for p in seen] == [0, 5, 10, 15, 20]
    assert seen[-1].done and not any(p.done for p in seen[:-1])
    assert all(len(p.history["lstm"]["loss"]) == p.step for p in seen)
    seen[1].history["rnn"]["loss"].append(-1.0)  # a snapshot is the receiver's own copy
    assert result.history["rnn"]["loss"][-1] != -1.0 and len(result.history["rnn"]["loss"]) == 20

    calls = iter(range(100))
    stopped = train_side_by_side(config, should_stop=lambda: next(calls) >= 3)
    assert stopped.stopped and stopped.steps_done == 3 and stopped.stop_reason == "stopped"
    assert len(stopped.history["gru"]["step"]) == 3


def test_time_budget_stops_the_run_and_says_so() -> None:
    config = LongDepConfig(length=30, steps=10_000, batch_size=8, hidden_size=4,
                           time_budget_s=0.2, eval_size=16)
    result = train_side_by_side(config)
    assert result.stopped and result.stop_reason == "time budget"
    assert 0 < result.steps_done < 10_000


class _Oracle(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.one_hot(x[:, 0], 4).float()


class _AlwaysA(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tensor([1.0, 0, 0, 0]).expand(x.shape[0], 4)


def test_evaluate_accuracy_scores_an_oracle_perfect_and_a_constant_at_chance() -> None:
    task = FirstSymbolTask(length=12)
    assert evaluate_accuracy(_Oracle(), task, 2000, seed=0) == 1.0
    assert abs(evaluate_accuracy(_AlwaysA(), task, 2000, seed=0) - 0.25) < 0.04


def test_rnn_stays_at_chance_on_long_sequences_while_lstm_and_gru_learn() -> None:
    # T = 60 within 150 steps: the plain RNN has no usable gradient back to x_0; with the same
    # batches the gated cells reach near-perfect held-out accuracy (all seeds 0..3 tried).
    result = train_side_by_side(LongDepConfig(length=60, steps=150, seed=1))
    acc = result.final_accuracy
    assert acc["rnn"] < result.chance + 0.1
    assert acc["lstm"] > 0.8 and acc["gru"] > 0.8
    verdicts = {row["model"]: row["verdict"] for row in summary_rows(result, "en")}
    assert verdicts == {"RNN": "near chance", "LSTM": "learned it", "GRU": "learned it"}


def test_rnn_learns_the_same_task_when_the_sequence_is_short() -> None:
    result = train_side_by_side(LongDepConfig(length=10, steps=100, seed=1, kinds=("rnn",)))
    assert result.final_accuracy["rnn"] > 0.9


def test_moving_average_matches_a_direct_trailing_mean() -> None:
    v = np.random.default_rng(0).normal(size=37)
    for window in (1, 4, 37, 50):
        expected = [v[max(0, i - window + 1): i + 1].mean() for i in range(len(v))]
        np.testing.assert_allclose(moving_average(v, window), expected, rtol=1e-12)
    with pytest.raises(RnnVizError):
        moving_average(v, 0)


def test_downsample_indices_keep_ends_and_cap_the_count() -> None:
    assert downsample_indices(5, 10).tolist() == [0, 1, 2, 3, 4]
    idx = downsample_indices(1000, 50)
    assert len(idx) <= 50 and idx[0] == 0 and idx[-1] == 999
    assert np.all(np.diff(idx) > 0)


# ---- the shipped long-dependency models (rnnviz/lessons/longdep_models.py) ----------------

FRESH_SEED = 424_242  # a held-out set neither the training nor the recorded evaluation drew


@pytest.mark.parametrize("length", LENGTHS)
def test_shipped_files_load_and_reach_their_recorded_accuracy(length: int) -> None:
    path = path_for(length)
    assert path.stat().st_size < 64_000  # three small models, about 49 kB
    trained = load_set(path)
    assert trained.length == length and set(trained.models) == {"rnn", "lstm", "gru"}
    assert trained.info["script"] == "scripts/train_longdep.py"
    for kind, model in trained.models.items():
        assert isinstance(model.rnn, {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}[kind])
        assert trained.configs[kind].length == length
        fresh = held_out_accuracy(model, trained.task, 3000, FRESH_SEED)
        assert abs(fresh - trained.accuracy[kind]) < 0.04, (kind, fresh, trained.accuracy[kind])
    # The page's story: the gated cells learn at every shipped length.
    assert trained.accuracy["lstm"] > 0.95 and trained.accuracy["gru"] > 0.95


def test_the_shipped_rnn_learns_short_lengths_only_and_the_sweep_is_cached() -> None:
    accuracy = sweep()
    assert accuracy is sweep() and list(accuracy) == list(LENGTHS)
    reach = learns_up_to(accuracy, "rnn")
    assert reach is not None and LENGTHS[0] < reach < LENGTHS[-1]
    # The page's words: beyond that it ends at or near chance, the gated cells learn it all.
    assert all(accuracy[n]["rnn"] < 0.5 for n in LENGTHS if n > reach)
    assert learns_up_to(accuracy, "lstm") == learns_up_to(accuracy, "gru") == LENGTHS[-1]
    assert load_shipped(60) is load_shipped(60)
    with pytest.raises(RnnVizError, match="T=7"):
        load_shipped(7)


def test_learns_up_to_needs_every_shorter_length_learned() -> None:
    def acc(*values: float) -> dict[int, dict[str, float]]:
        return {n: {"rnn": v} for n, v in zip((40, 10, 30, 20), values, strict=True)}

    assert learns_up_to(acc(0.24, 1.0, 0.26, 0.95)) == 20  # the lengths in any order
    assert learns_up_to(acc(0.95, 1.0, 0.3, 0.95)) == 20  # learning again at 40 does not count
    assert learns_up_to(acc(1.0, 1.0, 1.0, 0.9)) == 40
    assert learns_up_to(acc(0.9, 0.5, 0.9, 0.9)) is None


def _tiny_set(length: int = 6) -> TrainedSet:
    config = LongDepConfig(length=length, steps=2, batch_size=4, hidden_size=4, eval_size=8)
    result = train_side_by_side(config)
    return TrainedSet(length, {k: m.eval() for k, m in result.models.items()},
                      {k: config for k in result.models}, dict(result.final_accuracy),
                      {k: 0.5 for k in result.models}, {"script": "test"})


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    trained = _tiny_set()
    loaded = load_set(save_set(trained, tmp_path / "T6.safetensors"))
    x = torch.randint(0, 12, (5, 6))
    for kind in ("rnn", "lstm", "gru"):
        with torch.no_grad():
            assert torch.equal(loaded.models[kind](x), trained.models[kind](x))
        assert loaded.configs[kind] == trained.configs[kind]
        assert loaded.accuracy[kind] == pytest.approx(trained.accuracy[kind], abs=1e-4)
        assert not loaded.models[kind].training


def _rewrite(path: Path, tensors: dict | None = None, **metadata: str) -> Path:
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        meta = {**f.metadata(), **metadata}
    save_file(tensors if tensors is not None else load_file(str(path)), str(path), metadata=meta)
    return path


@pytest.mark.parametrize("damage, message", [
    (lambda p: _rewrite(p, format="rnnviz-checkpoint"), "not an rnnviz-longdep"),
    (lambda p: _rewrite(p, length="7"), "trained at T=6"),
    (lambda p: _rewrite(p, models='{"rnn": {}}'), "exactly the models"),
    (lambda p: _rewrite(p, {**load_file(str(p)), "gru.extra": torch.zeros(2)}), "differ"),
    (lambda p: _rewrite(p, {k: (v[:-1] if k == "lstm.fc.bias" else v)
                            for k, v in load_file(str(p)).items()}), "differ"),
    (lambda p: _rewrite(p, {k: (v.double() if k == "rnn.fc.bias" else v)
                            for k, v in load_file(str(p)).items()}), "differ"),
    (lambda p: _rewrite(p, {k: (v * float("nan") if k == "gru.fc.bias" else v)
                            for k, v in load_file(str(p)).items()}), "NaN"),
    (lambda p: p.write_bytes(b"\x80\x04\x95pickled"), "not a readable safetensors"),
    (lambda p: p.write_bytes(b"\0" * (MAX_BYTES + 1)), "more than"),
])
def test_a_damaged_file_is_refused_with_its_name(tmp_path: Path, damage, message: str) -> None:
    path = save_set(_tiny_set(), tmp_path / "T6.safetensors")
    damage(path)
    with pytest.raises(RnnVizError, match=message) as err:
        load_set(path)
    assert "T6.safetensors" in str(err.value)
    with pytest.raises(RnnVizError, match="missing"):
        load_set(tmp_path / "T99.safetensors")
