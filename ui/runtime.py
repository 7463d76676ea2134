"""Process-wide settings, applied once per server process (not per session)."""

from __future__ import annotations

import importlib
import os
import threading

_lock = threading.Lock()
_done = False

# Imported once, before any session's script runs them. Two sessions' threads importing a big
# package for the first time at once can see it half-initialised (Python breaks an import-lock
# cycle by handing out the partial module): plotly's lazy `pandas` import failed that way under
# bench/classroom.py ("partially initialized module 'pandas' has no attribute 'Series'").
PRELOAD = (
    "torch", "numpy", "pandas", "pyarrow", "plotly.graph_objects", "plotly.subplots", "plotly.io",
    "rnnviz.core.predict", "rnnviz.core.train", "rnnviz.jobs.training", "rnnviz.plots.classifier",
)


def configure_process_once() -> None:
    """Preload the heavy modules and cap torch's intra-op threads, once per process.

    RNNVIZ_TORCH_THREADS overrides the thread count; the default (1) leaves the machine's cores
    to be shared by concurrent student sessions instead of one forward pass grabbing them all.
    Other sessions' first runs wait on the lock until this is done.
    """
    global _done
    with _lock:
        if _done:
            return
        for name in PRELOAD:
            importlib.import_module(name)
        import torch

        threads = int(os.environ.get("RNNVIZ_TORCH_THREADS", "1"))
        torch.set_num_threads(max(1, threads))
        _done = True
