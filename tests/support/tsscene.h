/*
 * tsscene: one end-to-end test scene: a database of its own on the test's MongoDB, a
 * fake ExtraHop API and the real ticketsyncd configured to use them, plus the small
 * helpers every end-to-end test needs (write a document, count, wait for PATCHes,
 * run ticketsyncctl against the scene's database).
 * Free of cmocka: functions return a status and the caller asserts.
 */
#ifndef TICKETSYNC_TESTS_TSSCENE_H
#define TICKETSYNC_TESTS_TSSCENE_H

#include <stdbool.h>
#include <stdint.h>

#include <mongoc/mongoc.h>

#include "ticketsync/clock.h"

#include "tsdaemon.h"
#include "tsextrahop.h"
#include "tsgroup.h"
#include "tsmongo.h"
#include "tsrun.h"
#include "tstickets.h"

#define TSSCENE_API_KEY "test-key-123"
/* What tsscene_begin_tickets gives the fake ticket system and the daemon. */
#define TSSCENE_JIRA_EMAIL "soc-bot@example.com"
#define TSSCENE_JIRA_TOKEN "jira-token-123"
#define TSSCENE_JIRA_ACCOUNT "5b10a2844c20165700ede21g"
#define TSSCENE_JIRA_PAT "pat-456"
#define TSSCENE_SN_USER "integration"
#define TSSCENE_SN_PASSWORD "sn-password"
#define TSSCENE_SN_CLIENT_ID "sn-client"
#define TSSCENE_SN_CLIENT_SECRET "sn-client-secret"
#define TSSCENE_HTTP_TOKEN "http-token-789"
#define TSSCENE_HTTP_SECRET "http-hmac-secret-0123456789abcdef"

typedef struct tsscene {
	tsmongo_t *mongo;       /* borrowed */
	char db[96];
	mongoc_client_t *client;
	tsextrahop_t fx;
	tsdaemon_t d;
	tstickets_t tk;         /* the fake ticket system, after tsscene_begin_tickets */
	bool fx_started, d_started, tk_started;
	char error[512];
} tsscene_t;

void ts_sleep_ms(int ms);

/* A scene with its own database (named after tag); nothing started yet. */
tsscene_t *tsscene_new(tsmongo_t *mongo, const char *tag);
/* Start the fake (fxo NULL: API key TSSCENE_API_KEY, detections 1..20) and prepare the
 * daemon's environment (api_key NULL: auth left to the caller). 0 or -1 (s->error). */
int tsscene_begin(tsscene_t *s, const tsextrahop_opts_t *fxo, const char *api_key);
/* After tsscene_begin: start the fake ticket system of flavour ("jira-cloud",
 * "jira-dc", "servicenow", "servicenow-oauth": its password grant, "http": bearer
 * token, HMAC secret, id at result.id) with
 * the TSSCENE_ credentials (index_delay_ms, rate_limit as
 * given), and turn [create] on in the daemon's environment against it with test-sized
 * limits (retries 100..1000 ms, no rate limit and no hourly ceiling, concurrency 4,
 * lookup delay 1500 ms, request timeout 2000 ms). 0 or -1 (s->error). */
int tsscene_begin_tickets(tsscene_t *s, const char *flavour, int index_delay_ms, int rate_limit);
/* Start ticketsyncd and wait until /readyz says it is active (holds the lease) and
 * its change stream is open (and, with creation on, the ticket system accepted it). */
int tsscene_start_daemon(tsscene_t *s);
/* SIGTERM and wait: the wait status, or -1. */
int tsscene_stop_daemon(tsscene_t *s);
/* Stop whatever runs, drop the database, free. NULL-safe. */
void tsscene_free(tsscene_t *s);

/* cmocka's group fixtures for a program whose tests run scenes: tsgroup's, inside
 * curl_global_init / curl_global_cleanup, so libcurl (tsdaemon_get, tsextrahop) is
 * set up once, before any test thread, and released after mongoc_cleanup. */
int tsscene_group_setup(void **state);
int tsscene_group_teardown(void **state);

/* cmocka's per-test fixtures for a program on tsgroup's server: *state gets
 * tsscene_new(tsgroup_mongo(), tag) (call from the test's own setup); the teardown
 * frees it and tsmongo's scratch pool. 0, or -1. */
int tsscene_setup(void **state, const char *tag);
int tsscene_teardown(void **state);

/* Run ticketsyncctl with args (NULL-terminated, without the program) against the
 * scene's database, and copy what it printed to stderr unless quiet. opts as for
 * tsrun (may be NULL); its env comes before the scene's TICKETSYNC_MONGODB_URI and
 * _DATABASE, so it can override them (the first definition wins). 0 when it ran,
 * -1 when it could not be started (res->err says why). */
int tsscene_ctl(tsscene_t *s, tsrun_result_t *res, const tsrun_opts_t *opts, bool quiet,
    const char *const *args);

/* Insert or replace a document by _id (JSON with single quotes for double quotes). */
bool tsscene_put(tsscene_t *s, const char *coll, const char *json);
/* PATCH requests the fake received for detection id (all when id < 0). last_body (may
 * be NULL) gets the last one's body; all (may be NULL) the whole recording. */
int tsscene_patches(tsscene_t *s, int64_t id, bson_t *last_body, bson_t *all);
/* Wait until detection id (all when < 0) got n PATCHes: ms waited, or -1. */
int64_t tsscene_wait_patches(tsscene_t *s, int64_t id, int n, int timeout_ms);
int64_t tsscene_count(tsscene_t *s, const char *coll, const char *json_filter);
bool tsscene_wait_count(tsscene_t *s, const char *coll, const char *json_filter, int64_t n,
    int timeout_ms);
/* Whether the last PATCH body for id equals expected_json exactly (why on false). */
bool tsscene_last_body_is(tsscene_t *s, int64_t id, const char *expected_json, char *why,
    size_t whylen);

#endif
