/* leader: active/standby through the MongoDB lease; see leader.h. */
#include "ticketsync/leader.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "ticketsync/clock.h"
#include "ticketsync/dbworker.h"
#include "ticketsync/lease.h"
#include "ticketsync/log.h"
#include "ticketsync/metrics.h"
#include "ticketsync/xalloc.h"

struct leader {
	struct event_base *base;
	dbworker_t *db;
	char *database, *instance;
	int64_t period_ms, renew_ms;
	leader_change_fn cb;
	void *arg;
	struct event *tick, *deadline;
	bool busy, stopping, reported_active;
	atomic_llong valid_until; /* monotonic ms; 0 = not active */
	atomic_llong fencing;
	char other[LEASE_HOLDER_MAX]; /* holder seen while standby */
	void (*stop_done)(void *);
	void *stop_arg;
};

typedef struct leader_job {
	dbjob_t base;
	leader_t *l;
	bool release;
	int64_t my_fencing;
	int64_t started_ms;
	lease_state_t st;
	bool ok;
	bson_error_t err;
} leader_job_t;

int64_t
leader_deadline_ms(int64_t start_ms, int64_t period_ms)
{
	return start_ms + period_ms - period_ms / 10;
}

static void
leader_arm(struct event *ev, int64_t ms)
{
	struct timeval tv;

	if (ms < 0)
		ms = 0;
	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)((ms % 1000) * 1000);
	event_add(ev, &tv);
}

static void
leader_set_active(leader_t *l, bool active, int64_t fencing)
{
	if (active == l->reported_active)
		return;
	l->reported_active = active;
	metrics_set(METRICS_LEADER, active ? 1 : 0);
	if (active)
		log_info("leader: this instance is active (lease fencing token %lld)",
		    (long long)fencing);
	else
		log_warnx("leader: this instance is no longer active; pushes stop now");
	l->cb(l->arg, active, active ? fencing : 0);
}

static void
leader_job_run(dbjob_t *base, mongoc_client_t *client)
{
	leader_job_t *job = (leader_job_t *)base;
	leader_t *l = job->l;

	/* The deadline counts from before the request: never later than the server's. */
	job->started_ms = clock_mono_ms();
	if (job->release)
		job->ok = lease_release(client, l->database, LEASE_DAEMON, l->instance,
		    job->my_fencing, &job->err);
	else
		job->ok = lease_acquire(client, l->database, LEASE_DAEMON, l->instance,
		    job->my_fencing, l->period_ms, &job->st, &job->err);
}

static void
leader_job_done(dbjob_t *base)
{
	leader_job_t *job = (leader_job_t *)base;
	leader_t *l = job->l;

	l->busy = false;
	if (job->release) {
		void (*done)(void *) = l->stop_done;
		if (!job->ok)
			log_warnx("leader: could not release the lease (a standby takes over when it "
			    "expires): %s", job->err.message);
		free(job);
		l->stop_done = NULL;
		if (done != NULL)
			done(l->stop_arg);
		return;
	}
	if (l->stopping) {
		free(job);
		return;
	}
	if (!job->ok) {
		/* Not knowing is not holding: the deadline timer ends an active term. */
		log_warnx("leader: lease %s failed: %s", l->reported_active ? "renewal" : "check",
		    job->err.message);
	} else if (job->st.held) {
		int64_t until = leader_deadline_ms(job->started_ms, l->period_ms);
		if (clock_mono_ms() < until) {
			atomic_store(&l->fencing, job->st.fencing);
			atomic_store(&l->valid_until, until);
			leader_arm(l->deadline, until - clock_mono_ms());
			leader_set_active(l, true, job->st.fencing);
		}
	} else {
		atomic_store(&l->valid_until, 0);
		if (strcmp(l->other, job->st.holder) != 0) {
			snprintf(l->other, sizeof(l->other), "%s", job->st.holder);
			log_info("leader: standby; the lease is held by %s", l->other);
		}
		leader_set_active(l, false, 0);
	}
	free(job);
}

static void
leader_submit(leader_t *l, bool release)
{
	leader_job_t *job;

	if (l->busy && !release)
		return;
	job = xcalloc(1, sizeof(*job));
	job->base.run = leader_job_run;
	job->base.done = leader_job_done;
	job->l = l;
	job->release = release;
	job->my_fencing = leader_active(l) ? atomic_load(&l->fencing) : 0;
	if (release)
		job->my_fencing = atomic_load(&l->fencing);
	l->busy = true;
	if (!dbworker_submit(l->db, &job->base)) {
		l->busy = false;
		free(job);
	}
}

static void
leader_on_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	leader_submit(arg, false);
}

static void
leader_on_deadline(evutil_socket_t fd, short what, void *arg)
{
	leader_t *l = arg;

	(void)fd;
	(void)what;
	if (clock_mono_ms() >= atomic_load(&l->valid_until)) {
		atomic_store(&l->valid_until, 0);
		log_errorx("leader: the lease could not be renewed in time; stepping down before "
		    "it can expire");
		leader_set_active(l, false, 0);
	} else {
		leader_arm(l->deadline, atomic_load(&l->valid_until) - clock_mono_ms());
	}
}

leader_t *
leader_start(struct event_base *base, struct dbworker *db, const leader_opts_t *opts,
    leader_change_fn cb, void *arg, bson_error_t *err)
{
	leader_t *l = xcalloc(1, sizeof(*l));
	struct timeval tv;

	l->base = base;
	l->db = db;
	l->database = bson_strdup(opts->database);
	l->instance = bson_strdup(opts->instance);
	l->period_ms = opts->period_ms;
	l->renew_ms = opts->renew_ms;
	l->cb = cb;
	l->arg = arg;
	l->tick = event_new(base, -1, EV_PERSIST, leader_on_tick, l);
	l->deadline = evtimer_new(base, leader_on_deadline, l);
	if (l->tick == NULL || l->deadline == NULL) {
		bson_set_error(err, ERROR_DOMAIN, LEADER_ERR_RESOURCE,
		    "leader: cannot create timers");
		leader_free(l);
		return NULL;
	}
	tv.tv_sec = (time_t)(l->renew_ms / 1000);
	tv.tv_usec = (suseconds_t)((l->renew_ms % 1000) * 1000);
	event_add(l->tick, &tv);
	leader_submit(l, false);
	return l;
}

bool
leader_active(const leader_t *l)
{
	return clock_mono_ms() < atomic_load(&((leader_t *)l)->valid_until);
}

int64_t
leader_fencing(const leader_t *l)
{
	return atomic_load(&((leader_t *)l)->fencing);
}

bool
leader_decided(const leader_t *l)
{
	return leader_active(l) || l->other[0] != '\0';
}

void
leader_describe(const leader_t *l, char *buf, size_t len)
{
	if (leader_active(l))
		snprintf(buf, len, "active (lease fencing token %lld)",
		    (long long)leader_fencing(l));
	else if (l->other[0] != '\0')
		snprintf(buf, len, "standby: the lease is held by %s", l->other);
	else
		snprintf(buf, len, "standby: waiting for the lease");
}

void
leader_stop(leader_t *l, bool release, void (*done)(void *), void *arg)
{
	bool was_active = leader_active(l);

	l->stopping = true;
	event_del(l->tick);
	event_del(l->deadline);
	atomic_store(&l->valid_until, 0);
	l->reported_active = false;
	l->stop_done = done;
	l->stop_arg = arg;
	if (release && was_active) {
		leader_submit(l, true);
		return;
	}
	l->stop_done = NULL;
	if (done != NULL)
		done(arg);
}

void
leader_free(leader_t *l)
{
	if (l == NULL)
		return;
	if (l->tick != NULL)
		event_free(l->tick);
	if (l->deadline != NULL)
		event_free(l->deadline);
	bson_free(l->database);
	bson_free(l->instance);
	free(l);
}
