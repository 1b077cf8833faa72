/*
 * fx_server: the listening side. One evhttp for plain HTTP and, when a TLS context is
 * given, a second one whose connections are bufferevent_openssl (libevent 2.1 sets the
 * bufferevent factory per evhttp, not per listener). Both hand every request to the
 * same callback. Keep-alive and one-request-at-a-time pipelining come from evhttp.
 */
#ifndef FX_SERVER_H
#define FX_SERVER_H

#include <bson/bson.h>
#include <event2/event.h>
#include <event2/http.h>
#include <openssl/ssl.h>
#include <stdint.h>

typedef struct fx_server fx_server_t;

typedef struct fx_server_opts {
	const char *listen;   /* address to bind */
	int http_port;        /* 0: any free port */
	int https_port;       /* ignored without tls */
	SSL_CTX *tls;         /* NULL: no HTTPS listener */
	size_t max_body;      /* larger bodies get 413 */
	int timeout_s;        /* idle keep-alive connections are closed after this */
} fx_server_opts_t;

fx_server_t *fx_server_new(struct event_base *base, const fx_server_opts_t *opts,
    void (*cb)(struct evhttp_request *, void *), void *arg, bson_error_t *error);
void fx_server_free(fx_server_t *s);

int fx_server_http_port(const fx_server_t *s);
int fx_server_https_port(const fx_server_t *s); /* 0 without TLS */
/* Connections accepted so far (HTTP and HTTPS), to check that clients keep alive. */
uint64_t fx_server_connections(const fx_server_t *s);

#endif
