#!/usr/bin/env bash
# The whole test suite. Installs what the tests need first (idempotent, quick when present).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

installed_targets=$(rustup target list --installed)
for target in wasm32-wasip1 wasm32-unknown-unknown; do
  grep -qx "$target" <<<"$installed_targets" || rustup target add "$target"
done
command -v cargo-nextest >/dev/null || cargo install cargo-nextest --locked

echo "==> building the conformance fixtures (wasm32-wasip1)"
cargo build --release --target wasm32-wasip1 --manifest-path fixtures/Cargo.toml
echo "==> building the library, examples and benchmarks"
cargo build --release --workspace --all-targets
echo "==> the crates shared with the browser provider must build for wasm32-unknown-unknown"
cargo build --release -p wasimoff-protocol -p wasimoff-archive --target wasm32-unknown-unknown
echo "==> documentation examples"
cargo test --release --workspace --doc
echo "==> integration tests"
cargo nextest run --release --workspace --no-fail-fast
