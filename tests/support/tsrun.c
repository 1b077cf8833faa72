/* tsrun: run a program to completion, capturing its output; see tsrun.h. */
#include "tsrun.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ticketsync/clock.h"

#include "tsproc.h"

extern char **environ;

#define TSRUN_MAX_ARGS 64

typedef struct tsrun_buf {
	char *data;
	size_t len, cap;
} tsrun_buf_t;

static void
tsrun_buf_add(tsrun_buf_t *b, const char *p, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		while (cap < b->len + n + 1)
			cap *= 2;
		b->data = realloc(b->data, cap);
		if (b->data == NULL)
			abort(); /* test equipment: out of memory is fatal */
		b->cap = cap;
	}
	memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
}

/* The child's environment: ours without stray TICKETSYNC_* settings, plus extra. */
static char **
tsrun_env(const char *const *extra)
{
	size_t n = 0, m = 0, k = 0;
	char **env;

	while (environ[n] != NULL)
		n++;
	while (extra != NULL && extra[m] != NULL)
		m++;
	env = calloc(n + m + 1, sizeof(char *));
	if (env == NULL)
		abort();
	for (size_t i = 0; i < n; i++) {
		if (strncmp(environ[i], "TICKETSYNC_", 11) == 0 &&
		    strncmp(environ[i], "TICKETSYNC_TEST_", 16) != 0)
			continue;
		env[k++] = environ[i];
	}
	for (size_t i = 0; i < m; i++)
		env[k++] = (char *)extra[i];
	env[k] = NULL;
	return env;
}

int
tsrun(const char *const *argv, const tsrun_opts_t *opts, tsrun_result_t *res)
{
	static const tsrun_opts_t none = { 0 };
	int in[2] = { -1, -1 }, out[2] = { -1, -1 }, err[2] = { -1, -1 };
	int master = -1;
	const char *slave_name = NULL;
	tsrun_buf_t ob = { 0 }, eb = { 0 };
	size_t written = 0;
	char **env;
	double start, deadline;
	struct rusage ru;
	int status = 0;
	pid_t pid;

	memset(res, 0, sizeof(*res));
	if (opts == NULL)
		opts = &none;
	/* A child that exits before reading its stdin must not kill the test. */
	signal(SIGPIPE, SIG_IGN);
	if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0)
		goto fail;
	if (opts->stderr_tty) {
		master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
		if (master < 0 || grantpt(master) != 0 || unlockpt(master) != 0 ||
		    (slave_name = ptsname(master)) == NULL)
			goto fail;
	} else if (pipe2(err, O_CLOEXEC) != 0) {
		goto fail;
	}
	env = tsrun_env(opts->env);
	start = ((double)clock_mono_ms() / 1e3);
	pid = fork();
	if (pid < 0) {
		free(env);
		goto fail;
	}
	if (pid == 0) {
		int efd;
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		efd = slave_name ? open(slave_name, O_RDWR | O_NOCTTY) : err[1];
		if (efd < 0 || dup2(in[0], 0) < 0 || dup2(out[1], 1) < 0 || dup2(efd, 2) < 0)
			_exit(127);
		execve(argv[0], (char *const *)argv, env);
		_exit(127);
	}
	free(env);
	close(in[0]);
	close(out[1]);
	in[0] = out[1] = -1;
	if (err[1] >= 0) {
		close(err[1]);
		err[1] = -1;
	}
	if (opts->stdin_data == NULL || opts->stdin_len == 0) {
		close(in[1]);
		in[1] = -1;
	} else {
		fcntl(in[1], F_SETFL, O_NONBLOCK);
	}
	deadline = start + (opts->timeout_ms > 0 ? opts->timeout_ms : 300000) / 1000.0;
	for (;;) {
		struct pollfd pfd[3];
		int nfd = 0, efd = master >= 0 ? master : err[0];
		char buf[65536];
		double left = deadline - ((double)clock_mono_ms() / 1e3);

		if (out[0] >= 0)
			pfd[nfd++] = (struct pollfd){ .fd = out[0], .events = POLLIN };
		if (efd >= 0)
			pfd[nfd++] = (struct pollfd){ .fd = efd, .events = POLLIN };
		if (in[1] >= 0)
			pfd[nfd++] = (struct pollfd){ .fd = in[1], .events = POLLOUT };
		if (nfd == 0)
			break;
		if (left <= 0) {
			res->timed_out = true;
			kill(pid, SIGKILL);
			break;
		}
		if (poll(pfd, (nfds_t)nfd, (int)(left * 1000) + 1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		for (int i = 0; i < nfd; i++) {
			ssize_t n;
			if (pfd[i].revents == 0)
				continue;
			if (pfd[i].fd == in[1]) {
				n = write(in[1], opts->stdin_data + written, opts->stdin_len - written);
				if (n > 0)
					written += (size_t)n;
				if (n < 0 && errno == EAGAIN)
					continue;
				if (n <= 0 || written == opts->stdin_len) {
					close(in[1]);
					in[1] = -1;
				}
				continue;
			}
			n = read(pfd[i].fd, buf, sizeof(buf));
			if (n > 0) {
				tsrun_buf_add(pfd[i].fd == out[0] ? &ob : &eb, buf, (size_t)n);
				continue;
			}
			if (n < 0 && (errno == EINTR || errno == EAGAIN))
				continue;
			/* EOF, or EIO on the pty master once the child is gone. */
			close(pfd[i].fd);
			if (pfd[i].fd == out[0])
				out[0] = -1;
			else if (pfd[i].fd == master)
				master = -1;
			else
				err[0] = -1;
		}
	}
	while (wait4(pid, &status, 0, &ru) < 0 && errno == EINTR)
		;
	res->seconds = ((double)clock_mono_ms() / 1e3) - start;
	res->maxrss_kb = ru.ru_maxrss;
	res->cpu_seconds = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	    (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
	if (WIFEXITED(status)) {
		res->exit_code = WEXITSTATUS(status);
	} else {
		res->exit_code = -1;
		res->signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
	}
	if (ob.data == NULL)
		tsrun_buf_add(&ob, "", 0);
	if (eb.data == NULL)
		tsrun_buf_add(&eb, "", 0);
	res->out = ob.data;
	res->out_len = ob.len;
	res->err = eb.data;
	res->err_len = eb.len;
	for (int *fd = (int[]){ in[1], out[0], err[0], master, -2 }; *fd != -2; fd++)
		if (*fd >= 0)
			close(*fd);
	return 0;
fail:
	{
		char msg[256];
		snprintf(msg, sizeof(msg), "cannot start %s: %s", argv[0], strerror(errno));
		res->err = strdup(msg);
		res->out = strdup("");
		res->exit_code = -1;
	}
	for (int *fd = (int[]){ in[0], in[1], out[0], out[1], err[0], err[1], master, -2 };
	     *fd != -2; fd++)
		if (*fd >= 0)
			close(*fd);
	return -1;
}

int
tsrun_ctlv(tsrun_result_t *res, const tsrun_opts_t *opts, const char *const *args)
{
	const char *argv[TSRUN_MAX_ARGS + 2];
	char path[4096];
	size_t n = 0;

	snprintf(path, sizeof(path), "%s/ticketsyncctl", tsproc_bin_dir());
	argv[n++] = path;
	for (size_t i = 0; args[i] != NULL && n <= TSRUN_MAX_ARGS; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	return tsrun(argv, opts, res);
}

int
tsrun_ctl(tsrun_result_t *res, const tsrun_opts_t *opts, ...)
{
	const char *args[TSRUN_MAX_ARGS + 1];
	size_t n = 0;
	va_list ap;
	const char *a;

	va_start(ap, opts);
	while ((a = va_arg(ap, const char *)) != NULL && n < TSRUN_MAX_ARGS)
		args[n++] = a;
	va_end(ap);
	args[n] = NULL;
	return tsrun_ctlv(res, opts, args);
}

void
tsrun_free(tsrun_result_t *res)
{
	if (res == NULL)
		return;
	free(res->out);
	free(res->err);
	memset(res, 0, sizeof(*res));
}

int
tsrun_count_lines(const char *text, const char *needle)
{
	int n = 0;
	const char *line = text;

	while (line != NULL && *line != '\0') {
		const char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);
		size_t nlen = strlen(needle);

		for (size_t i = 0; i + nlen <= len; i++) {
			if (memcmp(line + i, needle, nlen) == 0) {
				n++;
				break;
			}
		}
		line = nl ? nl + 1 : NULL;
	}
	return n;
}
