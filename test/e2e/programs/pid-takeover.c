/*
 * A reader whose parent is dead and whose parent's pid now belongs to another process, made
 * at once with clone3(set_tid) (needs CAP_SYS_ADMIN in the pid namespace: root here). A table
 * keyed by pid alone splices the reader under the new holder of the pid, or loses its ancestry.
 * Built by the end-to-end tests with: cc -O1 -o pid-takeover pid-takeover.c
 *
 *   pid-takeover single OUT F...   one intermediate I forks the reader R (cat F...), I exits,
 *                                  the program takes I's pid for a child that execs sleep.
 *   pid-takeover split OUT F...    one I and one R per file; each I's pid is taken by a child
 *                                  of a helper (this program exec'd again), outside I's line.
 *
 * OUT gets one line per reader: "reader R intermediate I holder Q" (Q is the pid taken over,
 * I's pid, now a sleep of the program's or the helper's). Exit status: 0, or 2 when clone3
 * with set_tid is refused (the message says why), 1 on any other failure.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static void die(const char *what)
{
	perror(what);
	exit(1);
}

/* A child with exactly this pid, which execs `sleep 1000`; its pid, or -1 with errno. */
static pid_t take_pid(pid_t want)
{
	pid_t tid[1] = { want };
	struct clone_args args;
	memset(&args, 0, sizeof(args));
	args.exit_signal = SIGCHLD;
	args.set_tid = (uint64_t)(uintptr_t)tid;
	args.set_tid_size = 1;
	long r = syscall(SYS_clone3, &args, sizeof(args));
	if (r == 0) {
		execl("/bin/sleep", "sleep", "1000", (char *)NULL);
		_exit(127);
	}
	return (pid_t)r;
}

/* Forks I, which forks R (waiting on a pipe, then `cat FILES` with its output to `out_fd`), and exits. */
static pid_t spawn_reader(char **files, int nfiles, int out_fd, int *go_fd, pid_t *intermediate)
{
	int go[2], report[2];
	if (pipe(go) != 0 || pipe(report) != 0) die("pipe");
	pid_t i = fork();
	if (i < 0) die("fork");
	if (i == 0) {
		pid_t r = fork();
		if (r < 0) _exit(1);
		if (r == 0) {
			char c;
			close(go[1]);
			if (read(go[0], &c, 1) != 1) _exit(1);
			dup2(out_fd, 1);
			char *argv[16] = { "cat" };
			for (int k = 0; k < nfiles && k < 14; k++) argv[k + 1] = files[k];
			execv("/bin/cat", argv);
			_exit(127);
		}
		if (write(report[1], &r, sizeof(r)) != sizeof(r)) _exit(1);
		_exit(0);
	}
	close(go[0]);
	close(report[1]);
	pid_t r;
	if (read(report[0], &r, sizeof(r)) != sizeof(r)) die("read reader pid");
	close(report[0]);
	int status;
	if (waitpid(i, &status, 0) != i) die("waitpid");
	*go_fd = go[1];
	*intermediate = i;
	return r;
}

/* Lets R run and waits until its output pipe closes (cat exited). */
static void run_reader(int go_fd, int out_read)
{
	char buf[4096];
	if (write(go_fd, "g", 1) != 1) die("write go");
	close(go_fd);
	while (read(out_read, buf, sizeof(buf)) > 0) {
	}
	close(out_read);
}

static void refused(pid_t want)
{
	fprintf(stderr, "pid-takeover: clone3 with set_tid %d refused: %s\n", (int)want, strerror(errno));
	exit(errno == EPERM || errno == ENOSYS || errno == EINVAL ? 2 : 1);
}

/* The helper: reads pids to take over from stdin, answers each with the result on stdout. */
static int helper(void)
{
	pid_t want;
	while (read(0, &want, sizeof(want)) == sizeof(want)) {
		pid_t got = take_pid(want);
		int answer = got < 0 ? -errno : got;
		if (write(1, &answer, sizeof(answer)) != sizeof(answer)) return 1;
	}
	while (wait(NULL) > 0) {
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "helper") == 0) return helper();
	if (argc < 4) {
		fprintf(stderr, "usage: pid-takeover single|split OUT FILE...\n");
		return 1;
	}
	FILE *out = fopen(argv[2], "w");
	if (out == NULL) die(argv[2]);
	char **files = argv + 3;
	int nfiles = argc - 3;
	if (strcmp(argv[1], "single") == 0) {
		int pipefd[2];
		if (pipe(pipefd) != 0) die("pipe");
		int go;
		pid_t i;
		pid_t r = spawn_reader(files, nfiles, pipefd[1], &go, &i);
		close(pipefd[1]);
		pid_t q = take_pid(i);
		if (q < 0) refused(i);
		run_reader(go, pipefd[0]);
		fprintf(out, "reader %d intermediate %d holder %d\n", (int)r, (int)i, (int)q);
		fclose(out);
		kill(q, SIGKILL);
		waitpid(q, NULL, 0);
		return 0;
	}
	if (strcmp(argv[1], "split") != 0) return 1;
	/* The helper: this program exec'd again (an actor of its own), talking through two pipes. */
	int to_helper[2], from_helper[2];
	if (pipe(to_helper) != 0 || pipe(from_helper) != 0) die("pipe");
	pid_t h = fork();
	if (h < 0) die("fork");
	if (h == 0) {
		dup2(to_helper[0], 0);
		dup2(from_helper[1], 1);
		close(to_helper[1]);
		close(from_helper[0]);
		execl("/proc/self/exe", "pid-takeover", "helper", (char *)NULL);
		_exit(127);
	}
	close(to_helper[0]);
	close(from_helper[1]);
	pid_t holders[64];
	int nholders = 0;
	for (int k = 0; k < nfiles && k < 64; k++) {
		int pipefd[2];
		if (pipe(pipefd) != 0) die("pipe");
		int go;
		pid_t i;
		pid_t r = spawn_reader(files + k, 1, pipefd[1], &go, &i);
		close(pipefd[1]);
		int answer;
		if (write(to_helper[1], &i, sizeof(i)) != sizeof(i) || read(from_helper[0], &answer, sizeof(answer)) != sizeof(answer)) die("helper");
		if (answer < 0) {
			errno = -answer;
			refused(i);
		}
		holders[nholders++] = answer;
		run_reader(go, pipefd[0]);
		fprintf(out, "reader %d intermediate %d holder %d\n", (int)r, (int)i, answer);
	}
	fclose(out);
	for (int k = 0; k < nholders; k++) kill(holders[k], SIGKILL);
	close(to_helper[1]);
	waitpid(h, NULL, 0);
	return 0;
}
