/*
 * Opens and reads each path given through the 32-bit system call gate (int 0x80) of a 64-bit
 * process: the i386 table, which the syscall tracepoints of the 64-bit table never see.
 * Built by the end-to-end tests with: cc -O1 -no-pie -o int80-open int80-open.c
 * Exit status: the number of paths that could not be opened.
 */
#include <string.h>

/* Below 4 GiB in a non-PIE binary: the 32-bit gate takes 32-bit pointers. */
static char path_buf[4096];
static char data[256];

static long int80(long nr, long a, long b, long c)
{
	long ret;
	__asm__ volatile("int $0x80" : "=a"(ret) : "a"(nr), "b"(a), "c"(b), "d"(c) : "memory");
	return (int)ret; /* the 32-bit gate returns in eax: -errno is a negative int */
}

int main(int argc, char **argv)
{
	int failed = 0;
	for (int i = 1; i < argc; i++) {
		strncpy(path_buf, argv[i], sizeof(path_buf) - 1);
		long fd = int80(5 /* i386 open */, (long)path_buf, 0 /* O_RDONLY */, 0);
		if (fd < 0) {
			failed++;
			continue;
		}
		int80(3 /* i386 read */, fd, (long)data, sizeof(data));
		int80(6 /* i386 close */, fd, 0, 0);
	}
	return failed;
}
