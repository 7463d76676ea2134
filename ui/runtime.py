"""Process-wide settings, applied once per server process (not per session)."""

from __future__ import annotations

import os
import threading

_lock = threading.Lock()
_done = False


def configure_process_once() -> None:
    """Cap torch's intra-op threads once: threads x concurrent jobs must not exceed the cores.

    RNNVIZ_TORCH_THREADS overrides; the default leaves the machine's cores to be shared by
    concurrent student sessions instead of one forward pass grabbing them all.
    """
    global _done
    with _lock:
        if _done:
            return
        import torch

        threads = int(os.environ.get("RNNVIZ_TORCH_THREADS", "1"))
        torch.set_num_threads(max(1, threads))
        _done = True
