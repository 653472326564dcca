// SPDX-License-Identifier: GPL-2.0
/*
 * mapsync-log: an append-only log written through a MAP_SYNC mapping.
 *
 *   mapsync-log [-n RECORDS] FILE      append records, print "LOGGED <seq>"
 *                                      once each is durable
 *   mapsync-log -c SEQ FILE            check records 0..SEQ after a crash
 *
 * The writer grows FILE with ftruncate in 64 KiB steps (the new range is a
 * hole) and maps each step with MAP_SHARED_VALIDATE | MAP_SYNC. A store
 * into the hole takes a write fault that allocates the block; because of
 * MAP_SYNC the filesystem makes the allocation (and the file size) durable
 * before the fault returns. The writer then flushes the record's cache
 * line (clflush + sfence) and only then reports it: after a power cut,
 * every reported record must be intact, with no msync or fsync ever.
 *
 * MAP_SYNC is refused (EOPNOTSUPP) on a file that does not use DAX.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef MAP_SYNC
#define MAP_SYNC 0x80000
#endif
#ifndef MAP_SHARED_VALIDATE
#define MAP_SHARED_VALIDATE 0x03
#endif

#define REC 64
#define STEP (64u << 10)
#define MAGIC 0x72326461786c6f67ull /* "r2daxlog" */

struct rec {
	uint64_t seq;
	uint64_t magic;
	uint64_t payload[5];
	uint64_t sum;
};

static uint64_t fnv(const void *p, size_t n)
{
	const unsigned char *b = p;
	uint64_t h = 0xcbf29ce484222325ull;

	while (n--)
		h = (h ^ *b++) * 0x100000001b3ull;
	return h;
}

static void fill(struct rec *r, uint64_t seq)
{
	r->seq = seq;
	r->magic = MAGIC;
	for (int i = 0; i < 5; i++)
		r->payload[i] = seq * 0x9e3779b97f4a7c15ull + (uint64_t)i;
	r->sum = fnv(r, offsetof(struct rec, sum));
}

static void persist(const void *p)
{
	__builtin_ia32_clflush(p);
	__builtin_ia32_sfence();
}

static int usage(void)
{
	fprintf(stderr,
		"Usage: mapsync-log [-n RECORDS] FILE\n"
		"       mapsync-log -c SEQ FILE\n"
		"Appends 64-byte records to FILE through a MAP_SYNC mapping and\n"
		"prints \"LOGGED <seq>\" once each is durable (no msync or fsync);\n"
		"-c checks that records 0..SEQ are intact and inside the file size.\n"
		"Exit status: 0 ok, 1 failure, 2 usage.\n");
	return 2;
}

static int check(const char *path, uint64_t last)
{
	int fd = open(path, O_RDONLY);
	struct stat st;
	struct rec r, want;

	if (fd < 0 || fstat(fd, &st) < 0) {
		perror(path);
		return 1;
	}
	if ((uint64_t)st.st_size < (last + 1) * REC) {
		printf("size %lld does not cover record %llu\n", (long long)st.st_size,
		       (unsigned long long)last);
		return 1;
	}
	for (uint64_t s = 0; s <= last; s++) {
		if (pread(fd, &r, REC, (off_t)(s * REC)) != REC) {
			printf("record %llu: short read\n", (unsigned long long)s);
			return 1;
		}
		fill(&want, s);
		if (memcmp(&r, &want, REC) != 0) {
			printf("record %llu is damaged\n", (unsigned long long)s);
			return 1;
		}
	}
	printf("records 0..%llu intact, file size covers them\n", (unsigned long long)last);
	return 0;
}

int main(int argc, char **argv)
{
	uint64_t records = UINT64_MAX, last = 0;
	int opt, checking = 0;

	while ((opt = getopt(argc, argv, "n:c:h")) != -1) {
		switch (opt) {
		case 'n':
			records = strtoull(optarg, NULL, 0);
			break;
		case 'c':
			checking = 1;
			last = strtoull(optarg, NULL, 0);
			break;
		default:
			return usage();
		}
	}
	if (optind != argc - 1)
		return usage();
	if (checking)
		return check(argv[optind], last);

	int fd = open(argv[optind], O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0) {
		perror(argv[optind]);
		return 1;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	char *map = NULL;
	uint64_t base = 0;
	for (uint64_t s = 0; s < records; s++) {
		uint64_t off = s * REC;
		if (!map || off >= base + STEP) {
			if (map)
				munmap(map, STEP);
			base = off - off % STEP;
			/* Grow by a hole: the stores below allocate. */
			if (ftruncate(fd, (off_t)(base + STEP)) < 0) {
				perror("ftruncate");
				return 1;
			}
			map = mmap(NULL, STEP, PROT_READ | PROT_WRITE,
				   MAP_SHARED_VALIDATE | MAP_SYNC, fd, (off_t)base);
			if (map == MAP_FAILED) {
				printf("mmap MAP_SYNC: %s\n", strerror(errno));
				return 1;
			}
		}
		struct rec r;
		fill(&r, s);
		memcpy(map + (off - base), &r, REC);
		persist(map + (off - base));
		printf("LOGGED %llu\n", (unsigned long long)s);
	}
	return 0;
}
