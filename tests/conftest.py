"""Shared fixtures: the data directory (skipped with a reason when absent), seeding, and one
torch thread (a module opts in with ``pytestmark = pytest.mark.usefixtures(...)``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from helpers import one_torch_thread

from rnnviz.paths import DATA_DIR_ENV, data_dir


@pytest.fixture(scope="session")
def shared_data() -> Path:
    root = data_dir()
    if not (root / "thucnews" / "train.txt").is_file():
        pytest.skip(f"THUCNews data not found under {root} (set ${DATA_DIR_ENV})")
    return root


@pytest.fixture(scope="session")
def thucnews_dir(shared_data: Path) -> Path:
    return shared_data / "thucnews"


# One intra-op thread, like the app (ui/runtime.py): on a busy 2-core machine two threads make
# tiny forwards ~100x slower while they wait for each other.
torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


@pytest.fixture(scope="module")
def one_torch_thread_per_module() -> Iterator[None]:
    """One torch thread while the module runs, the count before it restored after."""
    with one_torch_thread():
        yield


@pytest.fixture
def one_torch_thread_per_test() -> Iterator[None]:
    """One torch thread for each test, restored after it: for modules whose code under test
    may set its own count (the CLI's --threads)."""
    with one_torch_thread():
        yield
