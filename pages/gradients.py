"""Lesson 3: vanishing and exploding gradients — factors multiplied T times, the Jacobian
products of a real recurrent net, and gradient clipping."""

import numpy as np
import streamlit as st

from rnnviz.lessons.gradients import (
    NORMS,
    ExplodingTask,
    clip_effects,
    jacobian_norms,
    jacobian_setup,
    matrix_norm,
    power,
    product_bound,
    train_with_clipping,
)
from rnnviz.lessons.quiz import Question
from rnnviz.plots import gradients as plots
from ui.lang import lang, page_text
from ui.lesson import lesson_end
from ui.quiz import ask

words = page_text("gradients")

GUESS_TOL = 0.2  # a guessed power counts as right within 20 %
ACTIVATIONS = ("tanh", "sigmoid", "relu")
CLIP_THRESHOLDS = (0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0)
GEOMETRY_G = np.array([3.0, 0.8])  # the 2-D gradient of the clipping picture

st.title(words("title"))
st.markdown(words("intro"))
st.latex(words("intro.tex"))
st.markdown(words("powers"))


@st.fragment
def powers() -> None:
    c1, c2, c3 = st.columns(3)
    a = c1.slider(words("powers.a"), 0.50, 1.50, 0.99, 0.01, key="grad_factor_a")
    b = c2.slider(words("powers.b"), 0.50, 1.50, 1.10, 0.01, key="grad_factor_b")
    T = c3.slider("T", 1, 300, 100, key="grad_T")
    value = power(a, T)
    if not ask(words, Question("q_power", answer=value, values={"a": a, "T": T, "tol": GUESS_TOL},
                               rel_tol=GUESS_TOL)):
        return
    m1, m2 = st.columns(2)
    m1.metric(f"{a:g}^{T}", f"{value:.6g}")
    m2.metric(f"{b:g}^{T}", f"{power(b, T):.6g}")
    st.plotly_chart(plots.power_figure([a, b], T, lang()), width="stretch", key="grad_power_chart")


powers()

st.header(words("jac.header"))
st.markdown(words("jac.intro"))


@st.fragment
def jacobians() -> None:
    c1, c2, c3 = st.columns(3)
    rho = c1.slider(words("jac.rho"), 0.5, 4.0, 2.0, 0.1, key="grad_rho")
    T = c2.slider(words("jac.T"), 10, 200, 100, 10, key="grad_jac_T")
    # Labels looked up now, in this run's language: a format_func is also called outside the
    # run (AppTest does), where the session's language is not known.
    labels = {n: words(f"jac.norm.{n}") for n in NORMS}
    norm = c3.radio(words("jac.norm"), NORMS, key="grad_norm", horizontal=True,
                    format_func=labels.__getitem__)
    setup = jacobian_setup(T=T, spectral_radius=rho)
    norms = {act: jacobian_norms(setup, act, norm) for act in ACTIVATIONS}
    end = norms["tanh"][-1]
    w2 = matrix_norm(setup.W, "spectral")
    values = {"rho": rho, "T": T, "norm": norm, "value": end, "w2": w2}
    if not ask(words, Question("q_tanh", answer="below" if end < 1 else "above",
                               options=("above", "below"), values=values)):
        return
    # ‖J_k‖₂ <= max|f'| ‖W‖₂ (Pascanu et al. 2013, section 2.1): sigmoid's 1/4 gives a ceiling.
    bound = product_bound(setup.W, "sigmoid", T, norm)
    left, right = st.columns([3, 2])
    left.plotly_chart(plots.jacobian_norm_figure(norms, norm, rho, lang(), bound=bound),
                      width="stretch", key="grad_jac_chart")
    right.plotly_chart(plots.derivative_figure(lang()), width="stretch", key="grad_deriv_chart")
    st.markdown(words("jac.at", T=T, **{act: float(v[-1]) for act, v in norms.items()}))
    st.markdown(words("jac.why", w2=w2, q=w2 / 4, rho=rho))


jacobians()

st.header(words("clip.header"))
_task = ExplodingTask()
st.markdown(words("clip.intro", rho=_task.spectral_radius, lr=_task.lr, T=_task.T,
                  batch=_task.batch, steps=_task.steps))


@st.cache_data(max_entries=64, show_spinner=False)
def _train(mode: str, threshold: float):
    return train_with_clipping(_task, mode, threshold)


@st.fragment
def clipping() -> None:
    c = st.select_slider(words("clip.c"), CLIP_THRESHOLDS, value=1.0, key="grad_clip")
    runs = [_train("none", 1.0), _train("norm", c), _train("value", c)]
    st.plotly_chart(plots.clipping_figure(runs, lang()), width="stretch", key="grad_clip_chart")
    for col, run in zip(st.columns(3), runs, strict=True):
        if run.diverged_at is None:
            col.metric(words(f"clip.metric.{run.mode}"), words("clip.final", loss=run.loss[-1]))
        else:
            col.metric(words(f"clip.metric.{run.mode}"),
                       words("clip.diverged", step=run.diverged_at))
    text, picture = st.columns([2, 3])
    text.markdown(words("clip.explain", c=c))
    # Norm clipping (Pascanu et al. 2013) keeps the direction; value clipping turns g unless it
    # cuts nothing, though each sign is kept (Goodfellow et al. 10.11.1): computed, not assumed.
    by_value = clip_effects(GEOMETRY_G, c)["value"]
    values = {"c": c, "gx": GEOMETRY_G[0], "gy": GEOMETRY_G[1], "vx": by_value.clipped[0],
              "vy": by_value.clipped[1], "angle": by_value.angle}
    with picture:
        if ask(words, Question("q_direction", answer="yes" if by_value.kept_direction else "no",
                               options=("yes", "no"), values=values)):
            st.plotly_chart(plots.clip_geometry_figure(GEOMETRY_G, c, lang()), width="stretch",
                            key="grad_geom_chart")


clipping()

lesson_end(words)
