"""Recursive (tree) neural networks: one composition function applied over a tree.

A recursive network builds a parent's vector from its two children with one shared weight
matrix, p = f(W [c_left; c_right] + b), from the leaves up to the root (Socher et al. 2011,
"Parsing natural scenes and natural language with recursive neural networks", eq. for the
parent vector; Socher et al. 2013, the RNTN paper, uses the same standard composition as its
baseline). A chain RNN is the special case of a tree that leans all the way to the left:
h_t = f(W_l h_{t-1} + W_r x_t + b), so W_l plays the recurrent W and W_r the input U.
Goodfellow et al., *Deep Learning* 10.6: for a sequence of length tau a balanced tree cuts the
depth (the number of nonlinear compositions between a leaf and the root) from tau to
O(log tau).

Trees are plain data: a leaf is an ``int`` (its position among the leaves, counted from 0),
an inner node a pair ``(left, right)``; leaves are in order from left to right. A node is
named by its span ``(lo, hi)``: the leaves ``lo .. hi-1`` under it. A forest (a tree being
built by merges) is a list of trees covering consecutive leaves.

Everything that composes uses ``compose``: the sentence demo (one tree, float64), the
gradients (autograd through the same code) and the toy task's batched training, where all
nodes of one height across a batch are composed by one matrix product (``TreeBatch``).

The toy task (``ToyConfig``): nested subtraction mod 10, e.g. ``(3 - 4) - (2 - 5)`` = 2. The
tree network reads the expression's tree (leaves: digits); the chain RNN reads the written
expression, brackets included, token by token (the same network over a left-leaning tree of
tokens). Both train in lockstep on the same batches. Tree models exploit given recursive
structure better than sequence models on such artificial tasks (Bowman, Manning & Potts
2015, "Tree-structured composition in neural networks without tree-structured
architectures"). Every random draw comes from a local generator seeded from the config.
"""

from __future__ import annotations

import math
import random
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Union

import numpy as np
import torch
from torch import Tensor, nn

from rnnviz.content import Text
from rnnviz.core.text import WordTokenizer
from rnnviz.errors import RnnVizError
from rnnviz.lessons.lockstep import History, copy_history, race

Tree = Union[int, tuple["Tree", "Tree"]]  # noqa: UP007 (a recursive alias needs the string form)
Span = tuple[int, int]

SHAPES = ("chain", "balanced", "merges")
KINDS = ("tree", "chain")
MIN_WORDS = 2  # one word has nothing to compose
MAX_WORDS = 16  # a wider tree does not fit the figure; the chain would be 15 levels deep
DEMO_DIM = 4  # small enough to write one composition out with its numbers
MOD = 10  # the toy task's answers are 0..9
DIGITS = tuple(str(i) for i in range(10))
CHAIN_VOCAB = (*DIGITS, "(", ")", "-")  # what the chain RNN reads
_EVAL_SEED = 1_000_003  # the held-out set never shares a draw with the training batches
_KIND_SEED = {"tree": 11, "chain": 22}
_T = Text("lessons/recursive")


class TreeInputError(RnnVizError):
    """A sentence or a tree the page cannot use; ``message(lang)`` says why in words."""

    def __init__(self, key: str, **values: Any) -> None:
        self.key = key
        self.values = values
        super().__init__(self.message("en"), where="recursive")

    def message(self, lang: str) -> str:
        return _T(lang, f"error.{self.key}", **self.values)


# ---- trees as plain data ---------------------------------------------------------------------


def chain_tree(n: int) -> Tree:
    """The left-leaning tree over n leaves, ((((0, 1), 2), 3) ...): a chain RNN's shape."""
    _check_count(n)
    tree: Tree = 0
    for i in range(1, n):
        tree = (tree, i)
    return tree


def balanced_tree(n: int, lo: int = 0) -> Tree:
    """The balanced tree over leaves lo .. lo+n-1: the left half takes ceil(n/2) leaves, so the
    depth is ceil(log2 n) (depth(n) = 1 + depth(ceil(n/2)))."""
    _check_count(n)
    if n == 1:
        return lo
    left = (n + 1) // 2
    return (balanced_tree(left, lo), balanced_tree(n - left, lo + left))


def _check_count(n: int) -> None:
    if not isinstance(n, int) or n < 1:
        raise TreeInputError("too_few", n=n, min=MIN_WORDS)


def leaves(tree: Tree) -> list[int]:
    """The leaf positions of ``tree``, left to right."""
    if isinstance(tree, tuple):
        return leaves(tree[0]) + leaves(tree[1])
    return [tree]


def span(tree: Tree) -> Span:
    """(first leaf, last leaf + 1) of a tree whose leaves are consecutive."""
    found = leaves(tree)
    return found[0], found[-1] + 1


def depth(tree: Tree) -> int:
    """Edges from the root down to the deepest leaf (0 for a single leaf)."""
    if isinstance(tree, tuple):
        return 1 + max(depth(tree[0]), depth(tree[1]))
    return 0


def leaf_depths(tree: Tree) -> list[int]:
    """Each leaf's depth (edges from the root), in leaf order."""
    if isinstance(tree, tuple):
        return [d + 1 for d in leaf_depths(tree[0]) + leaf_depths(tree[1])]
    return [0]


def check_tree(tree: Any, n: int) -> Tree:
    """``tree`` if it is a binary tree over the leaves 0 .. n-1 in order; else a TreeInputError
    that says what is wrong."""

    def valid(t: Any) -> bool:
        if isinstance(t, bool):
            return False
        if isinstance(t, int):
            return True
        return isinstance(t, tuple) and len(t) == 2 and valid(t[0]) and valid(t[1])

    if not valid(tree):
        raise TreeInputError("not_binary")
    if leaves(tree) != list(range(n)):
        raise TreeInputError("wrong_leaves", n=n)
    return tree


def forest_from_merges(n: int, merges: Sequence[int]) -> list[Tree]:
    """The forest after merging, one by one, the adjacent pieces ``i`` and ``i + 1`` of the
    current row of pieces (it starts as the n single leaves)."""
    _check_count(n)
    forest: list[Tree] = list(range(n))
    for step, i in enumerate(merges, start=1):
        if isinstance(i, bool) or not isinstance(i, int) or not 0 <= i < len(forest) - 1:
            if len(forest) == 1:
                raise TreeInputError("merge_done", step=step)
            raise TreeInputError("bad_merge", step=step, i=i, last=len(forest) - 2)
        forest[i:i + 2] = [(forest[i], forest[i + 1])]
    return forest


def tree_from_merges(n: int, merges: Sequence[int]) -> Tree:
    """The tree that n - 1 merges build; a TreeInputError if they leave more than one piece."""
    forest = forest_from_merges(n, merges)
    if len(forest) != 1:
        raise TreeInputError("not_a_tree", pieces=len(forest), more=len(forest) - 1)
    return forest[0]


def build_tree(shape: str, n: int, merges: Sequence[int] = ()) -> list[Tree]:
    """The forest of ``shape`` over n leaves (one tree, except for unfinished merges)."""
    if shape == "chain":
        return [chain_tree(n)]
    if shape == "balanced":
        return [balanced_tree(n)]
    if shape == "merges":
        return forest_from_merges(n, merges)
    raise RnnVizError(f"unknown tree shape {shape!r}; choose one of {', '.join(SHAPES)}",
                      where="shape")


def inner_spans(tree: Tree) -> list[Span]:
    """The spans of the inner nodes, children before parents (post-order), root last."""
    if not isinstance(tree, tuple):
        return []
    return inner_spans(tree[0]) + inner_spans(tree[1]) + [span(tree)]


def _shift(tree: Tree, by: int) -> Tree:
    if isinstance(tree, tuple):
        return (_shift(tree[0], by), _shift(tree[1], by))
    return tree + by


# ---- the composition, batched by height ------------------------------------------------------


def compose(W: Tensor, b: Tensor, left: Tensor, right: Tensor) -> Tensor:
    """p = tanh(W [c_left; c_right] + b) for a batch of child pairs.

    W: (d, 2d); b: (d,); left, right: (N, d) -> p: (N, d). The one composition function of
    this module: every node of every tree goes through it.
    """
    return torch.tanh(torch.cat([left, right], dim=-1) @ W.T + b)


@dataclass(frozen=True)
class TreeBatch:
    """Trees flattened into one table of node rows, so that one ``compose`` call makes every
    node of one height in the whole batch.

    Rows 0 .. L-1 are the leaves (trees one after another), then the inner nodes sorted by
    height: ``levels[h - 1]`` holds the rows of the left and right children of the nodes of
    height h, which take the next rows in order.
    """

    leaf_tokens: Tensor  # (L,) token id of every leaf
    levels: tuple[tuple[Tensor, Tensor], ...]  # per height: (rows of left children, right)
    roots: Tensor  # (B,) the row of each tree's root
    node_tree: np.ndarray  # (N - L,) which tree each inner row belongs to
    node_span: np.ndarray  # (N - L, 2) its span inside that tree

    @property
    def num_leaves(self) -> int:
        return int(self.leaf_tokens.shape[0])


def batch_trees(trees: Sequence[Tree], tokens: Sequence[Sequence[int]]) -> TreeBatch:
    """Flatten ``trees`` (leaves 0 .. n_i - 1 each) with the token ids of their leaves."""
    if len(trees) != len(tokens) or not trees:
        raise RnnVizError("one token list per tree, at least one tree", where="batch_trees")
    leaf_tokens: list[int] = []
    left: list[int] = []  # child refs: >= 0 a leaf row, < 0 the inner node -(k + 1)
    right: list[int] = []
    heights: list[int] = []
    owner: list[int] = []
    spans: list[Span] = []
    roots: list[int] = []

    def walk(t: Tree, offset: int, which: int) -> tuple[int, int, Span]:
        if not isinstance(t, tuple):
            if t != len(leaf_tokens) - offset:  # leaves must come as 0, 1, 2, ... in order
                raise RnnVizError(f"tree {which} does not cover its leaves in order",
                                  where="batch_trees")
            leaf_tokens.append(-1)  # the token id is filled in below
            return offset + t, 0, (t, t + 1)
        a, ha, sa = walk(t[0], offset, which)
        c, hc, sc = walk(t[1], offset, which)
        left.append(a)
        right.append(c)
        heights.append(max(ha, hc) + 1)
        owner.append(which)
        spans.append((sa[0], sc[1]))
        return -len(left), heights[-1], (sa[0], sc[1])

    for which, (tree, ids) in enumerate(zip(trees, tokens, strict=True)):
        offset = len(leaf_tokens)
        roots.append(walk(tree, offset, which)[0])
        if len(leaf_tokens) - offset != len(ids):
            raise RnnVizError(f"tree {which} has {len(leaf_tokens) - offset} leaves for "
                              f"{len(ids)} tokens", where="batch_trees")
        leaf_tokens[offset:] = [int(i) for i in ids]
    L = len(leaf_tokens)
    h = np.asarray(heights, dtype=np.int64)
    order = np.argsort(h, kind="stable")  # inner node k -> its place among the inner rows
    row_of = np.empty(len(order), dtype=np.int64)
    row_of[order] = L + np.arange(len(order))

    def rows(refs: list[int]) -> np.ndarray:
        r = np.asarray(refs, dtype=np.int64)
        inner = r < 0
        r[inner] = row_of[-r[inner] - 1]
        return r

    lr, rr = rows(left)[order], rows(right)[order]
    counts = np.bincount(h[order], minlength=1)[1:] if len(h) else np.zeros(0, dtype=np.int64)
    bounds = np.concatenate([[0], np.cumsum(counts)])
    levels = tuple((torch.from_numpy(lr[s:e].copy()), torch.from_numpy(rr[s:e].copy()))
                   for s, e in zip(bounds[:-1], bounds[1:], strict=True))
    return TreeBatch(
        leaf_tokens=torch.tensor(leaf_tokens, dtype=torch.long),
        levels=levels,
        roots=torch.from_numpy(rows(roots)),
        node_tree=np.asarray(owner, dtype=np.int64)[order],
        node_span=np.asarray(spans, dtype=np.int64).reshape(-1, 2)[order],
    )


def compose_levels(W: Tensor, b: Tensor, leaf_states: Tensor, batch: TreeBatch) -> Tensor:
    """Every node's vector, (N, d): the leaves as given, then one ``compose`` per height."""
    states = leaf_states
    for left, right in batch.levels:
        states = torch.cat([states, compose(W, b, states[left], states[right])])
    return states


@dataclass(frozen=True)
class ChainBatch:
    """Token sequences under left-leaning trees, padded: the chain RNN's batch. Composing a
    chain level by level is the RNN's loop over time, so it runs as one (B, d) step per
    position instead of a growing node table (the same numbers as ``batch_trees`` over
    ``chain_tree``; tests/test_recursive.py checks it)."""

    tokens: Tensor  # (B, T) token ids, padded with 0 after each sequence's end
    lengths: Tensor  # (B,) at least 1


def batch_chains(tokens: Sequence[Sequence[int]]) -> ChainBatch:
    lengths = [len(t) for t in tokens]
    if not tokens or min(lengths) < 1:
        raise RnnVizError("every sequence needs at least one token", where="batch_chains")
    padded = torch.zeros(len(tokens), max(lengths), dtype=torch.long)
    for i, t in enumerate(tokens):
        padded[i, :len(t)] = torch.as_tensor(list(t), dtype=torch.long)
    return ChainBatch(padded, torch.tensor(lengths))


def compose_chain(W: Tensor, b: Tensor, x: Tensor, lengths: Tensor) -> Tensor:
    """The root of each left-leaning tree: p_1 = x_1, p_t = compose(p_{t-1}, x_t), i.e. the RNN
    h_t = tanh(W_left h_{t-1} + W_right x_t + b). x: (B, T, d) -> (B, d); a sequence that
    has ended keeps its root."""
    root = x[:, 0]
    for t in range(1, x.shape[1]):
        p = compose(W, b, root, x[:, t])
        root = torch.where((lengths > t).unsqueeze(-1), p, root)
    return root


# ---- the sentence demo -----------------------------------------------------------------------


def sentence_words(text: str, max_words: int = MAX_WORDS) -> list[str]:
    """The jieba words of ``text``: the leaves. Too few or too many is a TreeInputError."""
    words = WordTokenizer()(text)
    if not words:
        raise TreeInputError("empty")
    if len(words) < MIN_WORDS:
        raise TreeInputError("too_few", n=len(words), min=MIN_WORDS)
    if len(words) > max_words:
        raise TreeInputError("too_many", n=len(words), max=max_words)
    return words


def word_vector(word: str, dim: int = DEMO_DIM, seed: int = 0) -> np.ndarray:
    """A fixed random vector per word (the same word, the same leaf vector), 2 decimals so the
    written-out composition is readable; seeded by a stable hash of the word."""
    rng = np.random.default_rng([seed, zlib.crc32(word.encode("utf-8"))])
    return np.round(rng.normal(0.0, 1.0, size=dim), 2)


def leaf_vectors(words: Sequence[str], dim: int = DEMO_DIM) -> np.ndarray:
    """The leaves' vectors, (n, dim): ``word_vector`` of each word."""
    return np.stack([word_vector(w, dim) for w in words])


@dataclass(frozen=True)
class Composition:
    """The shared weights of the demo: p = tanh(W [c_left; c_right] + b), float64."""

    W: np.ndarray  # (d, 2d): [W_left | W_right]
    b: np.ndarray  # (d,)

    @property
    def dim(self) -> int:
        return int(self.b.shape[0])

    def scaled(self, gain: float) -> Composition:
        """The same composition with W multiplied by ``gain`` (b unchanged)."""
        return Composition(self.W * float(gain), self.b.copy())


def demo_composition(dim: int = DEMO_DIM, seed: int = 0) -> Composition:
    """Seeded weights, uniform +-1/sqrt(2d) like torch's nn.Linear(2d, d), drawn 1.5x larger
    so the demo's node vectors are not all near 0."""
    rng = np.random.default_rng(seed)
    k = 1.5 / math.sqrt(2 * dim)
    return Composition(W=np.round(rng.uniform(-k, k, size=(dim, 2 * dim)), 2),
                       b=np.round(rng.uniform(-k, k, size=dim) / 1.5, 2))


@dataclass(frozen=True)
class TreeRun:
    """Every node's vector for a forest over one sentence's words."""

    forest: tuple[Tree, ...]
    words: tuple[str, ...]
    vectors: dict[Span, np.ndarray]  # (lo, hi) -> (d,), leaves (i, i+1) included
    preactivations: dict[Span, np.ndarray]  # inner nodes: W [c_l; c_r] + b
    children: dict[Span, tuple[Span, Span]]  # inner node -> (left child, right child)

    @property
    def inner(self) -> list[Span]:
        """Inner nodes, children before parents, each tree of the forest in turn."""
        return [s for t in self.forest for s in inner_spans(t)]

    @property
    def complete(self) -> bool:
        return len(self.forest) == 1

    def text(self, s: Span) -> str:
        return "".join(self.words[s[0]:s[1]])


def compose_sentence(comp: Composition, forest: Sequence[Tree], words: Sequence[str],
                     vectors: np.ndarray | None = None) -> TreeRun:
    """Compose every node of ``forest`` (trees over consecutive leaves covering all ``words``)
    with ``comp``; leaf vectors are ``word_vector`` of each word unless given, (n, d)."""
    n = len(words)
    if [i for t in forest for i in leaves(t)] != list(range(n)):
        raise TreeInputError("wrong_leaves", n=n)
    x = leaf_vectors(words, comp.dim) if vectors is None else vectors
    pieces = list(forest)
    firsts = [span(t)[0] for t in pieces]
    pairs = list(zip(pieces, firsts, strict=True))
    batch = batch_trees([_shift(t, -lo) for t, lo in pairs],
                        [list(range(span(t)[1] - lo)) for t, lo in pairs])
    W, b = torch.from_numpy(comp.W), torch.from_numpy(comp.b)
    with torch.no_grad():
        states = compose_levels(W, b, torch.from_numpy(np.asarray(x, dtype=np.float64)),
                                batch).numpy()
    vecs: dict[Span, np.ndarray] = {(i, i + 1): states[i] for i in range(n)}
    pre: dict[Span, np.ndarray] = {}
    kids: dict[Span, tuple[Span, Span]] = {}
    row_span = {i: (i, i + 1) for i in range(n)}
    for k, (which, (lo, hi)) in enumerate(zip(batch.node_tree, batch.node_span, strict=True)):
        row_span[n + k] = (int(lo) + firsts[which], int(hi) + firsts[which])
    row = n
    for left_rows, right_rows in batch.levels:
        for lrow, rrow in zip(left_rows.tolist(), right_rows.tolist(), strict=True):
            s = row_span[row]
            kids[s] = (row_span[lrow], row_span[rrow])
            vecs[s] = states[row]
            pre[s] = comp.W @ np.concatenate([states[lrow], states[rrow]]) + comp.b
            row += 1
    return TreeRun(tuple(pieces), tuple(words), vecs, pre, kids)


@dataclass(frozen=True)
class CompositionTerms:
    """The numbers of one node: p = tanh(W [c_left; c_right] + b)."""

    node: Span
    left: Span
    right: Span
    c_left: np.ndarray
    c_right: np.ndarray
    Wc: np.ndarray  # W [c_left; c_right]
    b: np.ndarray
    a: np.ndarray  # the pre-activation
    p: np.ndarray


def composition_terms(comp: Composition, run: TreeRun, node: Span) -> CompositionTerms:
    if node not in run.children:
        raise RnnVizError(f"{node} is not an inner node of this tree", where="node")
    left, right = run.children[node]
    c = np.concatenate([run.vectors[left], run.vectors[right]])
    Wc = comp.W @ c
    return CompositionTerms(node, left, right, run.vectors[left], run.vectors[right], Wc,
                            comp.b.copy(), Wc + comp.b, run.vectors[node])


def _fmt(v: float, digits: int) -> str:
    s = f"{v:.{digits}f}"
    return "0." + "0" * digits if s.lstrip("-") == "0." + "0" * digits else s  # no "-0.00"


def _matrix(m: np.ndarray, digits: int) -> str:
    rows = m if m.ndim == 2 else m.reshape(-1, 1)
    body = r" \\ ".join(" & ".join(_fmt(v, digits) for v in row) for row in rows)
    return r"\begin{bmatrix}" + body + r"\end{bmatrix}"


def node_name(s: Span) -> str:
    """A node's name in formulas: p_{lo+1..hi} (words counted from 1), a leaf x_i."""
    return f"x_{{{s[0] + 1}}}" if s[1] - s[0] == 1 else f"p_{{{s[0] + 1}..{s[1]}}}"


def composition_latex(comp: Composition, terms: CompositionTerms, digits: int = 2) -> str:
    """LaTeX of p = tanh(W [c_left; c_right] + b) with the real numbers, then the sums."""
    m = lambda a: _matrix(a, digits)  # noqa: E731
    c = np.concatenate([terms.c_left, terms.c_right])
    p, cl, cr = node_name(terms.node), node_name(terms.left), node_name(terms.right)
    return (
        r"\begin{aligned}"
        rf"{p} &= \tanh\Big(\underbrace{{{m(comp.W)}}}_{{W}}"
        rf"\underbrace{{{m(c)}}}_{{[{cl};\,{cr}]}}"
        rf" + \underbrace{{{m(terms.b)}}}_{{b}}\Big) \\[4pt]"
        rf"&= \tanh\Big({m(terms.Wc)} + {m(terms.b)}\Big) = \tanh\Big({m(terms.a)}\Big)"
        rf" = {m(terms.p)}"
        r"\end{aligned}"
    )


# ---- depth and gradients ---------------------------------------------------------------------


def root_jacobians(comp: Composition, tree: Tree, vectors: np.ndarray) -> np.ndarray:
    """∂root/∂leaf_i for every leaf, (n, d, d), by autograd through ``compose_levels``."""
    n = len(leaves(tree))
    x = torch.as_tensor(np.asarray(vectors, dtype=np.float64))
    if x.shape[0] != n:
        raise RnnVizError(f"{x.shape[0]} leaf vectors for {n} leaves", where="vectors")
    batch = batch_trees([tree], [list(range(n))])
    W, b = torch.from_numpy(comp.W), torch.from_numpy(comp.b)
    root = int(batch.roots[0])
    J = torch.autograd.functional.jacobian(lambda v: compose_levels(W, b, v, batch)[root], x)
    return J.permute(1, 0, 2).numpy()  # (d_root, n, d_leaf) -> (n, d_root, d_leaf)


@dataclass(frozen=True)
class LeafGradients:
    """‖∂root/∂leaf‖ (spectral norm: the largest factor by which the Jacobian stretches) with
    each leaf's depth, in leaf order."""

    shape: str
    depths: np.ndarray  # (n,) int
    norms: np.ndarray  # (n,)

    @property
    def tree_depth(self) -> int:
        return int(self.depths.max())

    @property
    def smallest(self) -> int:
        """The leaf (0-based) whose gradient is smallest."""
        return int(np.argmin(self.norms))


def leaf_gradients(comp: Composition, tree: Tree, vectors: np.ndarray, shape: str = "") -> (
        LeafGradients):
    J = root_jacobians(comp, tree, vectors)
    norms = np.array([np.linalg.norm(j, 2) for j in J])
    return LeafGradients(shape, np.asarray(leaf_depths(tree)), norms)


def smallest_position(grads: LeafGradients) -> str:
    """Where the smallest gradient sits: "first" (one of the first two words, the bottom of a
    chain), "last" (the last word) or "middle"."""
    i, n = grads.smallest, len(grads.norms)
    if i <= 1:
        return "first"
    return "last" if i == n - 1 else "middle"


# ---- the toy task: nested subtraction mod 10 -------------------------------------------------


@dataclass(frozen=True)
class Expression:
    """A tree over digits: inner node = left minus right, taken mod 10."""

    tree: Tree
    digits: tuple[int, ...]

    @property
    def value(self) -> int:
        def ev(t: Tree) -> int:
            if isinstance(t, tuple):
                return (ev(t[0]) - ev(t[1])) % MOD
            return self.digits[t]

        return ev(self.tree)

    @property
    def depth(self) -> int:
        return depth(self.tree)

    def tokens(self) -> list[str]:
        """The written expression, token by token; brackets around every inner sub-expression."""

        def wr(t: Tree, top: bool) -> list[str]:
            if not isinstance(t, tuple):
                return [str(self.digits[t])]
            inner = [*wr(t[0], False), "-", *wr(t[1], False)]
            return inner if top else ["(", *inner, ")"]

        return wr(self.tree, True)

    def written(self) -> str:
        return " ".join(self.tokens()).replace("( ", "(").replace(" )", ")").replace("-", "−")


def random_expression(n: int, rng: random.Random) -> Expression:
    """n random digits under a random binary tree (each split point equally likely)."""

    def grow(lo: int, hi: int) -> Tree:
        if hi - lo == 1:
            return lo
        cut = rng.randint(lo + 1, hi - 1)
        return (grow(lo, cut), grow(cut, hi))

    tree = grow(0, n)
    return Expression(tree, tuple(rng.randrange(10) for _ in range(n)))


@dataclass
class ToyConfig:
    """One side-by-side run; the same config gives the same curves."""

    max_leaves: int = 6
    steps: int = 800
    batch_size: int = 128
    hidden_size: int = 96
    lr: float = 0.005
    clip_norm: float = 1.0
    seed: int = 0
    eval_size: int = 1000
    report_every: int = 25
    time_budget_s: float = 0.0  # 0 = none; else stop after this long (a safety net)

    def __post_init__(self) -> None:
        for name, low in (("steps", 1), ("batch_size", 1), ("hidden_size", 1), ("eval_size", 1),
                          ("report_every", 1)):
            value = getattr(self, name)
            if not isinstance(value, int) or value < low:
                raise RnnVizError(f"must be an integer >= {low}, got {value!r}",
                                  where=f"recursive.{name}")
        if not isinstance(self.max_leaves, int) or not 2 <= self.max_leaves <= 10:
            raise RnnVizError(f"must be 2..10, got {self.max_leaves!r}",
                              where="recursive.max_leaves")
        if not self.lr > 0:
            raise RnnVizError(f"must be positive, got {self.lr}", where="recursive.lr")

    def to_dict(self) -> dict:
        return asdict(self)


def sample_expressions(count: int, max_leaves: int, rng: random.Random) -> list[Expression]:
    """``count`` expressions with 2 .. max_leaves digits (each count equally likely)."""
    return [random_expression(rng.randint(2, max_leaves), rng) for _ in range(count)]


def examples(n: int, config: ToyConfig) -> list[Expression]:
    """What the page shows: ``n`` expressions from the task's distribution."""
    return sample_expressions(n, config.max_leaves, random.Random(config.seed + 7))


_CHAIN_ID = {t: i for i, t in enumerate(CHAIN_VOCAB)}


def tree_inputs(exprs: Sequence[Expression]) -> TreeBatch:
    """The tree network's input: each expression's own tree, its digits as leaves."""
    return batch_trees([e.tree for e in exprs], [e.digits for e in exprs])


def chain_inputs(exprs: Sequence[Expression]) -> ChainBatch:
    """The chain RNN's input: the written tokens under a left-leaning tree."""
    return batch_chains([[_CHAIN_ID[t] for t in e.tokens()] for e in exprs])


class RecursiveNet(nn.Module):
    """Embedding -> one composition W over the given tree -> linear on the root, 10 classes."""

    def __init__(self, vocab_size: int, hidden_size: int, generator: torch.Generator) -> None:
        super().__init__()
        d = hidden_size
        self.embedding = nn.Embedding(vocab_size, d)
        self.W = nn.Parameter(torch.empty(d, 2 * d))
        self.b = nn.Parameter(torch.empty(d))
        self.out = nn.Linear(d, MOD)
        # torch's default draws (N(0, 1) embedding, U(+-1/sqrt(fan_in)) layers) from a local
        # generator, so concurrent runs cannot disturb each other's seeds.
        with torch.no_grad():
            self.embedding.weight.normal_(generator=generator)
            for p, fan_in in ((self.W, 2 * d), (self.b, 2 * d), (self.out.weight, d),
                              (self.out.bias, d)):
                p.uniform_(-1 / math.sqrt(fan_in), 1 / math.sqrt(fan_in), generator=generator)

    def roots(self, batch: TreeBatch | ChainBatch) -> Tensor:
        """The root vector of every tree in the batch, (B, d)."""
        if isinstance(batch, ChainBatch):
            return compose_chain(self.W, self.b, self.embedding(batch.tokens), batch.lengths)
        states = compose_levels(self.W, self.b, self.embedding(batch.leaf_tokens), batch)
        return states[batch.roots]

    def forward(self, batch: TreeBatch | ChainBatch) -> Tensor:
        return self.out(self.roots(batch))  # (B, 10)


def build_model(kind: str, config: ToyConfig) -> RecursiveNet:
    if kind not in KINDS:
        raise RnnVizError(f"kind must be one of {KINDS}, got {kind!r}", where="kind")
    g = torch.Generator().manual_seed(config.seed * 1000 + _KIND_SEED[kind])
    vocab = len(DIGITS) if kind == "tree" else len(CHAIN_VOCAB)
    return RecursiveNet(vocab, config.hidden_size, g)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


_INPUTS: dict[str, Callable[[Sequence[Expression]], TreeBatch | ChainBatch]] = {
    "tree": tree_inputs, "chain": chain_inputs}


@dataclass(frozen=True)
class ToyProgress:
    """What the callback gets: curves so far (copies, safe to keep)."""

    step: int
    total_steps: int
    elapsed_s: float
    history: dict[str, dict[str, list[float]]]
    chance: float
    done: bool


@dataclass
class ToyResult:
    config: ToyConfig
    history: dict[str, dict[str, list[float]]]
    final_accuracy: dict[str, float]  # held-out
    by_depth: dict[str, dict[int, float]]  # held-out accuracy per expression depth
    depth_counts: dict[int, int]
    params: dict[str, int]
    steps_done: int
    elapsed_s: float
    stopped: bool
    reason: str
    chance: float = 1.0 / MOD
    models: dict[str, RecursiveNet] = field(default_factory=dict, repr=False)


def evaluate(model: RecursiveNet, kind: str, exprs: Sequence[Expression]) -> np.ndarray:
    """Right (True) or wrong for each expression."""
    with torch.no_grad():
        pred = model(_INPUTS[kind](exprs)).argmax(-1).numpy()
    return pred == np.array([e.value for e in exprs])


def held_out(config: ToyConfig) -> list[Expression]:
    """The held-out set: its own seed stream, never the training batches' draws."""
    return sample_expressions(config.eval_size, config.max_leaves,
                              random.Random(config.seed * 7919 + _EVAL_SEED))


def train_tree_vs_chain(config: ToyConfig, callback: Callable[[ToyProgress], None] | None = None,
                        should_stop: Callable[[], bool] | None = None,
                        keep_models: bool = False) -> ToyResult:
    """Train the tree network and the chain RNN in lockstep on the same batches.

    Same hidden size, optimiser (Adam), learning rate, clipping, batches and steps; the only
    difference is the tree each one composes over. Stops early when ``should_stop()`` is true
    or the time budget runs out; the result says so.
    """
    models = {k: build_model(k, config) for k in KINDS}
    optims = {k: torch.optim.Adam(m.parameters(), lr=config.lr) for k, m in models.items()}
    data = random.Random(config.seed)

    def progress(step: int, elapsed: float, history: History, done: bool) -> None:
        if callback is not None:
            callback(ToyProgress(step, config.steps, elapsed, history, 1.0 / MOD, done))

    def next_batch() -> tuple[list[Expression], Tensor]:
        exprs = sample_expressions(config.batch_size, config.max_leaves, data)
        return exprs, torch.tensor([e.value for e in exprs])

    run = race(models, optims, steps=config.steps, next_batch=next_batch,
               forward=lambda kind, model, exprs, step: model(_INPUTS[kind](exprs)),
               clip_norm=config.clip_norm, report_every=config.report_every,
               time_budget_s=config.time_budget_s, should_stop=should_stop,
               report=lambda step, elapsed, history: progress(step, elapsed, history, False))

    test = held_out(config)
    depths = np.array([e.depth for e in test])
    final, by_depth = {}, {}
    for kind, model in models.items():
        right = evaluate(model, kind, test)
        final[kind] = float(right.mean())
        by_depth[kind] = {int(d): float(right[depths == d].mean()) for d in np.unique(depths)}
    counts = {int(d): int((depths == d).sum()) for d in np.unique(depths)}
    elapsed = time.monotonic() - run.started
    progress(run.steps_done, elapsed, copy_history(run.history), True)
    return ToyResult(config, run.history, final, by_depth, counts,
                     {k: count_parameters(m) for k, m in models.items()}, run.steps_done,
                     elapsed, run.stopped, run.reason, models=models if keep_models else {})


def run_toy_job(job: Any, config: ToyConfig) -> ToyResult:
    """``train_tree_vs_chain`` for a background job (anything with ``update`` and
    ``should_stop``, e.g. a child process's job): progress goes to ``job.update(progress=...)``.
    Module-level, so a child process can be handed it by name."""
    return train_tree_vs_chain(config, callback=lambda p: job.update(progress=p),
                               should_stop=job.should_stop)


def summary_rows(result: ToyResult, lang: str = "zh") -> list[dict[str, object]]:
    """One row per model: what it reads, its parameters, steps, held-out accuracy."""
    return [{
        _T(lang, "col.model"): _T(lang, f"kind.{kind}"),
        _T(lang, "col.reads"): _T(lang, f"reads.{kind}"),
        _T(lang, "col.params"): result.params[kind],
        _T(lang, "col.steps"): result.steps_done,
        _T(lang, "col.accuracy"): round(result.final_accuracy[kind], 3),
    } for kind in KINDS]


def kind_name(kind: str, lang: str = "zh") -> str:
    return _T(lang, f"kind.{kind}")


__all__ = [
    "CHAIN_VOCAB", "DEMO_DIM", "KINDS", "MAX_WORDS", "MIN_WORDS", "MOD", "SHAPES", "ChainBatch",
    "Composition", "CompositionTerms", "Expression", "LeafGradients", "RecursiveNet", "ToyConfig",
    "ToyProgress", "ToyResult", "Tree", "TreeBatch", "TreeInputError", "TreeRun", "balanced_tree",
    "batch_chains", "batch_trees", "build_model", "build_tree", "chain_inputs", "chain_tree",
    "check_tree", "compose", "compose_chain", "compose_levels", "compose_sentence",
    "composition_latex", "composition_terms", "count_parameters", "demo_composition", "depth",
    "evaluate", "examples", "forest_from_merges", "held_out", "inner_spans", "kind_name",
    "leaf_depths", "leaf_gradients", "leaf_vectors", "leaves", "node_name", "random_expression",
    "root_jacobians", "run_toy_job", "sample_expressions", "sentence_words", "smallest_position",
    "span", "summary_rows", "train_tree_vs_chain", "tree_from_merges", "tree_inputs",
    "word_vector",
]
