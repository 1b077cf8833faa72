/* lease: take, renew, expire, fence, release, and never two holders at once. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ticketsync/lease.h"
#include "tsstore.h"

/* The test's database, for the racing threads too. */
static const char *db;

static int
setup(void **state)
{
	if (tsstore_setup(state, "lease", TSSTORE_SCHEMA_SERVICE) != 0)
		return -1;
	db = ((tsstore_fixture_t *)*state)->db;
	return 0;
}

static void
test_take_renew_expire_fence(void **state)
{
	mongoc_client_t *c = tsmongo_client(tsgroup_mongo());
	lease_state_t a, b;
	bson_error_t err;

	(void)state;
	/* A takes the free lease. */
	assert_true(lease_acquire(c, db, LEASE_DAEMON, "A", 0, 600, &a, &err));
	assert_true(a.held);
	assert_int_equal(a.fencing, 1);
	assert_string_equal(a.holder, "A");
	assert_true(a.expires_at_ms > a.server_now_ms);
	/* B cannot while it is live, and learns who holds it. */
	assert_true(lease_acquire(c, db, LEASE_DAEMON, "B", 0, 600, &b, &err));
	assert_false(b.held);
	assert_string_equal(b.holder, "A");
	/* A renews under the same fencing token. */
	assert_true(lease_acquire(c, db, LEASE_DAEMON, "A", a.fencing, 600, &a, &err));
	assert_true(a.held);
	assert_int_equal(a.fencing, 1);
	/* A stops renewing; after expiry B takes over with a larger fencing token. */
	usleep(700000);
	assert_true(lease_acquire(c, db, LEASE_DAEMON, "B", 0, 600, &b, &err));
	assert_true(b.held);
	assert_int_equal(b.fencing, 2);
	/* A comes back with its old token: refused, it learns B holds it. */
	assert_true(lease_acquire(c, db, LEASE_DAEMON, "A", 1, 600, &a, &err));
	assert_false(a.held);
	assert_string_equal(a.holder, "B");
	/* B releases on shutdown: A can take it at once. */
	assert_true(lease_release(c, db, LEASE_DAEMON, "B", b.fencing, &err));
	assert_true(lease_acquire(c, db, LEASE_DAEMON, "A", 0, 600, &a, &err));
	assert_true(a.held);
	assert_int_equal(a.fencing, 3);
	/* A restarted A (same name, no token) takes its own lease back at once. */
	assert_true(lease_acquire(c, db, LEASE_DAEMON, "A", 0, 600, &a, &err));
	assert_true(a.held);
	assert_int_equal(a.fencing, 4);
	/* A release under a stale token changes nothing. */
	assert_true(lease_release(c, db, LEASE_DAEMON, "B", 2, &err));
	assert_true(lease_read(c, db, LEASE_DAEMON, &b, &err));
	assert_string_equal(b.holder, "A");
	assert_true(b.expires_at_ms > b.server_now_ms);
	mongoc_client_destroy(c);
}

#define RACERS 4
#define ROUNDS 40

typedef struct racer {
	const char *name;
	int wins;
	int64_t last_fencing;
} racer_t;

static pthread_mutex_t held_lock = PTHREAD_MUTEX_INITIALIZER;
static int64_t seen_fencing[ROUNDS * RACERS * 4];
static int nseen;

static void *
race(void *arg)
{
	racer_t *r = arg;
	mongoc_client_t *c = tsmongo_client(tsgroup_mongo());
	bson_error_t err;

	for (int i = 0; i < ROUNDS; i++) {
		lease_state_t st;
		/* Short leases, never renewed: every expiry is contended. */
		assert_true(lease_acquire(c, db, LEASE_DAEMON, r->name, 0, 30, &st, &err));
		if (st.held) {
			r->wins++;
			pthread_mutex_lock(&held_lock);
			/* A fencing token is handed out once, to one holder. */
			for (int k = 0; k < nseen; k++)
				assert_true(seen_fencing[k] != st.fencing);
			seen_fencing[nseen++] = st.fencing;
			pthread_mutex_unlock(&held_lock);
		}
		usleep(10000);
	}
	mongoc_client_destroy(c);
	return NULL;
}

static void
test_racing_takers_never_share_a_token(void **state)
{
	pthread_t th[RACERS];
	racer_t r[RACERS] = { { "r0", 0, 0 }, { "r1", 0, 0 }, { "r2", 0, 0 }, { "r3", 0, 0 } };
	int total = 0;

	(void)state;
	nseen = 0;
	for (int i = 0; i < RACERS; i++)
		pthread_create(&th[i], NULL, race, &r[i]);
	for (int i = 0; i < RACERS; i++) {
		pthread_join(th[i], NULL);
		total += r[i].wins;
	}
	printf("lease race: %d takeovers among %d racers\n", total, RACERS);
	assert_true(total > 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_take_renew_expire_fence, setup, tsstore_teardown),
		cmocka_unit_test_setup_teardown(test_racing_takers_never_share_a_token, setup, tsstore_teardown),
	};

	return cmocka_run_group_tests(tests, tsstore_group_setup, tsstore_group_teardown);
}
