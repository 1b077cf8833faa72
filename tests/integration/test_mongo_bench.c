/*
 * Measures the MongoDB test server through one libmongoc client and prints the
 * figures (no timed assertions: numbers depend on the machine). It still checks that
 * every write and read happened.
 *
 *   insert_one   N single-document inserts (acknowledged)
 *   find_one     N lookups by _id
 *   bulk insert  M documents shaped like detections, 1000 per insert_many message
 *   full scan    find {} over all M documents, then a filtered scan
 *
 * Defaults keep the suite quick (N=2000, M=20000). For the README's figures:
 *   TICKETSYNC_MONGO_BENCH_N=20000 TICKETSYNC_MONGO_BENCH_M=100000 ./it_test_mongo_bench
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <mongoc/mongoc.h>

#include "ticketsync/clock.h"
#include "tsgroup.h"
#include "tsmongo.h"

static tsmongo_t *mongo;
static mongoc_client_t *client;
static char dbname[64];

static int
env_int(const char *name, int dflt)
{
	const char *v = getenv(name);

	return v != NULL && atoi(v) > 0 ? atoi(v) : dflt;
}

static int
group_setup(void **state)
{
	if (tsgroup_setup(state) != 0)
		return -1;
	mongo = tsgroup_mongo();
	client = tsmongo_client(mongo);
	tsmongo_dbname(mongo, "bench", 1, dbname, sizeof(dbname));
	return client == NULL ? -1 : 0;
}

static int
group_teardown(void **state)
{
	mongoc_client_destroy(client);
	return tsgroup_teardown(state);
}

static void
detection(bson_t *doc, int64_t id)
{
	char title[64];

	bson_init(doc);
	BSON_APPEND_INT64(doc, "_id", id);
	BSON_APPEND_INT64(doc, "id", id);
	snprintf(title, sizeof(title), "Suspicious activity %lld", (long long)id);
	BSON_APPEND_UTF8(doc, "title", title);
	BSON_APPEND_UTF8(doc, "type", id % 3 ? "lateral_movement" : "exfiltration");
	BSON_APPEND_INT32(doc, "risk_score", (int32_t)(id % 100));
	BSON_APPEND_DATE_TIME(doc, "start_time", INT64_C(1700000000000) + id);
	BSON_APPEND_UTF8(doc, "status", id % 5 ? "new" : "in_progress");
	BSON_APPEND_NULL(doc, "ticket_id");
	BSON_APPEND_UTF8(doc, "description",
	    "A device sent an unusual amount of data to an external endpoint over an "
	    "encrypted channel; review the participants and the timeline.");
}

static void
test_single_document_rates(void **state)
{
	int n = env_int("TICKETSYNC_MONGO_BENCH_N", 2000);
	mongoc_collection_t *c = mongoc_client_get_collection(client, dbname, "single");
	bson_error_t error;
	double t0, t_ins, t_find, t_ping;
	int found = 0;

	(void)state;
	/* Baseline in the same run: a bare round trip (ping) on this machine now. */
	{
		const bson_t *ping = tsmongo_json("{'ping': 1}");

		t0 = ((double)clock_mono_ms() / 1e3);
		for (int i = 0; i < n; i++)
			if (!mongoc_client_command_simple(client, "admin", ping, NULL, NULL, &error))
				fail_msg("ping: %s", error.message);
		t_ping = ((double)clock_mono_ms() / 1e3) - t0;
		tsmongo_tmp_free();
	}

	t0 = ((double)clock_mono_ms() / 1e3);
	for (int i = 0; i < n; i++) {
		bson_t doc;

		detection(&doc, i);
		if (!mongoc_collection_insert_one(c, &doc, NULL, NULL, &error))
			fail_msg("insert %d: %s", i, error.message);
		bson_destroy(&doc);
	}
	t_ins = ((double)clock_mono_ms() / 1e3) - t0;

	t0 = ((double)clock_mono_ms() / 1e3);
	for (int i = 0; i < n; i++) {
		bson_t filter = BSON_INITIALIZER, opts = BSON_INITIALIZER;
		mongoc_cursor_t *cur;
		const bson_t *doc;

		BSON_APPEND_INT64(&filter, "_id", (int64_t)((i * 7919) % n));
		BSON_APPEND_INT32(&opts, "limit", 1);
		cur = mongoc_collection_find_with_opts(c, &filter, &opts, NULL);
		if (mongoc_cursor_next(cur, &doc))
			found++;
		mongoc_cursor_destroy(cur);
		bson_destroy(&filter);
		bson_destroy(&opts);
	}
	t_find = ((double)clock_mono_ms() / 1e3) - t0;
	assert_int_equal(found, n);

	printf("BENCH ping (round-trip baseline): %d in %.3f s = %.0f/s\n", n, t_ping, n / t_ping);
	printf("BENCH insert_one: %d docs in %.3f s = %.0f/s\n", n, t_ins, n / t_ins);
	printf("BENCH find_one by _id: %d lookups in %.3f s = %.0f/s\n", n, t_find, n / t_find);
	mongoc_collection_destroy(c);
}

static void
test_bulk_insert_and_scan(void **state)
{
	int m = env_int("TICKETSYNC_MONGO_BENCH_M", 20000);
	mongoc_collection_t *c = mongoc_client_get_collection(client, dbname, "bulk");
	bson_t *docs = calloc(1000, sizeof(bson_t));
	const bson_t *ptrs[1000];
	bson_error_t error;
	double t0, t_ins, t_scan, t_filter;
	mongoc_cursor_t *cur;
	const bson_t *doc;
	int64_t seen = 0, matched = 0, expect_matched = 0;

	(void)state;
	assert_non_null(docs);
	t0 = ((double)clock_mono_ms() / 1e3);
	for (int base = 0; base < m; base += 1000) {
		int k = m - base < 1000 ? m - base : 1000;

		for (int i = 0; i < k; i++) {
			detection(&docs[i], base + i);
			ptrs[i] = &docs[i];
		}
		if (!mongoc_collection_insert_many(c, ptrs, (size_t)k, NULL, NULL, &error))
			fail_msg("insert_many at %d: %s", base, error.message);
		for (int i = 0; i < k; i++)
			bson_destroy(&docs[i]);
	}
	t_ins = ((double)clock_mono_ms() / 1e3) - t0;
	free(docs);

	t0 = ((double)clock_mono_ms() / 1e3);
	cur = mongoc_collection_find_with_opts(c, tsmongo_json("{}"), NULL, NULL);
	while (mongoc_cursor_next(cur, &doc))
		seen++;
	assert_false(mongoc_cursor_error(cur, &error));
	mongoc_cursor_destroy(cur);
	t_scan = ((double)clock_mono_ms() / 1e3) - t0;
	assert_int_equal(seen, m);

	for (int64_t i = 0; i < m; i++)
		if (i % 5 == 0 && i % 100 >= 50)
			expect_matched++;
	t0 = ((double)clock_mono_ms() / 1e3);
	cur = mongoc_collection_find_with_opts(c,
	    tsmongo_json("{'status': 'in_progress', 'risk_score': {'$gte': 50}}"), NULL, NULL);
	while (mongoc_cursor_next(cur, &doc))
		matched++;
	assert_false(mongoc_cursor_error(cur, &error));
	mongoc_cursor_destroy(cur);
	t_filter = ((double)clock_mono_ms() / 1e3) - t0;
	assert_int_equal(matched, expect_matched);

	printf("BENCH bulk insert: %d docs (1000 per message) in %.3f s = %.0f/s\n", m, t_ins, m / t_ins);
	printf("BENCH full scan: %d docs in %.3f s = %.0f/s\n", m, t_scan, m / t_scan);
	printf("BENCH filtered scan (first pass decodes every document): %lld of %d in %.3f s\n",
	    (long long)matched, m, t_filter);
	tsmongo_tmp_free();
	mongoc_collection_destroy(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_single_document_rates),
		cmocka_unit_test(test_bulk_insert_and_scan),
	};
	int rc;

	mongoc_init();
	rc = cmocka_run_group_tests(tests, group_setup, group_teardown);
	mongoc_cleanup();
	return rc;
}
