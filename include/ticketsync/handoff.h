/*
 * handoff: the one seam between threads. A locked FIFO of opaque items plus a
 * wake-up: either a condition variable (a worker thread blocks in handoff_pop) or a
 * libevent event made active from the producer's thread (the loop drains the queue in
 * its callback). Nothing else is shared between the loop and the libmongoc threads.
 * As in memcached's thread.c: queue + wake-up.
 */
#ifndef TICKETSYNC_HANDOFF_H
#define TICKETSYNC_HANDOFF_H

#include <stdbool.h>
#include <stddef.h>

struct event_base;
typedef struct handoff handoff_t;

/* Called on the loop thread for each item, in push order. */
typedef void (*handoff_loop_fn)(void *item, void *arg);

/* A queue consumed by a thread that calls handoff_pop. Never NULL. */
handoff_t *handoff_new(void);
/* A queue consumed on base's loop: fn runs there for every pushed item. Requires
 * evthread_use_pthreads() before base was created. NULL when its event cannot be
 * created. */
handoff_t *handoff_new_loop(struct event_base *base, handoff_loop_fn fn, void *arg);

/* Any thread. Returns false (item not taken) once the queue is closed. */
bool handoff_push(handoff_t *h, void *item);
/* Thread consumers: wait up to timeout_ms (-1 = forever) for an item. NULL on
 * timeout, or when closed and empty. */
void *handoff_pop(handoff_t *h, int timeout_ms);
/* Wake every waiter; later pushes are refused; queued items stay poppable. */
void handoff_close(handoff_t *h);
size_t handoff_len(handoff_t *h);
/* Frees the queue; free_item (may be NULL) is applied to items still queued. */
void handoff_destroy(handoff_t *h, void (*free_item)(void *));

#endif
