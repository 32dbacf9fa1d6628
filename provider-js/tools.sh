#!/usr/bin/env bash
# Installs the pinned tools that build the browser provider into the project's ignored .cache
# folder: wasm-pack, the wasm-bindgen-cli matching Cargo.lock, and the npm packages of
# package-lock.json. Idempotent: quick when everything is present.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
tools="$root/.cache/tools"
WASM_PACK_VERSION=0.15.1
WASM_BINDGEN_VERSION=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/[^0-9.]/, ""); print; exit }' "$here/Cargo.lock")

installed_targets=$(rustup target list --installed)
grep -qx wasm32-unknown-unknown <<<"$installed_targets" || rustup target add wasm32-unknown-unknown

have() { [ -x "$tools/bin/$1" ] && "$tools/bin/$1" --version 2>/dev/null | grep -q " $2\$\| $2 "; }
have wasm-pack "$WASM_PACK_VERSION" || cargo install --root "$tools" wasm-pack --version "$WASM_PACK_VERSION"
have wasm-bindgen "$WASM_BINDGEN_VERSION" || cargo install --root "$tools" wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION"

if [ ! -f "$here/node_modules/.package-lock.json" ] || ! cmp -s "$here/package-lock.json" "$here/node_modules/.lock-copy"; then
  (cd "$here" && npm ci --no-audit --no-fund --loglevel=error && cp package-lock.json node_modules/.lock-copy)
fi
