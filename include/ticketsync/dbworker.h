/*
 * dbworker: a thread with its own pooled libmongoc client that runs jobs submitted
 * by the libevent loop, one at a time and in order, and hands each finished job back
 * to the loop. The loop never calls libmongoc itself (the redis bio.c pattern).
 *
 * A job embeds dbjob_t as its first member: run() executes on the DB thread with a
 * client; done() executes afterwards on the loop thread and owns (frees) the job.
 */
#ifndef TICKETSYNC_DBWORKER_H
#define TICKETSYNC_DBWORKER_H

#include <stdbool.h>
#include <stddef.h>

#include <bson/bson.h>
#include <mongoc/mongoc.h>

#include "ticketsync/error.h"

struct event_base;
typedef struct dbworker dbworker_t;
typedef struct dbjob dbjob_t;

struct dbjob {
	void (*run)(dbjob_t *job, mongoc_client_t *client);
	void (*done)(dbjob_t *job);
};

/* Codes of dbworker_start's errors (domain ERROR_DOMAIN). */
enum dbworker_error {
	DBWORKER_ERR_RESOURCE = ERROR_BASE_DBWORKER, /* its queue's event or its thread */
};

/* The worker pops its client from pool (the store's, store_pool) for its lifetime;
 * the pool outlives the worker. */
dbworker_t *dbworker_start(mongoc_client_pool_t *pool, struct event_base *base,
    bson_error_t *err);
/* Loop thread. False once the worker is stopping (the caller keeps the job). */
bool dbworker_submit(dbworker_t *w, dbjob_t *job);
/* Refuse new jobs, run the ones queued, join the thread, then run done() for every
 * finished job on the calling thread (which must be the loop thread). */
void dbworker_stop(dbworker_t *w);

#endif
