/*
 * tsdaemon: run the real ticketsyncd binary for a test, configured through its
 * environment (TICKETSYNC_<SECTION>_<KEY>), and talk to its HTTP listener. Built on
 * tsproc, so the daemon dies with the test whatever happens.
 */
#ifndef TICKETSYNC_TESTS_TSDAEMON_H
#define TICKETSYNC_TESTS_TSDAEMON_H

#include <stdbool.h>
#include <stdint.h>

#include "tsproc.h"

#define TSDAEMON_MAX_ENV 48

typedef struct tsdaemon {
	tsproc_t proc;
	int http_port;
	char *env[TSDAEMON_MAX_ENV + 1]; /* owned "K=V" strings */
	int nenv;
	char stderr_path[256];
} tsdaemon_t;

/* Prepare with the essentials; add more with tsdaemon_setenv before tsdaemon_start. */
void tsdaemon_init(tsdaemon_t *d, const char *mongodb_uri, const char *database,
    const char *extrahop_url, const char *api_key);
void tsdaemon_setenv(tsdaemon_t *d, const char *name, const char *value);
/* 0, or -1 with err. Logs go to stderr_path if set (tsdaemon_log_contains reads it). */
int tsdaemon_start(tsdaemon_t *d, char *err, size_t errlen);
/* SIGTERM, wait; returns the wait status or -1. */
int tsdaemon_stop(tsdaemon_t *d, int timeout_ms);
void tsdaemon_kill(tsdaemon_t *d);
void tsdaemon_free(tsdaemon_t *d);

/* GET http://127.0.0.1:<port><path>; returns the HTTP status (0 on failure); body
 * (may be NULL) gets a malloc'd copy. */
long tsdaemon_get(const tsdaemon_t *d, const char *path, char **body);
/* Value of a Prometheus sample line "name value" (name may include labels); -1 if absent. */
double tsdaemon_metric(const tsdaemon_t *d, const char *name);
/* Whether the daemon's log so far contains needle. */
bool tsdaemon_log_contains(const tsdaemon_t *d, const char *needle);

#endif
