# SPDX-License-Identifier: GPL-2.0
#
# r2dax top-level Makefile.
#
#   make              build rust/r2dax.ko against the lab kernel (built and
#                     cached on first use), or against KDIR=<6.12 build dir>
#   make demo         set up everything missing, boot the guest, show r2dax
#   make check        set up everything missing, run every test
#   make check TESTS="001 004"   run a subset of the guest suite
#   make check GROUPS=quick XGROUPS=stress   the same, by group (check -g, -x)
#   make bench        r2dax vs ext4/xfs/ext2-DAX and device DAX in one guest
#   make bench BENCH="B1 B6"     a subset (not a test: no pass/fail)
#   make fstests      fstests (dax and quick groups) on r2dax dax=always,
#                     inode, never and ext4 -o dax; FSTESTS_CONFIGS=,
#                     FSTESTS_GROUPS=, FSTESTS_TESTS=, FSTESTS_EXCLUDE=
#   make tools        build the host tools (mkfs.r2dax, ...)
#   make lint         rustfmt --check and clippy (kbuild CLIPPY=1) on the module
#   make clean
#
# Kbuild (the module itself) lives in ./Kbuild; kbuild never reads this file.

SHELL := /bin/bash
TOP := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
RUSTC ?= /usr/bin/rustc
RUSTDOC ?= /usr/bin/rustdoc
BINDGEN ?= /usr/local/bin/bindgen
KFLAGS := LLVM=1 RUSTC=$(RUSTC) RUSTDOC=$(RUSTDOC) BINDGEN=$(BINDGEN)
export RUSTC RUSTDOC BINDGEN

# Lab kernel build directory (cached outside the repository).
LAB_KDIR = $(shell $(TOP)/scripts/build-kernel.sh --print-dir)

.PHONY: all module setup kernel tools samples initramfs demo check bench fstests lint fmt clean help

all: module

help:
	@sed -n '3,20p' $(TOP)/Makefile

setup:
	@$(TOP)/scripts/setup-host.sh

ifeq ($(origin KDIR),undefined)
kernel: setup
	@$(TOP)/scripts/build-kernel.sh
module: kernel
	@$(MAKE) --no-print-directory -C $(LAB_KDIR) M=$(TOP) $(KFLAGS) modules
else
kernel:
module:
	@$(MAKE) --no-print-directory -C $(KDIR) M=$(TOP) $(KFLAGS) modules
endif

tools: setup
	@cd $(TOP)/tools && cargo build --release --quiet

samples:
	@$(MAKE) --no-print-directory -s -C $(TOP)/samples OUT=$(TOP)/out/samples

initramfs: module tools samples
	@$(TOP)/scripts/build-initramfs.sh

demo: initramfs
	@$(TOP)/scripts/run-guest.sh demo

# GROUPS="quick dax" (or quick,dax) becomes -g quick -g dax: the guest's
# command line carries the arguments with commas for spaces.
comma := ,
check: initramfs
	@$(TOP)/scripts/check.sh $(addprefix -g ,$(subst $(comma), ,$(GROUPS))) \
		$(addprefix -x ,$(subst $(comma), ,$(XGROUPS))) $(TESTS)

bench: setup
	@$(TOP)/scripts/bench.sh $(BENCH)

fstests: setup
	@$(TOP)/scripts/fstests.sh

lint: kernel
	@$(TOP)/scripts/lint.sh

fmt:
	@/usr/bin/rustfmt --edition 2021 --config-path $(LAB_KDIR)/source/.rustfmt.toml $(TOP)/rust/r2dax_main.rs
	@cd $(TOP)/tools && cargo fmt

clean:
	@if [ -n "$(KDIR)" ] || [ -d "$$($(TOP)/scripts/build-kernel.sh --print-dir)" ]; then \
		$(MAKE) --no-print-directory -C $(or $(KDIR),$(LAB_KDIR)) M=$(TOP) $(KFLAGS) clean; fi
	@cd $(TOP)/tools && cargo clean
	@rm -rf $(TOP)/out
