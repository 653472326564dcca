#!/bin/sh
# Idempotent host setup for the r2dax lab (Debian 12, root, registries only).
# Installs the Debian packages and bindgen-cli that the kernel build, the module
# build, the tools and the guest need. Skips whatever is already present.
set -eu

BINDGEN_VERSION=0.72.1
DEBS="rustc-web rust-web-src rust-web-clippy rustfmt-web cargo-web linux-source-6.12 \
clang lld llvm libclang-dev flex bison libelf-dev libssl-dev bc cpio dwarves kmod \
xz-utils make gcc libc6-dev qemu-system-x86 qemu-utils busybox-static ndctl daxctl \
xfsprogs e2fsprogs fio stress-ng python3"
# fstests: its build dependencies (../shared/fstests/README.md) and the
# programs its scripts run; the guest runs them from the host's / (lab.rst).
DEBS="$DEBS xfslibs-dev libattr1-dev libacl1-dev libaio-dev liburing-dev uuid-dev libgdbm-dev \
libcap-dev autoconf automake libtool pkg-config acl attr gawk psmisc file quota libcap2-bin \
procps bsdextrautils xxd"
# The NFS server and client tools the guest's export test runs.
DEBS="$DEBS nfs-kernel-server"

say() { echo "setup-host: $*"; }
die() { echo "setup-host: error: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root (apt-get and cargo install into /usr/local)"

missing=""
for p in $DEBS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done

if [ -n "$missing" ]; then
	say "installing:$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q >/dev/null || die "apt-get update failed: are the package registries reachable?"
	# shellcheck disable=SC2086
	apt-get install -y -q --no-install-recommends $missing >/dev/null ||
		die "apt-get install failed for:$missing"
else
	say "Debian packages present"
fi

want="bindgen $BINDGEN_VERSION"
have=$(/usr/local/bin/bindgen --version 2>/dev/null || true)
if [ "$have" != "$want" ]; then
	command -v cargo >/dev/null || die "cargo not found (needed to build bindgen-cli)"
	say "building bindgen-cli $BINDGEN_VERSION (~2 min)"
	cargo install --quiet --locked --root /usr/local "bindgen-cli@$BINDGEN_VERSION" ||
		die "cargo install bindgen-cli@$BINDGEN_VERSION failed: is crates.io reachable?"
else
	say "$want present"
fi

[ -x /usr/bin/rustc ] || die "/usr/bin/rustc missing after install (rustc-web)"
say "ok"
