/*
 * fx_routes: the fake ExtraHop's context and its side of the shared request pipeline
 * (fake-common's fc_routes: control calls answered at once, API calls recorded, faulted,
 * delayed, then handed to fx_api).
 */
#ifndef FX_ROUTES_H
#define FX_ROUTES_H

#include <event2/event.h>
#include <event2/http.h>
#include <stdbool.h>
#include <stdint.h>

#include "fc_fault.h"
#include "fc_record.h"
#include "fc_routes.h"
#include "fc_server.h"
#include "fx_auth.h"
#include "fx_store.h"

/* Everything a handler may touch; owned by main, used only on the loop thread. */
typedef struct fx_ctx {
	struct event_base *base;
	fx_store_t *store;
	fc_record_t *rec;
	fc_faults_t *faults;
	fx_auth_t *auth;
	fc_server_t *server;
	const char *firmware;
	bool auto_create;         /* PATCH/GET of an unknown id synthesizes it */
	bool ticket_tracking;     /* false: PATCHes get 403 as on an unconfigured sensor */
	bool require_ticket_id;   /* PATCH /detections/{id} must carry a ticket_id */
	fc_routes_t routes;       /* latency, request logging, delayed requests */
} fx_ctx_t;

/* Wire ctx->routes to ctx (base, rec and faults must be set). */
void fx_routes_init(fx_ctx_t *ctx);

#endif
