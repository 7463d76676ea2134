"""The LSTM / GRU step-by-step numbers against torch's own nn.LSTM / nn.GRU, and the questions
and equations built from them."""

from __future__ import annotations

import re
import types

import numpy as np
import pytest
import torch
from torch import nn

from rnnviz.errors import RnnVizError
from rnnviz.lessons.gating import demo_network
from rnnviz.lessons.steps import (
    STEPS,
    candidate_pre,
    cell_grows,
    check_units,
    classifier_inputs,
    demo_inputs,
    keeps_more_of_the_old_state,
    most_active,
    output_more_than_half_open,
    reset_share,
    step_at,
    step_latex,
)

T, I, H = 7, 5, 6  # noqa: E741 (I is the math's name)
TOKENS = list("abcdefg")


def _module(cls: type, layers: int = 2, bidirectional: bool = True, **kw) -> nn.RNNBase:
    torch.manual_seed(3)
    return cls(I, H, num_layers=layers, bidirectional=bidirectional, **kw).eval()


def _copy(src: nn.RNNBase, layer: int, cls: type, input_size: int,
          bidirectional: bool) -> nn.RNNBase:
    """A one-layer module holding ``src``'s layer ``layer`` (both directions if asked)."""
    out = cls(input_size, H, bidirectional=bidirectional, bias=src.bias).eval()
    with torch.no_grad():
        for name, p in out.named_parameters():
            p.copy_(getattr(src, name.replace("_l0", f"_l{layer}")))
    return out


def _reference(module: nn.RNNBase, cls: type, x: torch.Tensor, layer: int, t: int) -> tuple:
    """(h_t, c_t or None) of layer ``layer``'s forward direction at token t, from torch alone:
    the layers below run as torch modules, then the layer on the prefix x_1..x_t."""
    D = 2 if module.bidirectional else 1
    inputs = x[None]
    with torch.no_grad():
        for k in range(layer):
            below = _copy(module, k, cls, inputs.shape[-1], module.bidirectional)
            below.batch_first = True
            inputs, _ = below(inputs)
        own = _copy(module, layer, cls, I if layer == 0 else D * H, False)
        own.batch_first = True
        _, state = own(inputs[:, : t + 1])
    if cls is nn.LSTM:
        return state[0][0, 0].numpy(), state[1][0, 0].numpy()
    return state[0, 0].numpy(), None


@pytest.mark.parametrize("cls", [nn.LSTM, nn.GRU])
@pytest.mark.parametrize("layer", [0, 1])
def test_step_numbers_equal_the_torch_module(cls: type, layer: int) -> None:
    module = _module(cls)
    x = torch.randn(T, I, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        out, _ = module(x[None] if module.batch_first else x[:, None])
    out = out[0] if module.batch_first else out[:, 0]
    for t in range(T):
        step = step_at(module, x, TOKENS, t, layer)
        h_ref, c_ref = _reference(module, cls, x, layer, t)
        np.testing.assert_allclose(step.out["h"], h_ref, atol=1e-6)
        if cls is nn.LSTM:
            np.testing.assert_allclose(step.out["c"], c_ref, atol=1e-6)
        if layer == module.num_layers - 1:  # the module's own output: the last layer's [h→; h←]
            np.testing.assert_allclose(step.out["h"], out[t, :H].numpy(), atol=1e-6)
        if t > 0:  # h_{t-1} is the previous step's h_t
            prev = step_at(module, x, TOKENS, t - 1, layer)
            np.testing.assert_allclose(step.h_prev, prev.out["h"], atol=1e-6)
        else:
            assert not step.h_prev.any()


def test_each_gate_is_its_activation_of_the_split_pre_activation() -> None:
    module = _module(nn.LSTM, layers=1, bidirectional=False)
    x = torch.randn(T, I)
    step = step_at(module, x, TOKENS, 4)
    sig = lambda a: 1 / (1 + np.exp(-a))  # noqa: E731
    for g in ("i", "f", "o"):
        np.testing.assert_allclose(step.out[g], sig(step.terms[g].pre), rtol=1e-6)
    np.testing.assert_allclose(step.out["g"], np.tanh(step.terms["g"].pre), rtol=1e-6)
    o = step.out
    np.testing.assert_allclose(o["c"], o["f"] * step.c_prev + o["i"] * o["g"], rtol=1e-6)
    np.testing.assert_allclose(o["h"], o["o"] * np.tanh(o["c"]), rtol=1e-6)
    # The split follows torch's layout: U_f is weight_ih_l0's second block of H rows.
    U_f = module.weight_ih_l0[H:2 * H].detach().double().numpy()
    np.testing.assert_allclose(step.terms["f"].Ux, U_f @ x[4].double().numpy(), rtol=1e-6)
    np.testing.assert_allclose(step.terms["f"].b, (module.bias_ih_l0 + module.bias_hh_l0)
                               [H:2 * H].detach().numpy(), rtol=1e-6)

    gru = _module(nn.GRU, layers=1, bidirectional=False)
    s = step_at(gru, x, TOKENS, 2)
    np.testing.assert_allclose(s.out["n"], np.tanh(candidate_pre(s)), rtol=1e-6)
    np.testing.assert_allclose(s.out["z"], sig(s.terms["z"].pre), rtol=1e-6)
    # rnnviz's convention (torch's, Cho et al. 2014): z near 1 keeps the old state.
    np.testing.assert_allclose(s.out["h"], (1 - s.out["z"]) * s.out["n"] + s.out["z"] * s.h_prev,
                               rtol=1e-6)


def test_a_module_without_bias_and_batch_first_layout() -> None:
    module = _module(nn.LSTM, layers=1, bidirectional=False, bias=False, batch_first=True)
    x = torch.randn(T, I)
    step = step_at(module, x, TOKENS, T - 1)
    with torch.no_grad():
        _, (h_n, c_n) = module(x[None])
    np.testing.assert_allclose(step.out["h"], h_n[0, 0].numpy(), atol=1e-6)
    np.testing.assert_allclose(step.out["c"], c_n[0, 0].numpy(), atol=1e-6)
    assert not step.terms["f"].b.any()


def test_bad_requests_are_refused() -> None:
    module = _module(nn.LSTM)
    x = torch.randn(T, I)
    with pytest.raises(RnnVizError, match="outside"):
        step_at(module, x, TOKENS, T)
    with pytest.raises(RnnVizError, match="layer"):
        step_at(module, x, TOKENS, 0, layer=2)
    with pytest.raises(RnnVizError, match="tokens"):
        step_at(module, x, TOKENS[:-1], 0)
    with pytest.raises(RnnVizError, match="LSTM and GRU"):
        step_at(nn.RNN(I, H), x, TOKENS, 0)
    step = step_at(module, x, TOKENS, 0)
    with pytest.raises(RnnVizError):
        check_units(step, [])
    with pytest.raises(RnnVizError):
        check_units(step, [H])


def test_most_active_units_are_the_largest_h() -> None:
    step = step_at(_module(nn.LSTM), torch.randn(T, I), TOKENS, 3)
    units = most_active(step, 3)
    h = np.abs(step.out["h"])
    assert [h[u] for u in units] == sorted(h, reverse=True)[:3]
    assert most_active(step, 99) == most_active(step, H)


def _numbers(tex: str) -> list[float]:
    return [float(v) for v in re.findall(r"-?\d+\.\d+", tex)]


def test_latex_writes_each_step_with_its_numbers_for_the_chosen_units() -> None:
    module = _module(nn.LSTM)
    step = step_at(module, torch.randn(T, I), TOKENS, 2)
    tex = step_latex(step, [1, 4])
    assert list(tex) == list(STEPS["lstm"])
    assert r"c_{3} &= f_{3} \odot c_{2}" in tex["cell"]
    # The last vector of each step is its result, in the chosen units' order.
    np.testing.assert_allclose(_numbers(tex["cell"])[-2:], step.out["c"][[1, 4]], atol=0.005)
    np.testing.assert_allclose(_numbers(tex["output"])[-2:], step.out["h"][[1, 4]], atol=0.005)
    np.testing.assert_allclose(_numbers(tex["forget"])[-2:], step.out["f"][[1, 4]], atol=0.005)
    other = step_latex(step, [0])
    assert len(_numbers(other["cell"])) < len(_numbers(tex["cell"]))
    gru = step_at(_module(nn.GRU), torch.randn(T, I), TOKENS, 0)
    g = step_latex(gru, [2])
    assert list(g) == list(STEPS["gru"])
    assert r"(1 - z_{1}) \odot n_{1} + z_{1} \odot h_{0}" in g["hidden"]
    assert _numbers(g["hidden"])[-1] == pytest.approx(gru.out["h"][2], abs=0.005)


def test_questions_follow_the_numbers() -> None:
    module = _module(nn.LSTM)
    x = torch.randn(T, I)
    seen_grow, seen_open = set(), set()
    for t in range(T):
        step = step_at(module, x, TOKENS, t)
        for u in range(H):
            c_t = step.out["f"][u] * step.c_prev[u] + step.out["i"][u] * step.out["g"][u]
            assert cell_grows(step, u) == (abs(c_t) > abs(step.c_prev[u]))
            assert output_more_than_half_open(step, u) == (step.terms["o"].pre[u] > 0)
            seen_grow.add(cell_grows(step, u))
            seen_open.add(output_more_than_half_open(step, u))
    assert seen_grow == seen_open == {True, False}  # the answers do change with the numbers
    gru = _module(nn.GRU)
    step = step_at(gru, x, TOKENS, 3)
    for u in range(H):
        old = step.out["z"][u] * step.h_prev[u]
        assert keeps_more_of_the_old_state(step, u) == (step.out["z"][u] > 0.5)
        assert reset_share(step, u) == pytest.approx(
            step.out["r"][u] * (step.terms["n"].Wh[u] + step.terms["n"].b_h[u]))
        assert np.isfinite(old)


def test_inputs_from_the_demo_network_and_a_classifier() -> None:
    net = demo_network("gru")
    tokens, x = demo_inputs(net, "门 控")
    assert tokens == ["门", "控"] and x.shape == (2, net.embedding.embedding_dim)
    step = step_at(net.rnn, x, tokens, 1)
    with torch.no_grad():
        out, _ = net.rnn(x[None])
    np.testing.assert_allclose(step.out["h"], out[0, 1].numpy(), atol=1e-6)

    embed = nn.Embedding(10, 3)
    predictor = types.SimpleNamespace(
        config=types.SimpleNamespace(max_len=4), tokenizer=list,
        vocab=types.SimpleNamespace(encode=lambda toks: [ord(c) % 10 for c in toks]),
        model=types.SimpleNamespace(embed=embed))
    tokens, x = classifier_inputs(predictor, "abcdef")
    assert tokens == list("abcd")  # max_len cuts it
    np.testing.assert_allclose(x.numpy(), embed.weight[[7, 8, 9, 0]].detach().numpy())
