/*
 * ft_http: the "http" flavour, a generic create-a-ticket endpoint of the kind a team
 * writes in front of any ticket system, as docs/CONFIGURATION.md `[create_http]`
 * describes it: POST <path> with a JSON object, an optional bearer token, an optional
 * HMAC-SHA256 signature of the raw body, and a required idempotency key whose repeats
 * answer 200 with the ticket the first request made (201) and create nothing.
 * Errors are {"error": "..."}. See README.md "Generic HTTP endpoint".
 */
#ifndef FT_HTTP_H
#define FT_HTTP_H

#include <bson/bson.h>
#include <event2/buffer.h>
#include <event2/http.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ft_store.h"

#define FT_HTTP_DEFAULT_PATH "/tickets"
#define FT_HTTP_DEFAULT_SIGNATURE_HEADER "X-Ticketsync-Signature"
#define FT_HTTP_DEFAULT_IDEMPOTENCY_HEADER "Idempotency-Key"
/* Longest idempotency key accepted (the documented key is extrahop-detection-<id>). */
#define FT_HTTP_KEY_MAX 255

struct ft_ctx;

/* Command-line settings of the flavour; the strings outlive the fake (argv). */
typedef struct ft_http_opts {
	const char *path;               /* NULL: /tickets */
	const char *token;              /* NULL: no Authorization needed */
	const char *hmac_secret;        /* NULL: no signature needed */
	const char *signature_header;   /* NULL: X-Ticketsync-Signature */
	const char *idempotency_header; /* NULL: Idempotency-Key */
	const char *id_path;            /* NULL: the id is top-level "id" */
} ft_http_opts_t;

/* Fill in the defaults and validate; 0, or -1 with a message. */
int ft_http_opts_check(ft_http_opts_t *o, char *err, size_t errlen);
/* "open", "bearer", "hmac" or "bearer+hmac". */
const char *ft_http_describe(const ft_http_opts_t *o);

/* {"error": msg}; returns status. */
int ft_http_error(struct evbuffer *out, int status, const char *msg);

/* Everything that is not /_fake/ (faults already applied). */
int ft_http_handle(struct ft_ctx *ctx, struct evhttp_request *req, const char *method,
    const char *path, const char *query, const char *body, size_t len,
    struct evbuffer *out);

/* The detection_id the ticket was created for; false if it has none. */
bool ft_http_detection_id(const ft_ticket_t *t, int64_t *id);
/* Control API's view of a ticket. */
void ft_http_render_control(const ft_ticket_t *t, bson_t *doc);

#endif
