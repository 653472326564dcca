// SPDX-License-Identifier: GPL-2.0
/*
 * flip-demo: switches an open file between DAX and the page cache.
 *
 *   flip-demo FILE
 *
 * Keeps FILE open the whole time and shows, with statx, that setting and
 * clearing FS_XFLAG_DAX changes the file's mode before the ioctl returns
 * (on r2dax mounted dax=inode), how long that took, that the data read
 * back is the same in both modes, and that a mapped file refuses the
 * switch with EBUSY until it is unmapped. After each switch it prints
 * what r2dax's status ioctl (R2DAX_IOC_DAX_STATUS, <linux/r2dax.h>) says
 * about the file. On ext4 or xfs the mode does not change while the file
 * is open; the program says so, and there is no status to print.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <linux/r2dax.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#ifndef STATX_ATTR_DAX
#define STATX_ATTR_DAX 0x00200000
#endif

static const char *mode(int fd)
{
	struct statx stx;

	if (statx(fd, "", AT_EMPTY_PATH, STATX_BASIC_STATS, &stx) < 0)
		return "unknown";
	return (stx.stx_attributes & STATX_ATTR_DAX) ? "DAX" : "page cache";
}

static double now_us(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

/* Sets or clears FS_XFLAG_DAX; returns 0 or an errno. */
static int set_dax(int fd, int on)
{
	struct fsxattr fa;

	if (ioctl(fd, FS_IOC_FSGETXATTR, &fa) < 0)
		return errno;
	if (on)
		fa.fsx_xflags |= FS_XFLAG_DAX;
	else
		fa.fsx_xflags &= ~FS_XFLAG_DAX;
	return ioctl(fd, FS_IOC_FSSETXATTR, &fa) < 0 ? errno : 0;
}

/* Prints r2dax's view of the file; nothing on other filesystems (ENOTTY). */
static void status(int fd)
{
	static const char *const modes[] = {
		[R2DAX_MOUNT_DAX_INODE] = "inode",
		[R2DAX_MOUNT_DAX_ALWAYS] = "always",
		[R2DAX_MOUNT_DAX_NEVER] = "never",
	};
	struct r2dax_dax_status st;

	if (ioctl(fd, R2DAX_IOC_DAX_STATUS, &st) < 0) {
		if (errno != ENOTTY)
			printf("  R2DAX_IOC_DAX_STATUS: %s\n", strerror(errno));
		return;
	}
	if (st.version != R2DAX_DAX_STATUS_VERSION) {
		printf("  R2DAX_IOC_DAX_STATUS: unknown version %u\n", st.version);
		return;
	}
	printf("  status: requested %s, effective %s, mappings %llu, pinned %s, "
	       "device DAX %s, mount dax=%s%s\n",
	       st.flags & R2DAX_DAX_STATUS_REQUESTED ? "dax" : "none",
	       st.flags & R2DAX_DAX_STATUS_EFFECTIVE ? "dax" : "page cache",
	       (unsigned long long)st.mappings, st.flags & R2DAX_DAX_STATUS_PINNED ? "yes" : "no",
	       st.flags & R2DAX_DAX_STATUS_DEVICE_DAX ? "yes" : "no",
	       st.mount_mode < sizeof(modes) / sizeof(modes[0]) ? modes[st.mount_mode] : "?",
	       st.flags & R2DAX_DAX_STATUS_COLLAPSIBLE ? ", open read-only and mapped before" : "");
}

static int flip(int fd, int on)
{
	double t0 = now_us();
	int err = set_dax(fd, on);
	double t1 = now_us();

	if (err)
		printf("  chattr %cx: %s\n", on ? '+' : '-', strerror(err));
	else
		printf("  chattr %cx: ok in %.0f us, the open file now uses %s\n", on ? '+' : '-',
		       t1 - t0, mode(fd));
	status(fd);
	return err;
}

static int same(int fd, const char *want, size_t n)
{
	char *got = malloc(n);
	int ok = got && pread(fd, got, n, 0) == (ssize_t)n && !memcmp(got, want, n);

	free(got);
	printf("  read back %zu bytes: %s\n", n, ok ? "identical" : "DIFFERENT");
	return ok;
}

int main(int argc, char **argv)
{
	if (argc != 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		fprintf(stderr, "Usage: flip-demo FILE\n"
				"Flips FILE between DAX and the page cache while it is open.\n");
		return argc == 2 ? 0 : 2;
	}
	int fd = open(argv[1], O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0) {
		perror(argv[1]);
		return 1;
	}
	size_t n = 256 * 1024;
	char *data = malloc(n);
	if (!data)
		return 1;
	for (size_t i = 0; i < n; i++)
		data[i] = (char)(i * 7 + i / 4096);
	if (pwrite(fd, data, n, 0) != (ssize_t)n) {
		perror("write");
		return 1;
	}
	printf("opened %s, wrote %zu bytes: it uses %s\n", argv[1], n, mode(fd));
	int bad = 0;
	bad |= flip(fd, 1);
	bad |= !same(fd, data, n);
	bad |= flip(fd, 0);
	bad |= !same(fd, data, n);
	bad |= flip(fd, 1);
	printf("mapping the file, then trying to switch it:\n");
	void *p = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	int err = flip(fd, 0);
	printf("  (still %s while mapped)\n", mode(fd));
	munmap(p, 4096);
	printf("after munmap:\n");
	bad |= flip(fd, 0);
	bad |= !same(fd, data, n);
	close(fd);
	if (err != EBUSY)
		printf("note: the mapped switch did not fail with EBUSY\n");
	return bad || err != EBUSY;
}
