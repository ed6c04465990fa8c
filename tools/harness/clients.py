"""How tests and benchmarks start the test clients in tools/clients (scripts, run by path)."""

from __future__ import annotations

import sys
from pathlib import Path

import capture

CLIENTS = Path(__file__).resolve().parent.parent / "clients"


def client_command(name: str, *args: str) -> list[str]:
    """The command line that runs tools/clients/NAME.py with this interpreter and the `capture`
    package this process imports (an installed one, or a checkout built in place), whatever the
    environment the command is later given."""
    packages = str(Path(capture.__file__).resolve().parent.parent)
    return ["env", f"PYTHONPATH={packages}", sys.executable, str(CLIENTS / f"{name}.py"), *args]
