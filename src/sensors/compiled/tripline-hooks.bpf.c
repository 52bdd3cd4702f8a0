// SPDX-License-Identifier: GPL-2.0
/*
 * tripline-hooks.bpf.c - the security-hook tier of Tripline's compiled sensor (CO-RE, libbpf;
 * x86_64, fentry needs a kernel >= 5.5 with BTF and ftrace direct calls).
 *
 * fentry programs on the kernel's security hooks, where the kernel has already resolved the
 * object a call reached: whatever the spelling, system call table, io_uring request, symlink,
 * bind mount, mount namespace or chroot that led there, the hook is handed the dentry itself.
 *   security_file_open          every open (syscalls, io_uring, open_by_handle_at, exec's own);
 *   security_inode_getattr      every stat/statx/fstat (and io_uring statx);
 *   security_inode_permission   access()/faccessat() only (MAY_ACCESS): the other callers are
 *                               every path component of every lookup, left at the first test;
 *   security_sb_statfs          statfs()/fstatfs() of anything;
 *   security_file_permission    directory reads (getdents, io_uring has none), MAY_READ on a dir.
 * Not hooked: security_inode_readlink (sysctl entries are never symlinks, so it never fires on
 * the sysctl tree; a readlink through a link is a path lookup, which only inode_permission's
 * per-component MAY_EXEC calls would show, at a cost on every lookup of every process).
 *
 * Each hook judges the object by the same dentry walk as the tracepoint tier (procfs, sys/net
 * or below: TL_WHY_UNDER_NET) and, where the kernel allows bpf_d_path (file_open,
 * inode_getattr, file_permission), by the recipes' other roots; the same filters apply
 * (tripline's own pid, the run's tree map). Records are FILE records (tripline-records.h) of
 * the TL_HOOK_* kinds, flagged TL_FLAG_RESULT_UNKNOWN: the hook runs before the call's result.
 *
 * The loader loads and attaches this object at every start as a probe and checks that each
 * hook sees the loader's own accesses; its records are not yet part of the stream (the tier
 * could not be run on the machines it was written on: they refuse fentry). docs/sensors.md.
 */
#include "tripline-shared.bpf.h"

char LICENSE[] SEC("license") = "GPL";

#define MAY_READ 0x04
#define MAY_ACCESS 0x10
#define S_IFMT 00170000
#define S_IFDIR 0040000

/* The path bpf_d_path gave, for the recipe roots. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, char[TL_PATH_MAX]);
} hook_path SEC(".maps");

static __always_inline int hook_in_scope(__u32 tgid)
{
	return tgid != tripline_pid && in_scope(tgid);
}

/*
 * Judges the object (dentry d; path p when bpf_d_path may be called from this hook, else 0)
 * and sends its record when it lies under sys/net on a procfs or in a recipe root.
 */
static __always_inline void judge(__u16 kind, struct dentry *d, __u64 arg, char *path, __u32 plen, int path_known)
{
	struct tl_file *r = new_file_record();
	if (!r)
		return;
	int depth = walk((__u64)d, r);
	if (depth >= 0)
		r->rk = 'o';
	if (path_known && nroots != 0 && depth < 0 && plen > 0 && under_root(path, plen))
		r->why |= TL_WHY_ROOT;
	if ((r->why & (TL_WHY_UNDER_NET | TL_WHY_ROOT)) == 0)
		return;
	struct task_struct *t = bpf_get_current_task_btf();
	r->flags |= TL_FLAG_RESULT_UNKNOWN;
	r->ns = bpf_ktime_get_ns();
	r->tgid = bpf_get_current_pid_tgid() >> 32;
	r->start = leader_start(t);
	r->exec_id = leader_exec_id(t);
	r->kind = kind;
	r->compat = is_compat(t);
	r->dfd = AT_FDCWD;
	r->arg = arg;
	r->ret = 0;
	submit_file(r, path, path_known ? plen : 0);
}

/* bpf_d_path of a hook's own path argument (the kernel allows it on a few hooks only). */
static __always_inline char *d_path_of(const struct path *p, __u32 *plen)
{
	*plen = 0;
	if (nroots == 0)
		return 0;
	__u32 zero = 0;
	char *buf = bpf_map_lookup_elem(&hook_path, &zero);
	if (!buf)
		return 0;
	long n = bpf_d_path((struct path *)p, buf, TL_PATH_MAX);
	if (n <= 1)
		return 0;
	*plen = (n - 1) & (TL_PATH_MAX - 1);
	return buf;
}

SEC("fentry/security_file_open")
int BPF_PROG(hook_file_open, struct file *file)
{
	if (!hook_in_scope(bpf_get_current_pid_tgid() >> 32))
		return 0;
	__u32 plen = 0;
	char *path = d_path_of(&file->f_path, &plen);
	judge(TL_HOOK_FILE_OPEN, file->f_path.dentry, file->f_flags, path, plen, path != 0);
	return 0;
}

SEC("fentry/security_inode_getattr")
int BPF_PROG(hook_inode_getattr, const struct path *p)
{
	if (!hook_in_scope(bpf_get_current_pid_tgid() >> 32))
		return 0;
	__u32 plen = 0;
	char *path = d_path_of(p, &plen);
	judge(TL_HOOK_INODE_GETATTR, p->dentry, 0, path, plen, path != 0);
	return 0;
}

SEC("fentry/security_inode_permission")
int BPF_PROG(hook_inode_permission, struct inode *inode, int mask)
{
	/* Called for every component of every lookup: anything but access() leaves here. */
	if (!(mask & MAY_ACCESS))
		return 0;
	if (!hook_in_scope(bpf_get_current_pid_tgid() >> 32))
		return 0;
	/* The inode's dentry: its first alias (sysctl inodes have one). */
	struct hlist_node *alias = BPF_CORE_READ(inode, i_dentry.first);
	if (!alias)
		return 0;
	struct dentry *d = (struct dentry *)((char *)alias - bpf_core_field_offset(struct dentry, d_u.d_alias));
	judge(TL_HOOK_INODE_ACCESS, d, (__u32)mask, 0, 0, 0);
	return 0;
}

SEC("fentry/security_sb_statfs")
int BPF_PROG(hook_sb_statfs, struct dentry *dentry)
{
	if (!hook_in_scope(bpf_get_current_pid_tgid() >> 32))
		return 0;
	judge(TL_HOOK_SB_STATFS, dentry, 0, 0, 0, 0);
	return 0;
}

SEC("fentry/security_file_permission")
int BPF_PROG(hook_file_permission, struct file *file, int mask)
{
	/* Every read and write passes here: only a read of a directory (a listing) goes on. */
	if (!(mask & MAY_READ) || (file->f_inode->i_mode & S_IFMT) != S_IFDIR)
		return 0;
	if (!hook_in_scope(bpf_get_current_pid_tgid() >> 32))
		return 0;
	__u32 plen = 0;
	char *path = d_path_of(&file->f_path, &plen);
	judge(TL_HOOK_DIR_READ, file->f_path.dentry, (__u32)mask, path, plen, path != 0);
	return 0;
}
