"""The structure page's small RNN agrees with torch.nn.RNN and its equation reproduces h_t."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from rnnviz.errors import RnnVizError
from rnnviz.lessons.unrolled import (
    MAX_DEMO_CHARS,
    char_embedding,
    demo_rnn,
    embed_text,
    run_rnn,
    step_latex,
    step_terms,
)

TEXT = "我爱自然语言处理"


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_demo_states_match_torch_rnn(activation: str) -> None:
    model = demo_rnn(activation=activation, seed=3)
    chars, x = embed_text(TEXT)
    run = run_rnn(model, x)

    rnn = torch.nn.RNN(
        model.input_size, model.hidden_size, nonlinearity=activation, dtype=torch.float64
    )
    with torch.no_grad():
        rnn.weight_ih_l0.copy_(torch.from_numpy(model.U))
        rnn.weight_hh_l0.copy_(torch.from_numpy(model.W))
        rnn.bias_ih_l0.copy_(torch.from_numpy(model.b))
        rnn.bias_hh_l0.zero_()
        out, h_n = rnn(torch.from_numpy(x)[:, None, :])
    np.testing.assert_allclose(run.h, out[:, 0].numpy(), atol=1e-12)
    np.testing.assert_allclose(run.h[-1], h_n[0, 0].numpy(), atol=1e-12)
    np.testing.assert_allclose(run.o, run.h @ model.V.T + model.c)
    assert len(chars) == len(TEXT)


def test_sigmoid_states_match_closed_form_loop() -> None:
    model = demo_rnn(activation="sigmoid", seed=1)
    _, x = embed_text(TEXT)
    h = np.zeros(model.hidden_size)
    expected = []
    for x_t in x:
        h = 1.0 / (1.0 + np.exp(-(model.U @ x_t + model.W @ h + model.b)))
        expected.append(h)
    np.testing.assert_allclose(run_rnn(model, x).h, np.array(expected), rtol=1e-13)


def test_same_character_gets_same_input_vector() -> None:
    chars, x = embed_text("语言语")
    assert chars == ["语", "言", "语"]
    np.testing.assert_array_equal(x[0], x[2])
    assert not np.array_equal(x[0], x[1])
    np.testing.assert_array_equal(char_embedding("语"), x[0])


def test_text_is_cut_and_empty_text_rejected() -> None:
    chars, x = embed_text("字" * (MAX_DEMO_CHARS + 5))
    assert len(chars) == MAX_DEMO_CHARS and x.shape == (MAX_DEMO_CHARS, 4)
    with pytest.raises(RnnVizError, match="text"):
        embed_text("   \n ")


@pytest.mark.parametrize("activation", ["tanh", "relu", "sigmoid"])
def test_step_terms_reproduce_h_t(activation: str) -> None:
    model = demo_rnn(activation=activation)
    _, x = embed_text(TEXT)
    run = run_rnn(model, x)
    for t in (1, 4, len(TEXT)):
        terms = step_terms(model, run, t)
        np.testing.assert_allclose(terms.Ux + terms.Wh + terms.b, run.a[t - 1], atol=1e-14)
        np.testing.assert_allclose(terms.h_t, run.h[t - 1], atol=1e-14)
        expected_prev = np.zeros(model.hidden_size) if t == 1 else run.h[t - 2]
        np.testing.assert_array_equal(terms.h_prev, expected_prev)


def _numbers(latex: str) -> list[float]:
    return [float(v) for v in re.findall(r"-?\d+\.\d+", latex)]


def test_equation_shows_the_numbers_that_give_h_t() -> None:
    """Recompute h_t from the rounded numbers printed in the LaTeX: close to the true h_t."""
    model = demo_rnn()
    _, x = embed_text(TEXT)
    run = run_rnn(model, x)
    t = 3
    terms = step_terms(model, run, t)
    nums = _numbers(step_latex(model, terms, digits=2))
    H, D = model.hidden_size, model.input_size
    sizes = [H * D, D, H * H, H, H]  # U, x_t, W, h_{t-1}, b in the first line
    parts, i = [], 0
    for n in sizes:
        parts.append(np.array(nums[i : i + n]))
        i += n
    U, x_t, W, h_prev, b = parts
    a = U.reshape(H, D) @ x_t + W.reshape(H, H) @ h_prev + b
    np.testing.assert_allclose(np.tanh(a), terms.h_t, atol=0.03)
    # The last H numbers are h_t itself, rounded to 2 decimals.
    np.testing.assert_allclose(nums[-H:], terms.h_t, atol=0.005 + 1e-12)


def test_bad_step_and_activation_are_rejected() -> None:
    model = demo_rnn()
    run = run_rnn(model, embed_text("ab")[1])
    with pytest.raises(RnnVizError, match="between 1 and 2"):
        step_terms(model, run, 3)
    with pytest.raises(RnnVizError, match="activation"):
        demo_rnn(activation="gelu")
    with pytest.raises(RnnVizError, match="shape"):
        run_rnn(model, np.zeros((3, 7)))
