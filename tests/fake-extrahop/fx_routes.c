/* fx_routes: record, apply faults, delay, dispatch. */
#include "fx_routes.h"

#include "fx_api.h"
#include "fx_control.h"
#include "fx_json.h"
#include "ticketsync/clock.h"
#include "ticketsync/log.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/keyvalq_struct.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

struct fx_pending {
	fx_ctx_t *ctx;
	struct evhttp_request *req;
	struct event *timer;
	uint64_t seq;
	const char *method;
	fx_fault_outcome_t outcome;
	int64_t start_ms;
	bool delayed;
	struct fx_pending *prev, *next;
};

static const char *
fx_routes_method(struct evhttp_request *req)
{
	switch (evhttp_request_get_command(req)) {
	case EVHTTP_REQ_GET: return "GET";
	case EVHTTP_REQ_POST: return "POST";
	case EVHTTP_REQ_HEAD: return "HEAD";
	case EVHTTP_REQ_PUT: return "PUT";
	case EVHTTP_REQ_DELETE: return "DELETE";
	case EVHTTP_REQ_OPTIONS: return "OPTIONS";
	case EVHTTP_REQ_TRACE: return "TRACE";
	case EVHTTP_REQ_CONNECT: return "CONNECT";
	case EVHTTP_REQ_PATCH: return "PATCH";
	}
	return "OTHER";
}

static const char *
fx_routes_body(struct evhttp_request *req, size_t *len)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req);

	*len = evbuffer_get_length(in);
	return *len ? (const char *)evbuffer_pullup(in, -1) : "";
}

static void
fx_routes_send(struct evhttp_request *req, int status, struct evbuffer *out)
{
	if (evbuffer_get_length(out) > 0)
		evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
		    "application/json");
	evhttp_send_reply(req, status, NULL, out);
}

/*
 * Close the connection without a reply. Shutting the socket down first makes the reply
 * evhttp insists on (it owns the request until one is sent) fail to write; evhttp then
 * frees the connection and the request itself. The client sees an empty reply.
 */
static void
fx_routes_close(struct evhttp_request *req)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);

	if (evcon != NULL) {
		struct bufferevent *bev = evhttp_connection_get_bufferevent(evcon);
		evutil_socket_t fd = bev ? bufferevent_getfd(bev) : -1;
		if (fd >= 0)
			shutdown(fd, SHUT_RDWR);
	}
	evhttp_send_reply(req, 500, NULL, NULL);
}

static void
fx_routes_finish(struct fx_pending *p)
{
	fx_ctx_t *ctx = p->ctx;
	struct evhttp_request *req = p->req;
	struct evbuffer *out = evbuffer_new();
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = evhttp_uri_get_path(uri);
	enum fx_record_fault fault = FX_RECORD_FAULT_NONE;
	int status;

	if (path == NULL || path[0] == '\0')
		path = "/";
	if (p->outcome.kind == FX_FAULT_CLOSE) {
		status = 0;
		fault = FX_RECORD_FAULT_CLOSE;
		fx_routes_close(req);
	} else if (p->outcome.kind == FX_FAULT_STATUS) {
		status = p->outcome.status;
		fault = FX_RECORD_FAULT_STATUS;
		if (p->outcome.retry_after >= 0) {
			char ra[16];
			snprintf(ra, sizeof(ra), "%d", p->outcome.retry_after);
			evhttp_add_header(evhttp_request_get_output_headers(req), "Retry-After", ra);
		}
		fx_json_add_error(out, "%s", p->outcome.error_message);
		fx_routes_send(req, status, out);
	} else {
		size_t len;
		const char *body = fx_routes_body(req, &len);
		status = fx_api_handle(ctx, req, p->method, path, body, len, out);
		fx_routes_send(req, status, out);
	}
	fx_record_finish(ctx->rec, p->seq, p->method, status, fault, p->delayed,
	    clock_wall_ms());
	if (ctx->log_requests)
		log_info("seq=%llu %s %s -> %d%s (%lld ms)", (unsigned long long)p->seq,
		    p->method, path, status,
		    fault == FX_RECORD_FAULT_CLOSE ? " closed" :
		    fault == FX_RECORD_FAULT_STATUS ? " injected" : "",
		    (long long)(clock_wall_ms() - p->start_ms));
	evbuffer_free(out);
}

static void
fx_routes_unlink(struct fx_pending *p)
{
	fx_ctx_t *ctx = p->ctx;

	if (p->prev != NULL)
		p->prev->next = p->next;
	else
		ctx->pending = p->next;
	if (p->next != NULL)
		p->next->prev = p->prev;
	ctx->npending--;
}

static void
fx_routes_fire(evutil_socket_t fd, short what, void *arg)
{
	struct fx_pending *p = arg;

	(void)fd;
	(void)what;
	fx_routes_unlink(p);
	fx_routes_finish(p);
	event_free(p->timer);
	free(p);
}

void
fx_routes_flush(fx_ctx_t *ctx)
{
	while (ctx->pending != NULL) {
		struct fx_pending *p = ctx->pending;
		struct evbuffer *out = evbuffer_new();

		fx_routes_unlink(p);
		event_free(p->timer);
		fx_json_add_error(out, "fake ExtraHop is shutting down");
		fx_routes_send(p->req, 503, out);
		fx_record_finish(ctx->rec, p->seq, p->method, 503, FX_RECORD_FAULT_NONE, true,
		    clock_wall_ms());
		evbuffer_free(out);
		free(p);
	}
}

static bool
fx_routes_is_control(const char *path)
{
	return strncmp(path, "/_fake", 6) == 0 && (path[6] == '\0' || path[6] == '/');
}

void
fx_routes_handle(struct evhttp_request *req, void *arg)
{
	fx_ctx_t *ctx = arg;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
	const char *query = uri ? evhttp_uri_get_query(uri) : NULL;
	struct evkeyvalq *hdrs = evhttp_request_get_input_headers(req);
	struct fx_pending local, *p;
	fx_record_req_t r;
	size_t len;
	const char *body;
	int64_t delay;

	if (path == NULL || path[0] == '\0')
		path = "/";
	body = fx_routes_body(req, &len);
	if (fx_routes_is_control(path)) {
		struct evbuffer *out = evbuffer_new();
		int status = fx_control_handle(ctx, req, fx_routes_method(req), path, query,
		    body, len, out);
		fx_routes_send(req, status, out);
		evbuffer_free(out);
		return;
	}

	memset(&local, 0, sizeof(local));
	local.ctx = ctx;
	local.req = req;
	local.method = fx_routes_method(req);
	local.start_ms = clock_wall_ms();
	r.method = local.method;
	r.path = path;
	r.query = query;
	r.authorization = evhttp_find_header(hdrs, "Authorization");
	r.content_type = evhttp_find_header(hdrs, "Content-Type");
	r.user_agent = evhttp_find_header(hdrs, "User-Agent");
	r.body = body;
	r.body_len = len;
	r.time_ms = local.start_ms;
	local.seq = fx_record_begin(ctx->rec, &r);
	fx_faults_eval(ctx->faults, local.method, path, &local.outcome);
	delay = local.outcome.delay_ms + ctx->base_latency_ms;
	if (delay <= 0) {
		fx_routes_finish(&local);
		return;
	}

	p = malloc(sizeof(*p));
	if (p == NULL) {
		fx_routes_finish(&local);
		return;
	}
	*p = local;
	p->delayed = true;
	p->timer = evtimer_new(ctx->base, fx_routes_fire, p);
	if (p->timer == NULL) {
		free(p);
		fx_routes_finish(&local);
		return;
	}
	p->prev = NULL;
	p->next = ctx->pending;
	if (ctx->pending != NULL)
		ctx->pending->prev = p;
	ctx->pending = p;
	ctx->npending++;
	{
		struct timeval tv = { .tv_sec = delay / 1000, .tv_usec = (delay % 1000) * 1000 };
		evtimer_add(p->timer, &tv);
	}
}
