/* fc_server: evhttp listeners for the fake, plain and TLS. */
#include "fc_server.h"

#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

struct fc_server {
	struct event_base *base;
	struct evhttp *http, *https;
	int http_port, https_port;
	SSL_CTX *tls;
	uint64_t connections;
};

static struct bufferevent *
fc_server_plain_bev(struct event_base *base, void *arg)
{
	fc_server_t *s = arg;

	s->connections++;
	return bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
}

static struct bufferevent *
fc_server_tls_bev(struct event_base *base, void *arg)
{
	fc_server_t *s = arg;
	SSL *ssl = SSL_new(s->tls);
	struct bufferevent *bev;

	if (ssl == NULL)
		return NULL;
	s->connections++;
	/* evhttp sets the socket later; the bufferevent owns (and frees) the SSL. */
	bev = bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING,
	    BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL) {
		SSL_free(ssl);
		return NULL;
	}
	/* Clients that just close (timeouts, kill -9) are not errors worth a log line. */
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	return bev;
}

static struct evhttp *
fc_server_listen(fc_server_t *s, const fc_server_opts_t *opts, int port, int *bound,
    void (*cb)(struct evhttp_request *, void *), void *arg, bool tls, bson_error_t *error)
{
	struct evhttp *h = evhttp_new(s->base);
	struct evhttp_bound_socket *sock;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	int one = 1;

	if (h == NULL) {
		bson_set_error(error, 7, 1, "evhttp_new failed");
		return NULL;
	}
	evhttp_set_allowed_methods(h, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_PUT |
	    EVHTTP_REQ_PATCH | EVHTTP_REQ_DELETE | EVHTTP_REQ_HEAD | EVHTTP_REQ_OPTIONS);
	evhttp_set_max_body_size(h, (ev_ssize_t)opts->max_body);
	evhttp_set_max_headers_size(h, 64 * 1024);
	evhttp_set_timeout(h, opts->timeout_s);
	evhttp_set_gencb(h, cb, arg);
	evhttp_set_bevcb(h, tls ? fc_server_tls_bev : fc_server_plain_bev, s);
	sock = evhttp_bind_socket_with_handle(h, opts->listen, (ev_uint16_t)port);
	if (sock == NULL) {
		bson_set_error(error, 7, 2, "cannot listen on %s port %d", opts->listen, port);
		evhttp_free(h);
		return NULL;
	}
	/* Accepted sockets inherit TCP_NODELAY from the listener (Linux). Without it a
	 * reply written in two parts waits for the client's delayed ACK (~40 ms), which
	 * real API servers do not make their clients pay. */
	if (setsockopt(evhttp_bound_socket_get_fd(sock), IPPROTO_TCP, TCP_NODELAY, &one,
	    sizeof(one)) != 0) {
		bson_set_error(error, 7, 5, "cannot set TCP_NODELAY on port %d", port);
		evhttp_free(h);
		return NULL;
	}
	if (getsockname(evhttp_bound_socket_get_fd(sock), (struct sockaddr *)&ss, &sl) != 0) {
		bson_set_error(error, 7, 3, "getsockname failed");
		evhttp_free(h);
		return NULL;
	}
	*bound = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
	    : ((struct sockaddr_in *)&ss)->sin_port);
	return h;
}

fc_server_t *
fc_server_new(struct event_base *base, const fc_server_opts_t *opts,
    void (*cb)(struct evhttp_request *, void *), void *arg, bson_error_t *error)
{
	fc_server_t *s = calloc(1, sizeof(*s));

	if (s == NULL) {
		bson_set_error(error, 7, 4, "out of memory");
		return NULL;
	}
	s->base = base;
	s->tls = opts->tls;
	s->http = fc_server_listen(s, opts, opts->http_port, &s->http_port, cb, arg, false,
	    error);
	if (s->http == NULL)
		goto fail;
	if (opts->tls != NULL) {
		s->https = fc_server_listen(s, opts, opts->https_port, &s->https_port, cb, arg,
		    true, error);
		if (s->https == NULL)
			goto fail;
	}
	return s;
fail:
	fc_server_free(s);
	return NULL;
}

void
fc_server_free(fc_server_t *s)
{
	if (s == NULL)
		return;
	if (s->http != NULL)
		evhttp_free(s->http);
	if (s->https != NULL)
		evhttp_free(s->https);
	free(s);
}

int
fc_server_http_port(const fc_server_t *s)
{
	return s->http_port;
}

int
fc_server_https_port(const fc_server_t *s)
{
	return s->https_port;
}

uint64_t
fc_server_connections(const fc_server_t *s)
{
	return s->connections;
}
