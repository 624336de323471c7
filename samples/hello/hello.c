/*
 * The classic container "hello": a static binary with no libc, so the image
 * needs nothing but this one file (FROM scratch).
 */
#include <sys/syscall.h>

static long sys3(long n, long a, long b, long c)
{
	long ret;
	__asm__ volatile ("syscall" : "=a"(ret) : "a"(n), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
	return ret;
}

static const char message[] =
	"Hello World!\n"
	"This message was built by tsbuild FROM scratch and run by runc.\n";

void _start(void)
{
	sys3(SYS_write, 1, (long)message, sizeof(message) - 1);
	sys3(SYS_exit, 0, 0, 0);
	for (;;) {
	}
}
