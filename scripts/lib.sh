# Shared settings for the r2dax lab scripts (sourced, POSIX sh).
# Everything expensive lives in R2DAX_CACHE, outside the repository, so that a
# fresh clone (and CI) reuses the kernel build, the NVDIMM image and so on.

R2DAX_CACHE=${R2DAX_CACHE:-/var/cache/r2dax}
RUSTC=${RUSTC:-/usr/bin/rustc}
RUSTDOC=${RUSTDOC:-/usr/bin/rustdoc}
BINDGEN=${BINDGEN:-/usr/local/bin/bindgen}
KMAKE_FLAGS="LLVM=1 ARCH=x86_64 RUSTC=$RUSTC RUSTDOC=$RUSTDOC BINDGEN=$BINDGEN"

die() { echo "${0##*/}: error: $*" >&2; exit 1; }
say() { echo "${0##*/}: $*"; }

# The Debian kernel source tarball (e.g. /usr/src/linux-source-6.12.tar.xz).
kernel_tarball() {
	ls /usr/src/linux-source-6.12.tar.* 2>/dev/null | head -n 1
}

# Debian version of linux-source-6.12, part of the cache key.
kernel_pkg_version() {
	dpkg-query -W -f='${Version}' linux-source-6.12 2>/dev/null
}

# Kernel variant: "test" (default: lockdep, KASAN, DEBUG_VM) or "bench"
# (the same kernel without the debugging options, for make bench).
R2DAX_KERNEL=${R2DAX_KERNEL:-test}

# The config fragments of the current variant, in merge order.
kernel_fragments() {
	_top=$(cd "$(dirname "$0")/.." && pwd)
	case "$R2DAX_KERNEL" in
	test) echo "$_top/scripts/kernel/r2dax.config" ;;
	bench) echo "$_top/scripts/kernel/r2dax.config $_top/scripts/kernel/bench.config" ;;
	*) die "R2DAX_KERNEL must be test or bench, not '$R2DAX_KERNEL'" ;;
	esac
}

# Directory of the cached kernel build for the current source, fragments and
# toolchain. Prints it; does not create it. The test kernel's key is the
# same as before variants existed, so its cache stays valid.
kernel_build_dir() {
	_key=$( {
		# shellcheck disable=SC2046
		cat $(kernel_fragments)
		kernel_pkg_version
		"$RUSTC" --version
		"$BINDGEN" --version 2>/dev/null
		clang --version | head -n 1
	} | sha256sum | cut -c1-12)
	echo "$R2DAX_CACHE/kernel/linux-$(kernel_pkg_version)-$_key"
}

# Build r2dax.ko for the current kernel variant from a copy of the sources
# in $1 (so that the test build in the tree is left alone). Prints nothing;
# the module is $1/r2dax.ko.
build_module_copy() {
	_top=$(cd "$(dirname "$0")/.." && pwd)
	_mod=$1
	mkdir -p "$_mod/rust/vfs" "$_mod/format/src" "$_mod/include/uapi/linux"
	cp "$_top/Kbuild" "$_mod/"
	cp "$_top"/include/uapi/linux/*.h "$_mod/include/uapi/linux/"
	cp "$_top"/rust/*.rs "$_mod/rust/"
	cp "$_top"/rust/vfs/*.rs "$_top"/rust/vfs/*.c "$_top"/rust/vfs/*.h "$_mod/rust/vfs/"
	rm -f "$_mod/rust/vfs/bindings_generated.rs"
	cp "$_top"/format/src/*.rs "$_mod/format/src/"
	# shellcheck disable=SC2086
	make --no-print-directory -s -C "$(kernel_build_dir)" M="$_mod" $KMAKE_FLAGS modules
}

# Build r2dax.ko for the current kernel variant from commit $2 of the
# repository, unpacked (git archive) into $1, for make bench's baseline
# (R2DAX_BENCH_BASELINE). The whole tree at that commit is the external
# module directory, so a commit from before include/uapi or any other file
# builds as it did then. The module is $1/r2dax.ko.
build_module_commit() {
	_top=$(cd "$(dirname "$0")/.." && pwd)
	_mod=$1
	rm -rf "$_mod"
	mkdir -p "$_mod"
	git -C "$_top" archive --format=tar "$2" >"$_mod.tar"
	tar -x -f "$_mod.tar" -C "$_mod"
	rm -f "$_mod.tar"
	# shellcheck disable=SC2086
	make --no-print-directory -s -C "$(kernel_build_dir)" M="$_mod" $KMAKE_FLAGS modules
}
