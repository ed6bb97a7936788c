"""Fixtures of the operations tests: a private backup directory and metric readers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from prometheus_client import REGISTRY


@pytest.fixture(autouse=True)
def backup_dir(tmp_path: Path, settings: Any) -> Path:
    directory = tmp_path / "backups"
    settings.BACKUP_DIR = directory
    return directory


def metric_value(name: str, **labels: str) -> float:
    """Current value of one sample in this process's registry (0 when never recorded)."""
    value = REGISTRY.get_sample_value(name, labels or None)
    return 0.0 if value is None else value
