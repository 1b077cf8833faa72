/*
 * httpd: the daemon's HTTP listener on the libevent loop (evhttp): /healthz (the loop
 * answers), /readyz (the service can do its job, else 503 with the reason) and
 * /metrics (Prometheus text). Other modules may add routes (webhooks).
 */
#ifndef TICKETSYNC_HTTPD_H
#define TICKETSYNC_HTTPD_H

#include <stdbool.h>
#include <stddef.h>

#include <bson/bson.h>

#include "ticketsync/error.h"

struct event_base;
struct evhttp_request;
typedef struct httpd httpd_t;

#define HTTPD_MAX_BODY_DEFAULT (1 << 20)

/* Fill reason (for the 503 body and the log) and return false when not ready. */
typedef bool (*httpd_ready_fn)(void *arg, char *reason, size_t reasonlen);

/* Codes of httpd_start's errors (domain ERROR_DOMAIN). */
enum httpd_error {
	HTTPD_ERR_ADDRESS = ERROR_BASE_HTTPD, /* listen is not host:port or [v6]:port */
	HTTPD_ERR_RESOURCE,                   /* the HTTP server cannot be created */
	HTTPD_ERR_LISTEN, /* the address cannot be bound (in use, not local, no permission) */
};

/* listen is "host:port" or "[v6]:port"; port 0 picks a free one (see httpd_port). */
httpd_t *httpd_start(struct event_base *base, const char *listen, httpd_ready_fn ready,
    void *ready_arg, bson_error_t *err);
int httpd_port(const httpd_t *h);
int httpd_add_route(httpd_t *h, const char *path,
    void (*cb)(struct evhttp_request *, void *), void *arg);
/* Largest request body (default HTTPD_MAX_BODY_DEFAULT); a longer one gets 413 without
 * being buffered whole. */
void httpd_set_max_body(httpd_t *h, size_t bytes);
void httpd_stop(httpd_t *h);

/* Split "host:port" / "[v6]:port". 0 on success. Pure. */
int httpd_parse_listen(const char *listen, char *host, size_t hostlen, int *port);

#endif
