/* ft_webhook: asynchronous webhook POSTs on evhttp client connections. */
#include "ft_webhook.h"

#include "ticketsync/log.h"
#include "ticketsync/xalloc.h"

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Deliveries remembered for GET /_fake/webhooks; older ones are forgotten. */
#define FT_WEBHOOK_KEEP 1000
#define FT_WEBHOOK_TIMEOUT_S 10

struct ft_delivery {
	ft_webhook_t *w;
	int64_t id;
	char *ticket, *event, *url;
	int status;       /* HTTP status; 0: none (yet) */
	bool pending, ok, cancelled;
	char error[128];
	struct evhttp_connection *evcon;
};

struct ft_webhook {
	struct event_base *base;
	struct ft_delivery **items; /* oldest first, at most FT_WEBHOOK_KEEP */
	size_t n;
	int64_t next_id;
	uint64_t sent, failed;
	size_t pending;
};

ft_webhook_t *
ft_webhook_new(struct event_base *base)
{
	ft_webhook_t *w = xcalloc(1, sizeof(*w));

	w->base = base;
	w->items = xcalloc(FT_WEBHOOK_KEEP, sizeof(*w->items));
	return w;
}

static void
ft_delivery_free(struct ft_delivery *d)
{
	free(d->ticket);
	free(d->event);
	free(d->url);
	free(d);
}

void
ft_webhook_free(ft_webhook_t *w)
{
	if (w == NULL)
		return;
	for (size_t i = 0; i < w->n; i++) {
		struct ft_delivery *d = w->items[i];

		/* The callback may run from inside the free; it sees cancelled. */
		d->cancelled = true;
		if (d->evcon != NULL)
			evhttp_connection_free(d->evcon);
		ft_delivery_free(d);
	}
	free(w->items);
	free(w);
}

int
ft_webhook_check_url(const char *url, char *err, size_t errlen)
{
	struct evhttp_uri *u = evhttp_uri_parse(url);
	int rc = -1;

	if (u == NULL)
		snprintf(err, errlen, "webhook URL \"%.200s\" does not parse", url);
	else if (evhttp_uri_get_scheme(u) == NULL || strcmp(evhttp_uri_get_scheme(u), "http") != 0)
		snprintf(err, errlen, "webhook URL must be http:// (got \"%.200s\")", url);
	else if (evhttp_uri_get_host(u) == NULL || evhttp_uri_get_host(u)[0] == '\0')
		snprintf(err, errlen, "webhook URL has no host");
	else
		rc = 0;
	if (u != NULL)
		evhttp_uri_free(u);
	return rc;
}

static void
ft_webhook_done(struct evhttp_request *req, void *arg)
{
	struct ft_delivery *d = arg;
	ft_webhook_t *w = d->w;

	if (d->cancelled || !d->pending)
		return;
	d->pending = false;
	w->pending--;
	d->status = req ? evhttp_request_get_response_code(req) : 0;
	d->ok = d->status >= 200 && d->status < 300;
	if (d->ok) {
		w->sent++;
	} else {
		w->failed++;
		if (d->status == 0)
			snprintf(d->error, sizeof(d->error), "no HTTP reply (connection failed or "
			    "timed out)");
		else
			snprintf(d->error, sizeof(d->error), "receiver answered %d", d->status);
		log_warnx("webhook %lld for %s to %s: %s", (long long)d->id, d->ticket, d->url,
		    d->error);
	}
	/* The connection cannot be freed from inside its own callback: ft_webhook_reap
	 * does it later. */
}

/* Free the connections of finished deliveries (never from their callbacks). */
static void
ft_webhook_reap(ft_webhook_t *w)
{
	for (size_t i = 0; i < w->n; i++) {
		struct ft_delivery *d = w->items[i];

		if (!d->pending && d->evcon != NULL) {
			evhttp_connection_free(d->evcon);
			d->evcon = NULL;
		}
	}
}

static struct ft_delivery *
ft_webhook_slot(ft_webhook_t *w)
{
	struct ft_delivery *d = xcalloc(1, sizeof(*d));

	if (w->n == FT_WEBHOOK_KEEP) {
		/* Forget the oldest finished delivery; in-flight ones stay. */
		size_t i;
		for (i = 0; i < w->n && w->items[i]->pending; i++)
			;
		if (i == w->n) {
			free(d);
			return NULL;
		}
		if (w->items[i]->evcon != NULL)
			evhttp_connection_free(w->items[i]->evcon);
		ft_delivery_free(w->items[i]);
		memmove(w->items + i, w->items + i + 1, (w->n - i - 1) * sizeof(*w->items));
		w->n--;
	}
	w->items[w->n++] = d;
	d->w = w;
	d->id = ++w->next_id;
	return d;
}

int64_t
ft_webhook_post(ft_webhook_t *w, const char *url, const char *const *headers,
    const char *body, size_t len, const char *ticket, const char *event, char *err,
    size_t errlen)
{
	struct evhttp_uri *u = NULL;
	struct ft_delivery *d;
	struct evhttp_request *req;
	struct evkeyvalq *h;
	char target[2048], host[300], clen[24];
	const char *path, *query;
	int port;

	ft_webhook_reap(w);
	if (ft_webhook_check_url(url, err, errlen) != 0 || (u = evhttp_uri_parse(url)) == NULL ||
	    (d = ft_webhook_slot(w)) == NULL) {
		if (u != NULL)
			snprintf(err, errlen, "too many webhook deliveries in flight");
		if (u != NULL)
			evhttp_uri_free(u);
		w->failed++;
		return -1;
	}
	d->ticket = xstrdup(ticket);
	d->event = xstrdup(event);
	d->url = xstrdup(url);
	port = evhttp_uri_get_port(u) > 0 ? evhttp_uri_get_port(u) : 80;
	path = evhttp_uri_get_path(u);
	query = evhttp_uri_get_query(u);
	snprintf(target, sizeof(target), "%s%s%s", path && *path ? path : "/", query ? "?" : "",
	    query ? query : "");
	snprintf(host, sizeof(host), "%s:%d", evhttp_uri_get_host(u), port);
	d->evcon = evhttp_connection_base_new(w->base, NULL, evhttp_uri_get_host(u),
	    (ev_uint16_t)port);
	req = d->evcon ? evhttp_request_new(ft_webhook_done, d) : NULL;
	if (req == NULL) {
		snprintf(d->error, sizeof(d->error), "cannot create the client connection");
		snprintf(err, errlen, "%s", d->error);
		if (d->evcon != NULL)
			evhttp_connection_free(d->evcon);
		d->evcon = NULL;
		w->failed++;
		evhttp_uri_free(u);
		return d->id;
	}
	evhttp_connection_set_timeout(d->evcon, FT_WEBHOOK_TIMEOUT_S);
	h = evhttp_request_get_output_headers(req);
	evhttp_add_header(h, "Host", host);
	evhttp_add_header(h, "Content-Type", "application/json");
	evhttp_add_header(h, "User-Agent", "fake_tickets");
	snprintf(clen, sizeof(clen), "%zu", len);
	evhttp_add_header(h, "Content-Length", clen);
	evhttp_add_header(h, "Connection", "close");
	for (size_t i = 0; headers != NULL && headers[i] != NULL && headers[i + 1] != NULL; i += 2)
		evhttp_add_header(h, headers[i], headers[i + 1]);
	evbuffer_add(evhttp_request_get_output_buffer(req), body, len);
	d->pending = true;
	w->pending++;
	if (evhttp_make_request(d->evcon, req, EVHTTP_REQ_POST, target) != 0) {
		/* evhttp freed req; the callback did not run. */
		d->pending = false;
		w->pending--;
		snprintf(d->error, sizeof(d->error), "cannot send the request");
		snprintf(err, errlen, "%s", d->error);
		evhttp_connection_free(d->evcon);
		d->evcon = NULL;
		w->failed++;
		evhttp_uri_free(u);
		return d->id;
	}
	evhttp_uri_free(u);
	return d->id;
}

void
ft_webhook_stats(ft_webhook_t *w, bson_t *out)
{
	ft_webhook_reap(w);
	BSON_APPEND_INT64(out, "webhooks_sent", (int64_t)w->sent);
	BSON_APPEND_INT64(out, "webhooks_failed", (int64_t)w->failed);
	BSON_APPEND_INT64(out, "webhooks_pending", (int64_t)w->pending);
}

void
ft_webhook_list(const ft_webhook_t *w, bson_t *out)
{
	bson_t arr, item;
	char key[24];

	bson_append_array_begin(out, "webhooks", -1, &arr);
	for (size_t i = 0; i < w->n; i++) {
		const struct ft_delivery *d = w->items[i];

		snprintf(key, sizeof(key), "%zu", i);
		bson_append_document_begin(&arr, key, -1, &item);
		BSON_APPEND_INT64(&item, "id", d->id);
		BSON_APPEND_UTF8(&item, "ticket", d->ticket);
		BSON_APPEND_UTF8(&item, "event", d->event);
		BSON_APPEND_UTF8(&item, "url", d->url);
		BSON_APPEND_INT32(&item, "status", d->status);
		BSON_APPEND_BOOL(&item, "ok", d->ok);
		BSON_APPEND_BOOL(&item, "pending", d->pending);
		if (d->error[0] != '\0')
			BSON_APPEND_UTF8(&item, "error", d->error);
		else
			BSON_APPEND_NULL(&item, "error");
		bson_append_document_end(&arr, &item);
	}
	bson_append_array_end(out, &arr);
}

void
ft_webhook_reset(ft_webhook_t *w)
{
	w->sent = w->failed = 0;
}
