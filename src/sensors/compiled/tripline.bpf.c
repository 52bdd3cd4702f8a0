// SPDX-License-Identifier: GPL-2.0
/*
 * tripline.bpf.c - Tripline's compiled eBPF sensor (CO-RE, libbpf; x86_64, kernel >= 5.17 with BTF).
 *
 * Built by scripts/build-sensor.sh into the static loader (loader.c embeds this object).
 * Records go to user space over one BPF ring buffer, in the order the kernel committed them;
 * their layout is in tripline-records.h, decoded by src/sensors/compiled/record-decoder.ts.
 *
 * The tracepoint tier: it writes every FILE record. (The security-hook tier, tripline-hooks.bpf.c,
 * is only probed at start; fentry is refused on the kernels we measured. The maps, filters and
 * dentry walk both share are in tripline-shared.bpf.h.) Hooks, all tracepoints:
 *   tp_btf/sys_enter, tp_btf/sys_exit   every syscall, native and 32-bit (int 0x80: the
 *                                       thread's TS_COMPAT status picks the i386 table);
 *   tp_btf/io_uring_submit_req          io_uring opens and statx, after the kernel copied the path;
 *   tp_btf/task_newtask, sched_process_exec, sched_process_exit   the process tree.
 * In-kernel filtering: tripline's own calls are ignored (but its SYNC barrier); with a tree root
 * (run) only the root's descendants, marked at fork before the child runs, produce records; file
 * calls leave the kernel only when they may concern procfs's sysctl tree (the WHY bits).
 * Paths are read at syscall entry, up to PATH_MAX, into task-local storage (a thread cannot
 * rewrite the buffer between the kernel's read and ours at exit); when an entry read faults
 * the exit reads again and says so. Opened files, new working directories, directories read
 * and fd arguments are judged by the kernel's own dentry (a walk to the procfs root).
 */
#include "tripline-shared.bpf.h"

char LICENSE[] SEC("license") = "GPL";

/* One file call in flight per thread: its arguments and the path read at entry. */
struct inflight {
	__u32 active;
	__u16 kind;
	__u8 compat;
	__u8 path_state;
	__s32 dfd;
	__u32 path_len;
	__u64 path_ptr;
	__u64 aux;
	__u64 arg;
	char path[TL_PATH_MAX];
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct inflight);
} calls SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tl_exec);
} exec_scratch SEC(".maps");

/* The path of an io_uring request, copied from the kernel before its record is built. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, char[TL_PATH_MAX]);
} uring_path SEC(".maps");

/* ---------------------------------------------------------------- syscall table ---------- */

struct call_shape {
	__u16 kind;
	__s8 path; /* argument index of the path, -1 none */
	__s8 dfd;  /* argument index of the dirfd / fd, -1 none (AT_FDCWD) */
	__s8 arg;  /* argument index of flags or mode, -1 none */
	__s8 aux;  /* argument index of the stat buffer / open_how, -1 none */
};

#define SHAPE(k, p, d, a, x) ((struct call_shape){ .kind = (k), .path = (p), .dfd = (d), .arg = (a), .aux = (x) })

static __always_inline struct call_shape native_shape(long nr)
{
	switch (nr) {
	case 2: return SHAPE(TL_OPEN, 0, -1, 1, -1);
	case 257: return SHAPE(TL_OPENAT, 1, 0, 2, -1);
	case 437: return SHAPE(TL_OPENAT2, 1, 0, -1, 2);
	case 85: return SHAPE(TL_CREAT, 0, -1, 1, -1);
	case 4: return SHAPE(TL_STAT, 0, -1, -1, 1);
	case 6: return SHAPE(TL_LSTAT, 0, -1, -1, 1);
	case 262: return SHAPE(TL_NEWFSTATAT, 1, 0, 3, 2);
	case 332: return SHAPE(TL_STATX, 1, 0, 2, 4);
	case 21: return SHAPE(TL_ACCESS, 0, -1, 1, -1);
	case 269: return SHAPE(TL_FACCESSAT, 1, 0, 2, -1);
	case 439: return SHAPE(TL_FACCESSAT2, 1, 0, 2, -1);
	case 89: return SHAPE(TL_READLINK, 0, -1, -1, -1);
	case 267: return SHAPE(TL_READLINKAT, 1, 0, -1, -1);
	case 80: return SHAPE(TL_CHDIR, 0, -1, -1, -1);
	case 81: return SHAPE(TL_FCHDIR, -1, 0, -1, -1);
	case 217: return SHAPE(TL_GETDENTS64, -1, 0, -1, -1);
	case 78: return SHAPE(TL_GETDENTS, -1, 0, -1, -1);
	case 137: return SHAPE(TL_STATFS, 0, -1, -1, 1);
	case 138: return SHAPE(TL_FSTATFS, -1, 0, -1, 1);
	case 304: return SHAPE(TL_OPEN_BY_HANDLE_AT, -1, -1, 2, -1);
	case 428: return SHAPE(TL_OPEN_TREE, 1, 0, 2, -1);
	}
	return SHAPE(0, -1, -1, -1, -1);
}

/* The i386 table, for int 0x80 (and sysenter/syscall from 32-bit code). */
static __always_inline struct call_shape compat_shape(long nr)
{
	switch (nr) {
	case 5: return SHAPE(TL_OPEN, 0, -1, 1, -1);
	case 295: return SHAPE(TL_OPENAT, 1, 0, 2, -1);
	case 437: return SHAPE(TL_OPENAT2, 1, 0, -1, 2);
	case 8: return SHAPE(TL_CREAT, 0, -1, 1, -1);
	case 18: case 106: case 195: return SHAPE(TL_STAT, 0, -1, -1, -1);
	case 84: case 107: case 196: return SHAPE(TL_LSTAT, 0, -1, -1, -1);
	case 300: return SHAPE(TL_NEWFSTATAT, 1, 0, 3, -1);
	case 383: return SHAPE(TL_STATX, 1, 0, 2, 4);
	case 33: return SHAPE(TL_ACCESS, 0, -1, 1, -1);
	case 307: return SHAPE(TL_FACCESSAT, 1, 0, 2, -1);
	case 439: return SHAPE(TL_FACCESSAT2, 1, 0, 2, -1);
	case 85: return SHAPE(TL_READLINK, 0, -1, -1, -1);
	case 305: return SHAPE(TL_READLINKAT, 1, 0, -1, -1);
	case 12: return SHAPE(TL_CHDIR, 0, -1, -1, -1);
	case 133: return SHAPE(TL_FCHDIR, -1, 0, -1, -1);
	case 220: return SHAPE(TL_GETDENTS64, -1, 0, -1, -1);
	case 141: return SHAPE(TL_GETDENTS, -1, 0, -1, -1);
	case 99: return SHAPE(TL_STATFS, 0, -1, -1, 1);
	case 268: return SHAPE(TL_STATFS, 0, -1, -1, 2); /* statfs64(path, size, buf) */
	case 100: return SHAPE(TL_FSTATFS, -1, 0, -1, 1);
	case 269: return SHAPE(TL_FSTATFS, -1, 0, -1, 2);
	case 342: return SHAPE(TL_OPEN_BY_HANDLE_AT, -1, -1, 2, -1);
	case 428: return SHAPE(TL_OPEN_TREE, 1, 0, 2, -1);
	}
	return SHAPE(0, -1, -1, -1, -1);
}

/* Direct loads: tp_btf hands over trusted pointers, no helper call per register (this runs on every system call). */
static __always_inline __u64 reg_arg(struct pt_regs *regs, int compat, int i)
{
	if (compat) {
		switch (i) {
		case 0: return (__u32)regs->bx;
		case 1: return (__u32)regs->cx;
		case 2: return (__u32)regs->dx;
		case 3: return (__u32)regs->si;
		case 4: return (__u32)regs->di;
		}
		return 0;
	}
	switch (i) {
	case 0: return regs->di;
	case 1: return regs->si;
	case 2: return regs->dx;
	case 3: return regs->r10;
	case 4: return regs->r8;
	}
	return 0;
}

/* ---------------------------------------------------------------- process tree ----------- */

SEC("tp_btf/task_newtask")
int BPF_PROG(on_newtask, struct task_struct *task, __u64 clone_flags)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32, tid = (__u32)id;
	if (tree_root != 0 && tgid != tree_root && !bpf_map_lookup_elem(&tree, &tgid))
		return 0;
	int thread = (clone_flags & 0x10000) != 0; /* CLONE_THREAD */
	__u32 child = BPF_CORE_READ(task, pid);
	if (tree_root != 0 && !thread) {
		__u8 one = 1;
		/* A full map would leave the child untracked: its events are then counted as lost. */
		if (bpf_map_update_elem(&tree, &child, &one, BPF_ANY) != 0)
			count_lost(TL_LOST_STATE);
	}
	struct task_struct *cur = bpf_get_current_task_btf();
	struct tl_fork *r = bpf_ringbuf_reserve(&events, sizeof(*r), 0);
	if (!r) {
		count_lost(TL_LOST_RINGBUF);
		return 0;
	}
	r->type = TL_REC_FORK;
	r->size = sizeof(*r);
	r->ns = bpf_ktime_get_ns();
	r->parent_tgid = tgid;
	r->parent_tid = tid;
	r->child_tid = child;
	r->thread = thread;
	r->clone_flags = clone_flags;
	r->parent_start = leader_start(cur);
	r->parent_exec_id = leader_exec_id(cur);
	r->pad = 0;
	r->cgroup = bpf_get_current_cgroup_id();
	bpf_ringbuf_submit(r, 0);
	return 0;
}

/* kernfs_node's parent before Linux 6.15 renamed it __parent (CO-RE picks the one this kernel has). */
struct kernfs_node___parent_before_6_15 {
	struct kernfs_node *parent;
} __attribute__((preserve_access_index));

static __always_inline struct kernfs_node *kernfs_parent(struct kernfs_node *kn)
{
	if (bpf_core_field_exists(kn->__parent))
		return BPF_CORE_READ(kn, __parent);
	return BPF_CORE_READ((struct kernfs_node___parent_before_6_15 *)kn, parent);
}

/* The names of the task's cgroup v2 directory, its parent's and its top directory's (the one at
 * depth 1, for a cgroup no deeper than TL_CGROUP_TOP_DEPTH) into leaf, parent and top (empty when
 * unread), and the cgroup's depth into *level. */
static __always_inline void cgroup_names(struct task_struct *t, char *leaf, char *parent, char *top, __u32 *level)
{
	leaf[0] = 0;
	parent[0] = 0;
	top[0] = 0;
	*level = 0;
	struct cgroup *cg = BPF_CORE_READ(t, cgroups, dfl_cgrp);
	if (!cg)
		return;
	int depth = BPF_CORE_READ(cg, level);
	*level = depth < 0 ? 0 : depth;
	struct kernfs_node *kn = BPF_CORE_READ(cg, kn);
	if (!kn)
		return;
	if (bpf_probe_read_kernel_str(leaf, TL_CGROUP_NAME_MAX, BPF_CORE_READ(kn, name)) < 0)
		leaf[0] = 0;
	struct kernfs_node *up = kernfs_parent(kn);
	if (up && bpf_probe_read_kernel_str(parent, TL_CGROUP_NAME_MAX, BPF_CORE_READ(up, name)) < 0)
		parent[0] = 0;
	if (depth < 1 || depth > TL_CGROUP_TOP_DEPTH)
		return;
	/* Up depth - 1 directories from the leaf. */
	struct kernfs_node *at = kn;
#pragma unroll
	for (int i = 1; i < TL_CGROUP_TOP_DEPTH; i++) {
		if (i < depth && at)
			at = kernfs_parent(at);
	}
	if (at && bpf_probe_read_kernel_str(top, TL_CGROUP_TOP_MAX, BPF_CORE_READ(at, name)) < 0)
		top[0] = 0;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(on_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	if (!in_scope(tgid))
		return 0;
	__u32 zero = 0;
	struct tl_exec *r = bpf_map_lookup_elem(&exec_scratch, &zero);
	if (!r)
		return 0;
	struct task_struct *cur = bpf_get_current_task_btf();
	r->type = TL_REC_EXEC;
	r->ns = bpf_ktime_get_ns();
	r->tgid = tgid;
	r->ppid = BPF_CORE_READ(cur, real_parent, tgid);
	r->uid = (__u32)bpf_get_current_uid_gid();
	r->old_tid = old_pid;
	r->start = leader_start(cur);
	r->exec_id = leader_exec_id(cur);
	struct file *exe = BPF_CORE_READ(cur, mm, exe_file);
	struct inode *ino = BPF_CORE_READ(exe, f_inode);
	r->exe_dev = BPF_CORE_READ(ino, i_sb, s_dev);
	r->exe_ino = BPF_CORE_READ(ino, i_ino);
	bpf_get_current_comm(r->comm, sizeof(r->comm));
	r->cgroup = bpf_get_current_cgroup_id();
	cgroup_names(cur, r->cgroup_leaf, r->cgroup_parent, r->cgroup_top, &r->cgroup_level);
	unsigned long a0 = BPF_CORE_READ(cur, mm, arg_start);
	unsigned long a1 = BPF_CORE_READ(cur, mm, arg_end);
	__u32 alen = a1 > a0 ? a1 - a0 : 0;
	r->arg_len = alen;
	__u64 copy = alen > TL_ARGV_MAX ? TL_ARGV_MAX : alen;
	r->argv_copied = 0;
	/* A mask clang cannot drop, so the verifier sees the size bounded (2047: argv is followed by filename). */
	asm volatile("%[c] &= 2047" : [c] "+r"(copy));
	if (copy > 0 && bpf_probe_read_user(r->argv, copy, (void *)a0) == 0)
		r->argv_copied = copy;
	const char *fname = BPF_CORE_READ(bprm, filename);
	long n = bpf_probe_read_kernel_str(r->filename, TL_PATH_MAX, fname);
	r->filename_len = n > 0 ? n - 1 : 0;
	__u32 size = offsetof(struct tl_exec, filename) + (r->filename_len & (TL_PATH_MAX - 1));
	r->size = size;
	if (size <= sizeof(*r) && bpf_ringbuf_output(&events, r, size, 0) != 0)
		count_lost(TL_LOST_RINGBUF);
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(on_exit, struct task_struct *p)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	/* The last thread of the group: signal->live already dropped to zero. */
	if (BPF_CORE_READ(p, signal, live.counter) != 0)
		return 0;
	if (!in_scope(tgid))
		return 0;
	struct task_struct *cur = bpf_get_current_task_btf();
	struct tl_exit *r = bpf_ringbuf_reserve(&events, sizeof(*r), 0);
	if (r) {
		r->type = TL_REC_EXIT;
		r->size = sizeof(*r);
		r->ns = bpf_ktime_get_ns();
		r->tgid = tgid;
		r->start = leader_start(cur);
		r->exec_id = leader_exec_id(cur);
		r->status = BPF_CORE_READ(p, exit_code);
		bpf_get_current_comm(r->comm, sizeof(r->comm));
		bpf_ringbuf_submit(r, 0);
	} else {
		count_lost(TL_LOST_RINGBUF);
	}
	if (tree_root != 0)
		bpf_map_delete_elem(&tree, &tgid);
	return 0;
}

/* ---------------------------------------------------------------- file calls ------------- */

static __always_inline void sync_barrier(struct pt_regs *regs, long nr, int compat)
{
	if (compat || nr != 21)
		return;
	char want[] = "/proc/sys/net/.tripline-sync";
	char got[sizeof(want)] = {};
	if (bpf_probe_read_user_str(got, sizeof(got), (void *)BPF_CORE_READ(regs, di)) != sizeof(want))
		return;
	for (int i = 0; i < sizeof(want); i++)
		if (got[i] != want[i])
			return;
	struct tl_header *r = bpf_ringbuf_reserve(&events, sizeof(*r), 0);
	if (!r) {
		count_lost(TL_LOST_RINGBUF);
		return;
	}
	r->type = TL_REC_SYNC;
	r->size = sizeof(*r);
	r->ns = bpf_ktime_get_ns();
	bpf_ringbuf_submit(r, 0);
}

SEC("tp_btf/sys_enter")
int BPF_PROG(on_sys_enter, struct pt_regs *regs, long nr)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct task_struct *t = bpf_get_current_task_btf();
	int compat = is_compat(t);
	if (!compat)
		nr &= ~X32_BIT;
	if (tgid == tripline_pid) {
		sync_barrier(regs, nr, compat);
		return 0;
	}
	struct call_shape s = compat ? compat_shape(nr) : native_shape(nr);
	if (s.kind == 0 || !in_scope(tgid))
		return 0;
	struct inflight *c = bpf_task_storage_get(&calls, t, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!c) {
		count_lost(TL_LOST_STATE);
		return 0;
	}
	c->active = 1;
	c->kind = s.kind;
	c->compat = compat;
	c->dfd = s.dfd >= 0 ? (__s32)reg_arg(regs, compat, s.dfd) : AT_FDCWD;
	c->arg = s.arg >= 0 ? reg_arg(regs, compat, s.arg) : 0;
	c->aux = s.aux >= 0 ? reg_arg(regs, compat, s.aux) : 0;
	c->path_ptr = s.path >= 0 ? reg_arg(regs, compat, s.path) : 0;
	c->path_len = 0;
	c->path_state = TL_PATH_NONE;
	if (s.path >= 0) {
		long n = bpf_probe_read_user_str(c->path, TL_PATH_MAX, (void *)c->path_ptr);
		if (n > 0) {
			c->path_len = n - 1;
			c->path_state = TL_PATH_ENTRY;
		} else {
			c->path_state = TL_PATH_FAULT;
		}
	}
	return 0;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(on_sys_exit, struct pt_regs *regs, long ret)
{
	struct task_struct *t = bpf_get_current_task_btf();
	/* Most system calls are none of ours: the table says so before any state is looked up. */
	long nr = regs->orig_ax;
	int compat = is_compat(t);
	if (!compat)
		nr &= ~X32_BIT;
	if ((compat ? compat_shape(nr) : native_shape(nr)).kind == 0)
		return 0;
	struct inflight *c = bpf_task_storage_get(&calls, t, 0, 0);
	if (!c || !c->active)
		return 0;
	c->active = 0;
	__u16 kind = c->kind;
	struct tl_file *r = new_file_record();
	if (!r)
		return 0;
	/* A path the entry could not read (page not yet present): read it now, and say so. */
	if (c->path_state == TL_PATH_FAULT) {
		long n = bpf_probe_read_user_str(c->path, TL_PATH_MAX, (void *)c->path_ptr);
		if (n > 0) {
			c->path_len = n - 1;
			c->path_state = TL_PATH_EXIT;
			r->flags |= TL_FLAG_PATH_AT_EXIT;
		}
	}
	__u32 plen = c->path_len & (TL_PATH_MAX - 1);
	int rel = 0;
	__u32 why = 0;
	int has_path = c->path_state == TL_PATH_ENTRY || c->path_state == TL_PATH_EXIT;
	if (has_path)
		why = why_from_string(c->path, plen, &rel);
	if (has_path && !rel && why == 0 && nroots != 0 && under_root(c->path, plen))
		why |= TL_WHY_ROOT;
	if (c->path_state == TL_PATH_FAULT)
		r->flags |= TL_FLAG_PATH_UNREAD;
	r->why = why;
	struct dentry *d = 0;
	int fd_call = kind == TL_FCHDIR || kind == TL_GETDENTS64 || kind == TL_GETDENTS || kind == TL_FSTATFS;
	int opens = kind == TL_OPEN || kind == TL_OPENAT || kind == TL_OPENAT2 || kind == TL_CREAT || kind == TL_OPEN_BY_HANDLE_AT || kind == TL_OPEN_TREE;
	if (opens && ret >= 0) {
		d = fd_dentry(t, ret);
		r->rk = 'o';
	} else if (kind == TL_CHDIR && ret == 0) {
		d = cwd_dentry(t);
		r->rk = 'o';
	} else if (fd_call) {
		d = fd_dentry(t, c->dfd);
		r->rk = 'o';
	} else if (has_path && rel) {
		d = c->dfd == AT_FDCWD ? cwd_dentry(t) : fd_dentry(t, c->dfd);
		r->rk = 'b';
	}
	if (d) {
		int depth = walk((__u64)d, r);
		if (depth >= 0 && r->rk == 'b')
			r->why |= TL_WHY_RELATIVE_ON_PROC;
		if (depth < 0)
			r->rk = '-';
	} else {
		r->rk = '-';
	}
	/* stat family: a path that reached procfs another way (a symlink) shows its st_dev. */
	if (ret == 0 && proc_dev != 0 && c->aux != 0 && !c->compat && (r->why & (TL_WHY_NET | TL_WHY_PROC)) == 0) {
		if (kind == TL_STAT || kind == TL_LSTAT || kind == TL_NEWFSTATAT) {
			__u64 dev = 0;
			bpf_probe_read_user(&dev, sizeof(dev), (void *)c->aux);
			if (dev == proc_dev)
				r->why |= TL_WHY_STAT_ON_PROC;
		} else if (kind == TL_STATX) {
			__u32 mm[2] = {};
			bpf_probe_read_user(mm, sizeof(mm), (void *)(c->aux + 136));
			if (mm[0] == ((proc_dev >> 8) & 0xfff) && mm[1] == ((proc_dev & 0xff) | ((proc_dev >> 12) & 0xfff00)))
				r->why |= TL_WHY_STAT_ON_PROC;
		}
	}
	/* statfs answers with the filesystem's type: procfs's is unmistakable, however the path was spelled. */
	if (ret == 0 && c->aux != 0 && kind == TL_STATFS) {
		__u32 type = 0;
		bpf_probe_read_user(&type, sizeof(type), (void *)c->aux);
		if (type == PROC_SUPER_MAGIC)
			r->why |= TL_WHY_STAT_ON_PROC;
	}
	__u32 w = r->why;
	int emit;
	if (opens || kind == TL_CHDIR)
		emit = (w & TL_WHY_UNDER_NET) || (ret < 0 && w != 0);
	else if (fd_call)
		emit = (w & TL_WHY_UNDER_NET) != 0;
	else if (kind == TL_ACCESS || kind == TL_FACCESSAT || kind == TL_FACCESSAT2 || kind == TL_READLINK || kind == TL_READLINKAT)
		emit = w != 0;
	else /* stat family, statfs */
		emit = w != 0 && (rel != 2 || (w & TL_WHY_UNDER_NET));
	/* A path in another recipe's tree leaves the kernel whatever the call. */
	if (w & TL_WHY_ROOT)
		emit = 1;
	/* A path that could not be read at all is not judged by its string: say it was missed. */
	if (!emit && (r->flags & TL_FLAG_PATH_UNREAD) && (w & TL_WHY_RELATIVE_ON_PROC))
		emit = 1;
	if (!emit)
		return 0;
	__u64 id = bpf_get_current_pid_tgid();
	r->ns = bpf_ktime_get_ns();
	r->tgid = id >> 32;
	r->start = leader_start(t);
	r->exec_id = leader_exec_id(t);
	r->kind = kind;
	r->compat = c->compat;
	r->dfd = c->dfd;
	r->arg = c->arg;
	if (kind == TL_OPENAT2 && c->aux) {
		__u64 flags = 0;
		bpf_probe_read_user(&flags, sizeof(flags), (void *)c->aux);
		r->arg = flags;
	}
	r->ret = ret;
	submit_file(r, c->path, plen);
	return 0;
}

/* ---------------------------------------------------------------- io_uring --------------- */

#define IORING_OP_OPENAT 18
#define IORING_OP_STATX 21
#define IORING_OP_OPENAT2 28

SEC("tp_btf/io_uring_submit_req")
int BPF_PROG(on_uring_submit, struct io_kiocb *req)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	if (tgid == tripline_pid || !in_scope(tgid))
		return 0;
	__u8 op = BPF_CORE_READ(req, opcode);
	if (op != IORING_OP_OPENAT && op != IORING_OP_OPENAT2 && op != IORING_OP_STATX)
		return 0;
	struct tl_file *r = new_file_record();
	if (!r)
		return 0;
	struct filename *fn = 0;
	__s32 dfd = AT_FDCWD;
	__u64 arg = 0;
	if (op == IORING_OP_STATX) {
		struct io_statx *sx = (void *)&req->cmd;
		fn = BPF_CORE_READ(sx, filename);
		dfd = BPF_CORE_READ(sx, dfd);
		arg = BPF_CORE_READ(sx, flags);
		r->kind = TL_URING_STATX;
	} else {
		struct io_open *o = (void *)&req->cmd;
		fn = BPF_CORE_READ(o, filename);
		dfd = BPF_CORE_READ(o, dfd);
		arg = BPF_CORE_READ(o, how.flags);
		r->kind = op == IORING_OP_OPENAT ? TL_URING_OPENAT : TL_URING_OPENAT2;
	}
	if (!fn)
		return 0;
	__u32 zero = 0;
	char *path = bpf_map_lookup_elem(&uring_path, &zero);
	if (!path)
		return 0;
	const char *name = BPF_CORE_READ(fn, name);
	long n = bpf_probe_read_kernel_str(path, TL_PATH_MAX, name);
	if (n <= 0)
		return 0;
	__u32 plen = (n - 1) & (TL_PATH_MAX - 1);
	int rel = 0;
	r->why = why_from_string(path, plen, &rel);
	if (!rel && r->why == 0 && nroots != 0 && under_root(path, plen))
		r->why |= TL_WHY_ROOT;
	struct task_struct *t = bpf_get_current_task_btf();
	if (rel) {
		struct dentry *d = dfd == AT_FDCWD ? cwd_dentry(t) : fd_dentry(t, dfd);
		r->rk = 'b';
		if (walk((__u64)d, r) >= 0)
			r->why |= TL_WHY_RELATIVE_ON_PROC;
		else
			r->rk = '-';
	}
	if (r->why == 0)
		return 0;
	r->flags |= TL_FLAG_RESULT_UNKNOWN;
	r->ns = bpf_ktime_get_ns();
	r->tgid = tgid;
	r->start = leader_start(t);
	r->exec_id = leader_exec_id(t);
	r->compat = 0;
	r->dfd = dfd;
	r->arg = arg;
	r->ret = 0;
	submit_file(r, path, plen);
	return 0;
}
