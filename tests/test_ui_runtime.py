"""The server's once-per-process set-up: heavy modules imported before any session uses them,
torch threads capped, and sessions arriving together all wait for it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# A fresh interpreter, eight "sessions" calling in at once, as a class opening the app does.
PROBE = """
import json, sys, threading
from ui.runtime import PRELOAD, configure_process_once
seen = []
def session():
    configure_process_once()
    import pandas, torch
    loaded = all(n in sys.modules for n in PRELOAD)
    seen.append((loaded, hasattr(pandas, "Series"), torch.get_num_threads()))
threads = [threading.Thread(target=session) for _ in range(8)]
[t.start() for t in threads]; [t.join() for t in threads]
print(json.dumps(seen))
"""


def test_concurrent_first_calls_each_return_with_everything_imported_and_threads_capped() -> None:
    env = {**os.environ, "RNNVIZ_TORCH_THREADS": "2", "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=300, check=True)
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    assert seen == [[True, True, 2]] * 8
