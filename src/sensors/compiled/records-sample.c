/*
 * Test helper (record-decoder.test.ts): writes one record of each type to stdout, filled
 * through tripline-records.h itself, so the decoder's offsets are checked against the header
 * the BPF program and the loader are compiled with.
 */
#include <linux/types.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "tripline-records.h"

static void out(const void *p, size_t n)
{
	fwrite(p, 1, n, stdout);
}

int main(void)
{
	/* As the loader does: TIER just before READY. */
	static struct tl_tier tier = { .type = TL_REC_TIER, .ns = 900, .tier = TL_TIER_TRACEPOINTS, .hooks = TL_HOOKS_REFUSED, .error = 1 };
	const char *reason = "the kernel refused the security-hook programs (fentry/security_file_open): Operation not permitted";
	tier.reason_len = strlen(reason);
	memcpy(tier.reason, reason, tier.reason_len);
	tier.size = offsetof(struct tl_tier, reason) + tier.reason_len;
	out(&tier, tier.size);
	struct tl_ready ready = { .type = TL_REC_READY, .size = sizeof(ready), .ns = 1000, .self_pid = 42, .tree_root = 7, .proc_dev = 21,
				  .version = TL_RECORDS_VERSION };
	out(&ready, sizeof(ready));
	struct tl_fork fork = { .type = TL_REC_FORK, .size = sizeof(fork), .ns = 2000, .parent_tgid = 100, .parent_tid = 101, .child_tid = 102,
				.thread = 0, .clone_flags = 0x1200011, .parent_start = 5000, .parent_exec_id = 3,
				.cgroup = 3787 };
	out(&fork, sizeof(fork));
	static struct tl_exec exec;
	exec.type = TL_REC_EXEC;
	exec.ns = 3000;
	exec.tgid = 102;
	exec.ppid = 100;
	exec.uid = 1000;
	exec.old_tid = 102;
	exec.start = 6000;
	exec.exec_id = 4;
	exec.exe_dev = (8 << 20) | 1;
	exec.exe_ino = 123456789012ULL;
	exec.cgroup = (1ULL << 32) | 3788; /* a kernfs id past its first generation */
	strcpy(exec.cgroup_leaf, "libpod-8a1c0a7cafd37130d1d6fe38619fcdc58d326c20087ea11f076ef0569fb804b4");
	strcpy(exec.cgroup_parent, "libpod_parent");
	strcpy(exec.cgroup_top, "libpod_parent");
	exec.cgroup_level = 2;
	memcpy(exec.argv, "cat\0/proc/sys/net/core/somaxconn\0", 33);
	exec.arg_len = 33;
	exec.argv_copied = 33;
	strcpy(exec.comm, "cat");
	strcpy(exec.filename, "/usr/bin/cat");
	exec.filename_len = strlen(exec.filename);
	exec.size = offsetof(struct tl_exec, filename) + exec.filename_len;
	out(&exec, exec.size);
	static struct tl_file file;
	file.type = TL_REC_FILE;
	file.ns = 4000;
	file.tgid = 102;
	file.exec_id = 4;
	file.start = 6000;
	file.kind = TL_OPENAT;
	file.compat = 1;
	file.rk = 'o';
	file.depth = 4;
	file.flags = TL_FLAG_PATH_AT_EXIT;
	file.dfd = -100;
	file.why = TL_WHY_NET | TL_WHY_UNDER_NET;
	file.arg = 0x80000;
	file.ret = 3;
	/* Names packed leaf first, each with its NUL, then the path. */
	static const char names[] = "somaxconn\0core\0net\0sys";
	memcpy(file.data, names, sizeof(names));
	file.names_len = sizeof(names);
	const char *path = "/proc/sys/net/core/somaxconn";
	file.path_len = strlen(path);
	memcpy(file.data + file.names_len, path, file.path_len);
	file.size = offsetof(struct tl_file, data) + file.names_len + file.path_len;
	out(&file, file.size);
	struct tl_exit ex = { .type = TL_REC_EXIT, .size = sizeof(ex), .ns = 5000, .tgid = 102, .exec_id = 4, .start = 6000, .status = 2 << 8 };
	strcpy(ex.comm, "cat");
	out(&ex, sizeof(ex));
	struct tl_lost lost = { .type = TL_REC_LOST, .size = sizeof(lost), .ns = 6000, .ringbuf = 5, .state = 2 };
	out(&lost, sizeof(lost));
	/* The answers to two ROOTS lines on stdin: two roots in force, then a refused line (EINVAL). */
	struct tl_roots roots = { .type = TL_REC_ROOTS, .size = sizeof(roots), .ns = 6500, .count = 2, .error = 0 };
	out(&roots, sizeof(roots));
	struct tl_roots refused = { .type = TL_REC_ROOTS, .size = sizeof(refused), .ns = 6600, .count = 2, .error = 22 };
	out(&refused, sizeof(refused));
	struct tl_header sync = { .type = TL_REC_SYNC, .size = sizeof(sync), .ns = 7000 };
	out(&sync, sizeof(sync));
	return 0;
}
