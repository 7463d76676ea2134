"""``python -m rnnviz``: the command line (rnnviz/cli.py)."""

import os
import sys

from rnnviz.cli import main

status = main()
if os.environ.get("WORLD_SIZE", "1") not in ("", "1"):
    # A torchrun worker skips the interpreter's teardown: after a gloo process group and
    # torch.optim's lazily imported modules, that teardown now and then aborts the process
    # ("terminate called without an active exception", SIGABRT), which torchrun reports as a
    # failed rank although the run had finished and saved.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)
sys.exit(status)
