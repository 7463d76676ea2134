"""How much of the first symbol each cell carries (rnnviz/lessons/memory.py), against autograd
and the torch modules, and what the shipped networks' keep gates say."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers import missing
from torch import nn

from rnnviz.errors import RnnVizError
from rnnviz.lessons.longdep import FirstSymbolTask, LongDepConfig, build_model
from rnnviz.lessons.longdep_models import initial_model, load_shipped
from rnnviz.lessons.memory import (
    Memory,
    answer_rows,
    best_keeper,
    common_steps,
    least_carrier,
    memory_of,
    memory_rows,
    prefix_gain,
    rnn_jacobian_norms,
    run_cell,
    sequence,
    steps_back_gain,
    task_view,
    three_cells,
)
from rnnviz.paths import MODELS_DIR

pytestmark = pytest.mark.usefixtures("one_torch_thread_per_test")


def _model(kind: str, length: int = 12, seed: int = 0):
    return build_model(kind, LongDepConfig(length=length, hidden_size=6, seed=seed)).eval()


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_run_cell_states_and_answer_match_the_torch_module(kind: str) -> None:
    model = _model(kind)
    _, x = sequence(FirstSymbolTask(12), seed=3)
    run = run_cell(model, x)
    with torch.no_grad():
        out, _ = model.rnn(model.embedding(x[None]))
        probs = torch.softmax(model(x[None])[0].double(), -1)
    np.testing.assert_allclose(run.states["h"], out[0].numpy(), atol=1e-6)
    np.testing.assert_allclose(run.probs, probs.numpy(), atol=1e-6)
    assert run.answer == int(probs.argmax())
    assert run.memory is run.states["c" if kind == "lstm" else "h"]
    assert run.carry[0] == 1.0 and run.carry.shape == (12,)


def test_rnn_jacobian_norms_equal_autograd_through_the_module() -> None:
    torch.manual_seed(0)
    rnn = nn.RNN(3, 5, batch_first=True).double()
    x = torch.randn(1, 9, 3, dtype=torch.float64)
    with torch.no_grad():
        h, _ = rnn(x)
    norms = rnn_jacobian_norms(rnn.weight_hh_l0.detach().numpy(), h[0].numpy())
    for t in range(1, 9):  # h_{t+1} (0-based t) from h_1: the module run on x_2..x_{t+1}
        def from_h1(h1: torch.Tensor, t: int = t) -> torch.Tensor:
            return rnn(x[:, 1:t + 1], h1.view(1, 1, 5))[0][0, -1]

        jac = torch.autograd.functional.jacobian(from_h1, h[0, 0])
        assert norms[t] == pytest.approx(float(torch.linalg.matrix_norm(jac, 2)), rel=1e-9)
    assert norms[0] == 1.0


def test_lstm_carry_is_the_cell_path_jacobian_with_the_gates_held_fixed() -> None:
    model = _model("lstm")
    _, x = sequence(FirstSymbolTask(12), seed=1)
    run = run_cell(model, x)
    f = torch.from_numpy(run.states["f"])
    ig = torch.from_numpy(run.states["i"] * run.states["g"])
    c1 = torch.from_numpy(run.states["c"][0]).requires_grad_()
    c = c1
    for s in range(1, 12):
        c = f[s] * c + ig[s]  # c_s = f_s ⊙ c_{s-1} + i_s ⊙ g_s, gates as constants
        (grad,) = torch.autograd.grad(c.sum(), c1, retain_graph=True)  # the diagonal
        np.testing.assert_allclose(prefix_gain(run.states["f"])[s], grad.numpy(), rtol=1e-12)
        assert run.carry[s] == pytest.approx(float(grad.abs().max()), rel=1e-12)


def test_gru_carry_is_the_direct_path_of_the_torch_update_convention() -> None:
    model = _model("gru")
    _, x = sequence(FirstSymbolTask(12), seed=2)
    run = run_cell(model, x)
    z, n = (torch.from_numpy(run.states[g]) for g in ("z", "n"))
    h1 = torch.from_numpy(run.states["h"][0]).requires_grad_()
    h = h1
    for s in range(1, 12):
        h = (1 - z[s]) * n[s] + z[s] * h  # torch's nn.GRU: h_t = (1 - z_t) n_t + z_t h_{t-1}
    np.testing.assert_allclose(h.detach().numpy(), run.states["h"][-1], atol=1e-6)
    (grad,) = torch.autograd.grad(h.sum(), h1)
    assert run.carry[-1] == pytest.approx(float(grad.abs().max()), rel=1e-9)


def test_least_carrier_and_sequence() -> None:
    task = FirstSymbolTask(15)
    tokens, x = sequence(task, seed=4)
    assert len(tokens) == 15 and tokens[0] in "ABCD" and all(t in "01234567" for t in tokens[1:])
    assert tokens == sequence(task, seed=4)[0] and tokens != sequence(task, seed=5)[0]
    runs = three_cells({k: _model(k, 15) for k in ("rnn", "lstm", "gru")}, x)
    for t in (1, 8, 15):
        assert least_carrier(runs, t) == min(runs, key=lambda k: runs[k].carry[t - 1])
    with pytest.raises(RnnVizError):
        least_carrier(runs, 16)
    with pytest.raises(RnnVizError):
        run_cell(runs and _model("rnn"), x[None])
    rows = answer_rows(runs, task, int(x[0]), "en")
    assert [r["cell"] for r in rows] == ["RNN", "LSTM", "GRU"]
    key = f"probability of {tokens[0]} (the first symbol)"
    assert rows[1][key] == round(float(runs["lstm"].probs[int(x[0])]), 3)


def test_steps_back_gain_reads_the_cell_path_from_the_end() -> None:
    keep = np.random.default_rng(0).uniform(0.3, 1.0, (7, 5))
    back = steps_back_gain(keep)
    for d in range(7):
        np.testing.assert_allclose(back[d], np.prod(keep[7 - d:], axis=0), rtol=1e-12)
    # A backward direction applies its gates from the last position to the first.
    back_rev = steps_back_gain(keep, reverse=True)
    for d in range(7):
        np.testing.assert_allclose(back_rev[d], np.prod(keep[:d], axis=0), rtol=1e-12)
    m = memory_of("demo", "lstm", keep)
    assert m.steps == 6 and m.keep_mean == pytest.approx(keep.mean())
    assert m.at(3) == pytest.approx(sorted(np.prod(keep[4:], axis=0))[2])  # the median unit
    assert m.mean_at(3) == pytest.approx(np.prod(keep[4:], axis=0).mean())
    with pytest.raises(RnnVizError):
        memory_of("demo", "lstm", keep[:1])


def test_best_keeper_common_steps_and_rows() -> None:
    a = Memory("classifier", "lstm", 0.5, np.array([[1.0, 1.0, 1.0], [0.5, 0.4, 0.9],
                                                     [0.25, 0.1, 0.8], [0.1, 0.01, 0.7]]))
    b = Memory("longdep", "lstm", 0.9, np.array([[1.0], [0.9], [0.8], [0.7], [0.6]]))
    assert common_steps([a, b]) == 3
    assert best_keeper([a, b], 3) == "longdep"
    rows = memory_rows([a, b], 3, "en")
    assert rows[0]["median unit: ∏f over the last 3 steps"] == "0.1"
    assert rows[0]["mean over units: ∏f over the last 3 steps"] == "0.27"
    assert rows[1]["median unit: ∏f over its whole input"] == "0.6"
    assert rows[1]["network"] == "trained to remember the first symbol (T = 5)"


# ---- the shipped networks: the claims the LSTM/GRU page makes about them ------------------


def _classifier_forget_gates(text: str) -> np.ndarray:
    from rnnviz.core.predict import Predictor

    path = MODELS_DIR / "textrnn.safetensors"
    if not path.is_file():
        missing(f"no shipped Text-RNN at {path}")
    prediction = Predictor.from_file(path).predict(text)
    layer = next(t for t in prediction.layers if t.layer == 0 and t.direction == "forward")
    return np.asarray(layer.states["f"], dtype=np.float64)


def test_the_lstm_trained_to_remember_keeps_far_more_than_the_news_classifier() -> None:
    from rnnviz.lessons.gating import EXAMPLE_TEXTS

    trained = load_shipped(60)
    _, x = sequence(trained.task, 0)
    longdep = memory_of("longdep", "lstm", run_cell(trained.models["lstm"], x).states["f"])
    for text in EXAMPLE_TEXTS:
        classifier = memory_of("classifier", "lstm", _classifier_forget_gates(text))
        d = common_steps([classifier, longdep])
        # Over all of its 59 steps the long-dependency LSTM keeps far more than the classifier
        # does over a title of 14-18 characters: for the median unit, and in the mean over
        # the units too (a few of the classifier's units do keep their cell over a title).
        assert longdep.at(longdep.steps) > 1000 * classifier.at(classifier.steps)
        assert longdep.mean_at(longdep.steps) > 5 * classifier.mean_at(classifier.steps)
        assert longdep.mean_at(d) > 10 * classifier.mean_at(d)
        assert classifier.keep_mean < 0.65 < longdep.keep_mean
        assert best_keeper([classifier, longdep], d) == "longdep"


def test_training_opened_a_few_long_dependency_units_wide_and_closed_the_rest() -> None:
    trained = load_shipped(60)
    _, x = sequence(trained.task, 0)
    for kind, gate in (("lstm", "f"), ("gru", "z")):
        after = memory_of("longdep", kind, run_cell(trained.models[kind], x).states[gate])
        before = memory_of("longdep", kind,
                           run_cell(initial_model(trained, kind), x).states[gate])
        # lstm_gru.md#memory.story.longdep.*: the gates average less than at the start, yet
        # the strongest unit keeps far more; and the mean over the units rose.
        assert after.keep_mean < before.keep_mean
        assert after.best_at(after.steps) > 2 * before.best_at(before.steps)
        assert after.best_at(after.steps) > 0.8
        assert after.mean_at(after.steps) > before.mean_at(before.steps)


def test_the_shipped_classifier_max_pools_as_the_page_says() -> None:
    from rnnviz.core.checkpoint import load_checkpoint

    path = MODELS_DIR / "textrnn.safetensors"
    if not path.is_file():
        missing(f"no shipped Text-RNN at {path}")
    assert load_checkpoint(path).config.pooling == "max"


def test_a_trained_rnn_can_answer_with_a_tiny_jacobian_as_the_caption_says() -> None:
    # long_dependency.md#cells.caption: at T = 30 the shipped RNN answers right although
    # its ‖∂h_T/∂h_1‖ is tiny (it holds the symbol in an attractor).
    trained = load_shipped(30)
    assert trained.accuracy["rnn"] > 0.9
    _, x = sequence(trained.task, 0)
    run = run_cell(trained.models["rnn"], x)
    assert run.carry[-1] < 1e-3 and run.answer == int(x[0])


def test_task_view_draws_the_shipped_model_or_its_initial_weights() -> None:
    trained = load_shipped(60)
    tokens, x = sequence(trained.task, 2)
    view = task_view(trained, "gru", seed=2)
    assert view.tokens == tokens and view.kind == "gru" and view.hidden_size == 32
    with torch.no_grad():
        out, _ = trained.models["gru"].rnn(trained.models["gru"].embedding(x[None]))
    np.testing.assert_allclose(view.states["h"], out[0].numpy(), atol=1e-6)
    before = task_view(trained, "gru", seed=2, before_training=True)
    assert not np.allclose(before.states["z"], view.states["z"])
    untrained = initial_model(trained, "gru")
    with torch.no_grad():
        first, _ = untrained.rnn(untrained.embedding(x[None]))
    np.testing.assert_allclose(before.states["h"], first[0].numpy(), atol=1e-6)
