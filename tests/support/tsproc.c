/* tsproc: spawn a helper server, wait for READY, and never leave it running. */
#include "tsproc.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ticketsync/clock.h"

extern char **environ;

int
tsproc_start(tsproc_t *p, char *const argv[], char *const env[],
    const char *stderr_path, int timeout_ms, char *err, size_t errlen)
{
	int fds[2];
	pid_t parent = getpid();
	char buf[4096];
	size_t used = 0;
	long long deadline;

	memset(p, 0, sizeof(*p));
	p->pid = -1;
	p->stdout_fd = -1;
	if (pipe2(fds, O_CLOEXEC) != 0) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		return -1;
	}
	p->pid = fork();
	if (p->pid < 0) {
		snprintf(err, errlen, "fork: %s", strerror(errno));
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	if (p->pid == 0) {
		/* The child dies with the test, whatever way the test ends. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		setpgid(0, 0);
		dup2(fds[1], STDOUT_FILENO);
		if (stderr_path != NULL) {
			int fd = open(stderr_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
			if (fd >= 0)
				dup2(fd, STDERR_FILENO);
		}
		for (size_t i = 0; env != NULL && env[i] != NULL; i++)
			putenv(env[i]);
		execvp(argv[0], argv);
		fprintf(stderr, "tsproc: exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(fds[1]);
	p->stdout_fd = fds[0];

	deadline = clock_mono_ms() + timeout_ms;
	for (;;) {
		char *nl;
		long long left = deadline - clock_mono_ms();
		struct pollfd pfd = { .fd = p->stdout_fd, .events = POLLIN };
		ssize_t n;

		buf[used] = '\0';
		while ((nl = strchr(buf, '\n')) != NULL) {
			*nl = '\0';
			if (strncmp(buf, "READY", 5) == 0) {
				snprintf(p->ready_line, sizeof(p->ready_line), "%.*s",
				    (int)sizeof(p->ready_line) - 1, buf);
				return 0;
			}
			/* Not the ready line: pass it through to our stdout. */
			printf("[%s] %s\n", argv[0], buf);
			memmove(buf, nl + 1, used - (size_t)(nl + 1 - buf) + 1);
			used = strlen(buf);
		}
		if (left <= 0) {
			snprintf(err, errlen, "%s: no READY line within %d ms", argv[0],
			    timeout_ms);
			break;
		}
		if (poll(&pfd, 1, (int)left) <= 0)
			continue;
		if (used >= sizeof(buf) - 1)
			used = 0;
		n = read(p->stdout_fd, buf + used, sizeof(buf) - 1 - used);
		if (n <= 0) {
			snprintf(err, errlen, "%s exited before printing READY", argv[0]);
			break;
		}
		used += (size_t)n;
	}
	tsproc_kill(p);
	return -1;
}

bool
tsproc_field(const tsproc_t *p, const char *key, char *out, size_t outlen)
{
	size_t klen = strlen(key);
	const char *s = p->ready_line;

	while ((s = strstr(s, key)) != NULL) {
		bool at_start = (s == p->ready_line || s[-1] == ' ');
		if (at_start && s[klen] == '=') {
			const char *v = s + klen + 1;
			size_t n = strcspn(v, " ");
			if (n >= outlen)
				return false;
			memcpy(out, v, n);
			out[n] = '\0';
			return true;
		}
		s += klen;
	}
	return false;
}

int
tsproc_wait(tsproc_t *p, int timeout_ms)
{
	long long deadline = clock_mono_ms() + timeout_ms;
	int status;

	if (p->pid <= 0)
		return -1;
	for (;;) {
		pid_t r = waitpid(p->pid, &status, WNOHANG);
		if (r == p->pid) {
			p->pid = -1;
			if (p->stdout_fd > 0)
				close(p->stdout_fd);
			p->stdout_fd = -1;
			return status;
		}
		if (r < 0 || clock_mono_ms() >= deadline)
			return -1;
		usleep(10000);
	}
}

int
tsproc_stop(tsproc_t *p, int timeout_ms)
{
	int status;

	if (p->pid <= 0)
		return -1;
	kill(p->pid, SIGTERM);
	status = tsproc_wait(p, timeout_ms);
	if (status == -1 && p->pid > 0) {
		tsproc_kill(p);
		return -1;
	}
	return status;
}

void
tsproc_kill(tsproc_t *p)
{
	if (p->pid > 0) {
		kill(p->pid, SIGKILL);
		waitpid(p->pid, NULL, 0);
	}
	p->pid = -1;
	/* fd 0 is stdin, never our pipe: a zeroed tsproc_t must not close it. */
	if (p->stdout_fd > 0)
		close(p->stdout_fd);
	p->stdout_fd = -1;
}

int
tsproc_signal(tsproc_t *p, int sig)
{
	if (p->pid <= 0)
		return -1;
	return kill(p->pid, sig);
}

const char *
tsproc_source_dir(void)
{
	return TICKETSYNC_SOURCE_DIR;
}

const char *
tsproc_bin_dir(void)
{
	return TICKETSYNC_BIN_DIR;
}
