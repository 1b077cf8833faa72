/* fc_routes: record, apply faults, delay, dispatch. */
#include "fc_routes.h"

#include "fc_json.h"
#include "ticketsync/clock.h"
#include "ticketsync/log.h"

#include <event2/bufferevent.h>
#include <event2/keyvalq_struct.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

struct fc_pending {
	fc_routes_t *r;
	struct evhttp_request *req;
	struct event *timer;
	uint64_t seq;
	const char *method;
	fc_fault_outcome_t outcome;
	int64_t start_ms;
	bool delayed;
	struct fc_pending *prev, *next;
};

const char *
fc_routes_method(struct evhttp_request *req)
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
fc_routes_body(struct evhttp_request *req, size_t *len)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req);

	*len = evbuffer_get_length(in);
	return *len ? (const char *)evbuffer_pullup(in, -1) : "";
}

void
fc_routes_send(struct evhttp_request *req, int status, struct evbuffer *out)
{
	if (evbuffer_get_length(out) > 0)
		evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
		    "application/json");
	evhttp_send_reply(req, status, NULL, out);
}

static void
fc_routes_error_body(fc_routes_t *r, int status, const char *msg, struct evbuffer *out)
{
	if (r->ops->error_body != NULL)
		r->ops->error_body(r->app, status, msg, out);
	else
		fc_json_add_error(out, "%s", msg);
}

/*
 * Close the connection without a reply. Shutting the socket down first makes the reply
 * evhttp insists on (it owns the request until one is sent) fail to write; evhttp then
 * frees the connection and the request itself. The client sees an empty reply.
 */
static void
fc_routes_close(struct evhttp_request *req)
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
fc_routes_finish(struct fc_pending *p)
{
	fc_routes_t *r = p->r;
	struct evhttp_request *req = p->req;
	struct evbuffer *out = evbuffer_new();
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = evhttp_uri_get_path(uri);
	const char *query = evhttp_uri_get_query(uri);
	enum fc_record_fault fault = FC_RECORD_FAULT_NONE;
	int status;
	size_t len;
	const char *body;

	if (path == NULL || path[0] == '\0')
		path = "/";
	if (p->outcome.kind == FC_FAULT_CLOSE) {
		status = 0;
		fault = FC_RECORD_FAULT_CLOSE;
		fc_routes_close(req);
	} else if (p->outcome.kind == FC_FAULT_STATUS) {
		status = p->outcome.status;
		fault = FC_RECORD_FAULT_STATUS;
		if (p->outcome.retry_after >= 0) {
			char ra[16];
			snprintf(ra, sizeof(ra), "%d", p->outcome.retry_after);
			evhttp_add_header(evhttp_request_get_output_headers(req), "Retry-After", ra);
		}
		fc_routes_error_body(r, status, p->outcome.error_message, out);
		fc_routes_send(req, status, out);
	} else if (p->outcome.kind == FC_FAULT_COMMIT_CLOSE) {
		/* The write happens; only the reply is lost (a reset after the commit). */
		body = fc_routes_body(req, &len);
		(void)r->ops->api(r->app, req, p->method, path, query, body, len, out);
		status = 0;
		fault = FC_RECORD_FAULT_COMMIT_CLOSE;
		fc_routes_close(req);
	} else {
		body = fc_routes_body(req, &len);
		status = r->ops->api(r->app, req, p->method, path, query, body, len, out);
		fc_routes_send(req, status, out);
	}
	fc_record_finish(r->rec, p->seq, p->method, status, fault, p->delayed,
	    clock_wall_ms());
	if (r->log_requests)
		log_info("seq=%llu %s %s -> %d%s (%lld ms)", (unsigned long long)p->seq,
		    p->method, path, status,
		    fault == FC_RECORD_FAULT_CLOSE ? " closed" :
		    fault == FC_RECORD_FAULT_COMMIT_CLOSE ? " committed, closed" :
		    fault == FC_RECORD_FAULT_STATUS ? " injected" : "",
		    (long long)(clock_wall_ms() - p->start_ms));
	evbuffer_free(out);
}

static void
fc_routes_unlink(struct fc_pending *p)
{
	fc_routes_t *r = p->r;

	if (p->prev != NULL)
		p->prev->next = p->next;
	else
		r->pending = p->next;
	if (p->next != NULL)
		p->next->prev = p->prev;
	r->npending--;
}

static void
fc_routes_fire(evutil_socket_t fd, short what, void *arg)
{
	struct fc_pending *p = arg;

	(void)fd;
	(void)what;
	fc_routes_unlink(p);
	fc_routes_finish(p);
	event_free(p->timer);
	free(p);
}

void
fc_routes_flush(fc_routes_t *r)
{
	while (r->pending != NULL) {
		struct fc_pending *p = r->pending;
		struct evbuffer *out = evbuffer_new();
		char msg[96];

		fc_routes_unlink(p);
		event_free(p->timer);
		snprintf(msg, sizeof(msg), "%s is shutting down", r->ops->name);
		fc_routes_error_body(r, 503, msg, out);
		fc_routes_send(p->req, 503, out);
		fc_record_finish(r->rec, p->seq, p->method, 503, FC_RECORD_FAULT_NONE, true,
		    clock_wall_ms());
		evbuffer_free(out);
		free(p);
	}
}

static bool
fc_routes_is_control(const char *path)
{
	return strncmp(path, "/_fake", 6) == 0 && (path[6] == '\0' || path[6] == '/');
}

void
fc_routes_handle(struct evhttp_request *req, void *arg)
{
	fc_routes_t *r = arg;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
	const char *query = uri ? evhttp_uri_get_query(uri) : NULL;
	struct evkeyvalq *hdrs = evhttp_request_get_input_headers(req);
	struct fc_pending local, *p;
	fc_record_req_t rr;
	size_t len;
	const char *body;
	int64_t delay;

	if (path == NULL || path[0] == '\0')
		path = "/";
	body = fc_routes_body(req, &len);
	if (fc_routes_is_control(path)) {
		struct evbuffer *out = evbuffer_new();
		int status = r->ops->control(r->app, req, fc_routes_method(req), path, query,
		    body, len, out);
		fc_routes_send(req, status, out);
		evbuffer_free(out);
		return;
	}

	memset(&local, 0, sizeof(local));
	local.r = r;
	local.req = req;
	local.method = fc_routes_method(req);
	local.start_ms = clock_wall_ms();
	rr.method = local.method;
	rr.path = path;
	rr.query = query;
	rr.authorization = evhttp_find_header(hdrs, "Authorization");
	rr.content_type = evhttp_find_header(hdrs, "Content-Type");
	rr.user_agent = evhttp_find_header(hdrs, "User-Agent");
	rr.body = body;
	rr.body_len = len;
	rr.time_ms = local.start_ms;
	local.seq = fc_record_begin(r->rec, &rr);
	fc_faults_eval(r->faults, local.method, path, &local.outcome);
	delay = local.outcome.delay_ms + r->base_latency_ms;
	if (delay <= 0) {
		fc_routes_finish(&local);
		return;
	}

	p = malloc(sizeof(*p));
	if (p == NULL) {
		fc_routes_finish(&local);
		return;
	}
	*p = local;
	p->delayed = true;
	p->timer = evtimer_new(r->base, fc_routes_fire, p);
	if (p->timer == NULL) {
		free(p);
		fc_routes_finish(&local);
		return;
	}
	p->prev = NULL;
	p->next = r->pending;
	if (r->pending != NULL)
		r->pending->prev = p;
	r->pending = p;
	r->npending++;
	{
		struct timeval tv = { .tv_sec = delay / 1000, .tv_usec = (delay % 1000) * 1000 };
		evtimer_add(p->timer, &tv);
	}
}
