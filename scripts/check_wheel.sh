#!/usr/bin/env bash
# Build the wheel, install it into a fresh virtual environment and run avsprobe from an empty folder, as a
# project that depends on avsprobe would (no source checkout: the suites and world specs must come from the
# wheel). Used by .ci/run; run it by hand with `bash scripts/check_wheel.sh`.
set -euo pipefail
cd "$(dirname "$0")/.."
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
python -m pip wheel --quiet --disable-pip-version-check --no-deps --no-build-isolation -w "$work/dist" .
python -m venv "$work/venv"
"$work/venv/bin/python" -m pip install --quiet --disable-pip-version-check torch==2.13.0
"$work/venv/bin/python" -m pip install --quiet --disable-pip-version-check "$work"/dist/avsprobe-*.whl
mkdir "$work/empty"
cd "$work/empty"
"$work/venv/bin/avsprobe" probes > probes.txt
grep -q "paper" probes.txt
"$work/venv/bin/avsprobe" run --model ours --probe intensity --limit 2
test -f runs/ours/intensity/run.json
"$work/venv/bin/avsprobe" examples ex >/dev/null
test -f ex/models/gavs.py && test -f ex/custom_adapter.py
echo "wheel check passed: installed avsprobe ran from an empty folder"
