"""Two ways to ask which tokens a classifier's answer rests on, why they can disagree, and how far
back the answer reaches.

* Gradient x input (Simonyan et al. 2014; Shrikumar et al. 2016), as ``rnnviz.core.predict``:
  for the predicted class k, sum_e dz_k/de_{t,e} * e_{t,e}, where z_k is the logit and e_t the
  vector the RNN reads at token t. A first-order estimate at the text as typed: it says what
  an infinitesimal change would do.
* Occlusion (Zeiler & Fergus 2014; for text "erasure", Li, Monroe & Jurafsky 2016): remove
  token t, or replace it with <UNK>, run the model again and see how p_k moves. The real effect
  of a whole-token change. Every single-token variant of a text goes through the model in ONE
  batched forward (row 0 the text, rows 1..T each missing one token, rows T+1..2T each with one
  token read as <UNK>), padded at the end and packed to each row's length, so a shorter row
  never reads padding. Only a long text is split into several forwards, to bound memory.
* Connectivity (Madsen, "Visualizing memorization in RNNs", Distill 2019,
  doi:10.23915/distill.00016): ||dz_k/de_s||_2 for every position s, the size of the answer's
  sensitivity to each input vector. A last-step unidirectional RNN fades towards the start of
  the text; a bidirectional or pooled one need not.

The two attributions measure different things, and where they disagree the module says which of
two mechanisms is at work at that token, from computed evidence:

* max pooling (TextRNN with "max" pooling, and RCNN): the gradient flows only through each
  dimension's winning position, so a token that wins dimensions gets full credit; delete it and,
  where another token was a close second, that token takes over almost the same value, so the
  probability barely moves (``PoolWinners``);
* saturated gates: where a sigmoid gate sits near 0 or 1 its slope sigma(1 - sigma) is near 0,
  so the gradient through it is tiny, yet removing the token can flip the gate
  (``gate_saturation``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from rnnviz.core.predict import Predictor, TokenTrace
from rnnviz.core.text import PAD_ID, UNK_ID, encode_text
from rnnviz.errors import RnnVizError

# Occlusion's batches hold at most this many token slots (rows x length): every variant of a
# text up to ~127 tokens in one forward, and a bounded transient memory for long pastes.
OCCLUSION_BATCH_TOKENS = 32_768
# 2T+1 forwards of T tokens grow as T^2: ~0.1 s for a 30-character title, ~0.5 s at 64 tokens
# and ~2.5 s at 128 on one busy core (bench/attribution_latency.py). Longer texts are refused.
MAX_OCCLUSION_TOKENS = 64
SATURATED = 0.05  # a sigmoid gate below 0.05 or above 0.95: slope sigma(1 - sigma) < 0.048
POOL_TIE = 0.05  # a runner-up within 0.05 of a max-pool winner (tanh-range values) is "close"
# Which tokens count as disagreeing (on attributions scaled so the strongest token is +-1).
SIGN_FLOOR = 0.1  # both at least this large, with opposite signs
MATERIAL = 0.2  # and at least one of the two this large
SIGMOID_GATES = {"lstm": ("i", "f", "o"), "gru": ("r", "z"), "rnn": ()}
REASONS = ("maxpool_tie", "bigram", "saturated", "nonlinear")


def _encode(predictor: Predictor, text: str) -> tuple[list[str], list[int]]:
    encoded = encode_text(text, predictor.tokenizer, predictor.vocab, predictor.config.max_len)
    return list(encoded.tokens), list(encoded.ids)


def all_unknown(ids: Sequence[int]) -> bool:
    """Every token is <UNK>: the model reads the same thing for every such text of this length,
    so no attribution can tell its tokens apart."""
    return bool(ids) and all(i == UNK_ID for i in ids)


# ---- gradients: gradient x input and connectivity ---------------------------------------


@dataclass(frozen=True)
class Gradients:
    """One forward and one backward of the predicted class's logit z_k."""

    tokens: list[str]
    ids: list[int]
    label_index: int  # k, the predicted class
    logits: np.ndarray  # (C,)
    probabilities: np.ndarray  # (C,)
    grad_x_input: np.ndarray  # (T,) sum_e dz_k/de_{t,e} * e_{t,e}, not rescaled
    connectivity: np.ndarray  # (T,) ||dz_k/de_s||_2

    @property
    def first_half_share(self) -> float:
        """The share of the summed connectivity on the first half of the tokens (positions
        1..floor(T/2)); 0 for a one-token text."""
        total = float(self.connectivity.sum())
        half = len(self.tokens) // 2
        return float(self.connectivity[:half].sum()) / total if total > 0 else 0.0


def gradients(predictor: Predictor, text: str) -> Gradients:
    """Gradient x input and connectivity of ``text`` for the model's predicted class.

    Raises RnnVizError for a text with nothing readable. Thread-safe like ``Predictor.predict``
    (the parameters are frozen; the gradient is taken with respect to this call's vectors only).
    """
    tokens, ids = _encode(predictor, text)
    model = predictor.model
    with torch.inference_mode(False), torch.enable_grad():
        x = torch.tensor([ids], dtype=torch.long)  # (1, T)
        lengths = torch.tensor([len(ids)])
        emb = model.embed(x).detach().requires_grad_(True)  # (1, T, E): a fresh leaf
        logits = model.classify(emb, lengths)[0]  # (C,)
        k = int(logits.argmax())
        (grad,) = torch.autograd.grad(logits[k], emb)  # (1, T, E)
    logits = logits.detach()
    return Gradients(
        tokens=tokens, ids=ids, label_index=k, logits=logits.numpy().astype(np.float32),
        probabilities=torch.softmax(logits, -1).numpy().astype(np.float32),
        grad_x_input=(grad * emb.detach()).sum(-1)[0].numpy().astype(np.float32),
        connectivity=grad.norm(dim=-1)[0].numpy().astype(np.float32),
    )


# ---- occlusion -----------------------------------------------------------------------------


def occlusion_inputs(ids: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
    """The 2T+1 rows occlusion runs, padded at the end: (rows (R, T) long, lengths (R,)).

    Row 0 is the text; row 1+t the text without token t (length T-1; none when T = 1); the last
    T rows the text with token t read as <UNK>.
    """
    T = len(ids)
    if T == 0:
        raise RnnVizError("no tokens to occlude")
    full = torch.tensor(ids, dtype=torch.long)
    deletions = T if T > 1 else 0
    rows = torch.full((1 + deletions + T, T), PAD_ID, dtype=torch.long)
    lengths = torch.full((rows.shape[0],), T, dtype=torch.long)
    rows[0] = full
    for t in range(deletions):
        rows[1 + t, : T - 1] = torch.cat([full[:t], full[t + 1 :]])
        lengths[1 + t] = T - 1
    unk = full.repeat(T, 1)
    unk[torch.arange(T), torch.arange(T)] = UNK_ID
    rows[1 + deletions :] = unk
    return rows, lengths


@dataclass(frozen=True)
class Occlusion:
    """How the predicted class's probability and logit move when each token goes."""

    tokens: list[str]
    label_index: int  # k, predicted for the whole text
    base_probability: float  # p_k of the text
    base_logit: float  # z_k of the text
    deleted: np.ndarray  # (T,) p_k without token t (nan for a one-token text)
    deleted_logit: np.ndarray  # (T,) z_k without token t
    deleted_label: np.ndarray  # (T,) the class predicted without token t (-1: none)
    unk: np.ndarray  # (T,) p_k with token t read as <UNK>
    unk_logit: np.ndarray  # (T,)
    unk_label: np.ndarray  # (T,)
    forwards: int  # batched forwards it took (1 unless the text is long)

    @property
    def drop_deleted(self) -> np.ndarray:
        """(T,) p_k(text) - p_k(without t): positive where the token supported the answer."""
        return self.base_probability - self.deleted

    @property
    def drop_unk(self) -> np.ndarray:
        """(T,) p_k(text) - p_k(token t read as <UNK>)."""
        return self.base_probability - self.unk


def occlusion(predictor: Predictor, text: str, label_index: int | None = None,
              max_batch_tokens: int = OCCLUSION_BATCH_TOKENS,
              max_tokens: int = MAX_OCCLUSION_TOKENS) -> Occlusion:
    """Occlusion of every token of ``text``, both ways (deleted, replaced by <UNK>), in one
    batched forward (several only when 2T+1 rows of T tokens exceed ``max_batch_tokens``).

    ``label_index``: the class whose probability is followed (default: the one predicted for
    the whole text). A text of more than ``max_tokens`` tokens is refused (RnnVizError)."""
    tokens, ids = _encode(predictor, text)
    n_tokens = len(ids)
    if n_tokens > max_tokens:
        raise RnnVizError(f"occlusion reads at most {max_tokens} tokens; this text has "
                          f"{n_tokens}", where="text")
    rows, lengths = occlusion_inputs(ids)
    T = n_tokens
    per_forward = max(1, max_batch_tokens // T)
    logits = []
    with torch.inference_mode():
        for s in range(0, rows.shape[0], per_forward):
            chunk = slice(s, s + per_forward)
            logits.append(predictor.model(rows[chunk], lengths[chunk]).float())
    z = torch.cat(logits)  # (R, C)
    p = torch.softmax(z, dim=-1)
    k = int(z[0].argmax()) if label_index is None else int(label_index)
    labels = z.argmax(dim=-1)
    deletions = T if T > 1 else 0
    nan = torch.full((T,), math.nan)
    dele = slice(1, 1 + deletions)
    unk = slice(1 + deletions, None)
    return Occlusion(
        tokens=tokens, label_index=k, base_probability=float(p[0, k]),
        base_logit=float(z[0, k]),
        deleted=(p[dele, k] if deletions else nan).numpy().astype(np.float32),
        deleted_logit=(z[dele, k] if deletions else nan).numpy().astype(np.float32),
        deleted_label=(labels[dele] if deletions else torch.full((T,), -1)).numpy(),
        unk=p[unk, k].numpy().astype(np.float32), unk_logit=z[unk, k].numpy().astype(np.float32),
        unk_label=labels[unk].numpy(), forwards=len(logits),
    )


# ---- why they disagree: max-pool winners and saturated gates -----------------------------


@dataclass(frozen=True)
class PoolWinners:
    """Who wins each dimension of a max pooling over time."""

    values: np.ndarray  # (T, D) the sequence the max is taken over
    winner: np.ndarray  # (D,) position of each dimension's maximum
    runner_up: np.ndarray  # (D,) position of the second largest (-1 for a one-token text)
    gap: np.ndarray  # (D,) winner's value - runner-up's (inf for a one-token text)

    def wins(self, t: int) -> int:
        """How many dimensions token t wins."""
        return int((self.winner == t).sum())

    def close_wins(self, t: int, tie: float = POOL_TIE) -> int:
        """How many of those another token nearly wins too (gap below ``tie``)."""
        return int(((self.winner == t) & (self.gap < tie)).sum())


def pool_winners(predictor: Predictor, ids: Sequence[int]) -> PoolWinners | None:
    """The max pooling's winners for ``ids``; None for a model that does not max-pool (last or
    mean pooling)."""
    model = predictor.model
    kind = predictor.config.model
    pooling = getattr(predictor.config, "pooling", "max")
    if kind == "textrnn" and pooling not in ("max", "meanmax"):
        return None
    with torch.inference_mode():
        x = torch.tensor([list(ids)], dtype=torch.long)
        lengths = torch.tensor([len(ids)])
        emb = model.embed(x)
        if kind == "textrcnn":
            seq = model.token_features(emb, lengths)[0]  # (T, P): y_t, max-pooled in classify
        else:
            seq = model.run_rnn(emb, lengths)[0][0]  # (T, D*H): h_t, max-pooled in pooled()
    values = seq.float().numpy()
    order = np.argsort(-values, axis=0, kind="stable")  # (T, D): positions, largest first
    winner = order[0]
    if values.shape[0] > 1:
        runner_up = order[1]
        cols = np.arange(values.shape[1])
        gap = values[winner, cols] - values[runner_up, cols]
    else:
        runner_up = np.full(values.shape[1], -1)
        gap = np.full(values.shape[1], np.inf, dtype=np.float32)
    return PoolWinners(values=values, winner=winner, runner_up=runner_up, gap=gap)


def gate_saturation(layers: Sequence[TokenTrace], layer: int = 0,
                    threshold: float = SATURATED) -> dict[str, np.ndarray] | None:
    """Gate -> (T,) share of the units of ``layer`` (both directions pooled) whose sigmoid gate
    is below ``threshold`` or above 1 - ``threshold`` at each token. None for a plain RNN (no
    gates) or without a trace."""
    chosen = [t for t in layers if t.layer == layer]
    if not chosen or not SIGMOID_GATES.get(chosen[0].kind):
        return None
    out = {}
    for gate in SIGMOID_GATES[chosen[0].kind]:
        s = np.concatenate([np.asarray(t.states[gate]) for t in chosen], axis=1)  # (T, D*H)
        out[gate] = ((s < threshold) | (s > 1 - threshold)).mean(axis=1).astype(np.float32)
    return out


def next_bigram_known(predictor: Predictor, ids: Sequence[int]) -> np.ndarray | None:
    """(T,) bool: the bigram x_t x_{t+1} is in the model's bigram vocabulary (False for the last
    token); None for a model without bigrams. Deleting x_t removes that bigram, and with it
    whatever the model read from it at t+1."""
    model = predictor.model
    if getattr(model, "bigram", None) is None:
        return None
    with torch.inference_mode():
        rows = model.bigram_ids(torch.tensor([list(ids)], dtype=torch.long))[0]  # (T,)
    known = (rows != 0).numpy()
    return np.append(known[1:], False)


# ---- the comparison ----------------------------------------------------------------------


def scaled(values: np.ndarray) -> np.ndarray:
    """``values`` divided by their largest magnitude (all zeros stay zeros; nan stays nan)."""
    v = np.asarray(values, dtype=np.float64)
    finite = v[np.isfinite(v)]
    m = float(np.abs(finite).max()) if finite.size else 0.0
    return (v / m if m > 0 else v).astype(np.float32)


def _ranks(values: np.ndarray) -> np.ndarray:
    """Rank of each value, 0 = largest (ties: the earlier token first)."""
    order = np.argsort(-values, kind="stable")
    ranks = np.empty(len(values), dtype=np.int64)
    ranks[order] = np.arange(len(values))
    return ranks


@dataclass(frozen=True)
class Disagreement:
    """A token the two attributions judge differently, with the evidence for why."""

    position: int
    token: str
    gradient: float  # gradient x input, scaled to +-1
    occlusion: float  # occlusion (logit drop), scaled to +-1
    sign_differs: bool
    rank_gap: int  # |rank by gradient - rank by occlusion|, 0 = the strongest push towards k
    pool_wins: int | None  # max-pool dimensions this token wins (None: no max pooling)
    pool_close: int | None  # of those, won by less than POOL_TIE
    pool_dims: int | None
    saturation: float | None  # share of layer 1's sigmoid gate units saturated at this token
    bigram_next: bool | None  # the bigram x_t x_{t+1} is a known one (None: no bigrams)
    reason: str  # one of REASONS


@dataclass(frozen=True)
class Comparison:
    """Gradient x input next to occlusion for one text, and the tokens where they part."""

    tokens: list[str]
    label_index: int
    gradients: Gradients
    occlusion: Occlusion
    gradient_scaled: np.ndarray  # (T,) gradient x input, max |.| = 1
    occlusion_mode: str  # "delete" (or "unk" for a one-token text): what is compared
    occlusion_scaled: np.ndarray  # (T,) the drop of z_k, max |.| = 1
    pool: PoolWinners | None
    saturation: dict[str, np.ndarray] | None
    bigram_next: np.ndarray | None  # (T,) bool: x_t x_{t+1} is a known bigram (None: none)
    disagreements: list[Disagreement] = field(default_factory=list)

    @property
    def all_unknown(self) -> bool:
        return all_unknown(self.gradients.ids)


def _reason(gradient: float, occ: float, pool_tie: bool, bigram_next: bool,
            saturated: bool) -> str:
    """Which mechanism fits: a max-pool tie makes the gradient overstate the token (it credits
    the winner fully, but the runner-up stands in when it goes); a known next bigram or
    saturated gates make it understate it (deleting x_t also removes the bigram x_t x_{t+1},
    which the gradient credits to the next token; a saturated gate has a flat slope but can
    switch)."""
    if abs(gradient) >= abs(occ):
        return "maxpool_tie" if pool_tie else "nonlinear"
    if bigram_next:
        return "bigram"
    return "saturated" if saturated else "nonlinear"


def find_disagreements(gradient: np.ndarray, occ: np.ndarray, tokens: Sequence[str],
                       pool: PoolWinners | None = None,
                       saturation: dict[str, np.ndarray] | None = None,
                       bigram_next: np.ndarray | None = None,
                       limit: int = 8) -> list[Disagreement]:
    """Tokens whose two attributions (each scaled to +-1) disagree: opposite signs (both at
    least SIGN_FLOOR), or ranks apart by max(2, ceil(T/3)) or more; and at least one of the two
    MATERIAL. The strongest first, at most ``limit``."""
    T = len(tokens)
    g = np.nan_to_num(np.asarray(gradient, dtype=np.float64))
    o = np.nan_to_num(np.asarray(occ, dtype=np.float64))
    rank_gap = np.abs(_ranks(g) - _ranks(o))
    far = max(2, math.ceil(T / 3))
    sat = np.mean(np.stack(list(saturation.values())), axis=0) if saturation else None
    found = []
    for t in range(T):
        sign_differs = bool(g[t] * o[t] < 0 and min(abs(g[t]), abs(o[t])) >= SIGN_FLOOR)
        if max(abs(g[t]), abs(o[t])) < MATERIAL or not (sign_differs or rank_gap[t] >= far):
            continue
        wins = close = dims = None
        if pool is not None:
            wins, close, dims = pool.wins(t), pool.close_wins(t), int(pool.winner.shape[0])
        pool_tie = bool(wins) and 2 * (close or 0) >= (wins or 0)
        s = float(sat[t]) if sat is not None else None
        nxt = None if bigram_next is None else bool(bigram_next[t])
        found.append(Disagreement(
            position=t, token=tokens[t], gradient=float(g[t]), occlusion=float(o[t]),
            sign_differs=sign_differs, rank_gap=int(rank_gap[t]), pool_wins=wins,
            pool_close=close, pool_dims=dims, saturation=s, bigram_next=nxt,
            reason=_reason(g[t], o[t], pool_tie, bool(nxt), s is not None and s >= 0.5),
        ))
    found.sort(key=lambda d: -max(abs(d.gradient), abs(d.occlusion)))
    return found[:limit]


def compare(predictor: Predictor, text: str,
            layers: Sequence[TokenTrace] | None = None) -> Comparison:
    """Gradient x input and occlusion for ``text``, and where they disagree, why.

    ``layers``: the prediction's trace (``Prediction.layers``) for the gate evidence; without
    it the gates are not consulted. The occlusion compared is the deletion's drop in the logit
    z_k (what gradient x input estimates to first order; the probability's drop is flattened
    once p_k nears 1); for a one-token text, the <UNK> replacement's.
    """
    grads = gradients(predictor, text)
    # The class of the gradient's pass: on a near tie a batched forward could round the other way.
    occ = occlusion(predictor, text, grads.label_index)
    T = len(grads.tokens)
    mode = "delete" if T > 1 else "unk"
    drop = occ.base_logit - (occ.deleted_logit if mode == "delete" else occ.unk_logit)
    g, o = scaled(grads.grad_x_input), scaled(drop)
    pool = pool_winners(predictor, grads.ids)
    saturation = gate_saturation(layers) if layers else None
    nxt = next_bigram_known(predictor, grads.ids)
    return Comparison(
        tokens=grads.tokens, label_index=grads.label_index, gradients=grads, occlusion=occ,
        gradient_scaled=g, occlusion_mode=mode, occlusion_scaled=o, pool=pool,
        saturation=saturation, bigram_next=nxt,
        disagreements=find_disagreements(g, o, grads.tokens, pool, saturation, nxt),
    )


__all__ = [
    "MAX_OCCLUSION_TOKENS", "OCCLUSION_BATCH_TOKENS", "POOL_TIE", "REASONS", "SATURATED",
    "Comparison", "Disagreement", "Gradients", "Occlusion", "PoolWinners", "all_unknown",
    "compare", "find_disagreements", "gate_saturation", "gradients", "next_bigram_known",
    "occlusion", "occlusion_inputs", "pool_winners", "scaled",
]
