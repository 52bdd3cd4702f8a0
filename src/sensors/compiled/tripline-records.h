/* SPDX-License-Identifier: (GPL-2.0 OR Apache-2.0) */
/*
 * The records Tripline's compiled sensor writes, shared by the BPF program, the loader and
 * (by hand, checked by a test) src/sensors/compiled/record-decoder.ts. Little-endian, every
 * record starts with a tl_header; `size` is the record's length in bytes (the variable path
 * or filename comes last and is not NUL-terminated). Times are CLOCK_MONOTONIC ns.
 */
#ifndef TRIPLINE_RECORDS_H
#define TRIPLINE_RECORDS_H

/* tl_ready.version; record-decoder.ts's RECORDS_VERSION must match. 2: TIER comes before READY;
 * 3: ROOTS; 4: FORK and EXEC carry the cgroup (v2) id of the process that made them, EXEC the
 * names of that cgroup's directory and its parent's; 5: EXEC also the cgroup's depth (the root is 0)
 * and the name of its top directory (the root's child it is under). */
#define TL_RECORDS_VERSION 5

#define TL_PATH_MAX 4096
#define TL_ARGV_MAX 1024
#define TL_MAX_NAMES 16
#define TL_NAME_MAX 64
/* Bytes of a cgroup directory's name in EXEC, NUL included (libpod-<64 hex> is 71, cri-containerd-<64 hex>.scope 85). */
#define TL_CGROUP_NAME_MAX 128
/* Bytes of the top directory's name in EXEC (libpod_parent, kubepods.slice: a longer one is no runtime's). */
#define TL_CGROUP_TOP_MAX 32
/* The deepest cgroup whose top directory EXEC names (a runtime's container is at depth 2 to 4). */
#define TL_CGROUP_TOP_DEPTH 4
/* Room for the packed names: TL_MAX_NAMES * TL_NAME_MAX, doubled so offsets masked with
 * (TL_NAMES_SPACE - 1) always leave a whole path's room after them (the verifier's bounds). */
#define TL_NAMES_SPACE 2048

enum tl_record_type {
	TL_REC_READY = 1, /* loader: attached */
	TL_REC_FORK = 2,
	TL_REC_EXEC = 3,
	TL_REC_EXIT = 4,
	TL_REC_TICK = 5,  /* loader: time goes on */
	TL_REC_SYNC = 6,  /* tripline's barrier access came through */
	TL_REC_FILE = 7,
	TL_REC_LOST = 8,  /* loader: records dropped in the kernel since the last LOST */
	TL_REC_TIER = 9,  /* loader: which tier writes the FILE records, and why (once, before READY) */
	TL_REC_ROOTS = 10, /* loader: the recipe roots asked for on stdin are in force (or why not) */
};

/* Calls, whatever table (native, i386, io_uring) they came through. */
enum tl_call {
	TL_OPEN = 1, TL_OPENAT, TL_OPENAT2, TL_CREAT, TL_STAT, TL_LSTAT, TL_NEWFSTATAT, TL_STATX,
	TL_ACCESS, TL_FACCESSAT, TL_FACCESSAT2, TL_READLINK, TL_READLINKAT, TL_CHDIR, TL_FCHDIR,
	TL_GETDENTS64, TL_GETDENTS, TL_STATFS, TL_FSTATFS, TL_OPEN_BY_HANDLE_AT, TL_OPEN_TREE,
	TL_URING_OPENAT, TL_URING_OPENAT2, TL_URING_STATX,
	/*
	 * The security-hook tier (tripline-hooks.bpf.c): the hook that saw the object, whatever call
	 * led there. Only the loader's start-up probe reads these; they are not written to stdout.
	 */
	TL_HOOK_FILE_OPEN, TL_HOOK_INODE_GETATTR, TL_HOOK_INODE_ACCESS, TL_HOOK_SB_STATFS, TL_HOOK_DIR_READ,
};

/* Why a FILE record left the kernel (the bits of tripline.bt, same values). */
#define TL_WHY_NET 1               /* path starts with /proc/sys/net */
#define TL_WHY_PROC 2              /* path starts with /proc (other, not a non-net sysctl subtree) */
#define TL_WHY_DOTS 4              /* path starts with //, /. or .. */
#define TL_WHY_RELATIVE_ON_PROC 8  /* relative path whose base is on procfs */
#define TL_WHY_UNDER_NET 16        /* the kernel's dentry is sys/net or below, on procfs */
#define TL_WHY_STAT_ON_PROC 32     /* a stat answered with procfs's st_dev (statfs: procfs's f_type) */
#define TL_WHY_ROOT 64             /* an absolute path in one of the recipes' other roots */

#define TL_MAX_ROOTS 8             /* recipe roots besides /proc/sys/net the kernel filters on */
#define TL_ROOT_MAX 128            /* bytes of a root, NUL included */

#define TL_FLAG_PATH_AT_EXIT 1     /* the entry could not read the path; read at exit */
#define TL_FLAG_PATH_UNREAD 2      /* the path could not be read at all */
#define TL_FLAG_DEEP 4             /* the dentry lies deeper than TL_MAX_NAMES */
#define TL_FLAG_RESULT_UNKNOWN 8   /* io_uring: recorded at submission, result not known */

#define TL_PATH_NONE 0
#define TL_PATH_ENTRY 1
#define TL_PATH_FAULT 2
#define TL_PATH_EXIT 3

#define TL_LOST_RINGBUF 0          /* the ring buffer was full */
#define TL_LOST_STATE 1            /* no task storage for a call in flight, or no room to track a child */

struct tl_header {
	__u32 type;
	__u32 size;
	__u64 ns;
};

struct tl_ready {
	__u32 type;
	__u32 size;
	__u64 ns;
	__u32 self_pid;
	__u32 tree_root;
	__u64 proc_dev;
	__u32 version;
	__u32 pad;
};

/* TIER: the tier whose programs write FILE records, and what became of the security hooks. */
#define TL_TIER_TRACEPOINTS 1      /* tripline.bpf.c: raw syscall and io_uring tracepoints */

#define TL_HOOKS_UNAVAILABLE 1     /* the hooks object could not be opened (libbpf: no BTF target...) */
#define TL_HOOKS_REFUSED 2         /* the kernel refused to load the hook programs */
#define TL_HOOKS_UNATTACHED 3      /* loaded, but the kernel refused to attach them */
#define TL_HOOKS_PROBED 4          /* loaded, attached and saw the loader's own accesses; detached again */
#define TL_HOOKS_BLIND 5           /* loaded and attached, but missed some of the loader's own accesses */

#define TL_TIER_REASON_MAX 256

struct tl_tier {
	__u32 type;
	__u32 size;
	__u64 ns;
	__u8 tier;
	__u8 hooks;
	__u16 reason_len;
	__s32 error;               /* errno of the refusal, 0 when there was none */
	char reason[TL_TIER_REASON_MAX]; /* reason_len bytes, not NUL-terminated; the record ends there */
};

/* The answer to a ROOTS line on the loader's stdin. */
struct tl_roots {
	__u32 type;
	__u32 size;
	__u64 ns;
	__u32 count;               /* roots in force now */
	__s32 error;               /* 0, or why the line was refused (EINVAL) or a root not set (errno) */
};

struct tl_lost {
	__u32 type;
	__u32 size;
	__u64 ns;
	__u64 ringbuf;
	__u64 state;
};

struct tl_fork {
	__u32 type;
	__u32 size;
	__u64 ns;
	__u32 parent_tgid;
	__u32 parent_tid;
	__u32 child_tid;
	__u32 thread;
	__u64 clone_flags;
	__u64 parent_start;
	__u32 parent_exec_id;
	__u32 pad;
	/* bpf_get_current_cgroup_id() of the parent as it forks (the child starts there): the cgroup
	 * v2 id, the inode of its directory on the cgroup2 mount; 0 without a unified hierarchy. */
	__u64 cgroup;
};

struct tl_exit {
	__u32 type;
	__u32 size;
	__u64 ns;
	__u32 tgid;
	__u32 exec_id;
	__u64 start;
	__s32 status;
	char comm[16];
	__u32 pad;
};

struct tl_exec {
	__u32 type;
	__u32 size;
	__u64 ns;
	__u32 tgid;
	__u32 ppid;
	__u32 uid;
	__u32 old_tid;
	__u64 start;
	__u32 exec_id;
	__u32 exe_dev;
	__u64 exe_ino;
	__u32 arg_len;
	__u32 argv_copied;
	__u32 filename_len;
	char comm[16];
	/* The cgroup's depth (struct cgroup's level: the root is 0, /libpod_parent/libpod-<id> 2). A
	 * name can be made by whoever a cgroup subtree is delegated to, at any depth below theirs:
	 * the depth and the top directory anchor the names to the root. */
	__u32 cgroup_level;
	/* bpf_get_current_cgroup_id() at exec (after a container runtime's init joined the container's
	 * cgroup), and the names of that cgroup's directory and its parent's on the cgroup2 mount
	 * (NUL-terminated, empty when unread): the container is known even when the process and its
	 * cgroup are gone before user space reads the record. */
	__u64 cgroup;
	char cgroup_leaf[TL_CGROUP_NAME_MAX];
	char cgroup_parent[TL_CGROUP_NAME_MAX];
	/* The name of the depth-1 directory the cgroup is in (the leaf's own at depth 1), for a
	 * cgroup no deeper than TL_CGROUP_TOP_DEPTH; else empty. */
	char cgroup_top[TL_CGROUP_TOP_MAX];
	char argv[TL_ARGV_MAX];
	char filename[TL_PATH_MAX];
};

struct tl_file {
	__u32 type;
	__u32 size;
	__u64 ns;
	__u32 tgid;
	__u32 exec_id;
	__u64 start;
	__u16 kind;
	__u8 compat;
	__u8 rk;
	__s8 depth;
	__u8 flags;
	__u16 path_len;
	__s32 dfd;
	__u16 why;
	__u16 names_len;
	__u64 arg;
	__s64 ret;
	/*
	 * names_len bytes of dentry names, each NUL-terminated, leaf first (the `depth` names below
	 * the procfs root), then path_len bytes of the path. The record ends there (`size`).
	 */
	char data[TL_NAMES_SPACE + TL_PATH_MAX];
};

#endif
