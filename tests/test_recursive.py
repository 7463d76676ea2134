"""Recursive (tree) networks: trees as data, the composition against a hand-written loop node by
node, gradients against the chain rule and finite differences, the toy task's arithmetic, and
the page's claim about training (tree network >= 95 %, chain RNN < 50 % held-out)."""

from __future__ import annotations

import math
import random
import re

import numpy as np
import pytest
import torch

from rnnviz.content import text
from rnnviz.lessons.recursive import (
    KINDS,
    MAX_WORDS,
    Composition,
    Expression,
    ToyConfig,
    TreeInputError,
    balanced_tree,
    batch_chains,
    batch_trees,
    build_model,
    build_tree,
    chain_inputs,
    chain_tree,
    check_tree,
    compose_chain,
    compose_levels,
    compose_sentence,
    composition_latex,
    composition_terms,
    demo_composition,
    depth,
    evaluate,
    forest_from_merges,
    held_out,
    inner_spans,
    leaf_depths,
    leaf_gradients,
    leaf_vectors,
    leaves,
    random_expression,
    root_jacobians,
    sample_expressions,
    sentence_words,
    smallest_position,
    summary_rows,
    train_tree_vs_chain,
    tree_from_merges,
    tree_inputs,
)
from rnnviz.plots.recursive import (
    depth_accuracy_figure,
    gradient_figure,
    node_positions,
    toy_curves_figure,
    tree_figure,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread_per_module")

SENTENCE = "这部电影的故事并不精彩"


# ---- a plain re-implementation: one node at a time, numpy, recursion ------------------------


def hand_compose(W: np.ndarray, b: np.ndarray, tree, x: np.ndarray, out: dict) -> np.ndarray:
    """p = tanh(W [c_l; c_r] + b) by recursion, every node's vector stored by its span."""
    if not isinstance(tree, tuple):
        out[(tree, tree + 1)] = x[tree]
        return x[tree]
    left = hand_compose(W, b, tree[0], x, out)
    right = hand_compose(W, b, tree[1], x, out)
    p = np.tanh(W @ np.concatenate([left, right]) + b)
    lo, hi = leaves(tree)[0], leaves(tree)[-1] + 1
    out[(lo, hi)] = p
    return p


def random_tree(n: int, rng: random.Random):
    return random_expression(n, rng).tree


def random_comp(d: int, seed: int) -> Composition:
    rng = np.random.default_rng(seed)
    return Composition(rng.normal(0, 0.6, size=(d, 2 * d)), rng.normal(0, 0.3, size=d))


# ---- trees as data ---------------------------------------------------------------------------


@pytest.mark.parametrize("n", range(1, 41))
def test_chain_is_n_minus_1_deep_and_balanced_is_ceil_log2_n(n: int) -> None:
    chain, balanced = chain_tree(n), balanced_tree(n)
    assert leaves(chain) == leaves(balanced) == list(range(n))
    assert depth(chain) == n - 1
    assert depth(balanced) == math.ceil(math.log2(n))
    assert len(inner_spans(chain)) == len(inner_spans(balanced)) == n - 1
    if n >= 2:  # the first two words sit at the bottom of the chain, the last right under the root
        assert leaf_depths(chain) == [n - 1, *range(n - 1, 0, -1)]


def test_merges_build_any_binary_tree_and_the_same_pair_each_time_is_the_chain() -> None:
    assert tree_from_merges(5, [0, 0, 0, 0]) == chain_tree(5)
    assert tree_from_merges(4, [0, 1, 0]) == ((0, 1), (2, 3))
    assert tree_from_merges(4, [2, 1, 0]) == (0, (1, (2, 3)))  # leans right
    assert forest_from_merges(4, [1]) == [0, (1, 2), 3]
    assert build_tree("merges", 3, []) == [0, 1, 2]
    assert build_tree("balanced", 4) == [((0, 1), (2, 3))]


@pytest.mark.parametrize("merges, key, words", [
    ([3], "bad_merge", ["3"]),
    ([-1], "bad_merge", ["-1"]),
    ([0, 0, 0], "merge_done", ["3"]),
    ([0], "not_a_tree", ["2"]),
])
def test_merges_that_do_not_make_a_tree_say_why(merges: list[int], key: str,
                                                 words: list[str]) -> None:
    with pytest.raises(TreeInputError) as caught:
        tree_from_merges(3, merges)
    assert caught.value.key == key
    for lang in ("zh", "en"):
        message = caught.value.message(lang)
        assert message == text(lang, "lessons/recursive", f"error.{key}", **caught.value.values)
        assert all(w in message for w in words)


@pytest.mark.parametrize("tree, key", [
    ((0, 1, 2), "not_binary"), ((0, "x"), "not_binary"), ((True, 1), "not_binary"),
    ((1, 0), "wrong_leaves"), (((0, 1), 1), "wrong_leaves"), ((0, 1), "wrong_leaves"),
])
def test_a_malformed_tree_is_refused(tree, key: str) -> None:
    with pytest.raises(TreeInputError) as caught:
        check_tree(tree, 3)
    assert caught.value.key == key
    assert check_tree(((0, 1), 2), 3) == ((0, 1), 2)


@pytest.mark.parametrize("typed, key", [("", "empty"), ("   ", "empty"), ("\u200b", "empty"),
                                        ("你好", "too_few"), (" 好 ", "too_few")])
def test_a_sentence_with_too_few_words_is_refused(typed: str, key: str) -> None:
    with pytest.raises(TreeInputError) as caught:
        sentence_words(typed)
    assert caught.value.key == key


def test_a_long_sentence_is_refused_with_its_word_count() -> None:
    typed = "我们今天学习递归神经网络" * 4  # 5 words, 4 times
    with pytest.raises(TreeInputError) as caught:
        sentence_words(typed)
    assert caught.value.key == "too_many"
    assert "20" in caught.value.message("zh") and str(MAX_WORDS) in caught.value.message("en")
    assert sentence_words(SENTENCE) == ["这部", "电影", "的", "故事", "并", "不", "精彩"]


# ---- the composition --------------------------------------------------------------------------


@pytest.mark.parametrize("shape, merges", [("chain", ()), ("balanced", ()),
                                           ("merges", (3, 1, 0, 1, 0, 0)), ("merges", (2, 2))])
def test_every_node_equals_a_hand_written_composition(shape: str, merges: tuple) -> None:
    words = sentence_words(SENTENCE)
    comp = demo_composition()
    forest = build_tree(shape, len(words), merges)
    run = compose_sentence(comp, forest, words)
    x = leaf_vectors(words)
    expected: dict = {}
    for tree in forest:
        hand_compose(comp.W, comp.b, tree, x, expected)
    assert set(run.vectors) == set(expected)
    for s, v in expected.items():
        np.testing.assert_allclose(run.vectors[s], v, rtol=0, atol=1e-12)
    for s, (left, right) in run.children.items():
        pre = comp.W @ np.concatenate([expected[left], expected[right]]) + comp.b
        np.testing.assert_allclose(run.preactivations[s], pre, atol=1e-12)
    assert run.complete == (len(forest) == 1)


def test_the_same_word_gets_the_same_leaf_vector_and_the_root_covers_the_sentence() -> None:
    words = ["不", "好", "不", "坏"]
    run = compose_sentence(demo_composition(), [balanced_tree(4)], words)
    np.testing.assert_array_equal(run.vectors[(0, 1)], run.vectors[(2, 3)])
    assert run.inner[-1] == (0, 4) and run.text((0, 4)) == "不好不坏"
    with pytest.raises(TreeInputError):
        compose_sentence(demo_composition(), [chain_tree(3)], words)


def test_batched_levels_equal_one_tree_at_a_time() -> None:
    rng = random.Random(3)
    trees = [random_tree(rng.randint(1, 9), rng) for _ in range(12)]
    d = 5
    comp = random_comp(d, 1)
    tokens = [[rng.randrange(7) for _ in leaves(t)] for t in trees]
    table = np.random.default_rng(2).normal(size=(7, d))
    batch = batch_trees(trees, tokens)
    states = compose_levels(torch.from_numpy(comp.W), torch.from_numpy(comp.b),
                            torch.from_numpy(table[batch.leaf_tokens.numpy()]), batch).numpy()
    for i, (tree, ids) in enumerate(zip(trees, tokens, strict=True)):
        root = hand_compose(comp.W, comp.b, tree, table[ids], {})
        np.testing.assert_allclose(states[int(batch.roots[i])], root, atol=1e-12)
    # A level never reads a row it has not made yet.
    made = batch.num_leaves
    for left, right in batch.levels:
        assert int(torch.cat([left, right]).max()) < made
        made += len(left)


def test_the_chain_loop_equals_composing_the_left_leaning_tree() -> None:
    rng = np.random.default_rng(0)
    d = 4
    comp = random_comp(d, 5)
    W, b = torch.from_numpy(comp.W), torch.from_numpy(comp.b)
    seqs = [list(rng.integers(0, 6, size=n)) for n in (1, 2, 5, 9, 3)]
    table = torch.from_numpy(rng.normal(size=(6, d)))
    chains = batch_chains(seqs)
    roots = compose_chain(W, b, table[chains.tokens], chains.lengths)
    trees = batch_trees([chain_tree(len(s)) for s in seqs], seqs)
    states = compose_levels(W, b, table[trees.leaf_tokens], trees)
    torch.testing.assert_close(roots, states[trees.roots], rtol=0, atol=1e-12)


@pytest.mark.parametrize("kind", KINDS)
def test_the_network_is_the_composition_and_a_linear_layer(kind: str) -> None:
    config = ToyConfig(hidden_size=6, seed=4)
    model = build_model(kind, config).double()
    exprs = sample_expressions(5, 5, random.Random(0))
    E = model.embedding.weight.detach().numpy()
    W, b = model.W.detach().numpy(), model.b.detach().numpy()
    with torch.no_grad():
        logits = model(tree_inputs(exprs) if kind == "tree" else chain_inputs(exprs)).numpy()
    vocab = {t: i for i, t in enumerate([*map(str, range(10)), "(", ")", "-"])}
    for row, e in zip(logits, exprs, strict=True):
        if kind == "tree":
            root = hand_compose(W, b, e.tree, E[list(e.digits)], {})
        else:
            ids = [vocab[t] for t in e.tokens()]
            root = hand_compose(W, b, chain_tree(len(ids)), E[ids], {})
        expected = model.out.weight.detach().numpy() @ root + model.out.bias.detach().numpy()
        np.testing.assert_allclose(row, expected, atol=1e-10)


def test_the_written_out_composition_shows_the_node_s_numbers() -> None:
    words = sentence_words(SENTENCE)
    comp = demo_composition()
    run = compose_sentence(comp, build_tree("balanced", len(words)), words)
    node = (0, 4)
    terms = composition_terms(comp, run, node)
    assert (terms.left, terms.right) == ((0, 2), (2, 4))
    latex = composition_latex(comp, terms)
    assert latex.startswith(r"\begin{aligned}p_{1..4} &= \tanh")
    shown = [float(v) for v in re.findall(r"-?\d+\.\d+", latex)]
    np.testing.assert_allclose(shown[-4:], run.vectors[node], atol=0.005 + 1e-12)
    np.testing.assert_allclose(shown[:8], comp.W[0], atol=1e-12)  # W's first row, as drawn
    np.testing.assert_allclose(np.tanh(terms.a), terms.p, atol=1e-12)
    with pytest.raises(Exception, match="not an inner node"):
        composition_terms(comp, run, (0, 1))


# ---- gradients --------------------------------------------------------------------------------


def _path_product(W: np.ndarray, vectors: dict, tree, leaf: int) -> np.ndarray:
    """∂root/∂leaf by the chain rule: along the path, diag(1 - p^2) W_left or W_right."""
    d = W.shape[0]
    J = np.eye(d)
    node = tree
    while isinstance(node, tuple):
        p = vectors[(leaves(node)[0], leaves(node)[-1] + 1)]
        side = 0 if leaf in leaves(node[0]) else 1
        J = J @ (np.diag(1 - p**2) @ W[:, side * d:(side + 1) * d])
        node = node[side]
    return J


@pytest.mark.parametrize("tree", [chain_tree(6), balanced_tree(6), ((0, (1, 2)), ((3, 4), 5))])
def test_root_jacobians_equal_the_chain_rule_and_finite_differences(tree) -> None:
    comp = random_comp(3, 7)
    x = np.random.default_rng(8).normal(size=(6, 3))
    J = root_jacobians(comp, tree, x)
    vectors: dict = {}
    hand_compose(comp.W, comp.b, tree, x, vectors)
    eps = 1e-6
    for i in range(6):
        np.testing.assert_allclose(J[i], _path_product(comp.W, vectors, tree, i), atol=1e-12)
        for k in range(3):
            up, down = x.copy(), x.copy()
            up[i, k] += eps
            down[i, k] -= eps
            fd = (hand_compose(comp.W, comp.b, tree, up, {})
                  - hand_compose(comp.W, comp.b, tree, down, {})) / (2 * eps)
            np.testing.assert_allclose(J[i][:, k], fd, atol=1e-8)


def test_leaf_gradients_are_spectral_norms_with_depths_and_the_smallest_is_found() -> None:
    words = sentence_words(SENTENCE)
    comp, x = demo_composition(), leaf_vectors(words)
    g = leaf_gradients(comp, chain_tree(7), x, "chain")
    J = root_jacobians(comp, chain_tree(7), x)
    np.testing.assert_allclose(g.norms, [np.linalg.svd(j, compute_uv=False)[0] for j in J])
    assert g.depths.tolist() == [6, 6, 5, 4, 3, 2, 1] and g.tree_depth == 6
    assert g.smallest == int(np.argmin(g.norms))
    # The demo's weights shrink: the chain's deepest words get less than the balanced tree's.
    balanced = leaf_gradients(comp, balanced_tree(7), x, "balanced")
    assert g.norms.min() < balanced.norms.min()
    assert smallest_position(g) == "first"


@pytest.mark.parametrize("norms, expected", [([0.1, 1, 1, 1], "first"), ([1, 0.1, 1, 1], "first"),
                                             ([1, 1, 0.1, 1], "middle"), ([1, 1, 1, 0.1], "last")])
def test_smallest_position_names_where_the_smallest_gradient_is(norms, expected) -> None:
    from rnnviz.lessons.recursive import LeafGradients

    g = LeafGradients("chain", np.array([3, 3, 2, 1]), np.array(norms, dtype=float))
    assert smallest_position(g) == expected


def test_a_larger_gain_scales_w_only() -> None:
    comp = demo_composition()
    big = comp.scaled(2.0)
    np.testing.assert_allclose(big.W, 2 * comp.W)
    np.testing.assert_array_equal(big.b, comp.b)


# ---- the toy task -----------------------------------------------------------------------------


def test_nested_subtraction_is_evaluated_mod_10_and_written_with_brackets() -> None:
    e = Expression(((0, 1), (2, 3)), (3, 4, 2, 5))
    assert e.value == 2  # (3 - 4) - (2 - 5) = 9 - 7
    assert e.depth == 2
    assert e.tokens() == ["(", "3", "-", "4", ")", "-", "(", "2", "-", "5", ")"]
    assert e.written() == "(3 − 4) − (2 − 5)"
    assert Expression(((0, 1), 2), (1, 2, 3)).value == (1 - 2 - 3) % 10
    assert Expression((0, (1, 2)), (1, 2, 3)).value == (1 - (2 - 3)) % 10  # the tree matters


def test_expressions_are_drawn_with_2_to_max_leaves_digits_and_every_split() -> None:
    exprs = sample_expressions(3000, 6, random.Random(0))
    counts = {len(e.digits) for e in exprs}
    assert counts == {2, 3, 4, 5, 6}
    assert {e.tree for e in exprs if len(e.digits) == 3} == {((0, 1), 2), (0, (1, 2))}
    assert all(leaves(e.tree) == list(range(len(e.digits))) for e in exprs)
    values = np.bincount([e.value for e in exprs], minlength=10) / len(exprs)
    assert values.max() < 0.15  # every answer is about equally likely: chance is 10 %


def test_the_held_out_set_is_not_the_training_stream() -> None:
    config = ToyConfig(eval_size=200)
    train = sample_expressions(200, config.max_leaves, random.Random(config.seed))
    test = held_out(config)
    assert [e.digits for e in test] != [e.digits for e in train]
    assert [e.digits for e in held_out(config)] == [e.digits for e in test]  # fixed


@pytest.mark.parametrize("field, value", [("steps", 0), ("max_leaves", 1), ("max_leaves", 11),
                                          ("lr", 0.0), ("batch_size", 2.5)])
def test_a_bad_config_is_refused(field: str, value: object) -> None:
    with pytest.raises(Exception, match=field):
        ToyConfig(**{field: value})


@pytest.fixture(scope="module")
def default_run():
    """The page's default run, once for the module (about 10 s on one core)."""
    return train_tree_vs_chain(ToyConfig(), keep_models=True)


def test_the_page_s_claim_tree_network_learns_and_chain_rnn_does_not(default_run) -> None:
    result = default_run
    assert result.steps_done == ToyConfig().steps and not result.stopped
    assert result.final_accuracy["tree"] >= 0.95
    assert result.final_accuracy["chain"] < 0.50
    assert result.by_depth["chain"][1] >= 0.9  # one subtraction, no bracket: the chain learns it
    assert min(result.by_depth["tree"].values()) >= 0.9  # the tree network at every depth
    # Same budget: the same steps, nearly the same parameters (3 more embedding rows).
    assert result.params["chain"] - result.params["tree"] == 3 * ToyConfig().hidden_size


def test_held_out_accuracy_is_recomputed_from_the_trained_models(default_run) -> None:
    test = held_out(default_run.config)
    for kind, model in default_run.models.items():
        right = evaluate(model, kind, test)
        assert right.mean() == pytest.approx(default_run.final_accuracy[kind])
        depths = np.array([e.depth for e in test])
        assert right[depths == 2].mean() == pytest.approx(default_run.by_depth[kind][2])
    assert sum(default_run.depth_counts.values()) == len(test)


def test_the_same_seed_gives_the_same_run_and_another_seed_another() -> None:
    small = dict(steps=15, eval_size=50, hidden_size=16, batch_size=16)
    one = train_tree_vs_chain(ToyConfig(**small))
    two = train_tree_vs_chain(ToyConfig(**small))
    other = train_tree_vs_chain(ToyConfig(seed=1, **small))
    assert one.history == two.history and one.final_accuracy == two.final_accuracy
    assert one.history["tree"]["loss"] != other.history["tree"]["loss"]


def test_progress_is_reported_and_stop_ends_the_run_early() -> None:
    seen = []
    result = train_tree_vs_chain(ToyConfig(steps=50, report_every=10, eval_size=20,
                                           hidden_size=8), callback=seen.append,
                                 should_stop=lambda: len(seen) >= 3)
    assert result.stopped and result.reason == "stopped"
    assert result.steps_done == 20
    assert [p.step for p in seen] == [0, 10, 20, 20] and seen[-1].done
    assert all(len(result.history[k]["loss"]) == 20 for k in KINDS)


def test_summary_rows_are_in_the_chosen_language(default_run) -> None:
    for lang in ("zh", "en"):
        rows = summary_rows(default_run, lang)
        model = text(lang, "lessons/recursive", "col.model")
        assert [r[model] for r in rows] == [text(lang, "lessons/recursive", f"kind.{k}")
                                            for k in KINDS]
        acc = text(lang, "lessons/recursive", "col.accuracy")
        assert [r[acc] for r in rows] == [round(default_run.final_accuracy[k], 3) for k in KINDS]


# ---- figures ----------------------------------------------------------------------------------


def test_tree_figure_places_nodes_by_height_and_labels_them_by_norm() -> None:
    words = sentence_words(SENTENCE)
    run = compose_sentence(demo_composition(), build_tree("chain", len(words)), words)
    pos = node_positions(run)
    assert pos[(0, 7)][1] == 6 and pos[(0, 2)] == (0.5, 1)
    fig = tree_figure(run, (0, 3), "en").to_plotly_json()
    inner = next(t for t in fig["data"] if t.get("name") == "node")
    assert inner["text"] == [f"{np.linalg.norm(run.vectors[s]):.2f}" for s in run.inner]
    assert list(next(t for t in fig["data"] if t.get("mode") == "text")["text"]) == words
    ring = next(t for t in fig["data"] if t.get("name") == "selected")
    assert (ring["x"][0], ring["y"][0]) == pos[(0, 3)]


def test_gradient_figure_plots_the_norms_by_depth() -> None:
    words = sentence_words(SENTENCE)
    x = leaf_vectors(words)
    grads = [leaf_gradients(demo_composition(), t(7), x, s)
             for t, s in ((chain_tree, "chain"), (balanced_tree, "balanced"))]
    fig = gradient_figure(grads, words, "zh").to_plotly_json()
    for trace, g in zip(fig["data"], grads, strict=True):
        order = np.argsort(g.depths, kind="stable")
        np.testing.assert_allclose(trace["y"], g.norms[order])
        assert list(trace["x"]) == g.depths[order].tolist()
        assert trace["name"] == text("zh", "plots/recursive", f"shape.{g.shape}")


def test_toy_figures_show_both_models(default_run) -> None:
    curves = toy_curves_figure(default_run.history, 0.1, default_run.steps_done, "en")
    assert {t.name for t in curves.data} == {"tree network", "chain RNN"}
    bars = depth_accuracy_figure(default_run, "zh").to_plotly_json()
    for trace, kind in zip(bars["data"], KINDS, strict=True):
        depths = sorted(default_run.depth_counts)
        assert list(trace["x"]) == depths
        np.testing.assert_allclose(trace["y"], [default_run.by_depth[kind][d] for d in depths])
