"""Shared fixtures: the data directory and the shipped models (a test that needs them is
skipped with the reason when they are absent, and fails instead under $RNNVIZ_REQUIRE_DATA=1, as
in CI: helpers.missing), seeding, and one torch thread (a module opts in with
``pytestmark = pytest.mark.usefixtures(...)``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from helpers import missing, one_torch_thread

from rnnviz.paths import DATA_DIR_ENV, MODELS_DIR, data_dir

# The classifiers the app ships (ui/models.py SHIPPED), as files in assets/models/.
SHIPPED_MODELS = ("textrnn", "textrcnn", "textgru")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    root = data_dir()
    if not (root / "thucnews" / "train.txt").is_file():
        missing(f"THUCNews data not found under {root} (set ${DATA_DIR_ENV})")
    return root


@pytest.fixture(scope="session")
def thucnews_dir(shared_data: Path) -> Path:
    return shared_data / "thucnews"


@pytest.fixture(scope="session")
def shipped_models() -> dict[str, Path]:
    """Every shipped checkpoint, name -> path: the app's two and any other file in
    assets/models/."""
    on_disk = sorted(p.stem for p in MODELS_DIR.glob("*.safetensors"))
    names = dict.fromkeys([*SHIPPED_MODELS, *on_disk])  # the app's first, in its order
    paths = {name: MODELS_DIR / f"{name}.safetensors" for name in names}
    absent = [str(p) for p in paths.values() if not p.is_file()]
    if absent:
        missing(f"shipped model(s) not found: {', '.join(absent)}")
    return paths


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
