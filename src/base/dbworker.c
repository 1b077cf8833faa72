/* dbworker: libmongoc jobs off the loop thread; see dbworker.h. */
#include "ticketsync/dbworker.h"

#include <pthread.h>
#include <stdlib.h>

#include "ticketsync/handoff.h"
#include "ticketsync/log.h"
#include "ticketsync/xalloc.h"

struct dbworker {
	mongoc_client_pool_t *pool;
	handoff_t *requests; /* loop -> DB thread */
	handoff_t *replies;  /* DB thread -> loop */
	pthread_t thread;
	bool started;
};

static void
dbworker_on_reply(void *item, void *arg)
{
	dbjob_t *job = item;

	(void)arg;
	job->done(job);
}

static void *
dbworker_main(void *arg)
{
	dbworker_t *w = arg;
	mongoc_client_t *client = mongoc_client_pool_pop(w->pool);
	dbjob_t *job;

	/* handoff_pop returns NULL only once closed and drained. */
	while ((job = handoff_pop(w->requests, -1)) != NULL) {
		job->run(job, client);
		if (!handoff_push(w->replies, job))
			log_errorx("dbworker: reply queue closed; job lost");
	}
	mongoc_client_pool_push(w->pool, client);
	return NULL;
}

dbworker_t *
dbworker_start(mongoc_client_pool_t *pool, struct event_base *base, bson_error_t *err)
{
	dbworker_t *w = xcalloc(1, sizeof(*w));

	w->pool = pool;
	w->requests = handoff_new();
	w->replies = handoff_new_loop(base, dbworker_on_reply, w);
	if (w->replies == NULL) {
		bson_set_error(err, ERROR_DOMAIN, DBWORKER_ERR_RESOURCE,
		    "dbworker: cannot create the reply queue's event");
		goto fail;
	}
	if (pthread_create(&w->thread, NULL, dbworker_main, w) != 0) {
		bson_set_error(err, ERROR_DOMAIN, DBWORKER_ERR_RESOURCE,
		    "dbworker: cannot start thread");
		goto fail;
	}
	w->started = true;
	return w;
fail:
	handoff_destroy(w->requests, NULL);
	handoff_destroy(w->replies, NULL);
	free(w);
	return NULL;
}

bool
dbworker_submit(dbworker_t *w, dbjob_t *job)
{
	return handoff_push(w->requests, job);
}

void
dbworker_stop(dbworker_t *w)
{
	dbjob_t *job;

	if (w == NULL)
		return;
	handoff_close(w->requests);
	if (w->started)
		pthread_join(w->thread, NULL);
	/* Deliver what finished after the loop stopped draining. */
	handoff_close(w->replies);
	while ((job = handoff_pop(w->replies, 0)) != NULL)
		job->done(job);
	handoff_destroy(w->requests, NULL);
	handoff_destroy(w->replies, NULL);
	free(w);
}
