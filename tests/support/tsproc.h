/*
 * tsproc: start a helper server for a test (the MongoDB test server, the fake ExtraHop
 * API, ticketsyncd itself), wait for its one "READY key=value ..." line on stdout, and
 * make sure it dies with the test: the child gets PR_SET_PDEATHSIG, so even a test that
 * crashes or is killed leaves no process behind.
 */
#ifndef TICKETSYNC_TESTS_TSPROC_H
#define TICKETSYNC_TESTS_TSPROC_H

#include <stdbool.h>
#include <sys/types.h>

typedef struct tsproc {
	pid_t pid;
	int stdout_fd;         /* rest of the child's stdout, after READY */
	char ready_line[1024]; /* "READY port=1234 uri=..." without the newline */
} tsproc_t;

/*
 * Spawn argv (argv[0] looked up in PATH) with extra environment entries env (NULL-
 * terminated "K=V" list, may be NULL). Waits up to timeout_ms for the READY line.
 * The child's stderr is inherited (so its logs land in the test's output) unless
 * stderr_path is non-NULL, in which case it is appended there.
 * Returns 0, or -1 with a message in err.
 */
int tsproc_start(tsproc_t *p, char *const argv[], char *const env[],
    const char *stderr_path, int timeout_ms, char *err, size_t errlen);

/* Copy the value of key from the READY line into out; false if absent. */
bool tsproc_field(const tsproc_t *p, const char *key, char *out, size_t outlen);

/* SIGTERM, wait up to timeout_ms, then SIGKILL. Returns the exit status as waitpid
 * reports it, or -1. Safe on a zeroed or already stopped tsproc. */
int tsproc_stop(tsproc_t *p, int timeout_ms);

/* SIGKILL and reap (crash tests). */
void tsproc_kill(tsproc_t *p);

/* Send a signal without reaping (SIGSTOP/SIGCONT tests). */
int tsproc_signal(tsproc_t *p, int sig);

/* Wait for the process to exit by itself within timeout_ms; returns wait status or -1. */
int tsproc_wait(tsproc_t *p, int timeout_ms);

/* Directory of the source tree (from the TICKETSYNC_SOURCE_DIR compile definition). */
const char *tsproc_source_dir(void);
/* Directory holding built binaries (TICKETSYNC_BIN_DIR). */
const char *tsproc_bin_dir(void);

#endif
