#!/usr/bin/env bash
# The whole test suite: Rust unit and property tests, doc tests, then the end-to-end tests
# that drive a real `periscope serve` with the real Python OpenTelemetry SDK.
# Usage: scripts/test.sh [pytest args…]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/periscope-target}"
export PERISCOPE_TEST_SCALE="${PERISCOPE_TEST_SCALE:-smoke}"

echo "== cargo nextest (unit, property and integration tests)"
cargo nextest run --workspace --no-fail-fast
echo "== cargo test --doc"
cargo test --workspace --doc

echo "== end-to-end tests (pytest, Python OpenTelemetry SDK)"
python=$("$root/scripts/python-env.sh")
cargo build --workspace --bins
export PERISCOPE_BIN="$CARGO_TARGET_DIR/debug/periscope"
export PERISCOPE_AGENT_BIN="$CARGO_TARGET_DIR/debug/periscope-agent"
cd "$root/tests/e2e"
"$python" -m pytest -q --tb=short -p no:cacheprovider "$@"
