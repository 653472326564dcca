#!/bin/sh
# Build (or reuse) fstests for the lab.
#
# The source is FSTESTS_SRC (any upstream fstests checkout) or else the
# pinned snapshot ../shared/fstests/xfstests-*.tar.gz beside the project
# (FSTESTS_TARBALL names another). scripts/fstests/*.patch (what they change
# and why: lab.rst, "fstests") are applied to a copy, which is configured and
# built with the host's compiler. The build lives in
# $R2DAX_CACHE/fstests/<hash>, the hash covering the source and the patches;
# a stamp file marks it complete. A clone without the source beside it
# reuses the build of the last source built with the same patches. The
# guest, which sees the host's / read-only, unpacks r2dax-fstests.tar from
# there into its RAM.
#
# Usage: scripts/build-fstests.sh [--print-dir]
set -eu
. "$(dirname "$0")/lib.sh"
top=$(cd "$(dirname "$0")/.." && pwd)

src=${FSTESTS_SRC:-}
tarball=""
if [ -z "$src" ]; then
	tarball=${FSTESTS_TARBALL:-$(ls "$top"/../shared/fstests/xfstests-*.tar.gz 2>/dev/null | head -n 1)}
fi
patches=$(ls "$top"/scripts/fstests/*.patch 2>/dev/null || true)
# The fingerprint of the source last built, for a clone that does not sit
# beside ../shared (CI's clean clone): it reuses that build if the patches
# are the same.
last=$R2DAX_CACHE/fstests/last-source
if [ -z "$src" ] && { [ -z "$tarball" ] || [ ! -f "$tarball" ]; }; then
	[ -f "$last" ] ||
		die "no fstests source: set FSTESTS_SRC to an fstests checkout (or FSTESTS_TARBALL)"
	tarball=""
fi

fingerprint() {
	if [ -n "$src" ]; then
		# A checkout: its commit and any local changes, or else its files.
		if git -C "$src" rev-parse HEAD >/dev/null 2>&1; then
			git -C "$src" rev-parse HEAD
			git -C "$src" diff HEAD
		else
			(cd "$src" && find . -type f -not -path './.git/*' | LC_ALL=C sort | xargs sha256sum)
		fi
	else
		sha256sum <"$tarball"
	fi
}
if [ -n "$src" ] || [ -n "$tarball" ]; then
	srcprint=$(fingerprint | sha256sum | cut -c1-64)
else
	srcprint=$(cat "$last")
fi
key=$( {
	echo "$srcprint"
	# shellcheck disable=SC2086
	[ -z "$patches" ] || cat $patches
	gcc --version | head -n 1
} | sha256sum | cut -c1-12)
out=$R2DAX_CACHE/fstests/$key

if [ "${1:-}" = "--print-dir" ]; then echo "$out"; exit 0; fi

# The guest copies fstests into its RAM from one archive: reading the
# tree's thousands of files one by one over 9p takes 100 s under TCG.
pack() {
	[ -f "$out/r2dax-fstests.tar" ] && return 0
	(cd "$out" && tar -cf r2dax-fstests.tar.tmp --exclude='*.o' --exclude=r2dax-fstests.tar.tmp \
		--exclude=r2dax-build.log .) && mv "$out/r2dax-fstests.tar.tmp" "$out/r2dax-fstests.tar"
}
if [ -f "$out/.r2dax-complete" ]; then
	pack
	say "fstests cached in $out"
	exit 0
fi
[ -n "$src" ] || [ -n "$tarball" ] ||
	die "no fstests source, and no build of the last one with these patches: set FSTESTS_SRC"

for h in xfs/xfs.h attr/attributes.h acl/libacl.h libaio.h liburing.h uuid/uuid.h gdbm.h sys/capability.h; do
	[ -f "/usr/include/$h" ] || die "/usr/include/$h missing (run scripts/setup-host.sh)"
done
start=$(date +%s)
rm -rf "$out" "$out.tmp"
mkdir -p "$out.tmp"
if [ -n "$src" ]; then
	say "copying $src"
	(cd "$src" && tar -cf - --exclude=.git .) | tar -xf - -C "$out.tmp"
else
	say "unpacking $tarball"
	tar -xzf "$tarball" -C "$out.tmp" --strip-components=1
fi
for p in $patches; do
	say "applying ${p#"$top"/}"
	patch -s -p1 -d "$out.tmp" <"$p" || die "${p#"$top"/} does not apply to this fstests"
done
say "building (about 2 min)"
(cd "$out.tmp" && make configure && ./configure && make -j"$(( $(nproc) + 1 ))") \
	>"$out.tmp/r2dax-build.log" 2>&1 || {
	tail -n 30 "$out.tmp/r2dax-build.log" >&2
	die "fstests build failed; log in $out.tmp/r2dax-build.log"
}
touch "$out.tmp/.r2dax-complete"
mv "$out.tmp" "$out"
echo "$srcprint" >"$last"
pack
say "fstests built in $(( $(date +%s) - start )) s: $out"
