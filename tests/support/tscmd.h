/*
 * tscmd: run a system tool (systemd-analyze, dpkg-deb, lintian, cmake...) from PATH for
 * a test and collect what it printed, plus the file chores around it (scratch
 * directories, writing and removing files, reading a unit's keys). Free of cmocka like
 * the rest of tests/support: failures are return values, the caller fails the test.
 * (ticketsyncctl itself runs through tsrun.)
 */
#ifndef TICKETSYNC_TESTS_TSCMD_H
#define TICKETSYNC_TESTS_TSCMD_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

typedef struct tscmd_out {
	int status;  /* wait status, -1 if it could not run */
	char *text;  /* stdout and stderr together (free()); never NULL */
} tscmd_out_t;

/* Run argv (PATH lookup) with extra "K=V" entries added to (or, with env_only, in
 * place of) the environment; stdin is /dev/null. */
tscmd_out_t tscmd_run(char *const argv[], char *const extra_env[], bool env_only);
/* It ran and exited with code. */
bool tscmd_exited(const tscmd_out_t *r, int code);
/* prog's path in PATH (malloc'd), or NULL. */
char *tscmd_in_path(const char *prog);

/* Write text to path with mode (created or truncated). */
bool tscmd_write_file(const char *path, const char *text, mode_t mode);
/* A fresh directory $TMPDIR/ticketsync-<tag>-XXXXXX into out. */
bool tscmd_scratch_dir(char *out, size_t len, const char *tag);
void tscmd_rm_tree(const char *dir);

/* The value of the first "key=value" line of a systemd unit (malloc'd), or NULL. */
char *tscmd_unit_value(const char *unit, const char *key);

#endif
