"""The code base is lint-clean and formatted: ``ruff check`` and ``ruff format --check`` pass.

Fix a failure with ``make format`` (then review the diff), or see the rule in ruff's message.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _ruff() -> str:
    exe = Path(sys.executable).with_name("ruff")
    found = str(exe) if exe.exists() else shutil.which("ruff")
    if found is None:
        pytest.fail("ruff is not installed: run `make setup` (it is pinned in requirements.lock)")
    return found


@pytest.mark.parametrize(
    "args, fix",
    [
        (["check", "."], "make format, or fix what ruff names"),
        (["format", "--check", "."], "make format"),
    ],
    ids=["ruff-check", "ruff-format"],
)
def test_ruff(args: list[str], fix: str) -> None:
    out = subprocess.run([_ruff(), *args], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, f"ruff {' '.join(args)} failed ({fix}):\n{out.stdout}{out.stderr}"
