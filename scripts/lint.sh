#!/bin/sh
# Lint the module: rustfmt (with the kernel's .rustfmt.toml) and clippy
# through kbuild (CLIPPY=1, Debian's clippy-driver matching rustc). Fails
# on any formatting difference or any warning. Also checks the tools'
# formatting with cargo fmt.
set -eu
. "$(dirname "$0")/lib.sh"
top=$(cd "$(dirname "$0")/.." && pwd)
kdir=${KDIR:-$(kernel_build_dir)}
RUSTFMT=${RUSTFMT:-/usr/bin/rustfmt}
CLIPPY_DRIVER=${CLIPPY_DRIVER:-/usr/bin/clippy-driver}
rc=0

# rustfmt follows `mod` declarations from the crate root (including the
# #[path] to the shared on-disk format); the generated bindings are only
# include!d, so they are not checked.
if ! "$RUSTFMT" --edition 2021 --check --config-path "$kdir/source/.rustfmt.toml" "$top/rust/r2dax_main.rs"; then
	echo "lint: rustfmt: the module is not formatted (run make fmt)"
	rc=1
fi
if ! (cd "$top/tools" && cargo fmt --check); then
	echo "lint: cargo fmt: the tools are not formatted (run make fmt)"
	rc=1
fi

log=$top/out/clippy.log
mkdir -p "$top/out"
# shellcheck disable=SC2086
if ! make -s -C "$kdir" M="$top" $KMAKE_FLAGS CLIPPY=1 CLIPPY_DRIVER="$CLIPPY_DRIVER" modules >"$log" 2>&1; then
	cat "$log"; echo "lint: clippy build failed"; rc=1
elif grep -q 'warning' "$log"; then
	cat "$log"; echo "lint: clippy or the compiler warned"; rc=1
fi
exit $rc
