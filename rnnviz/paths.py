"""Where things live: the project's assets and the configurable data directory."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
ASSETS_DIR = PROJECT_ROOT / "assets"
MODELS_DIR = ASSETS_DIR / "models"
EXAMPLES_DIR = ASSETS_DIR / "examples"
DATA_DIR_ENV = "RNNVIZ_DATA_DIR"


def download_dir() -> Path:
    """Where ``download`` puts data: $RNNVIZ_DATA_DIR if set, else the user's cache (never the
    shared data folder, which other people read)."""
    env = os.environ.get(DATA_DIR_ENV)
    if env:
        return Path(env).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "rnnviz" / "data"


def data_dir() -> Path:
    """The data directory: $RNNVIZ_DATA_DIR, else ../shared/data beside the project when it
    exists, else the download cache.

    It may not exist (a fresh machine); callers check and say so.
    """
    env = os.environ.get(DATA_DIR_ENV)
    if env:
        return Path(env).expanduser()
    shared = PROJECT_ROOT.parent / "shared" / "data"
    return shared if shared.is_dir() else download_dir()
