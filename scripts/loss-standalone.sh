#!/usr/bin/env bash
# rankdistil-loss outside the workspace, as another Burn project would use it:
# 1. its README example, as the main of a fresh crate that depends on it by path, with burn's
#    default features off (plus the flex backend), builds and runs;
# 2. `cargo package` packs the crate and builds it alone from the package.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT
mkdir -p "$dir/src"
cat > "$dir/Cargo.toml" <<EOF
[package]
name = "uses-rankdistil-loss"
version = "0.0.0"
edition = "2024"
publish = false

[dependencies]
rankdistil-loss = { path = "$root/crates/rankdistil-loss" }
burn = { version = "=0.22.1", default-features = false, features = ["std", "autodiff", "flex"] }

[workspace]
EOF
# The workspace's versions of everything both resolve to.
cp "$root/Cargo.lock" "$dir/Cargo.lock"
{
  echo "fn main() {"
  awk '/^```rust$/ { on = 1; next } /^```$/ { on = 0 } on' "$root/crates/rankdistil-loss/README.md"
  echo "}"
} > "$dir/src/main.rs"
cargo run --quiet --manifest-path "$dir/Cargo.toml"
echo "loss-standalone: the README example builds and runs outside the workspace"
(cd "$root" && cargo package -p rankdistil-loss --allow-dirty --quiet)
echo "loss-standalone: cargo package -p rankdistil-loss packs and builds"
