/*
 * tsrun: run a command-line program (ticketsyncctl) to completion for a test: feed
 * its stdin, capture stdout and stderr, and report its exit status, wall time and
 * peak memory (wait4's ru_maxrss of that child alone). Optionally stderr is a
 * pseudo-terminal, for output that changes on a TTY. The child gets
 * PR_SET_PDEATHSIG, so it never outlives the test.
 */
#ifndef TICKETSYNC_TESTS_TSRUN_H
#define TICKETSYNC_TESTS_TSRUN_H

#include <stdbool.h>
#include <stddef.h>

typedef struct tsrun_opts {
	const char *const *env;  /* extra "K=V" entries, NULL-terminated; may be NULL */
	const char *stdin_data;  /* written to stdin, then closed; NULL: empty stdin */
	size_t stdin_len;
	bool stderr_tty;         /* stderr is a pseudo-terminal (its \n arrive as \r\n) */
	int timeout_ms;          /* 0: 300000; the child is killed after it */
} tsrun_opts_t;

typedef struct tsrun_result {
	int exit_code;     /* 0..255, or -1 when killed by a signal (or the timeout) */
	int signal;        /* the killing signal, 0 if none */
	bool timed_out;
	char *out;         /* stdout, NUL-terminated; tsrun_free */
	size_t out_len;
	char *err;         /* stderr, NUL-terminated */
	size_t err_len;
	double seconds;    /* wall time from spawn to exit */
	long maxrss_kb;    /* peak resident set of the child */
	double cpu_seconds; /* user + system CPU time of the child */
} tsrun_result_t;

/*
 * Run argv (argv[0] a path) with the test's environment minus every TICKETSYNC_*
 * variable not starting with TICKETSYNC_TEST_ (so a developer's settings never leak
 * in), plus opts->env. 0 when the program ran (whatever its exit status), -1 when it
 * could not be started (res->err says why).
 */
int tsrun(const char *const *argv, const tsrun_opts_t *opts, tsrun_result_t *res);

/* ticketsyncctl from the build's bin directory with the arguments given (a
 * NULL-terminated list after opts). */
int tsrun_ctl(tsrun_result_t *res, const tsrun_opts_t *opts, ...);
/* The same with an argument vector (NULL-terminated, without the program). */
int tsrun_ctlv(tsrun_result_t *res, const tsrun_opts_t *opts, const char *const *args);

void tsrun_free(tsrun_result_t *res); /* NULL-safe; zeroes res */

/* The number of lines of text (output) containing needle. */
int tsrun_count_lines(const char *text, const char *needle);

#endif
