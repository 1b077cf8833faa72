/*
 * ft_routes: the fake ticket system's context and its side of the shared request
 * pipeline (fake-common's fc_routes): faults first, then auth (401 in the flavour's
 * shape), then the flavour's endpoints (ft_jira, ft_snow or ft_http, which checks
 * its own bearer token and signature). Also the write rate limit
 * and the error bodies both flavours share.
 */
#ifndef FT_ROUTES_H
#define FT_ROUTES_H

#include <event2/buffer.h>
#include <event2/http.h>
#include <stdbool.h>
#include <stdint.h>

#include "fc_fault.h"
#include "fc_record.h"
#include "fc_routes.h"
#include "fc_server.h"
#include "ft_auth.h"
#include "ft_http.h"
#include "ft_rate.h"
#include "ft_store.h"
#include "ft_util.h"
#include "ft_webhook.h"

/* Everything a handler may touch; owned by main, used only on the loop thread. */
typedef struct ft_ctx {
	struct event_base *base;
	enum ft_flavour flavour;
	const char *flavour_name;
	char base_url[160];
	const char *me;             /* the authenticated user's name/email, for /myself */
	ft_store_t *store;
	fc_record_t *rec;
	fc_faults_t *faults;
	ft_auth_t *auth;
	ft_webhook_t *webhook;
	fc_server_t *server;
	fc_routes_t routes;         /* request logging, delayed requests */
	ft_rate_t rate;
	char **projects;            /* Jira project keys */
	size_t nprojects;
	char **issue_types;         /* Jira issue type names */
	size_t nissue_types;
	char **tables;              /* ServiceNow tables served */
	size_t ntables;
	ft_http_opts_t http;        /* the http flavour's endpoint, auth and headers */
	/* settings (PUT /_fake/settings) */
	int64_t index_delay_ms;
	char *webhook_url, *webhook_secret; /* NULL: none */
	bool invalid_query_returns_no_rows;
	/* counters */
	uint64_t creates, rate_limited;
	uint64_t idempotent_replays;   /* http: repeats answered 200 from their key */
	uint64_t replays_body_changed; /* http: of those, with a body unlike the first */
} ft_ctx_t;

/* Wire ctx->routes to ctx (base, rec and faults must be set). */
void ft_routes_init(ft_ctx_t *ctx);

/* Take a write token. false: the 429 (headers, body) is written and *status set. */
bool ft_routes_write_allowed(ft_ctx_t *ctx, struct evhttp_request *req,
    struct evbuffer *out, int *status);

/* Jira {"errorMessages": [msg], "errors": {}}; returns status. */
int ft_jira_error(struct evbuffer *out, int status, const char *msg);
/* ServiceNow {"error": {"message", "detail"}, "status": "failure"}; returns status. */
int ft_snow_error(struct evbuffer *out, int status, const char *msg, const char *detail);
/* 405 with Allow, in the flavour's shape. */
int ft_routes_bad_method(ft_ctx_t *ctx, struct evhttp_request *req, struct evbuffer *out,
    const char *allow);

/* The flavours' handlers (ft_jira.c, ft_snow.c). */
int ft_jira_handle(ft_ctx_t *ctx, struct evhttp_request *req, const char *method,
    const char *path, const char *query, const char *body, size_t len,
    struct evbuffer *out);
int ft_snow_handle(ft_ctx_t *ctx, struct evhttp_request *req, const char *method,
    const char *path, const char *query, const char *body, size_t len,
    struct evbuffer *out);

#endif
