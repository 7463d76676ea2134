"""Lesson: memory networks. An end-to-end memory network (Sukhbaatar et al. 2015) and an LSTM
learn bAbI-style stories live; the page shows where each hop looks and how both models fare as
the story grows."""

import numpy as np
import streamlit as st

from rnnviz.content import literal
from rnnviz.errors import RnnVizError
from rnnviz.jobs.process import run_in_subprocess
from rnnviz.lessons.memnet import (
    KINDS,
    MAX_HOPS,
    MemNetConfig,
    MemNetResult,
    Story,
    World,
    accuracy_falls,
    answer_story,
    chance,
    example_stories,
    generate_story,
    kind_name,
    model_name,
    near_chance,
    parse_story,
    summary_rows,
    train_job,
    unknown_answer,
)
from rnnviz.lessons.quiz import Question
from rnnviz.plots.memnet import attention_figure, curves_figure, sweep_figure
from ui.jobs import (
    DONE,
    STOPPED,
    Job,
    forget_job,
    get_job,
    job_progress,
    live_view,
    start_job,
    stop_job,
)
from ui.lang import lang, page_text
from ui.lesson import lesson_end
from ui.quiz import ask

words = page_text("memory_network")

JOB_KEY = "memnet_job"
RESULT_KEY = "memnet_result"
# A safety net that frees the job slot: the default run takes about 12-15 s of CPU
# (bench/memnet_training.py), several times that in wall time on a crowded machine.
TIME_BUDGET_S = 180.0
STEPS = (250, 500, 1000, 1500, 2000)
MAX_CACHED_RUNS = 32  # finished runs kept for the whole server (~0.2 MB each)


@st.cache_resource
def _finished_runs() -> dict[str, MemNetResult]:
    """Runs finished on this server, by settings: training is seeded, so the same settings
    give the same models, and a class that picks them waits once (read-only afterwards)."""
    return {}


def _train(job: Job, config: MemNetConfig) -> MemNetResult:
    # On the worker thread: the training itself runs in a child process, off the server's GIL.
    job.update(phase="starting")
    return run_in_subprocess(job, train_job, config)


st.title(words("title"))
st.markdown(words("intro"))

st.header(words("task.header"))
st.markdown(words("task"))
examples = example_stories(World.load(lang()), 2, seed=0)  # a 1-hop, then a 2-hop question
st.code("\n\n".join(f"{s.numbered}\n{s.question}  →  {s.answer}" for s in examples),
        language=None)
# Do the look-ups by hand first: one sentence for a person, two in a set order for a thing.
person, thing = examples
ask(words, Question("q_lookup", answer=person.support[0] + 1, rel_tol=0,
                    values={"question": literal(person.question),
                            "sentence": literal(person.sentences[person.support[0]])}))
ask(words, Question("q_first", answer=thing.support[0] + 1, rel_tol=0,
                    values={"question": literal(thing.question),
                            "sentence": literal(thing.sentences[thing.support[0]]),
                            "then": thing.support[1] + 1,
                            "then_sentence": literal(thing.sentences[thing.support[1]])}))

st.header(words("model.header"))
st.markdown(words("model"))

st.header(words("train.header"))
c1, c2, c3, c4 = st.columns(4)
hops = c1.radio(words("train.hops"), range(1, MAX_HOPS + 1), index=MAX_HOPS - 1,
                horizontal=True, key="memnet_hops")
steps = c2.select_slider(words("train.steps"), STEPS, 1000, key="memnet_steps")
seed = int(c3.number_input(words("train.seed"), 0, 999, 0, key="memnet_seed"))
linear = c4.checkbox(words("train.linear_start"), False, key="memnet_linear",
                     help=words("train.linear_start.help"))
config = MemNetConfig(lang=lang(), hops=hops, steps=steps, seed=seed,
                      linear_start=steps // 10 if linear else 0, time_budget_s=TIME_BUDGET_S)
st.caption(words("train.budget", steps=config.steps, batch=config.batch_size,
                 memnet_lr=config.memnet_lr, lstm_lr=config.lstm_lr, clip=config.clip_norm,
                 low=config.min_sentences, high=config.max_sentences,
                 share=config.two_hop_share, d=config.dim, hidden=config.lstm_hidden))

b1, b2, _ = st.columns([1, 1, 4])
if b1.button(words("train.start"), type="primary", key="memnet_start"):
    cached = _finished_runs().get(config.tag)
    if cached is not None:
        forget_job(JOB_KEY)  # a run still going must not replace it when it ends
        st.session_state[RESULT_KEY] = cached
    else:
        start_job(JOB_KEY, _train, config)
b2.button(words("train.stop"), key="memnet_stop", on_click=stop_job, args=(JOB_KEY,))


def _draw(job: Job) -> None:
    progress = job_progress(
        job, lambda p: words("train.progress", step=p.step, total=p.total_steps))
    if progress is None:
        return
    st.plotly_chart(curves_figure(progress.history, progress.total_steps, lang()),
                    width="stretch", key="memnet_curves")


live_view(JOB_KEY, _draw)
job = get_job(JOB_KEY)
if (job is not None and job.status in (DONE, STOPPED) and job.result is not None
        and st.session_state.get("memnet_seen") is not job):
    st.session_state["memnet_seen"] = job  # take a finished run in once
    st.session_state[RESULT_KEY] = job.result
    if not job.result.stopped:
        runs = _finished_runs()
        runs[job.result.config.tag] = job.result
        while len(runs) > MAX_CACHED_RUNS:  # oldest first (dicts keep insertion order)
            runs.pop(next(iter(runs)))


def _explore(result: MemNetResult) -> None:
    """The trained run: one story read by both models, then the sweep over story lengths."""
    run = result.config
    if result.stopped:
        st.warning(words("train.stopped", step=result.steps_done, total=run.steps))
    st.caption(words("train.done", hops=run.hops, steps=result.steps_done, seed=run.seed,
                     seconds=result.elapsed_s, memnet=result.params["memnet"],
                     lstm=result.params["lstm"]))
    st.header(words("read.header"))
    st.markdown(words("read"))
    if run.lang != lang():
        st.caption(words("read.other_language"))

    def new_story() -> None:
        count = st.session_state.get("memnet_story_count", 0) + 1
        rng = np.random.default_rng([run.seed, 99, count])
        kind = st.session_state.get("memnet_kind", "thing")
        length = st.session_state.get("memnet_length", 5)
        story = generate_story(result.world, rng, length, kind)
        st.session_state.update(memnet_story_count=count, memnet_story=story.text,
                                memnet_question=story.question, memnet_story_run=run.tag)

    if st.session_state.get("memnet_story_run") != run.tag:
        new_story()  # a new run speaks its own language: start from one of its stories
    k1, k2, k3 = st.columns([2, 2, 1])
    shown = lang()  # bound now: a format_func must not change language under the widget
    k1.radio(words("read.kind"), KINDS, index=1, format_func=lambda k: kind_name(k, shown),
             horizontal=True, key="memnet_kind")
    k2.slider(words("read.length"), 2, run.max_sentences, 5, key="memnet_length")
    k3.button(words("read.new"), on_click=new_story, key="memnet_new")
    story_text = st.text_area(words("read.story"), key="memnet_story", height=140)
    question = st.text_input(words("read.question"), key="memnet_question")
    try:
        story = parse_story(story_text, question, result.world, result.vocab,
                            run.max_sentences, lang())
    except RnnVizError as exc:
        st.error(str(exc))
    else:
        _read(result, story)

    st.header(words("compare.header"))
    st.markdown(words("compare"))
    falls, short_acc, long_acc = accuracy_falls(result, "lstm")
    _, mem_short, mem_long = accuracy_falls(result, "memnet")
    # An LSTM that learnt nothing is flat at chance: say so rather than explain a fall.
    trend = "chance" if near_chance(result, "lstm") else "falls" if falls else "holds"
    values = {"short": min(run.eval_lengths), "long": max(run.eval_lengths),
              "a_short": short_acc, "a_long": long_acc, "m_short": mem_short,
              "m_long": mem_long, "run": run.tag,
              "verdict": words(f"q_lstm.verdict.{trend}", chance=chance(result))}
    if ask(words, Question("q_lstm", answer="falls" if falls else "holds",
                           options=("falls", "holds"), values=values)):
        st.plotly_chart(sweep_figure(result, lang()), width="stretch", key="memnet_sweep")
        st.dataframe(summary_rows(result, lang()), hide_index=True)


def _read(result: MemNetResult, story: Story) -> None:
    """Hop 1's guess first, then every hop's attention and both models' answers."""
    answers = answer_story(result, story)
    attention = answers["memnet"].attention
    first = int(np.argmax(attention[0]))
    q = Question("q_hop1", answer=first + 1, rel_tol=0,
                 values={"n": len(story.sentences), "k": first + 1,
                         "p": float(attention[0, first]),
                         "sentence": literal(story.sentences[first]), "story": story.key,
                         "run": result.config.tag})
    if not ask(words, q):
        return
    st.plotly_chart(attention_figure(story, attention, lang()), width="stretch",
                    key="memnet_attention")
    cols = st.columns(3)
    for col, name in zip(cols, ("memnet", "lstm"), strict=False):
        col.metric(words("read.answer", model=model_name(name, lang())), answers[name].answer,
                   words("read.probability", p=answers[name].probability),
                   delta_color="off", delta_arrow="off")
    cols[2].metric(words("read.truth"), story.answer or unknown_answer(lang()))


finished: MemNetResult | None = st.session_state.get(RESULT_KEY)
if finished is None:
    st.info(words("train.first"))
else:
    _explore(finished)

st.header(words("why.header"))
st.markdown(words("why"))
lesson_end(words)
