/* httpd: health, readiness and metrics over evhttp; see httpd.h. */
#include "ticketsync/httpd.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>

#include "ticketsync/clock.h"
#include "ticketsync/log.h"
#include "ticketsync/metrics.h"
#include "ticketsync/xalloc.h"

struct httpd {
	struct evhttp *http;
	int port;
	httpd_ready_fn ready;
	void *ready_arg;
};

int
httpd_parse_listen(const char *listen, char *host, size_t hostlen, int *port)
{
	const char *colon;
	const char *h = listen;
	size_t hlen;
	char *end;
	long p;

	if (listen == NULL || *listen == '\0')
		return -1;
	if (*listen == '[') {
		const char *close = strchr(listen, ']');
		if (close == NULL || close[1] != ':')
			return -1;
		h = listen + 1;
		hlen = (size_t)(close - h);
		colon = close + 1;
	} else {
		colon = strrchr(listen, ':');
		if (colon == NULL || memchr(listen, ':', (size_t)(colon - listen)) != NULL)
			return -1;
		hlen = (size_t)(colon - listen);
	}
	if (hlen == 0 || hlen >= hostlen)
		return -1;
	p = strtol(colon + 1, &end, 10);
	if (colon[1] == '\0' || *end != '\0' || p < 0 || p > 65535)
		return -1;
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	*port = (int)p;
	return 0;
}

static void
httpd_reply_text(struct evhttp_request *req, int code, const char *reason, const char *body)
{
	struct evbuffer *buf = evbuffer_new();

	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
	    "text/plain; charset=utf-8");
	evbuffer_add_printf(buf, "%s\n", body);
	evhttp_send_reply(req, code, reason, buf);
	evbuffer_free(buf);
}

static void
httpd_on_healthz(struct evhttp_request *req, void *arg)
{
	(void)arg;
	httpd_reply_text(req, 200, "OK", "ok");
}

static void
httpd_on_readyz(struct evhttp_request *req, void *arg)
{
	httpd_t *h = arg;
	char reason[256] = "ready";

	if (h->ready != NULL && !h->ready(h->ready_arg, reason, sizeof(reason)))
		httpd_reply_text(req, 503, "Service Unavailable", reason);
	else
		httpd_reply_text(req, 200, "OK", reason);
}

static void
httpd_on_metrics(struct evhttp_request *req, void *arg)
{
	struct evbuffer *buf = evbuffer_new();

	(void)arg;
	metrics_render(buf, clock_wall_ms());
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
	    "text/plain; version=0.0.4");
	evhttp_send_reply(req, 200, "OK", buf);
	evbuffer_free(buf);
}

static void
httpd_on_other(struct evhttp_request *req, void *arg)
{
	(void)arg;
	httpd_reply_text(req, 404, "Not Found", "not found");
}

httpd_t *
httpd_start(struct event_base *base, const char *listen, httpd_ready_fn ready,
    void *ready_arg, bson_error_t *err)
{
	httpd_t *h = NULL;
	struct evhttp_bound_socket *bound;
	char host[256];
	int port;
	struct sockaddr_storage ss;
	socklen_t sslen = sizeof(ss);

	if (httpd_parse_listen(listen, host, sizeof(host), &port) != 0) {
		bson_set_error(err, ERROR_DOMAIN, HTTPD_ERR_ADDRESS,
		    "httpd: invalid listen address \"%s\"", listen);
		return NULL;
	}
	h = xcalloc(1, sizeof(*h));
	if ((h->http = evhttp_new(base)) == NULL) {
		bson_set_error(err, ERROR_DOMAIN, HTTPD_ERR_RESOURCE,
		    "httpd: cannot create the HTTP server");
		goto fail;
	}
	h->ready = ready;
	h->ready_arg = ready_arg;
	evhttp_set_allowed_methods(h->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD);
	evhttp_set_max_body_size(h->http, HTTPD_MAX_BODY_DEFAULT);
	/* A body over the limit is refused with 413 as soon as its Content-Length is read
	 * (a chunked one once the limit is passed), and never buffered whole. Lingering
	 * close reads and discards the rest before answering, so a sender that writes its
	 * whole body before reading (no "Expect: 100-continue") gets the 413 instead of a
	 * connection reset. */
	evhttp_set_flags(h->http, EVHTTP_SERVER_LINGERING_CLOSE);
	evhttp_set_timeout(h->http, 30);
	evhttp_set_cb(h->http, "/healthz", httpd_on_healthz, h);
	evhttp_set_cb(h->http, "/readyz", httpd_on_readyz, h);
	evhttp_set_cb(h->http, "/metrics", httpd_on_metrics, h);
	evhttp_set_gencb(h->http, httpd_on_other, h);
	bound = evhttp_bind_socket_with_handle(h->http, host, (ev_uint16_t)port);
	if (bound == NULL) {
		bson_set_error(err, ERROR_DOMAIN, HTTPD_ERR_LISTEN,
		    "httpd: cannot listen on %s", listen);
		goto fail;
	}
	if (getsockname(evhttp_bound_socket_get_fd(bound), (struct sockaddr *)&ss, &sslen) == 0) {
		if (ss.ss_family == AF_INET)
			h->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
		else if (ss.ss_family == AF_INET6)
			h->port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	}
	return h;
fail:
	httpd_stop(h);
	return NULL;
}

int
httpd_port(const httpd_t *h)
{
	return h->port;
}

void
httpd_set_max_body(httpd_t *h, size_t bytes)
{
	evhttp_set_max_body_size(h->http, bytes > (size_t)SSIZE_MAX ? SSIZE_MAX : (ev_ssize_t)bytes);
}

int
httpd_add_route(httpd_t *h, const char *path,
    void (*cb)(struct evhttp_request *, void *), void *arg)
{
	return evhttp_set_cb(h->http, path, cb, arg);
}

void
httpd_stop(httpd_t *h)
{
	if (h == NULL)
		return;
	if (h->http != NULL)
		evhttp_free(h->http);
	free(h);
}
