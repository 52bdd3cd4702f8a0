// SPDX-License-Identifier: Apache-2.0
/*
 * tripline-sensor - loads tripline.bpf.c (embedded: tripline.skel.h), attaches it and streams
 * its records to stdout, unchanged (layout in tripline-records.h). Built statically by
 * scripts/build-sensor.sh; run as root by Tripline (src/sensors/compiled/compiled-sensor.ts).
 *
 *   tripline-sensor <TRIPLINE_PID> <PROC_DEV> <TREE_ROOT> [ROOT...]
 *   tripline-sensor --probe        loads and attaches, prints what it attached, exits
 * ROOT: up to 8 absolute paths (under 128 bytes) of the loaded recipes' trees besides
 * /proc/sys/net, which the program filters on in the kernel.
 *
 * Besides the program's records it writes READY once attached, TICK every 100 ms (time goes on
 * when nothing is traced) and LOST whenever the kernel-side loss counters grew. Stops on
 * SIGINT or SIGTERM after draining the ring buffer, and when stdout is closed.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/resource.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/types.h>
#include "tripline-records.h"
#include "tripline.skel.h"

#define RECORDS_VERSION 1

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

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list args)
{
	if (level == LIBBPF_DEBUG)
		return 0;
	return vfprintf(stderr, fmt, args);
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
	skel->rodata->nroots = (__u32)nroots;
	int err = tripline_bpf__load(skel);
	if (err) {
		fprintf(stderr, "tripline-sensor: the kernel refused the BPF program: %s\n", strerror(-err));
		tripline_bpf__destroy(skel);
		return 1;
	}
	for (int i = 0; i < nroots; i++) {
		struct { __u32 len; char s[TL_ROOT_MAX]; } root;
		memset(&root, 0, sizeof(root));
		root.len = (__u32)strlen(root_args[i]);
		memcpy(root.s, root_args[i], root.len);
		__u32 key = (__u32)i;
		if (bpf_map_update_elem(bpf_map__fd(skel->maps.roots), &key, &root, BPF_ANY) != 0) {
			fprintf(stderr, "tripline-sensor: cannot set root %d: %s\n", i + 1, strerror(errno));
			tripline_bpf__destroy(skel);
			return 1;
		}
	}
	err = tripline_bpf__attach(skel);
	if (err) {
		fprintf(stderr, "tripline-sensor: cannot attach: %s\n", strerror(-err));
		tripline_bpf__destroy(skel);
		return 1;
	}
	if (probe) {
		printf("attached: tp_btf sys_enter sys_exit io_uring_submit_req task_newtask sched_process_exec sched_process_exit\n");
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

	struct tl_ready ready = { .type = TL_REC_READY, .size = sizeof(ready), .ns = now_ns(), .self_pid = (__u32)self_pid,
				  .tree_root = (__u32)tree_root, .proc_dev = proc_dev, .version = RECORDS_VERSION };
	emit(&ready, sizeof(ready));
	flush_out();

	__u64 reported[2] = { 0, 0 };
	__u64 next_tick = now_ns();
	while (!stopping && !out_failed) {
		err = ring_buffer__poll(rb, 100);
		if (err < 0 && err != -EINTR) {
			fprintf(stderr, "tripline-sensor: ring buffer poll failed: %s\n", strerror(-err));
			break;
		}
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
