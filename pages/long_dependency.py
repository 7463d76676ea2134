"""Lesson 4: long-term dependency — an RNN, an LSTM and a GRU must remember the first symbol:
the shipped models at six lengths, a live run of your own, and the three cells reading one
sequence side by side."""

import streamlit as st

from rnnviz.lessons.longdep import (
    KINDS,
    FirstSymbolTask,
    LongDepConfig,
    summary_rows,
    train_side_by_side,
)
from rnnviz.lessons.longdep_models import LENGTHS, RECIPE, learns_up_to, load_shipped, sweep
from rnnviz.lessons.memory import answer_rows, least_carrier, sequence, three_cells
from rnnviz.lessons.quiz import Question
from rnnviz.plots.longdep import (
    carry_figure,
    cells_states_figure,
    curves_figure,
    length_sweep_figure,
)
from ui.jobs import DONE, Job, get_job, job_progress, live_view, start_job, stop_job
from ui.lang import lang, page_text
from ui.lesson import lesson_end
from ui.quiz import ask

words = page_text("long_dependency")

JOB_KEY = "longdep_job"
TIME_BUDGET_S = 20.0  # a safety net: the default run takes well under this on one core
CELLS_T = "longdep_cells_T"
CELLS_STEP = "longdep_cells_t"

st.title(words("title"))
st.markdown(words("intro"))

st.header(words("task.header"))
c1, c2, c3, c4 = st.columns(4)
T = c1.slider(words("T"), 5, 120, 60, 5, key="longdep_T")
steps = c2.select_slider(words("steps"), [50, 100, 150, 200, 300, 400], 200, key="longdep_steps")
seed = int(c3.number_input(words("seed"), 0, 999, 1, key="longdep_seed"))
chrono = c4.checkbox(words("chrono"), True, key="longdep_chrono")
task = FirstSymbolTask(T)
st.markdown(words("task", T1=T - 1, chance=f"{task.chance:.0%}"))
st.code("\n".join(task.examples(3, seed)), language=None)

# ---- the shipped models: predict how far the plain RNN gets, then see it -----------------
st.header(words("sweep.header"))
accuracy = sweep()
reach = learns_up_to(accuracy, "rnn")
listing = ", ".join(f"T={n}: {accuracy[n]['rnn']:.0%}" for n in LENGTHS)
gated = min(min(accuracy[n]["lstm"], accuracy[n]["gru"]) for n in LENGTHS)
if ask(words, Question("q_reach", answer=str(reach) if reach else "none",
                       options=(*map(str, LENGTHS), "none"),
                       values={"listing": listing, "gated": gated,
                               "lengths": ", ".join(map(str, LENGTHS))})):
    runs = [{"length": n, **accuracy[n]} for n in LENGTHS]
    st.plotly_chart(length_sweep_figure(runs, task.chance, lang(), shipped=True),
                    width="stretch", key="longdep_shipped_sweep")
    st.caption(words("sweep.caption", steps=RECIPE.steps,
                     seeds=", ".join(map(str, RECIPE.seeds))))

# ---- a live run of your own -------------------------------------------------------------
st.header(words("live.header"))


def _train(job: Job, config: LongDepConfig):
    # Runs on the worker thread: no st.* here, only the job's own state.
    return train_side_by_side(config, callback=lambda p: job.update(progress=p),
                              should_stop=job.should_stop)


b1, b2, _ = st.columns([1, 1, 4])
if b1.button(words("start"), type="primary", key="longdep_start"):
    config = LongDepConfig(length=T, steps=steps, seed=seed, gate_bias_init=chrono,
                           time_budget_s=TIME_BUDGET_S)
    start_job(JOB_KEY, _train, config)
b2.button(words("stop"), key="longdep_stop", on_click=stop_job, args=(JOB_KEY,))
st.caption(words("live.caption"))


def _draw(job: Job) -> None:
    progress = job_progress(job, lambda p: words("progress", step=p.step, total=p.total_steps))
    if progress is None:
        return
    fig = curves_figure(progress.history, progress.chance, progress.total_steps, lang())
    st.plotly_chart(fig, width="stretch", key="longdep_curves")


live_view(JOB_KEY, _draw)
job = get_job(JOB_KEY)
if job is not None and job.status == DONE and job.result is not None:
    result = job.result
    st.dataframe(summary_rows(result, lang()), hide_index=True)
    if result.stopped:
        st.warning(words("budget", budget=f"{TIME_BUDGET_S:.0f}"))
    elif st.session_state.get("longdep_recorded") is not job:
        st.session_state["longdep_recorded"] = job
        st.session_state.setdefault("longdep_runs", []).append(
            {"length": result.config.length, **result.final_accuracy})
your_runs = st.session_state.get("longdep_runs", [])
if your_runs:
    st.plotly_chart(length_sweep_figure(your_runs, task.chance, lang()), width="stretch",
                    key="longdep_sweep")
else:
    st.info(words("runs.empty"))

# ---- same input, three cells --------------------------------------------------------------
st.header(words("cells.header"))
st.markdown(words("cells"))


@st.fragment
def three_cells_view() -> None:
    left, right = st.columns(2)
    length = left.select_slider(words("cells.T"), LENGTHS, 60, key=CELLS_T)
    sequence_seed = int(right.number_input(words("cells.seed"), 0, 9999, 0,
                                           key="longdep_cells_seed"))
    trained = load_shipped(length)
    tokens, x = sequence(trained.task, sequence_seed)
    st.code(" ".join(tokens), language=None, wrap_lines=True)
    runs = three_cells(trained.models, x)
    end = {k: f"{runs[k].carry[-1]:.2g}" for k in KINDS}
    # Which cell keeps the least of the first symbol after all T steps: a trained model's
    # answer, computed from the three paths' Jacobians (rnnviz.lessons.memory).
    if not ask(words, Question("q_least", answer=least_carrier(runs, length), options=KINDS,
                               values={"T": length, "first": tokens[0], **end})):
        return
    # Keep the chosen step inside a (possibly shorter) new sequence; it starts at the end.
    st.session_state[CELLS_STEP] = min(st.session_state.get(CELLS_STEP, length), length)
    t = st.slider(words("cells.step"), 1, length, key=CELLS_STEP)
    for column, kind in zip(st.columns(len(KINDS)), KINDS, strict=True):
        column.metric(words(f"cells.metric.{kind}", t=t), f"{runs[kind].carry[t - 1]:.2g}")
    st.plotly_chart(cells_states_figure(runs, tokens, t, lang()), width="stretch",
                    key="longdep_cells_states")
    st.plotly_chart(carry_figure(runs, t, lang()), width="stretch", key="longdep_carry")
    st.markdown(words("cells.answers", T=length))
    st.dataframe(answer_rows(runs, trained.task, int(x[0]), lang()), hide_index=True)
    st.caption(words("cells.caption"))


three_cells_view()

# Bengio, Simard & Frasconi 1994 and Goodfellow et al. 2016 sec. 10.7 (the RNN's product of
# Jacobians); Hochreiter & Schmidhuber 1997, Gers et al. 2000 (the cell path); Cho et al. 2014
# (the GRU); Tallec & Ollivier 2018 (chrono init).
st.header(words("why.header"))
st.markdown(words("why"))
lesson_end(words)
