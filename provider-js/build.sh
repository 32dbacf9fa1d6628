#!/usr/bin/env bash
# Builds the browser provider bundle into assets/provider (committed, embedded in the crate and
# served by the layer): the core with wasm-pack, the JavaScript with esbuild, the page as is.
#   provider-js/build.sh          rebuild assets/provider/
#   provider-js/build.sh --check  fail if assets/provider/ differs from what the sources build
# Tool versions are pinned in tools.sh, Cargo.lock and package-lock.json.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
cd "$here"
"$here/tools.sh"
export PATH="$root/.cache/tools/bin:$PATH"

# Rust derives symbol names from where path dependencies live, and symbol names decide the
# layout of the wasm: build a copy of the sources at one fixed path so that every checkout
# builds the same bytes, and keep file paths out of panic messages.
src=/tmp/wasimoff-provider-build
mkdir -p "$src/provider-js"
for crate in protocol archive provider-core; do
  mkdir -p "$src/$crate" && cp -p "$root/$crate/Cargo.toml" "$src/$crate/" && rm -rf "$src/$crate/src" && cp -rp "$root/$crate/src" "$src/$crate/"
done
cp -p "$here/Cargo.toml" "$here/Cargo.lock" "$src/provider-js/" && rm -rf "$src/provider-js/src" && cp -rp "$here/src" "$src/provider-js/"
export CARGO_TARGET_DIR="$root/.cache/provider-target"
export RUSTFLAGS="--remap-path-prefix=$src=/wasimoff --remap-path-prefix=${CARGO_HOME:-$HOME/.cargo}=/cargo"
(cd "$src/provider-js" && wasm-pack --quiet build --mode no-install --target web --release --no-typescript --no-pack \
  --out-dir "$here/pkg" --out-name wasimoff_provider_core)

out="$root/assets/provider"
if [ "${1:-}" = "--check" ]; then
  out="$(mktemp -d)"
  trap 'rm -rf "$out"' EXIT
fi
mkdir -p "$out"
bundle() { node_modules/.bin/esbuild "$1" --bundle --format=esm --target=es2022 --log-level=warning --outfile="$out/$2"; }
bundle js/provider.js provider.js
bundle js/worker.js provider-worker.js
cp pkg/wasimoff_provider_core_bg.wasm "$out/provider-core.wasm"
cp page/index.html page/provider.css "$out/"

if [ "${1:-}" = "--check" ]; then
  if ! diff -r "$root/assets/provider" "$out" >/dev/null; then
    diff -r "$root/assets/provider" "$out" | head -20 >&2 || true
    echo "assets/provider is not what provider-js/ builds: run provider-js/build.sh and commit assets/provider/" >&2
    exit 1
  fi
  echo "assets/provider matches the sources in provider-js/"
fi
