/*
 * tstickets: start the fake ticket system (tests/fake-tickets: Jira Cloud, Jira Data
 * Center, ServiceNow or a generic create-a-ticket endpoint) for one test and talk to it: plain HTTP calls through
 * tsextrahop's generic helper, and its control API (/_fake/...) for tickets,
 * transitions, faults, settings and stats. Built on tsproc, so the fake dies with the
 * test whatever happens.
 */
#ifndef TICKETSYNC_TESTS_TSTICKETS_H
#define TICKETSYNC_TESTS_TSTICKETS_H

#include <bson/bson.h>
#include <stdbool.h>
#include <stdint.h>

#include "tsextrahop.h"
#include "tsproc.h"

typedef struct tstickets_opts {
	const char *flavour;        /* "jira-cloud" (default), "jira-dc", "servicenow", "http" */
	const char *email, *api_token;        /* jira-cloud Basic */
	const char *pat;                      /* jira-dc Bearer */
	const char *user, *password;          /* servicenow (and jira-dc with the flag) */
	bool allow_password_basic;
	const char *client_id, *client_secret; /* servicenow OAuth */
	const char *projects;       /* "SEC,OPS"; NULL: the fake's default (SEC) */
	const char *issue_types;
	const char *table;
	int index_delay_ms;
	int rate_limit;
	const char *webhook_url, *webhook_secret;
	/* http flavour ([create_http]); NULL: the fake's default */
	const char *http_path;          /* POST endpoint, default /tickets */
	const char *token;              /* required Authorization: Bearer <token> */
	const char *hmac_secret;        /* required signature: sha256=<hex HMAC of the body> */
	const char *signature_header;   /* default X-Ticketsync-Signature */
	const char *idempotency_header; /* default Idempotency-Key */
	const char *id_path;            /* the reply's id at this dotted path, default "id" */
	unsigned long seed;
	bool log_requests;
	const char *const *extra_args; /* NULL-terminated extra flags */
	const char *stderr_path;
} tstickets_opts_t;

typedef struct tstickets {
	tsproc_t proc;
	int port;
	char base_url[128];
	char control_url[160];
	char flavour[32];
	char error[512];
} tstickets_t;

/* The reply type is tsextrahop's (status, body, headers). */
typedef tsextrahop_response_t tstickets_response_t;

int tstickets_start(tstickets_t *t, const tstickets_opts_t *opts, char *err, size_t errlen);
/* SIGTERM and wait; the wait status (0 = clean exit, no leaks under ASan), or -1. */
int tstickets_stop(tstickets_t *t);

/* One HTTP call (url absolute or a path on base_url). 0 when a reply arrived. */
int tstickets_http(tstickets_t *t, const char *method, const char *url,
    const char *const *headers, const char *body, tstickets_response_t *resp);

/* Control API; 0 on the expected status, else -1 with t->error. out always initialised. */
int tstickets_tickets(tstickets_t *t, bson_t *out);
int tstickets_ticket(tstickets_t *t, const char *ref, bson_t *out);
int tstickets_transition(tstickets_t *t, const char *ref, const char *json, bson_t *out);
int64_t tstickets_set_fault(tstickets_t *t, const char *json);
int tstickets_clear_faults(tstickets_t *t);
int tstickets_settings(tstickets_t *t, const char *json);
int tstickets_stats(tstickets_t *t, bson_t *out);
int tstickets_requests(tstickets_t *t, int64_t since, bson_t *out);
int tstickets_webhooks(tstickets_t *t, bson_t *out);
int tstickets_reset(tstickets_t *t);

#endif
