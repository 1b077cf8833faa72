/*
 * curlev: libcurl multi socket API on libevent; see curlev.h. Follows curl's
 * hiperfifo.c: the socket callback keeps one persistent event per socket, the timer
 * callback keeps one evtimer, and every wake-up ends by draining curl_multi_info_read.
 * Errors are returned or logged, never fatal.
 */
#include "ticketsync/curlev.h"

#include <event2/event.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ticketsync/log.h"
#include "ticketsync/xalloc.h"

struct curlev_xfer {
	curlev_t *cev;
	CURL *easy;
	curlev_done_fn cb;
	void *arg;
	struct curlev_xfer *prev, *next;
};

/* One per socket libcurl asked us to watch; attached with curl_multi_assign. */
struct curlev_sock {
	curlev_t *cev;
	curl_socket_t fd;
	struct event *ev;
	struct curlev_sock *prev, *next;
};

struct curlev {
	struct event_base *base;
	CURLM *multi;
	struct event *timer;
	struct curlev_xfer *xfers; /* in flight, doubly linked */
	size_t n_xfers;
	struct curlev_sock *socks;
};

static void
curlev_xfer_unlink(curlev_t *cev, struct curlev_xfer *x)
{
	if (x->prev != NULL)
		x->prev->next = x->next;
	else
		cev->xfers = x->next;
	if (x->next != NULL)
		x->next->prev = x->prev;
	x->prev = x->next = NULL;
	cev->n_xfers--;
}

static void
curlev_sock_free(curlev_t *cev, struct curlev_sock *s)
{
	if (s->prev != NULL)
		s->prev->next = s->next;
	else
		cev->socks = s->next;
	if (s->next != NULL)
		s->next->prev = s->prev;
	if (s->ev != NULL)
		event_free(s->ev); /* also drops it from this loop iteration's active list */
	free(s);
}

/* Complete every finished transfer. The callback may add new transfers or cancel
 * others (removing a handle also drops its queued message), so re-read each time. */
static void
curlev_drain(curlev_t *cev)
{
	CURLMsg *msg;
	int left;

	while ((msg = curl_multi_info_read(cev->multi, &left)) != NULL) {
		struct curlev_xfer *x = NULL;
		CURL *easy;
		CURLcode rc;
		curlev_done_fn cb;
		void *arg;

		if (msg->msg != CURLMSG_DONE)
			continue;
		easy = msg->easy_handle;
		rc = msg->data.result;
		curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&x);
		curl_multi_remove_handle(cev->multi, easy);
		if (x == NULL) { /* not ours: cannot happen, but never leak it */
			log_warnx("curlev: finished transfer without context");
			curl_easy_cleanup(easy);
			continue;
		}
		cb = x->cb;
		arg = x->arg;
		curlev_xfer_unlink(cev, x);
		free(x);
		curl_easy_setopt(easy, CURLOPT_PRIVATE, NULL);
		cb(easy, rc, arg);
	}
}

static void
curlev_socket_action(curlev_t *cev, curl_socket_t fd, int action)
{
	int running = 0;
	CURLMcode mc;

	mc = curl_multi_socket_action(cev->multi, fd, action, &running);
	if (mc != CURLM_OK)
		log_warnx("curlev: curl_multi_socket_action: %s", curl_multi_strerror(mc));
	curlev_drain(cev);
}

static void
curlev_event_cb(evutil_socket_t fd, short kind, void *arg)
{
	curlev_t *cev = arg;
	int action = 0;

	if (kind & EV_READ)
		action |= CURL_CSELECT_IN;
	if (kind & EV_WRITE)
		action |= CURL_CSELECT_OUT;
	curlev_socket_action(cev, (curl_socket_t)fd, action);
}

static void
curlev_timer_event_cb(evutil_socket_t fd, short kind, void *arg)
{
	(void)fd;
	(void)kind;
	curlev_socket_action(arg, CURL_SOCKET_TIMEOUT, 0);
}

/* CURLMOPT_TIMERFUNCTION: one timer; -1 deletes it, 0 means "as soon as possible",
 * which the loop does on its next iteration (never call socket_action from here). */
static int
curlev_timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
	curlev_t *cev = userp;
	struct timeval tv;

	(void)multi;
	if (timeout_ms < 0) {
		evtimer_del(cev->timer);
		return 0;
	}
	tv.tv_sec = timeout_ms / 1000;
	tv.tv_usec = (timeout_ms % 1000) * 1000;
	return evtimer_add(cev->timer, &tv) == 0 ? 0 : -1;
}

/* CURLMOPT_SOCKETFUNCTION: keep one persistent event per socket, watching what
 * libcurl asks for; free it on CURL_POLL_REMOVE (before libcurl closes the fd). */
static int
curlev_socket_cb(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
	curlev_t *cev = userp;
	struct curlev_sock *s = socketp;
	short kind = EV_PERSIST;

	(void)easy;
	if (what == CURL_POLL_REMOVE) {
		if (s != NULL)
			curlev_sock_free(cev, s);
		return 0;
	}
	if (what & CURL_POLL_IN)
		kind |= EV_READ;
	if (what & CURL_POLL_OUT)
		kind |= EV_WRITE;
	if (s == NULL) {
		s = xcalloc(1, sizeof(*s));
		s->cev = cev;
		s->fd = fd;
		s->next = cev->socks;
		if (cev->socks != NULL)
			cev->socks->prev = s;
		cev->socks = s;
		if (curl_multi_assign(cev->multi, fd, s) != CURLM_OK) {
			curlev_sock_free(cev, s);
			return -1;
		}
	} else {
		event_del(s->ev);
	}
	if (s->ev == NULL)
		s->ev = event_new(cev->base, fd, kind, curlev_event_cb, cev);
	else if (event_assign(s->ev, cev->base, fd, kind, curlev_event_cb, cev) != 0)
		return -1;
	if (s->ev == NULL || event_add(s->ev, NULL) != 0) {
		log_warnx("curlev: cannot watch socket %d", (int)fd);
		return -1;
	}
	return 0;
}

curlev_t *
curlev_new(struct event_base *base, const curlev_opts_t *opts, bson_error_t *err)
{
	curlev_t *cev;

	if (base == NULL) {
		bson_set_error(err, ERROR_DOMAIN, CURLEV_ERR_ARG, "curlev: no event base");
		return NULL;
	}
	cev = xcalloc(1, sizeof(*cev));
	cev->base = base;
	cev->timer = evtimer_new(base, curlev_timer_event_cb, cev);
	cev->multi = curl_multi_init();
	if (cev->timer == NULL || cev->multi == NULL) {
		bson_set_error(err, ERROR_DOMAIN, CURLEV_ERR_RESOURCE,
		    "curlev: cannot create the multi handle or its timer");
		curlev_destroy(cev);
		return NULL;
	}
	curl_multi_setopt(cev->multi, CURLMOPT_SOCKETFUNCTION, curlev_socket_cb);
	curl_multi_setopt(cev->multi, CURLMOPT_SOCKETDATA, cev);
	curl_multi_setopt(cev->multi, CURLMOPT_TIMERFUNCTION, curlev_timer_cb);
	curl_multi_setopt(cev->multi, CURLMOPT_TIMERDATA, cev);
	if (opts != NULL) {
		if (opts->max_total_connections > 0) {
			curl_multi_setopt(cev->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS,
			    opts->max_total_connections);
			/* Keep every allowed connection in the cache, or keep-alive is lost. */
			curl_multi_setopt(cev->multi, CURLMOPT_MAXCONNECTS,
			    opts->max_total_connections);
		}
		if (opts->max_host_connections > 0)
			curl_multi_setopt(cev->multi, CURLMOPT_MAX_HOST_CONNECTIONS,
			    opts->max_host_connections);
	}
	return cev;
}

int
curlev_add(curlev_t *cev, CURL *easy, curlev_done_fn cb, void *arg, bson_error_t *err)
{
	struct curlev_xfer *x;
	CURLMcode mc;

	if (cev == NULL || easy == NULL || cb == NULL) {
		bson_set_error(err, ERROR_DOMAIN, CURLEV_ERR_ARG, "curlev: bad arguments");
		return -1;
	}
	x = xcalloc(1, sizeof(*x));
	x->cev = cev;
	x->easy = easy;
	x->cb = cb;
	x->arg = arg;
	curl_easy_setopt(easy, CURLOPT_PRIVATE, x);
	/* Link first: adding may already call the socket/timer callbacks. */
	x->next = cev->xfers;
	if (cev->xfers != NULL)
		cev->xfers->prev = x;
	cev->xfers = x;
	cev->n_xfers++;
	mc = curl_multi_add_handle(cev->multi, easy);
	if (mc != CURLM_OK) {
		curlev_xfer_unlink(cev, x);
		free(x);
		curl_easy_setopt(easy, CURLOPT_PRIVATE, NULL);
		bson_set_error(err, ERROR_DOMAIN, CURLEV_ERR_ADD,
		    "curlev: curl_multi_add_handle: %s",
		    curl_multi_strerror(mc));
		return -1;
	}
	return 0;
}

size_t
curlev_in_flight(const curlev_t *cev)
{
	return cev != NULL ? cev->n_xfers : 0;
}

void
curlev_cancel_all(curlev_t *cev)
{
	struct curlev_xfer *batch;

	if (cev == NULL)
		return;
	/* Take the current set; transfers the callbacks add stay in cev->xfers. */
	batch = cev->xfers;
	cev->xfers = NULL;
	for (struct curlev_xfer *x = batch; x != NULL; x = x->next)
		cev->n_xfers--;
	while (batch != NULL) {
		struct curlev_xfer *x = batch;
		CURL *easy = x->easy;
		curlev_done_fn cb = x->cb;
		void *arg = x->arg;

		batch = x->next;
		if (batch != NULL)
			batch->prev = NULL;
		curl_multi_remove_handle(cev->multi, easy);
		curl_easy_setopt(easy, CURLOPT_PRIVATE, NULL);
		free(x);
		cb(easy, CURLE_ABORTED_BY_CALLBACK, arg);
	}
}

void
curlev_destroy(curlev_t *cev)
{
	if (cev == NULL)
		return;
	curlev_cancel_all(cev);
	/* Closing cached connections may still call the socket callback: cev stays valid. */
	if (cev->multi != NULL)
		curl_multi_cleanup(cev->multi);
	while (cev->socks != NULL)
		curlev_sock_free(cev, cev->socks);
	if (cev->timer != NULL)
		event_free(cev->timer);
	free(cev);
}

/* ---- what every transfer shares ---- */

static size_t
curlev_body_cb(char *ptr, size_t size, size_t nmemb, void *arg)
{
	curlev_body_t *b = arg;
	size_t n = size * nmemb, room = b->max > b->len ? b->max - b->len : 0;
	size_t keep = n < room ? n : room;

	if (keep > 0) {
		b->data = xreallocarray(b->data, b->len + keep + 1, 1);
		memcpy(b->data + b->len, ptr, keep);
		b->len += keep;
		b->data[b->len] = '\0';
	}
	return n; /* the excess is read and dropped, never an error */
}

void
curlev_body_reset(curlev_body_t *b)
{
	free(b->data);
	b->data = NULL;
	b->len = 0;
}

void
curlev_easy_setup(CURL *easy, const char *url, const curlev_transfer_opts_t *o, char *errbuf,
    curlev_body_t *body, size_t body_max)
{
	curl_easy_setopt(easy, CURLOPT_URL, url);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
#else
	curl_easy_setopt(easy, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
	/* Plain http never multiplexes here (no h2c); saying so keeps PIPEWAIT, where a
	 * client asks for it, from queueing every request behind a slow first response. */
	if (strncasecmp(url, "http://", 7) == 0)
		curl_easy_setopt(easy, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, o->connect_timeout_ms);
	curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, o->request_timeout_ms);
	curl_easy_setopt(easy, CURLOPT_USERAGENT, o->user_agent);
	curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 2L);
	if (o->ca_file != NULL)
		curl_easy_setopt(easy, CURLOPT_CAINFO, o->ca_file);
	if (o->ca_path != NULL)
		curl_easy_setopt(easy, CURLOPT_CAPATH, o->ca_path);
	errbuf[0] = '\0';
	curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, errbuf);
	body->max = body_max;
	curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, curlev_body_cb);
	curl_easy_setopt(easy, CURLOPT_WRITEDATA, body);
}
