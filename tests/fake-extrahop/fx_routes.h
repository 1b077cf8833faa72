/*
 * fx_routes: every request enters here. Control calls (/_fake/...) are answered at once,
 * unrecorded and never faulted. API calls are recorded, then the fault rules decide: a
 * delay (an evtimer, never a sleep), an injected status, a closed connection, or the
 * real handler (fx_api) after the delay.
 */
#ifndef FX_ROUTES_H
#define FX_ROUTES_H

#include <event2/event.h>
#include <event2/http.h>
#include <stdbool.h>
#include <stdint.h>

#include "fx_auth.h"
#include "fx_fault.h"
#include "fx_record.h"
#include "fx_server.h"
#include "fx_store.h"

struct fx_pending;

/* Everything a handler may touch; owned by main, used only on the loop thread. */
typedef struct fx_ctx {
	struct event_base *base;
	fx_store_t *store;
	fx_record_t *rec;
	fx_faults_t *faults;
	fx_auth_t *auth;
	fx_server_t *server;
	const char *firmware;
	int64_t base_latency_ms;  /* added to every API request */
	bool auto_create;         /* PATCH/GET of an unknown id synthesizes it */
	bool ticket_tracking;     /* false: PATCHes get 403 as on an unconfigured sensor */
	bool require_ticket_id;   /* PATCH /detections/{id} must carry a ticket_id */
	bool log_requests;
	struct fx_pending *pending; /* delayed requests still owed a reply */
	size_t npending;
} fx_ctx_t;

void fx_routes_handle(struct evhttp_request *req, void *arg);
/* Answer every delayed request now (503), before the listeners are freed. */
void fx_routes_flush(fx_ctx_t *ctx);

#endif
