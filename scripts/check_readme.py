"""Run every command of the ``bash`` blocks of the README and the docs pages, in order, in a scratch folder, as a
new user would.

The repository is copied to a temporary folder first (so ``runs/``, ``reports/`` and ``checkpoints/``
written by the commands never touch the checkout). ``pip install`` steps are skipped with ``--no-install``
(the current environment must then already have the package). Each command's exit status and wall time are
printed; the script exits 1 if any command failed.

    python scripts/check_readme.py [--no-install] [--skip PATTERN ...]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.test_readme import readme_commands  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-install", action="store_true", help="skip 'pip install' steps")
    parser.add_argument("--skip", nargs="*", default=[], help="skip commands containing any of these strings")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="avsprobe-readme-"))
    work = scratch / "repo"
    def ignore(folder: str, names: list[str]) -> list[str]:
        top = Path(folder) == ROOT  # top-level outputs only: avsprobe/checkpoints holds the bundled weights
        return [n for n in names if n in (".git", "__pycache__") or n.endswith(".egg-info")
                or (top and n in ("runs", "checkpoints"))]

    shutil.copytree(ROOT, work, ignore=ignore)
    failures = 0
    for command in readme_commands():
        if (args.no_install and command.startswith("pip install")) or any(s in command for s in args.skip):
            print(f"skip  {command}")
            continue
        start = time.perf_counter()
        result = subprocess.run(command, shell=True, cwd=work, capture_output=True, text=True)
        seconds = time.perf_counter() - start
        status = "ok  " if result.returncode == 0 else "FAIL"
        print(f"{status}  {seconds:7.1f} s  {command}", flush=True)
        if result.returncode != 0:
            failures += 1
            print("      " + (result.stderr or result.stdout).strip().replace("\n", "\n      ")[-2000:])
    shutil.rmtree(scratch, ignore_errors=True)
    print(f"{failures} of the README's commands failed" if failures else "every README command ran")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
