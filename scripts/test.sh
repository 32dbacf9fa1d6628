#!/usr/bin/env bash
# The whole test suite. Installs what the tests need first (idempotent, quick when present).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

installed_targets=$(rustup target list --installed)
for target in wasm32-wasip1 wasm32-unknown-unknown; do
  grep -qx "$target" <<<"$installed_targets" || rustup target add "$target"
done
command -v cargo-nextest >/dev/null || cargo install cargo-nextest --locked
if ! command -v chromium >/dev/null; then
  echo "==> installing Debian's chromium for the browser tests"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium
fi
if ! command -v redis-server >/dev/null; then
  echo "==> installing Debian's redis-server for the Redis backend tests"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends redis-server
fi

echo "==> style: rustfmt (workspace, provider-js, fixtures)"
cargo fmt --all --check
(cd provider-js && cargo fmt --check)
(cd fixtures && cargo fmt --check)

echo "==> the committed provider bundle must be what provider-js/ builds (installs its pinned tools)"
provider-js/build.sh --check

echo "==> building the conformance fixtures (wasm32-wasip1)"
cargo build --release --target wasm32-wasip1 --manifest-path fixtures/Cargo.toml
echo "==> building the library, examples and benchmarks"
cargo build --release --workspace --all-targets
echo "==> lints: clippy -D warnings (workspace, provider-js) and the build without default features"
cargo clippy --release --workspace --all-targets --quiet -- -D warnings
cargo clippy --release --no-default-features --quiet -- -D warnings
(cd provider-js && cargo clippy --release --all-targets --quiet -- -D warnings)
echo "==> the browser provider's task runner (node; the provider core's tests run with the workspace)"
(cd provider-js && node --test js/test/)
echo "==> documentation examples"
cargo test --release --workspace --doc
echo "==> integration tests"
cargo nextest run --release --workspace --no-fail-fast
