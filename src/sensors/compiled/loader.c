// SPDX-License-Identifier: Apache-2.0
/*
 * tripline-sensor - loads tripline.bpf.c (embedded: tripline.skel.h), attaches it and streams
 * its records to stdout, unchanged (layout in tripline-records.h). Built statically by
 * scripts/build-sensor.sh; run as root by Tripline (src/sensors/ebpf-sensor.ts).
 *
 *   tripline-sensor <TRIPLINE_PID> <PROC_DEV> <TREE_ROOT> [ROOT...]
 *   tripline-sensor --probe        loads and attaches, prints what it attached, exits
 * ROOT: up to 8 absolute paths (under 128 bytes) of the loaded recipes' trees besides
 * /proc/sys/net, which the program filters on in the kernel.
 *
 * At every start it also probes the security-hook tier (tripline-hooks.bpf.c, embedded:
 * tripline-hooks.skel.h): loads it, attaches it, checks that each hook sees the loader's own
 * accesses, and detaches it again, before the tracepoint tier is attached (so the probe's
 * accesses are never records). The FILE records come from the tracepoint tier; a TIER record,
 * before READY, says so and what became of the hooks (the kernel's refusal, with its errno).
 *
 * Besides the program's records it writes TIER, READY once attached, TICK every 100 ms (time
 * goes on when nothing is traced) and LOST whenever the kernel-side loss counters grew. Stops
 * on SIGINT or SIGTERM after draining the ring buffer, and when stdout is closed.
 *
 * stdin takes new recipe roots while it runs (a reload): a line "ROOTS\t/a\t/b\n" (up to 8
 * roots; none at all empties the set) replaces them, answered by a ROOTS record.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/types.h>
#include "tripline-records.h"
#include "tripline.skel.h"
#include "tripline-hooks.skel.h"


static volatile sig_atomic_t stopping;
static int out_failed;
static unsigned char out_buf[1 << 16];
static size_t out_len;

static void on_signal(int sig)
{
	(void)sig;
	stopping = 1;
}

static void flush_out(void)
{
	size_t off = 0;
	while (off < out_len && !out_failed) {
		ssize_t n = write(STDOUT_FILENO, out_buf + off, out_len - off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			out_failed = 1;
			break;
		}
		off += (size_t)n;
	}
	out_len = 0;
}

static void emit(const void *data, size_t size)
{
	if (size > sizeof(out_buf) - out_len)
		flush_out();
	if (size > sizeof(out_buf)) {
		/* Larger than the buffer: written as is. */
		size_t off = 0;
		while (off < size && !out_failed) {
			ssize_t n = write(STDOUT_FILENO, (const char *)data + off, size - off);
			if (n < 0) {
				if (errno == EINTR)
					continue;
				out_failed = 1;
			} else {
				off += (size_t)n;
			}
		}
		return;
	}
	memcpy(out_buf + out_len, data, size);
	out_len += size;
}

static __u64 now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000000000ULL + (__u64)ts.tv_nsec;
}

static int on_record(void *ctx, void *data, size_t size)
{
	(void)ctx;
	const struct tl_header *h = data;
	/* The program sets size; never trust it past what the ring buffer handed over. */
	if (size < sizeof(*h) || h->size > size)
		return 0;
	emit(data, h->size);
	return 0;
}

/* While the hook tier is probed for a run, libbpf's complaints go to the TIER record, not stderr. */
static __thread int libbpf_quiet;
static __thread char libbpf_refused_prog[64];

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list args)
{
	if (level == LIBBPF_DEBUG)
		return 0;
	/* The first program libbpf names is the one the kernel refused. */
	char line[512];
	va_list copy;
	va_copy(copy, args);
	vsnprintf(line, sizeof(line), fmt, copy);
	va_end(copy);
	const char *p = strstr(line, "prog '");
	if (libbpf_refused_prog[0] == 0 && p && sscanf(p + 6, "%63[^']", libbpf_refused_prog) != 1)
		libbpf_refused_prog[0] = 0;
	/* Whole (a verifier log is long), unless the hook probe of a run is quiet. */
	return libbpf_quiet ? 0 : vfprintf(stderr, fmt, args);
}

static int parse_u64(const char *text, __u64 *out)
{
	char *end = NULL;
	errno = 0;
	unsigned long long v = strtoull(text, &end, 10);
	if (errno != 0 || end == text || *end != '\0' || text[0] == '-')
		return -1;
	*out = v;
	return 0;
}

/* Writes the recipe roots into a program's roots map; -1 (errno set) when the kernel refused one. */
static int set_roots(int map_fd, int nroots, char **roots)
{
	for (int i = 0; i < nroots; i++) {
		struct { __u32 len; char s[TL_ROOT_MAX]; } root;
		memset(&root, 0, sizeof(root));
		root.len = (__u32)strlen(roots[i]);
		memcpy(root.s, roots[i], root.len);
		__u32 key = (__u32)i;
		if (bpf_map_update_elem(map_fd, &key, &root, BPF_ANY) != 0)
			return -1;
	}
	return 0;
}

/* ------------------------------------------------------------------ new roots on stdin -- */

struct line_in {
	char buf[TL_MAX_ROOTS * (TL_ROOT_MAX + 1) + 64];
	size_t len;
	int overlong;
};

/* Applies one ROOTS line: the roots are emptied while the map is rewritten, then set in force. */
static void apply_roots_line(char *line, struct tripline_bpf *skel)
{
	struct tl_roots r = { .type = TL_REC_ROOTS, .size = sizeof(r) };
	static char store[TL_MAX_ROOTS][TL_ROOT_MAX];
	char *roots[TL_MAX_ROOTS];
	int n = 0, bad = strncmp(line, "ROOTS", 5) != 0 || (line[5] != '\0' && line[5] != '\t');
	/* Tab-separated roots after the word; each copied, so the line itself is left as read. */
	for (const char *p = line + 5; !bad && *p == '\t';) {
		const char *root = p + 1;
		size_t len = strcspn(root, "\t");
		if (n >= TL_MAX_ROOTS || root[0] != '/' || len < 2 || len >= TL_ROOT_MAX) {
			bad = 1;
			break;
		}
		memcpy(store[n], root, len);
		store[n][len] = '\0';
		roots[n] = store[n];
		n++;
		p = root + len;
	}
	if (bad) {
		r.error = EINVAL;
		r.count = skel->bss->nroots;
	} else {
		skel->bss->nroots = 0;
		__sync_synchronize();
		struct { __u32 len; char s[TL_ROOT_MAX]; } empty;
		memset(&empty, 0, sizeof(empty));
		int fd = bpf_map__fd(skel->maps.roots);
		if (set_roots(fd, n, roots) != 0) {
			r.error = errno;
			n = 0;
		}
		for (__u32 key = (__u32)n; key < TL_MAX_ROOTS; key++)
			bpf_map_update_elem(fd, &key, &empty, BPF_ANY);
		__sync_synchronize();
		skel->bss->nroots = (__u32)n;
		r.count = (__u32)n;
	}
	r.ns = now_ns();
	emit(&r, sizeof(r));
}

/* Reads what stdin has; applies each whole line. 0 at end of input, -1 on error, else 1. */
static int read_roots(struct line_in *in, struct tripline_bpf *skel)
{
	ssize_t got = read(STDIN_FILENO, in->buf + in->len, sizeof(in->buf) - 1 - in->len);
	if (got < 0)
		return errno == EINTR || errno == EAGAIN ? 1 : -1;
	if (got == 0)
		return 0;
	in->len += (size_t)got;
	for (;;) {
		char *nl = memchr(in->buf, '\n', in->len);
		if (!nl) {
			/* A line longer than any valid one: refused whole once its end comes. */
			if (in->len == sizeof(in->buf) - 1) {
				in->overlong = 1;
				in->len = 0;
			}
			return 1;
		}
		*nl = '\0';
		if (in->overlong) {
			struct tl_roots r = { .type = TL_REC_ROOTS, .size = sizeof(r), .ns = now_ns(), .count = skel->bss->nroots, .error = EINVAL };
			emit(&r, sizeof(r));
			in->overlong = 0;
		} else {
			apply_roots_line(in->buf, skel);
		}
		size_t used = (size_t)(nl - in->buf) + 1;
		memmove(in->buf, nl + 1, in->len - used);
		in->len -= used;
	}
}

/* ---------------------------------------------------------------- the security-hook probe -- */

#define NHOOKS (TL_HOOK_DIR_READ - TL_HOOK_FILE_OPEN + 1)
static const char *const hook_names[NHOOKS] = { "file_open", "inode_getattr", "inode_permission", "sb_statfs", "file_permission" };

struct hook_seen {
	__u32 pid;
	unsigned int kinds;
};

static int on_hook_record(void *ctx, void *data, size_t size)
{
	struct hook_seen *seen = ctx;
	const struct tl_file *f = data;
	if (size < offsetof(struct tl_file, data) || f->type != TL_REC_FILE || f->tgid != seen->pid)
		return 0;
	if (f->kind >= TL_HOOK_FILE_OPEN && f->kind <= TL_HOOK_DIR_READ)
		seen->kinds |= 1u << (f->kind - TL_HOOK_FILE_OPEN);
	return 0;
}

static void set_tier(struct tl_tier *t, __u8 hooks, int error, const char *fmt, ...)
{
	char text[TL_TIER_REASON_MAX + 1];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if (n > TL_TIER_REASON_MAX)
		n = TL_TIER_REASON_MAX;
	t->type = TL_REC_TIER;
	t->tier = TL_TIER_TRACEPOINTS;
	t->hooks = hooks;
	t->error = error;
	memcpy(t->reason, text, (size_t)n);
	t->reason_len = (__u16)n;
	t->size = (__u32)(offsetof(struct tl_tier, reason) + (size_t)n);
}

/*
 * Loads and attaches the security-hook tier with the run's settings (so the verifier checks
 * what a run would load), makes one access of each kind to /proc/sys/net, checks that each hook
 * recorded it, and detaches again. Must run before the tracepoint tier is attached: the probe's
 * own accesses are not records. The result goes into *t.
 */
static void probe_hooks(struct tl_tier *t, __u32 self_pid, __u64 proc_dev, int nroots, char **roots, int verbose)
{
	libbpf_quiet = !verbose;
	libbpf_refused_prog[0] = 0;
	struct tripline_hooks_bpf *h = tripline_hooks_bpf__open();
	if (!h) {
		int e = errno;
		set_tier(t, TL_HOOKS_UNAVAILABLE, e, "security hooks unavailable: their BPF object does not open: %s", strerror(e));
		goto out;
	}
	__u32 me = (__u32)getpid();
	h->rodata->tripline_pid = self_pid;
	h->rodata->proc_dev = proc_dev;
	/* A tree filter, as in a run: this process alone is in it (the verifier sees the map lookup). */
	h->rodata->tree_root = me;
	/* A probe's worth of room: the tree filter lets only this process's records through. */
	bpf_map__set_max_entries(h->maps.events, 256 << 10);
	bpf_map__set_max_entries(h->maps.tree, 16);
	int err = tripline_hooks_bpf__load(h);
	if (err) {
		struct bpf_program *p = libbpf_refused_prog[0] ? bpf_object__find_program_by_name(h->obj, libbpf_refused_prog) : NULL;
		set_tier(t, TL_HOOKS_REFUSED, -err, "the kernel refused the security-hook programs (%s): %s", p ? bpf_program__section_name(p) : "fentry",
			 strerror(-err));
		goto out;
	}
	__u8 one = 1;
	if (bpf_map_update_elem(bpf_map__fd(h->maps.tree), &me, &one, BPF_ANY) != 0 || set_roots(bpf_map__fd(h->maps.roots), nroots, roots) != 0) {
		int e = errno;
		set_tier(t, TL_HOOKS_UNATTACHED, e, "security hooks loaded, but their maps could not be set: %s", strerror(e));
		goto out;
	}
	h->bss->nroots = (__u32)nroots;
	err = tripline_hooks_bpf__attach(h);
	if (err) {
		set_tier(t, TL_HOOKS_UNATTACHED, -err, "security hooks loaded, but the kernel refused to attach them: %s", strerror(-err));
		goto out;
	}
	struct hook_seen seen = { .pid = me, .kinds = 0 };
	struct ring_buffer *rb = ring_buffer__new(bpf_map__fd(h->maps.events), on_hook_record, &seen, NULL);
	if (!rb) {
		int e = errno;
		set_tier(t, TL_HOOKS_UNATTACHED, e, "security hooks attached, but their ring buffer does not open: %s", strerror(e));
		goto out;
	}
	/* One access per hook, on the sysctl tree the hooks watch. */
	int fd = open("/proc/sys/net", O_RDONLY | O_DIRECTORY | O_CLOEXEC); /* file_open */
	if (fd >= 0) {
		char dents[4096];
		(void)syscall(SYS_getdents64, fd, dents, sizeof(dents)); /* file_permission, on a directory */
		close(fd);
	}
	struct stat st;
	(void)stat("/proc/sys/net", &st);            /* inode_getattr */
	(void)access("/proc/sys/net", F_OK);         /* inode_permission with MAY_ACCESS */
	struct statfs sfs;
	(void)statfs("/proc/sys/net", &sfs);         /* sb_statfs */
	ring_buffer__consume(rb);
	ring_buffer__free(rb);
	if (seen.kinds == (1u << NHOOKS) - 1) {
		set_tier(t, TL_HOOKS_PROBED, 0, "security hooks attached (fentry) and saw each test access; FILE records come from the tracepoints");
	} else {
		char missed[128] = "";
		for (int i = 0; i < NHOOKS; i++) {
			if (!(seen.kinds & (1u << i))) {
				strncat(missed, " ", sizeof(missed) - strlen(missed) - 1);
				strncat(missed, hook_names[i], sizeof(missed) - strlen(missed) - 1);
			}
		}
		set_tier(t, TL_HOOKS_BLIND, 0, "security hooks attached (fentry) but missed test accesses:%s", missed);
	}
out:
	tripline_hooks_bpf__destroy(h);
	libbpf_quiet = 0;
}

struct hook_probe {
	struct tl_tier tier;
	__u32 self_pid;
	__u64 proc_dev;
	int nroots;
	char **roots;
	int verbose;
};

static void *hook_probe_thread(void *arg)
{
	struct hook_probe *hp = arg;
	probe_hooks(&hp->tier, hp->self_pid, hp->proc_dev, hp->nroots, hp->roots, hp->verbose);
	return NULL;
}

static const char *hooks_state(__u8 hooks)
{
	switch (hooks) {
	case TL_HOOKS_UNAVAILABLE: return "unavailable";
	case TL_HOOKS_REFUSED: return "refused";
	case TL_HOOKS_UNATTACHED: return "unattached";
	case TL_HOOKS_PROBED: return "probed";
	case TL_HOOKS_BLIND: return "blind";
	}
	return "unknown";
}

static void sum_lost(struct tripline_bpf *skel, __u64 totals[2])
{
	int cpus = libbpf_num_possible_cpus();
	if (cpus <= 0 || cpus > 4096)
		return;
	__u64 values[4096];
	for (__u32 key = 0; key < 2; key++) {
		totals[key] = 0;
		if (bpf_map_lookup_elem(bpf_map__fd(skel->maps.lost), &key, values) != 0)
			continue;
		for (int i = 0; i < cpus; i++)
			totals[key] += values[i];
	}
}

int main(int argc, char **argv)
{
	int probe = argc == 2 && strcmp(argv[1], "--probe") == 0;
	__u64 self_pid = 0, proc_dev = 0, tree_root = 0;
	if (!probe && (argc < 4 || argc > 4 + TL_MAX_ROOTS || parse_u64(argv[1], &self_pid) || parse_u64(argv[2], &proc_dev) ||
		       parse_u64(argv[3], &tree_root) || self_pid > 0x7fffffff || tree_root > 0x7fffffff)) {
		fprintf(stderr, "usage: tripline-sensor <TRIPLINE_PID> <PROC_DEV> <TREE_ROOT> [ROOT...] | --probe\n");
		return 2;
	}
	/* The probe loads the program as a run with a root would: every path the verifier must accept. */
	static char *probe_roots[] = { "/tripline-probe-root" };
	char **root_args = probe ? probe_roots : argv + 4;
	int nroots = probe ? 1 : argc - 4;
	for (int i = 0; i < nroots; i++) {
		size_t len = strlen(root_args[i]);
		if (root_args[i][0] != '/' || len < 2 || len >= TL_ROOT_MAX) {
			fprintf(stderr, "tripline-sensor: root %d (%s) is not an absolute path of 2 to %d bytes\n", i + 1, root_args[i], TL_ROOT_MAX - 1);
			return 2;
		}
	}
	libbpf_set_print(libbpf_print);
	struct rlimit unlimited = { RLIM_INFINITY, RLIM_INFINITY };
	setrlimit(RLIMIT_MEMLOCK, &unlimited); /* kernels before 5.11 charge BPF memory to it */

	struct tripline_bpf *skel = tripline_bpf__open();
	if (!skel) {
		fprintf(stderr, "tripline-sensor: cannot open the BPF object: %s\n", strerror(errno));
		return 1;
	}
	skel->rodata->tripline_pid = (__u32)self_pid;
	skel->rodata->proc_dev = proc_dev;
	skel->rodata->tree_root = (__u32)tree_root;
	/*
	 * The security-hook probe runs beside the tracepoint tier's load (mostly the kernel's
	 * verifier; the probe mostly parses vmlinux BTF in user space), and ends before the
	 * tracepoints attach: the probe's own accesses must not become records.
	 */
	static struct hook_probe hp;
	hp.self_pid = (__u32)self_pid;
	hp.proc_dev = proc_dev;
	hp.nroots = nroots;
	hp.roots = root_args;
	hp.verbose = probe;
	pthread_t hook_thread;
	int threaded = pthread_create(&hook_thread, NULL, hook_probe_thread, &hp) == 0;
	int err = tripline_bpf__load(skel);
	if (threaded)
		pthread_join(hook_thread, NULL);
	else
		hook_probe_thread(&hp);
	struct tl_tier *tier = &hp.tier;
	if (err) {
		fprintf(stderr, "tripline-sensor: the kernel refused the BPF program: %s\n", strerror(-err));
		tripline_bpf__destroy(skel);
		return 1;
	}
	if (set_roots(bpf_map__fd(skel->maps.roots), nroots, root_args) != 0) {
		fprintf(stderr, "tripline-sensor: cannot set the recipe roots: %s\n", strerror(errno));
		tripline_bpf__destroy(skel);
		return 1;
	}
	skel->bss->nroots = (__u32)nroots;
	err = tripline_bpf__attach(skel);
	if (err) {
		fprintf(stderr, "tripline-sensor: cannot attach: %s\n", strerror(-err));
		tripline_bpf__destroy(skel);
		return 1;
	}
	if (probe) {
		printf("attached: tp_btf sys_enter sys_exit io_uring_submit_req task_newtask sched_process_exec sched_process_exit\n");
		printf("hooks: %s (errno %d): %.*s\n", hooks_state(tier->hooks), tier->error, (int)tier->reason_len, tier->reason);
		printf("tier: tracepoints\n");
		tripline_bpf__destroy(skel);
		return 0;
	}
	struct ring_buffer *rb = ring_buffer__new(bpf_map__fd(skel->maps.events), on_record, NULL, NULL);
	if (!rb) {
		fprintf(stderr, "tripline-sensor: cannot open the ring buffer: %s\n", strerror(errno));
		tripline_bpf__destroy(skel);
		return 1;
	}
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	tier->ns = now_ns();
	emit(tier, tier->size);
	struct tl_ready ready = { .type = TL_REC_READY, .size = sizeof(ready), .ns = now_ns(), .self_pid = (__u32)self_pid,
				  .tree_root = (__u32)tree_root, .proc_dev = proc_dev, .version = TL_RECORDS_VERSION };
	emit(&ready, sizeof(ready));
	flush_out();

	__u64 reported[2] = { 0, 0 };
	__u64 next_tick = now_ns();
	/* The ring buffer's epoll fd and stdin (new roots); stdin closed or /dev/null drops out. */
	struct pollfd fds[2] = { { .fd = ring_buffer__epoll_fd(rb), .events = POLLIN }, { .fd = STDIN_FILENO, .events = POLLIN } };
	static struct line_in in;
	while (!stopping && !out_failed) {
		int ready_fds = poll(fds, 2, 100);
		if (ready_fds < 0 && errno != EINTR) {
			fprintf(stderr, "tripline-sensor: poll failed: %s\n", strerror(errno));
			break;
		}
		err = ring_buffer__consume(rb);
		if (err < 0 && err != -EINTR) {
			fprintf(stderr, "tripline-sensor: ring buffer read failed: %s\n", strerror(-err));
			break;
		}
		if (ready_fds > 0 && (fds[1].revents & (POLLIN | POLLHUP | POLLERR)) != 0 && read_roots(&in, skel) <= 0)
			fds[1].fd = -1;
		__u64 now = now_ns();
		if (now >= next_tick) {
			__u64 totals[2] = { 0, 0 };
			sum_lost(skel, totals);
			if (totals[0] != reported[0] || totals[1] != reported[1]) {
				struct tl_lost lost = { .type = TL_REC_LOST, .size = sizeof(lost), .ns = now, .ringbuf = totals[0] - reported[0],
							.state = totals[1] - reported[1] };
				emit(&lost, sizeof(lost));
				reported[0] = totals[0];
				reported[1] = totals[1];
			}
			struct tl_header tick = { .type = TL_REC_TICK, .size = sizeof(tick), .ns = now };
			emit(&tick, sizeof(tick));
			next_tick = now + 100000000ULL;
		}
		flush_out();
	}
	/* Whatever the kernel committed before the stop is handed over. */
	ring_buffer__consume(rb);
	__u64 totals[2] = { 0, 0 };
	sum_lost(skel, totals);
	if (totals[0] != reported[0] || totals[1] != reported[1]) {
		struct tl_lost lost = { .type = TL_REC_LOST, .size = sizeof(lost), .ns = now_ns(), .ringbuf = totals[0] - reported[0],
					.state = totals[1] - reported[1] };
		emit(&lost, sizeof(lost));
	}
	flush_out();
	ring_buffer__free(rb);
	tripline_bpf__destroy(skel);
	return out_failed ? 1 : 0;
}
