#!/bin/sh
# Build (or reuse) the r2dax test kernel.
#
# Unpacks Debian's linux-source-6.12 into the cache, merges
# scripts/kernel/r2dax.config (plus bench.config when R2DAX_KERNEL=bench)
# onto tinyconfig, checks that every requested
# symbol survived olddefconfig, and builds bzImage + modules with LLVM=1 and
# Debian's rustc. The result is keyed by kernel version + fragment + toolchain
# and marked complete with a stamp file; a later call with the same key only
# prints the directory.
#
# Usage: scripts/build-kernel.sh [--print-dir]
set -eu
. "$(dirname "$0")/lib.sh"

top=$(cd "$(dirname "$0")/.." && pwd)
frags=$(kernel_fragments)
out=$(kernel_build_dir)

if [ "${1:-}" = "--print-dir" ]; then echo "$out"; exit 0; fi

if [ -f "$out/.r2dax-complete" ]; then
	say "kernel cached in $out"
	exit 0
fi

tarball=$(kernel_tarball)
[ -n "$tarball" ] || die "linux-source-6.12 not installed (run scripts/setup-host.sh)"
[ -x "$RUSTC" ] || die "$RUSTC missing (run scripts/setup-host.sh)"
[ -x "$BINDGEN" ] || die "$BINDGEN missing (run scripts/setup-host.sh)"

start=$(date +%s)
src=$R2DAX_CACHE/src/linux-$(kernel_pkg_version)
if [ ! -f "$src/.r2dax-unpacked" ]; then
	say "unpacking $tarball"
	rm -rf "$src" "$src.tmp"
	mkdir -p "$src.tmp"
	tar -xf "$tarball" -C "$src.tmp" --strip-components=1
	touch "$src.tmp/.r2dax-unpacked"
	mv "$src.tmp" "$src"
fi

mkdir -p "$out"
# shellcheck disable=SC2086
kmake() { make -C "$src" O="$out" $KMAKE_FLAGS "$@"; }

say "configuring in $out"
kmake -s tinyconfig
# shellcheck disable=SC2086
"$src/scripts/kconfig/merge_config.sh" -m -O "$out" "$out/.config" $frags >/dev/null
kmake -s olddefconfig

# Every symbol the fragments ask for (the last fragment wins) must have
# survived olddefconfig.
missing=0
# shellcheck disable=SC2086
cat $frags | awk '
	/^CONFIG_[A-Za-z0-9_]*=/ { s = $0; sub(/=.*/, "", s); want[s] = $0; if (!(s in seen)) order[++n] = s; seen[s] = 1 }
	/^# CONFIG_[A-Za-z0-9_]* is not set$/ { s = $2; want[s] = $0; if (!(s in seen)) order[++n] = s; seen[s] = 1 }
	END { for (i = 1; i <= n; i++) print want[order[i]] }' >"$out/.r2dax-wanted"
while IFS= read -r line; do
	case "$line" in
	CONFIG_*=*)
		grep -qx "$line" "$out/.config" || {
			echo "  wanted $line, got: $(grep "^${line%%=*}=" "$out/.config" || echo 'not set')" >&2
			missing=1
		} ;;
	"# CONFIG_"*" is not set")
		sym=${line#\# }; sym=${sym%% *}
		if grep -q "^$sym=" "$out/.config"; then
			echo "  wanted $sym unset, got: $(grep "^$sym=" "$out/.config")" >&2
			missing=1
		fi ;;
	esac
done < "$out/.r2dax-wanted"
[ "$missing" = 0 ] || die "config symbols dropped by olddefconfig (see above); fix $frags"

say "building bzImage modules (about 10 min on 2 cores)"
jobs=$(( $(nproc) + 1 ))
kmake -j"$jobs" bzImage modules >"$out/build.log" 2>&1 || {
	tail -n 40 "$out/build.log" >&2
	die "kernel build failed; full log in $out/build.log"
}
touch "$out/.r2dax-complete"
end=$(date +%s)
say "kernel built in $(( (end - start) / 60 )) min $(( (end - start) % 60 )) s: $out"
