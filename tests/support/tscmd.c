/* tscmd: see tscmd.h. */
#include "tscmd.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static void *
tscmd_grow(void *p, size_t n)
{
	void *q = realloc(p, n);

	if (q == NULL)
		abort(); /* test equipment: out of memory ends the run */
	return q;
}

tscmd_out_t
tscmd_run(char *const argv[], char *const extra_env[], bool env_only)
{
	tscmd_out_t r = { -1, NULL };
	size_t len = 0, cap = 8192;
	int fds[2];
	pid_t pid;

	r.text = tscmd_grow(NULL, cap);
	r.text[0] = '\0';
	if (pipe2(fds, O_CLOEXEC) != 0) {
		snprintf(r.text, cap, "cannot run %s: pipe: %s", argv[0], strerror(errno));
		return r;
	}
	pid = fork();
	if (pid < 0) {
		snprintf(r.text, cap, "cannot run %s: fork: %s", argv[0], strerror(errno));
		close(fds[0]);
		close(fds[1]);
		return r;
	}
	if (pid == 0) {
		int null = open("/dev/null", O_RDONLY);

		dup2(null, STDIN_FILENO);
		dup2(fds[1], STDOUT_FILENO);
		dup2(fds[1], STDERR_FILENO);
		if (env_only)
			clearenv();
		for (size_t i = 0; extra_env != NULL && extra_env[i] != NULL; i++)
			putenv(extra_env[i]);
		execvp(argv[0], argv);
		fprintf(stderr, "cannot run %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(fds[1]);
	for (;;) {
		ssize_t got;

		if (len + 1 >= cap)
			r.text = tscmd_grow(r.text, cap *= 2);
		got = read(fds[0], r.text + len, cap - len - 1);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			break;
		len += (size_t)got;
	}
	r.text[len] = '\0';
	close(fds[0]);
	while (waitpid(pid, &r.status, 0) < 0 && errno == EINTR)
		;
	return r;
}

bool
tscmd_exited(const tscmd_out_t *r, int code)
{
	return r->status >= 0 && WIFEXITED(r->status) && WEXITSTATUS(r->status) == code;
}

char *
tscmd_in_path(const char *prog)
{
	const char *path = getenv("PATH");
	char *copy, *dir, *save = NULL, *found = NULL;

	if (path == NULL)
		return NULL;
	copy = strdup(path);
	for (dir = strtok_r(copy, ":", &save); dir != NULL; dir = strtok_r(NULL, ":", &save)) {
		char cand[PATH_MAX];

		snprintf(cand, sizeof(cand), "%s/%s", dir, prog);
		if (access(cand, X_OK) == 0) {
			found = strdup(cand);
			break;
		}
	}
	free(copy);
	return found;
}

bool
tscmd_write_file(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	size_t len = strlen(text);
	bool ok;

	if (fd < 0)
		return false;
	ok = write(fd, text, len) == (ssize_t)len && fchmod(fd, mode) == 0;
	close(fd);
	return ok;
}

static int
tscmd_rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

void
tscmd_rm_tree(const char *dir)
{
	nftw(dir, tscmd_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

bool
tscmd_scratch_dir(char *out, size_t len, const char *tag)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(out, len, "%s/ticketsync-%s-XXXXXX", tmp && tmp[0] ? tmp : "/tmp", tag);
	return mkdtemp(out) != NULL;
}

char *
tscmd_unit_value(const char *unit, const char *key)
{
	size_t klen = strlen(key);

	for (const char *line = unit; line != NULL && *line != '\0';) {
		const char *eol = strchr(line, '\n');
		size_t len = eol ? (size_t)(eol - line) : strlen(line);

		if (len > klen && strncmp(line, key, klen) == 0 && line[klen] == '=')
			return strndup(line + klen + 1, len - klen - 1);
		line = eol ? eol + 1 : NULL;
	}
	return NULL;
}
