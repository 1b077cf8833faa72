/*
 * fc_routes: every request of a fake enters here. Control calls (/_fake/...) are
 * answered at once, unrecorded and never faulted. API calls are recorded, then the fault
 * rules decide: a delay (an evtimer, never a sleep), an injected status, a closed
 * connection, a commit-then-close (the handler runs, its reply is thrown away and the
 * connection closed), or the real handler after the delay. The fake itself supplies the
 * handlers and the shape of an injected error body.
 */
#ifndef FC_ROUTES_H
#define FC_ROUTES_H

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <stdbool.h>
#include <stdint.h>

#include "fc_fault.h"
#include "fc_record.h"

struct fc_pending;

/* A handler returns the HTTP status and fills out with the body (empty: no body);
 * extra reply headers go on req. query is NULL when absent. */
typedef int (*fc_routes_handler_fn)(void *app, struct evhttp_request *req,
    const char *method, const char *path, const char *query, const char *body, size_t len,
    struct evbuffer *out);

typedef struct fc_routes_ops {
	const char *name;            /* "fake ExtraHop": log lines and the shutdown 503 */
	fc_routes_handler_fn control; /* /_fake and /_fake/... */
	fc_routes_handler_fn api;     /* everything else */
	/* The body of an injected or shutdown error reply; NULL: {"error_message": msg}. */
	void (*error_body)(void *app, int status, const char *msg, struct evbuffer *out);
} fc_routes_ops_t;

/* Owned by the fake's main, used only on the loop thread. */
typedef struct fc_routes {
	struct event_base *base;
	fc_record_t *rec;
	fc_faults_t *faults;
	const fc_routes_ops_t *ops;
	void *app;
	int64_t base_latency_ms;     /* added to every API request */
	bool log_requests;           /* one stderr line per API request */
	struct fc_pending *pending;  /* delayed requests still owed a reply */
	size_t npending;
} fc_routes_t;

/* The evhttp callback; arg is the fc_routes_t. */
void fc_routes_handle(struct evhttp_request *req, void *arg);
/* Answer every delayed request now (503), before the listeners are freed. */
void fc_routes_flush(fc_routes_t *r);

/* "GET", "POST", ... for the request. */
const char *fc_routes_method(struct evhttp_request *req);
/* Send status with out as the body (Content-Type application/json when non-empty). */
void fc_routes_send(struct evhttp_request *req, int status, struct evbuffer *out);

#endif
