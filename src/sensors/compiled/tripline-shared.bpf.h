/* SPDX-License-Identifier: GPL-2.0 */
/*
 * tripline-shared.bpf.h - what both BPF objects of the compiled sensor share: the loader's
 * settings, the record ring buffer and its loss counters, the run's tree map and the recipe
 * roots, and the judging of an object: WHY bits from a path, the recipe-root match, the dentry
 * walk to the procfs root, and building and sending a FILE record (tripline-records.h).
 * Included by tripline.bpf.c (the tracepoint tier) and tripline-hooks.bpf.c (the security-hook
 * tier); each object gets its own copy of these maps (the loader sets both alike).
 */
#ifndef TRIPLINE_SHARED_BPF_H
#define TRIPLINE_SHARED_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "tripline-records.h"

/* Set by the loader before load. */
const volatile __u32 tripline_pid = 0;
/* st_dev of procfs as user space sees it (node's statSync('/proc').dev); 0 = off. */
const volatile __u64 proc_dev = 0;
/* 0 = every process (watch); else only its descendants (run). */
const volatile __u32 tree_root = 0;
/*
 * How many entries of `roots` are in force: trees of the loaded recipes besides /proc/sys/net.
 * Writable (.bss): the loader sets it after the roots, and changes both when the recipes are
 * reloaded (0 while it rewrites them).
 */
volatile __u32 nroots;

#define PROC_SUPER_MAGIC 0x9fa0
#define TS_COMPAT 0x0002
#define AT_FDCWD -100
#define AT_EMPTY_PATH 0x1000
#define X32_BIT 0x40000000

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 32 << 20);
} events SEC(".maps");

/* Records the ring buffer had no room for, and calls whose state could not be kept: per CPU. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} lost SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, __u8);
} tree SEC(".maps");

/* The recipes' other roots (canonical absolute paths, filled by the loader before attach). */
struct root {
	__u32 len;
	char s[TL_ROOT_MAX];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, TL_MAX_ROOTS);
	__type(key, __u32);
	__type(value, struct root);
} roots SEC(".maps");

/* Scratch space for one record (programs on one CPU do not interleave). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tl_file);
} scratch SEC(".maps");

static __always_inline void count_lost(__u32 which)
{
	__u64 *n = bpf_map_lookup_elem(&lost, &which);
	if (n)
		__sync_fetch_and_add(n, 1);
}

static __always_inline int in_scope(__u32 tgid)
{
	if (tree_root == 0)
		return 1;
	return bpf_map_lookup_elem(&tree, &tgid) != 0;
}

static __always_inline __u64 leader_start(struct task_struct *t)
{
	return BPF_CORE_READ(t, group_leader, start_time);
}

static __always_inline __u32 leader_exec_id(struct task_struct *t)
{
	return BPF_CORE_READ(t, group_leader, self_exec_id);
}

static __always_inline int is_compat(struct task_struct *t)
{
	return (t->thread_info.status & TS_COMPAT) != 0;
}

/* ---------------------------------------------------------------- path classification ---- */

/* WHY bits from the path as given (same meaning as tripline.bt's). */
static __always_inline __u32 why_from_string(const char *p, __u32 len, int *relative)
{
	__u64 w0 = 0, w1 = 0;
	*relative = 0;
	if (len == 0) {
		*relative = 2; /* "" (AT_EMPTY_PATH): the base is the object */
		return 0;
	}
	bpf_probe_read_kernel(&w0, 8, p);
	bpf_probe_read_kernel(&w1, 8, p + 8);
	if (len < 8)
		w0 &= (1ULL << (len * 8)) - 1;
	if (len < 16) {
		if (len <= 8)
			w1 = 0;
		else
			w1 &= (1ULL << ((len - 8) * 8)) - 1;
	}
	if (w0 == 0x79732f636f72702fULL) {                         /* "/proc/sy" */
		if ((w1 & 0xffffffffffULL) == 0x74656e2f73ULL) return TL_WHY_NET; /* "/proc/sys/net" */
		if ((w1 & 0xffff) == 0x73) return 0;                     /* exactly "/proc/sys" */
		if ((w1 & 0xffff) != 0x2f73) return TL_WHY_PROC;         /* not "/proc/sys/" */
		__u64 x = (w1 >> 16) & 0xff;                             /* "/proc/sys/X" */
		if (x == 0x6e || x == 0x2e || x == 0x2f) return TL_WHY_PROC;
		return 0;                                                /* abi, kernel, vm, ... */
	}
	if ((w0 & 0xffffffffffffULL) == 0x636f72702fULL || (w0 & 0xffffffffffffffULL) == 0x2f636f72702fULL)
		return 0;                                                /* "/proc", "/proc/" */
	if ((w0 & 0xffffffffffULL) == 0x636f72702fULL) return TL_WHY_PROC; /* "/proc..." */
	if ((w0 & 0xffff) == 0x2f2f || (w0 & 0xffff) == 0x2e2f) return TL_WHY_DOTS; /* "//", "/." */
	if ((w0 & 0xff) != 0x2f) {
		*relative = 1;
		if ((w0 & 0xffff) == 0x2e2e) return TL_WHY_DOTS;         /* ".." */
	}
	return 0;
}

/* Whether an absolute path lies in one of the recipes' roots (the root itself or below it). */
static __noinline int under_root(const char *p, __u32 plen)
{
	for (__u32 i = 0; i < TL_MAX_ROOTS; i++) {
		if (i >= nroots)
			break;
		__u32 key = i;
		struct root *r = bpf_map_lookup_elem(&roots, &key);
		if (!r)
			break;
		__u32 len = r->len;
		if (len == 0 || len >= TL_ROOT_MAX || len > plen)
			continue;
		int same = 1;
		for (__u32 w = 0; w < TL_ROOT_MAX / 8; w++) {
			if (w * 8 >= len)
				break;
			__u64 a = 0, b = 0;
			bpf_probe_read_kernel(&a, 8, p + w * 8);
			bpf_probe_read_kernel(&b, 8, r->s + w * 8);
			__u32 rest = len - w * 8;
			if (rest < 8) {
				__u64 mask = (1ULL << (rest * 8)) - 1;
				a &= mask;
				b &= mask;
			}
			if (a != b) {
				same = 0;
				break;
			}
		}
		if (!same)
			continue;
		char next = 0;
		bpf_probe_read_kernel(&next, 1, p + len);
		if (len == plen || next == '/' || next == 0)
			return 1;
	}
	return 0;
}

/*
 * Walks a dentry up to its filesystem's root, names leaf first into the record. Returns the
 * depth (components below the root; TL_MAX_NAMES means "that many or more"), or -1 when the
 * dentry is not on procfs. Sets TL_WHY_UNDER_NET when it lies at or below sys/net.
 */
/* Global (not static): the verifier checks it once, not at every call in every path. */
__noinline int walk(__u64 dentry, struct tl_file *r)
{
	struct dentry *d = (struct dentry *)dentry;
	if (!d || !r)
		return -1;
	struct super_block *sb = BPF_CORE_READ(d, d_sb);
	if (!sb || BPF_CORE_READ(sb, s_magic) != PROC_SUPER_MAGIC)
		return -1;
	int depth = 0;
	__u32 off = 0, last = 0, before_last = 0;
	for (int i = 0; i < TL_MAX_NAMES; i++) {
		struct dentry *parent = BPF_CORE_READ(d, d_parent);
		if (!parent || parent == d)
			break;
		const unsigned char *name = BPF_CORE_READ(d, d_name.name);
		long n = bpf_probe_read_kernel_str(r->data + (off & (TL_NAMES_SPACE - 1)), TL_NAME_MAX, name);
		if (n <= 0) {
			r->data[off & (TL_NAMES_SPACE - 1)] = 0;
			n = 1;
		}
		before_last = last;
		last = off;
		off += n;
		depth++;
		d = parent;
	}
	r->depth = depth;
	r->names_len = off;
	/* Complete walk (reached the root): the two root-most names tell sys/net. */
	struct dentry *top = BPF_CORE_READ(d, d_parent);
	if (top == d && depth >= 2) {
		char *sys = r->data + (last & (TL_NAMES_SPACE - 1));
		char *net = r->data + (before_last & (TL_NAMES_SPACE - 1));
		if (sys[0] == 's' && sys[1] == 'y' && sys[2] == 's' && sys[3] == 0 && net[0] == 'n' && net[1] == 'e' && net[2] == 't' && net[3] == 0)
			r->why |= TL_WHY_UNDER_NET;
	} else if (top != d) {
		r->flags |= TL_FLAG_DEEP;
	}
	return depth;
}

static __always_inline struct dentry *fd_dentry(struct task_struct *t, long fd)
{
	if (fd < 0)
		return 0;
	struct files_struct *files = BPF_CORE_READ(t, files);
	struct fdtable *fdt = BPF_CORE_READ(files, fdt);
	unsigned int max = BPF_CORE_READ(fdt, max_fds);
	if ((unsigned long)fd >= max)
		return 0;
	struct file **fds = BPF_CORE_READ(fdt, fd);
	struct file *f = 0;
	bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]);
	if (!f)
		return 0;
	return BPF_CORE_READ(f, f_path.dentry);
}

static __always_inline struct dentry *cwd_dentry(struct task_struct *t)
{
	return BPF_CORE_READ(t, fs, pwd.dentry);
}

static __always_inline struct tl_file *new_file_record(void)
{
	__u32 zero = 0;
	struct tl_file *r = bpf_map_lookup_elem(&scratch, &zero);
	if (!r)
		return 0;
	r->type = TL_REC_FILE;
	r->depth = -1;
	r->rk = '-';
	r->why = 0;
	r->flags = 0;
	r->path_len = 0;
	r->names_len = 0;
	return r;
}

/* Appends the path after the names and sends the record, as long as it is. */
static __always_inline void submit_file(struct tl_file *r, const char *path, __u32 plen)
{
	__u32 names = r->names_len & (TL_NAMES_SPACE - 1);
	plen &= TL_PATH_MAX - 1;
	r->names_len = names;
	r->path_len = plen;
	if (plen > 0)
		bpf_probe_read_kernel(r->data + names, plen, path);
	__u32 size = offsetof(struct tl_file, data) + names + plen;
	r->size = size;
	if (size > sizeof(*r))
		return;
	if (bpf_ringbuf_output(&events, r, size, 0) != 0)
		count_lost(TL_LOST_RINGBUF);
}

#endif
