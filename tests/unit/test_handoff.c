/* handoff: FIFO order, cross-thread delivery to a thread and to a libevent loop. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdlib.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "ticketsync/handoff.h"

#define PRODUCERS 4
#define PER_PRODUCER 5000

struct producer {
	handoff_t *h;
	int id;
};

static void *
produce(void *arg)
{
	struct producer *p = arg;

	for (intptr_t i = 0; i < PER_PRODUCER; i++) {
		intptr_t v = (intptr_t)p->id * PER_PRODUCER + i + 1;
		assert_true(handoff_push(p->h, (void *)v));
	}
	return NULL;
}

static void
test_fifo_single_thread(void **state)
{
	handoff_t *h = handoff_new();

	(void)state;
	for (intptr_t i = 1; i <= 10; i++)
		assert_true(handoff_push(h, (void *)i));
	assert_int_equal(handoff_len(h), 10);
	for (intptr_t i = 1; i <= 10; i++)
		assert_int_equal((intptr_t)handoff_pop(h, 0), i);
	assert_null(handoff_pop(h, 10)); /* times out */
	handoff_close(h);
	assert_false(handoff_push(h, (void *)1));
	handoff_destroy(h, NULL);
}

static void
test_threads_to_thread(void **state)
{
	handoff_t *h = handoff_new();
	pthread_t th[PRODUCERS];
	struct producer p[PRODUCERS];
	intptr_t last[PRODUCERS] = { 0 };
	int got = 0;

	(void)state;
	for (int i = 0; i < PRODUCERS; i++) {
		p[i] = (struct producer){ h, i };
		pthread_create(&th[i], NULL, produce, &p[i]);
	}
	while (got < PRODUCERS * PER_PRODUCER) {
		intptr_t v = (intptr_t)handoff_pop(h, 5000);
		assert_true(v > 0);
		int who = (int)((v - 1) / PER_PRODUCER);
		/* Each producer's items arrive in its own order. */
		assert_true(v > last[who]);
		last[who] = v;
		got++;
	}
	for (int i = 0; i < PRODUCERS; i++)
		pthread_join(th[i], NULL);
	handoff_destroy(h, NULL);
}

struct loop_ctx {
	struct event_base *base;
	int got;
	intptr_t last[PRODUCERS];
};

static void
on_item(void *item, void *arg)
{
	struct loop_ctx *c = arg;
	intptr_t v = (intptr_t)item;
	int who = (int)((v - 1) / PER_PRODUCER);

	assert_true(v > c->last[who]);
	c->last[who] = v;
	if (++c->got == PRODUCERS * PER_PRODUCER)
		event_base_loopbreak(c->base);
}

static void
on_timeout(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	fail_msg("loop consumer did not receive every item in time");
}

static void
test_threads_to_loop(void **state)
{
	struct loop_ctx c = { 0 };
	pthread_t th[PRODUCERS];
	struct producer p[PRODUCERS];
	struct event *timeout;
	struct timeval tv = { 10, 0 };
	handoff_t *h;

	(void)state;
	c.base = event_base_new();
	h = handoff_new_loop(c.base, on_item, &c);
	assert_non_null(h);
	timeout = evtimer_new(c.base, on_timeout, NULL);
	evtimer_add(timeout, &tv);
	for (int i = 0; i < PRODUCERS; i++) {
		p[i] = (struct producer){ h, i };
		pthread_create(&th[i], NULL, produce, &p[i]);
	}
	event_base_dispatch(c.base);
	for (int i = 0; i < PRODUCERS; i++)
		pthread_join(th[i], NULL);
	assert_int_equal(c.got, PRODUCERS * PER_PRODUCER);
	event_free(timeout);
	handoff_destroy(h, NULL);
	event_base_free(c.base);
}

static void
free_counted(void *item)
{
	free(item);
}

static void
test_destroy_frees_queued(void **state)
{
	handoff_t *h = handoff_new();

	(void)state;
	for (int i = 0; i < 3; i++)
		assert_true(handoff_push(h, malloc(16)));
	handoff_destroy(h, free_counted); /* LeakSanitizer checks the frees */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fifo_single_thread),
		cmocka_unit_test(test_threads_to_thread),
		cmocka_unit_test(test_threads_to_loop),
		cmocka_unit_test(test_destroy_frees_queued),
	};

	evthread_use_pthreads();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
