"""Mixed precision: bf16 autocast on CUDA, automatically; float32 everywhere else.

The rule (training and evaluation alike, the CLI and the app's jobs alike):

* on a CUDA GPU that supports bfloat16 (Ampere and newer), the forward pass and the loss run
  under ``torch.autocast("cuda", dtype=torch.bfloat16)``; the weights, their gradients and
  Adam's state stay float32, so the checkpoint stays float32 (rnnviz/core/checkpoint.py
  refuses anything else). bf16 keeps float32's exponent range, so no loss scaling is needed
  (torch.amp's GradScaler exists for float16's narrow range);
* on the CPU and Apple MPS: float32, no autocast;
* ``$RNNVIZ_AMP``: ``off`` (or 0/fp32/no/false) keeps float32 on CUDA too; ``bf16`` forces
  bf16 autocast on any device (the CPU tests use it to run this code path without a GPU; on
  most CPUs it is slower than float32).
"""

from __future__ import annotations

import contextlib
import os
from contextlib import AbstractContextManager

import torch

AMP_ENV = "RNNVIZ_AMP"
_OFF = ("0", "off", "fp32", "float32", "no", "false")


def amp_dtype(device: torch.device) -> torch.dtype | None:
    """The autocast dtype training and evaluation use on ``device``; None = float32."""
    choice = os.environ.get(AMP_ENV, "").strip().lower()
    if choice in _OFF:
        return None
    if choice == "bf16":
        return torch.bfloat16
    if device.type == "cuda" and torch.cuda.is_available() and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return None


def autocast(device: torch.device) -> AbstractContextManager:
    """bf16 autocast where ``amp_dtype`` says so, else a context that does nothing."""
    dtype = amp_dtype(device)
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=dtype)


def describe(device: torch.device) -> str:
    """"bf16 autocast" or "float32": for the run log and the checkpoint's provenance."""
    return "bf16 autocast" if amp_dtype(device) is not None else "float32"


__all__ = ["AMP_ENV", "amp_dtype", "autocast", "describe"]
