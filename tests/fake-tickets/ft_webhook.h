/*
 * ft_webhook: outgoing webhook deliveries, as a ticket system sends them when a ticket
 * changes. Each POST goes out on its own evhttp client connection on the loop (never
 * blocking it); the result (status, or the transport error) is kept for the control API.
 * Only http:// URLs (the receiver in tests and the demo is local).
 */
#ifndef FT_WEBHOOK_H
#define FT_WEBHOOK_H

#include <bson/bson.h>
#include <event2/event.h>
#include <stddef.h>
#include <stdint.h>

typedef struct ft_webhook ft_webhook_t;

ft_webhook_t *ft_webhook_new(struct event_base *base);
/* In-flight deliveries are abandoned (and counted as failed). */
void ft_webhook_free(ft_webhook_t *w);

/* 0 if url is one the fake can post to, else -1 with a message. */
int ft_webhook_check_url(const char *url, char *err, size_t errlen);

/*
 * POST body to url with headers (NULL-terminated list of name, value, name, value...),
 * Content-Type application/json. Returns the delivery id (> 0), or -1 with a message
 * when it cannot even start (the failure is counted too).
 */
int64_t ft_webhook_post(ft_webhook_t *w, const char *url, const char *const *headers,
    const char *body, size_t len, const char *ticket, const char *event, char *err,
    size_t errlen);

/* Append "webhooks_sent", "webhooks_failed", "webhooks_pending" to out. */
/* Also frees the connections of finished deliveries. */
void ft_webhook_stats(ft_webhook_t *w, bson_t *out);
/* Append "webhooks": [{id, ticket, event, url, status, ok, pending, error}] to out. */
void ft_webhook_list(const ft_webhook_t *w, bson_t *out);
/* Zero the counters (deliveries in flight still count when they finish). */
void ft_webhook_reset(ft_webhook_t *w);

#endif
