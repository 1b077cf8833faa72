/* handoff: locked FIFO + wake-up between threads; see handoff.h. */
#include "ticketsync/handoff.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include <event2/event.h>

#include "ticketsync/xalloc.h"

struct handoff_node {
	struct handoff_node *next;
	void *item;
};

struct handoff {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct handoff_node *head, *tail;
	size_t len;
	bool closed;
	/* loop consumer only */
	struct event *ev;
	handoff_loop_fn fn;
	void *arg;
};

static handoff_t *
handoff_alloc(void)
{
	handoff_t *h = xcalloc(1, sizeof(*h));
	pthread_condattr_t attr;

	pthread_mutex_init(&h->lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&h->cond, &attr);
	pthread_condattr_destroy(&attr);
	return h;
}

handoff_t *
handoff_new(void)
{
	return handoff_alloc();
}

static void *
handoff_take_locked(handoff_t *h)
{
	struct handoff_node *n = h->head;
	void *item;

	if (n == NULL)
		return NULL;
	h->head = n->next;
	if (h->head == NULL)
		h->tail = NULL;
	h->len--;
	item = n->item;
	free(n);
	return item;
}

static void
handoff_on_wake(evutil_socket_t fd, short what, void *arg)
{
	handoff_t *h = arg;
	struct handoff_node *batch;

	(void)fd;
	(void)what;
	/* Take the whole list at once so the lock is never held while fn runs. */
	pthread_mutex_lock(&h->lock);
	batch = h->head;
	h->head = h->tail = NULL;
	h->len = 0;
	pthread_mutex_unlock(&h->lock);
	while (batch != NULL) {
		struct handoff_node *next = batch->next;
		void *item = batch->item;
		free(batch);
		h->fn(item, h->arg);
		batch = next;
	}
}

handoff_t *
handoff_new_loop(struct event_base *base, handoff_loop_fn fn, void *arg)
{
	handoff_t *h = handoff_alloc();

	h->fn = fn;
	h->arg = arg;
	h->ev = event_new(base, -1, 0, handoff_on_wake, h);
	if (h->ev == NULL) {
		handoff_destroy(h, NULL);
		return NULL;
	}
	return h;
}

bool
handoff_push(handoff_t *h, void *item)
{
	struct handoff_node *n = xmalloc(sizeof(*n));

	n->next = NULL;
	n->item = item;
	pthread_mutex_lock(&h->lock);
	if (h->closed) {
		pthread_mutex_unlock(&h->lock);
		free(n);
		return false;
	}
	if (h->tail != NULL)
		h->tail->next = n;
	else
		h->head = n;
	h->tail = n;
	h->len++;
	if (h->ev == NULL)
		pthread_cond_signal(&h->cond);
	pthread_mutex_unlock(&h->lock);
	/* event_active is thread-safe once evthread_use_pthreads() is in force. */
	if (h->ev != NULL)
		event_active(h->ev, EV_READ, 0);
	return true;
}

void *
handoff_pop(handoff_t *h, int timeout_ms)
{
	struct timespec deadline;
	void *item;

	if (timeout_ms >= 0) {
		clock_gettime(CLOCK_MONOTONIC, &deadline);
		deadline.tv_sec += timeout_ms / 1000;
		deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
		if (deadline.tv_nsec >= 1000000000L) {
			deadline.tv_sec++;
			deadline.tv_nsec -= 1000000000L;
		}
	}
	pthread_mutex_lock(&h->lock);
	while (h->head == NULL && !h->closed) {
		if (timeout_ms < 0) {
			pthread_cond_wait(&h->cond, &h->lock);
		} else if (pthread_cond_timedwait(&h->cond, &h->lock, &deadline) == ETIMEDOUT) {
			break;
		}
	}
	item = handoff_take_locked(h);
	pthread_mutex_unlock(&h->lock);
	return item;
}

void
handoff_close(handoff_t *h)
{
	pthread_mutex_lock(&h->lock);
	h->closed = true;
	pthread_cond_broadcast(&h->cond);
	pthread_mutex_unlock(&h->lock);
}

size_t
handoff_len(handoff_t *h)
{
	size_t n;

	pthread_mutex_lock(&h->lock);
	n = h->len;
	pthread_mutex_unlock(&h->lock);
	return n;
}

void
handoff_destroy(handoff_t *h, void (*free_item)(void *))
{
	void *item;

	if (h == NULL)
		return;
	if (h->ev != NULL)
		event_free(h->ev);
	while ((item = handoff_take_locked(h)) != NULL)
		if (free_item != NULL)
			free_item(item);
	pthread_cond_destroy(&h->cond);
	pthread_mutex_destroy(&h->lock);
	free(h);
}
