"""Lesson: recursive (tree) neural networks — one composition over a tree built on a typed
sentence, depth and ‖∂root/∂leaf‖ for a chain against a balanced tree, and a toy task where the
tree is the right structure, trained live against a chain RNN."""

import streamlit as st

from rnnviz.content import literal
from rnnviz.jobs.process import run_in_subprocess
from rnnviz.lessons.quiz import Question
from rnnviz.lessons.recursive import (
    SHAPES,
    ToyConfig,
    TreeInputError,
    balanced_tree,
    build_model,
    build_tree,
    chain_tree,
    compose_sentence,
    composition_latex,
    composition_terms,
    count_parameters,
    demo_composition,
    depth,
    examples,
    leaf_gradients,
    leaf_vectors,
    node_name,
    run_toy_job,
    sentence_words,
    smallest_position,
    span,
    summary_rows,
)
from rnnviz.plots.recursive import (
    depth_accuracy_figure,
    gradient_figure,
    toy_curves_figure,
    tree_figure,
)
from ui.jobs import DONE, Job, get_job, job_progress, live_view, start_job, stop_job
from ui.lang import lang, page_text
from ui.lesson import lesson_end
from ui.quiz import ask
from ui.route import stop

words = page_text("recursive")

JOB_KEY = "recursive_job"
MERGES_KEY = "recursive_merges"  # {"words": the sentence's words, "merges": [pair, ...]}
TIME_BUDGET_S = 120.0  # a safety net: the default run takes ~10 s on a free core, ~65 s busy
COMP = demo_composition()

st.title(words("title"))
st.markdown(words("intro"))
st.latex(r"p = f\big(W\,[c_{\mathrm{left}};\ c_{\mathrm{right}}] + b\big), \qquad f = \tanh")
st.markdown(words("intro.notation"))


def _merges(sentence: list[str]) -> list[int]:
    """This session's merges for this sentence (a new sentence starts from none)."""
    state = st.session_state.get(MERGES_KEY)
    if state is None or state["words"] != tuple(sentence):
        state = st.session_state[MERGES_KEY] = {"words": tuple(sentence), "merges": []}
    return state["merges"]


def _merge() -> None:
    st.session_state[MERGES_KEY]["merges"].append(int(st.session_state["recursive_pair"]))


def _undo() -> None:
    merges = st.session_state[MERGES_KEY]["merges"]
    if merges:
        merges.pop()


def _reset() -> None:
    st.session_state[MERGES_KEY]["merges"].clear()


def merge_picker(sentence: list[str]) -> list:
    """Pick adjacent pieces to merge, one pair at a time; returns the forest so far."""
    merges = _merges(sentence)
    forest = build_tree("merges", len(sentence), merges)
    pieces = ["".join(sentence[a:b]) for a, b in map(span, forest)]
    pick, join, undo, reset = st.columns([3, 1, 1, 1], vertical_alignment="bottom")
    if len(forest) > 1:
        last = len(forest) - 2
        st.session_state["recursive_pair"] = min(st.session_state.get("recursive_pair", 0), last)
        pick.selectbox(words("merge.pick"), range(last + 1), key="recursive_pair",
                       format_func=lambda i: f"{pieces[i]} + {pieces[i + 1]}")
        join.button(words("merge.button"), on_click=_merge, key="recursive_merge", type="primary")
        st.info(words("merge.remaining", more=len(forest) - 1))
    else:
        pick.success(words("merge.done", depth=depth(forest[0])))
    undo.button(words("merge.undo"), on_click=_undo, key="recursive_undo", disabled=not merges)
    reset.button(words("merge.reset"), on_click=_reset, key="recursive_reset",
                 disabled=not merges)
    return forest


def tree_section(sentence: list[str], shape: str) -> list:
    n = len(sentence)
    forest = merge_picker(sentence) if shape == "merges" else build_tree(shape, n)
    run = compose_sentence(COMP, forest, sentence)
    if shape != "merges":
        d = depth(forest[0])
        values = {"n": n, "shape": words(f"shape.{shape}"), "depth": d}
        if not ask(words, Question("q_depth", answer=d, values=values, rel_tol=0)):
            return forest
    if run.complete:
        st.caption(words("tree.depth", depth=depth(forest[0]), n=n, chain=depth(chain_tree(n)),
                         balanced=depth(balanced_tree(n))))
    if not run.inner:
        st.plotly_chart(tree_figure(run, None, lang()), width="stretch", key="recursive_tree")
        return forest
    names = {f"{a}:{b}": (a, b) for a, b in run.inner}
    if st.session_state.get("recursive_node") not in names:
        st.session_state["recursive_node"] = list(names)[-1]  # the (last) root
    chosen = names[st.selectbox(words("node.pick"), list(names), key="recursive_node",
                                format_func=lambda k: f"p[{names[k][0] + 1}..{names[k][1]}]  "
                                                      f"{run.text(names[k])}")]
    st.plotly_chart(tree_figure(run, chosen, lang()), width="stretch", key="recursive_tree")
    terms = composition_terms(COMP, run, chosen)
    st.markdown(words("node.reads", node=node_name(chosen), text=literal(run.text(chosen)),
                      left=literal(run.text(terms.left)), right=literal(run.text(terms.right))))
    st.latex(composition_latex(COMP, terms))
    return forest


def depth_section(sentence: list[str], forest: list, shape: str) -> None:
    n = len(sentence)
    st.markdown(words("depth.intro", later=stop("gradients").title(lang())))
    gain = st.slider(words("depth.gain"), 0.5, 3.0, 1.0, 0.25, key="recursive_gain")
    comp, x = COMP.scaled(gain), leaf_vectors(sentence)
    grads = [leaf_gradients(comp, chain_tree(n), x, "chain"),
             leaf_gradients(comp, balanced_tree(n), x, "balanced")]
    if shape == "merges" and len(forest) == 1:
        grads.append(leaf_gradients(comp, forest[0], x, "merges"))
    chain, balanced = grads[0], grads[1]
    if n >= 3:
        low = chain.smallest
        values = {"n": n, "gain": gain, "word": literal(sentence[low]),
                  "depth": int(chain.depths[low])}
        q = Question("q_small", answer=smallest_position(chain), values=values,
                     options=("first", "middle", "last"))
        if not ask(words, q):
            return
    st.plotly_chart(gradient_figure(grads, sentence, lang()), width="stretch",
                    key="recursive_grads")
    st.markdown(words("depth.summary", chain_depth=chain.tree_depth, chain_min=chain.norms.min(),
                      chain_word=literal(sentence[chain.smallest]),
                      balanced_depth=balanced.tree_depth, balanced_min=balanced.norms.min(),
                      balanced_word=literal(sentence[balanced.smallest])))
    if balanced.norms.min() < chain.norms.min():
        # Fewer factors is not larger factors: saturated tanh nodes (1 - p^2 near 0) can pull a
        # shallow word's gradient below a deep one's, which the summary alone would hide.
        st.caption(words("depth.saturated", gain=gain))


st.header(words("build.header"))
text_col, shape_col = st.columns([2, 1])
typed = text_col.text_input(words("build.text"), words("build.default_text"),
                            key="recursive_text")
shape_names = {s: words(f"shape.{s}") for s in SHAPES}  # read now, in this run's language
shape = shape_col.radio(words("build.shape"), SHAPES, key="recursive_shape",
                        format_func=shape_names.__getitem__)
try:
    sentence = sentence_words(typed)
except TreeInputError as exc:
    st.error(exc.message(lang()))
    sentence = None
if sentence is not None:
    st.markdown(words("build.leaves", n=len(sentence),
                      leaves=" · ".join(literal(w) for w in sentence)))
    forest = tree_section(sentence, shape)
    st.header(words("depth.header"))
    depth_section(sentence, forest, shape)

st.header(words("toy.header"))
st.markdown(words("toy.task"))
steps_col, leaves_col, seed_col = st.columns(3)
steps = steps_col.select_slider(words("toy.steps"), [100, 200, 400, 800, 1200], 800,
                                key="recursive_steps")
max_leaves = leaves_col.slider(words("toy.leaves"), 3, 8, 6, key="recursive_leaves")
seed = int(seed_col.number_input(words("toy.seed"), 0, 999, 0, key="recursive_seed"))
config = ToyConfig(max_leaves=max_leaves, steps=steps, seed=seed, time_budget_s=TIME_BUDGET_S)
st.code("\n".join(words("toy.example", expr=e.written(), value=e.value, tokens=" ".join(e.tokens()))
                  for e in examples(3, config)), language=None)
params = {k: count_parameters(build_model(k, config)) for k in ("tree", "chain")}
st.caption(words("toy.budget", d=config.hidden_size, batch=config.batch_size, lr=config.lr,
                 clip=config.clip_norm, steps=steps, tree=params["tree"], chain=params["chain"]))


def _train(job: Job, config: ToyConfig):
    # On the worker thread: the training itself runs in a child process, so its Python work
    # never holds this server's interpreter (rnnviz/jobs/process.py).
    job.update(phase="starting")
    return run_in_subprocess(job, run_toy_job, config)


start_col, stop_col, _ = st.columns([1, 1, 4])
if start_col.button(words("toy.start"), type="primary", key="recursive_start"):
    start_job(JOB_KEY, _train, config)
stop_col.button(words("toy.stop"), key="recursive_stop", on_click=stop_job, args=(JOB_KEY,))


def _draw(job: Job) -> None:
    progress = job_progress(job, lambda p: words("toy.progress", step=p.step, total=p.total_steps))
    if progress is None:
        if not job.finished:
            st.caption(words("toy.starting"))
        return
    st.plotly_chart(toy_curves_figure(progress.history, progress.chance, progress.total_steps,
                                      lang()), width="stretch", key="recursive_curves")


live_view(JOB_KEY, _draw)
job = get_job(JOB_KEY)
if job is not None and job.status == DONE and job.result is not None:
    result = job.result
    st.dataframe(summary_rows(result, lang()), hide_index=True)
    st.plotly_chart(depth_accuracy_figure(result, lang()), width="stretch",
                    key="recursive_by_depth")
    if result.stopped:
        st.warning(words("toy.stopped", seconds=TIME_BUDGET_S))
    st.markdown(words("toy.verdict", tree=result.final_accuracy["tree"],
                      chain=result.final_accuracy["chain"], steps=result.steps_done,
                      seconds=result.elapsed_s, n=result.config.eval_size))
elif job is None:
    st.info(words("toy.hint"))

lesson_end(words)
