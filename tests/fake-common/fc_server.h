/*
 * fc_server: the listening side. One evhttp for plain HTTP and, when a TLS context is
 * given, a second one whose connections are bufferevent_openssl (libevent 2.1 sets the
 * bufferevent factory per evhttp, not per listener). Both hand every request to the
 * same callback. Keep-alive and one-request-at-a-time pipelining come from evhttp.
 */
#ifndef FC_SERVER_H
#define FC_SERVER_H

#include <bson/bson.h>
#include <event2/event.h>
#include <event2/http.h>
#include <openssl/ssl.h>
#include <stdint.h>

typedef struct fc_server fc_server_t;

typedef struct fc_server_opts {
	const char *listen;   /* address to bind */
	int http_port;        /* 0: any free port */
	int https_port;       /* ignored without tls */
	SSL_CTX *tls;         /* NULL: no HTTPS listener */
	size_t max_body;      /* larger bodies get 413 */
	int timeout_s;        /* idle keep-alive connections are closed after this */
} fc_server_opts_t;

fc_server_t *fc_server_new(struct event_base *base, const fc_server_opts_t *opts,
    void (*cb)(struct evhttp_request *, void *), void *arg, bson_error_t *error);
void fc_server_free(fc_server_t *s);

int fc_server_http_port(const fc_server_t *s);
int fc_server_https_port(const fc_server_t *s); /* 0 without TLS */
/* Connections accepted so far (HTTP and HTTPS), to check that clients keep alive. */
uint64_t fc_server_connections(const fc_server_t *s);

#endif
