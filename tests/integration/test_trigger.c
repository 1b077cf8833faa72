/*
 * The ExtraHop trigger (deploy/extrahop/ticketsync-trigger.js) end to end, short of an
 * ExtraHop: Node runs it over Detection fixtures against a stand-in trigger runtime
 * that records its Remote.MongoDB calls (deploy/extrahop/test/). This test replays the
 * recorded calls through libmongoc into a database prepared by schema_ensure, checks
 * every write against the `detections` validator from schema/ in error mode (the real
 * collection only warns), and parses every resulting document with detection_parse,
 * as ticketsyncd does. ExtraHop does not document how JavaScript numbers reach
 * MongoDB, so the replay runs three times: plain JSON numbers, all doubles, and
 * integers as int64.
 */
#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "ticketsync/detection.h"
#include "ticketsync/mongoerr.h"
#include "ticketsync/schema.h"
#include "tsgroup.h"
#include "tsmongo.h"

#define T0 INT64_C(1700000000000)
#define LARGE_ID ((INT64_C(1) << 40) + 7)
#define STRICT_COLL "detections_strict"


/* The detection ids the fixtures write (deploy/extrahop/test/fixtures.js). */
static const int64_t fixture_ids[] = { 1, 2, 3, 4, 5, 6, 7, 8, LARGE_ID };
#define N_FIXTURE_IDS (sizeof(fixture_ids) / sizeof(fixture_ids[0]))
/* Updates recorded: one per fixture with a usable id and the right event (detection
 * 1 twice: its first and a later event). */
#define N_UPDATES 10

static const char *
node_path(void)
{
	const char *n = getenv("TICKETSYNC_TEST_NODE");

	return n != NULL && n[0] != '\0' ? n : "node";
}

/*
 * Run argv (looked up in PATH) and collect its stdout; stderr passes through. Returns
 * the wait status, or -1. *out is NUL-terminated and belongs to the caller.
 */
static int
run_capture(char *const argv[], char **out, size_t *outlen)
{
	int fds[2], status = -1;
	size_t len = 0, cap = 65536;
	char *buf = malloc(cap);
	pid_t pid;

	*out = NULL;
	if (buf == NULL || pipe2(fds, O_CLOEXEC) != 0) {
		free(buf);
		return -1;
	}
	pid = fork();
	if (pid == 0) {
		dup2(fds[1], STDOUT_FILENO);
		execvp(argv[0], argv);
		fprintf(stderr, "cannot run %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(fds[1]);
	for (;;) {
		ssize_t got;

		if (len + 1 >= cap) {
			char *bigger = realloc(buf, cap * 2);

			if (bigger == NULL)
				break;
			buf = bigger;
			cap *= 2;
		}
		got = read(fds[0], buf + len, cap - len - 1);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			break;
		len += (size_t)got;
	}
	close(fds[0]);
	buf[len] = '\0';
	if (pid > 0)
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
	*out = buf;
	if (outlen != NULL)
		*outlen = len;
	return pid > 0 ? status : -1;
}

static char *
run_trigger(const char *db, const char *numbers)
{
	char script[4096];
	char *argv[10];
	char *out;
	int n = 0, status;

	snprintf(script, sizeof(script), "%s/deploy/extrahop/test/run-trigger.js",
	    tsproc_source_dir());
	argv[n++] = (char *)node_path();
	argv[n++] = script;
	argv[n++] = "--db";
	argv[n++] = (char *)db;
	argv[n++] = "--numbers";
	argv[n++] = (char *)numbers;
	argv[n] = NULL;
	status = run_capture(argv, &out, NULL);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "%s", out ? out : "");
		free(out);
		fail_msg("run-trigger.js (--numbers %s) failed: status %d", numbers, status);
	}
	return out;
}

static int
teardown(void **state)
{
	(void)state;
	tsmongo_tmp_free();
	return 0;
}

/* The Node-side checks of the mapping (field by field, the optional HTTP block). */
static void
test_trigger_node_checks(void **state)
{
	char script[4096];
	char *argv[3], *out;
	int status;

	(void)state;
	snprintf(script, sizeof(script), "%s/deploy/extrahop/test/test-trigger.js",
	    tsproc_source_dir());
	argv[0] = (char *)node_path();
	argv[1] = script;
	argv[2] = NULL;
	status = run_capture(argv, &out, NULL);
	printf("%s", out ? out : "");
	free(out);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

/* A database with every collection as `ticketsyncctl init` makes it, plus a scratch
 * copy of `detections` whose validator rejects instead of warning. */
static void
prepare_db(mongoc_client_t *client, const char *db)
{
	mongoc_database_t *database = mongoc_client_get_database(client, db);
	mongoc_collection_t *coll;
	schema_spec_t spec;
	bson_error_t err;
	bson_t opts = BSON_INITIALIZER;

	if (!schema_ensure(client, db, NULL, false, NULL, &err))
		fail_msg("schema_ensure: %s", err.message);
	if (!schema_spec_load("detections", &spec, &err))
		fail_msg("schema_spec_load: %s", err.message);
	assert_string_equal(spec.validation_action, "warn");
	BSON_APPEND_DOCUMENT(&opts, "validator", &spec.validator);
	BSON_APPEND_UTF8(&opts, "validationLevel", "strict");
	BSON_APPEND_UTF8(&opts, "validationAction", "error");
	coll = mongoc_database_create_collection(database, STRICT_COLL, &opts, &err);
	if (coll == NULL)
		fail_msg("create %s: %s", STRICT_COLL, err.message);
	mongoc_collection_destroy(coll);
	bson_destroy(&opts);
	schema_spec_destroy(&spec);
	mongoc_database_destroy(database);
}

static void
sub_document(const bson_t *doc, const char *path, bson_t *out)
{
	bson_iter_t it, child;
	const uint8_t *data;
	uint32_t len;

	if (!bson_iter_init(&it, doc) || !bson_iter_find_descendant(&it, path, &child) ||
	    !(BSON_ITER_HOLDS_DOCUMENT(&child) || BSON_ITER_HOLDS_ARRAY(&child)))
		fail_msg("%s is not a document", path);
	if (BSON_ITER_HOLDS_DOCUMENT(&child))
		bson_iter_document(&child, &len, &data);
	else
		bson_iter_array(&child, &len, &data);
	assert_true(bson_init_static(out, data, len));
}

/* Apply one recorded Remote.MongoDB call to coll; false with err on a write error. */
static bool
apply_update(mongoc_collection_t *coll, const bson_t *call, bson_error_t *err)
{
	bson_t query, update, options;
	bson_t opts = BSON_INITIALIZER;
	bool ok;

	sub_document(call, "args.1", &query);
	sub_document(call, "args.2", &update);
	sub_document(call, "args.3", &options);
	/* The trigger must ask for an upsert of one document. */
	assert_true(tsmongo_get_bool(&options, "upsert"));
	assert_false(tsmongo_get_bool(&options, "multi"));
	BSON_APPEND_BOOL(&opts, "upsert", true);
	ok = mongoc_collection_update_one(coll, &query, &update, &opts, NULL, err);
	bson_destroy(&opts);
	return ok;
}

static size_t
replay(mongoc_client_t *client, const char *db, const char *numbers)
{
	mongoc_collection_t *det = mongoc_client_get_collection(client, db, "detections");
	mongoc_collection_t *strict = mongoc_client_get_collection(client, db, STRICT_COLL);
	char ns[128];
	char *out = run_trigger(db, numbers);
	char *line, *save = NULL;
	size_t n = 0;

	snprintf(ns, sizeof(ns), "%s.detections", db);
	for (line = strtok_r(out, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		bson_t call;
		bson_error_t err;

		if (!bson_init_from_json(&call, line, -1, &err))
			fail_msg("run-trigger line is not JSON (%s): %.200s", err.message, line);
		assert_string_equal(tsmongo_get_str(&call, "kind"), "mongodb");
		assert_string_equal(tsmongo_get_str(&call, "method"), "update");
		assert_int_equal(tsmongo_get_type(&call, "target"), BSON_TYPE_NULL);
		assert_string_equal(tsmongo_get_str(&call, "args.0"), ns);
		if (!apply_update(strict, &call, &err))
			fail_msg("fixture %s (numbers %s) fails the detections validator: %s",
			    tsmongo_get_str(&call, "fixture"), numbers, err.message);
		if (!apply_update(det, &call, &err))
			fail_msg("fixture %s: update of detections failed: %s",
			    tsmongo_get_str(&call, "fixture"), err.message);
		bson_destroy(&call);
		n++;
	}
	free(out);
	mongoc_collection_destroy(strict);
	mongoc_collection_destroy(det);
	return n;
}

static const bson_t *
find_detection(mongoc_collection_t *coll, int64_t id)
{
	char filter[128];

	snprintf(filter, sizeof(filter), "{'_id': {'$numberLong': '%" PRId64 "'}}", id);
	return tsmongo_find_one(coll, filter);
}

/* The sub-document at path holds every field of want (JSON, single quotes). */
static void
expect_sub(const bson_t *doc, const char *path, const char *want)
{
	const bson_t *sub = tsmongo_get_doc(doc, path);
	char why[256];

	if (sub == NULL)
		fail_msg("%s is missing", path);
	if (!tsmongo_matches(sub, want, why, sizeof(why)))
		fail_msg("%s: %s", path, why);
}

static void
check_documents(mongoc_client_t *client, const char *db, bson_type_t int_type)
{
	mongoc_collection_t *det = mongoc_client_get_collection(client, db, "detections");
	mongoc_collection_t *strict = mongoc_client_get_collection(client, db, STRICT_COLL);
	mongoc_cursor_t *cursor;
	const bson_t *doc;
	size_t seen = 0;
	char why[256];

	assert_int_equal(tsmongo_count(det, "{}"), N_FIXTURE_IDS);
	assert_int_equal(tsmongo_count(strict, "{}"), N_FIXTURE_IDS);

	/* Every document parses as the service parses it. */
	cursor = mongoc_collection_find_with_opts(det, tsmongo_json("{}"), NULL, NULL);
	while (mongoc_cursor_next(cursor, &doc)) {
		detection_t d;
		bson_error_t err;
		bool known = false;

		if (detection_parse(doc, &d, &err) != 0)
			fail_msg("detection_parse: %s", err.message);
		for (size_t i = 0; i < N_FIXTURE_IDS; i++)
			known = known || fixture_ids[i] == d.id;
		assert_true(known);
		assert_non_null(d.title);
		assert_non_null(d.type);
		assert_true(d.start_time >= T0);
		assert_true(d.update_time >= d.start_time);
		seen++;
	}
	assert_false(mongoc_cursor_error(cursor, NULL));
	mongoc_cursor_destroy(cursor);
	assert_int_equal(seen, N_FIXTURE_IDS);

	/* Detection 1: the later event's values won; participants flattened. */
	doc = tsmongo_find_one(det, "{'_id': 1}");
	assert_non_null(doc);
	if (!tsmongo_matches(doc, "{'title': 'SMB/CIFS Brute Force', 'status': 'in_progress', "
	        "'ticket_id': 'TK-16982', 'assignee': 'sally', 'resolution': null, 'risk_score': 90, "
	        "'update_time': 1700003600000, 'categories': ['sec.attack', 'sec.action']}",
	        why, sizeof(why)))
		fail_msg("detection 1: %s", why);
	expect_sub(doc, "participants.0", "{'role': 'offender', 'object_type': 'ipaddr', "
	    "'object_value': '203.0.113.7', 'id': 900001, 'external': true}");
	expect_sub(doc, "participants.1", "{'role': 'victim', 'object_type': 'device', "
	    "'object_id': 1234, 'discovery_id': 'f00dfeed00000001'}");
	assert_int_equal(tsmongo_get_type(doc, "participants.3"), BSON_TYPE_EOD);
	assert_int_equal(tsmongo_get_type(doc, "_id"), int_type);
	assert_int_equal(tsmongo_get_type(doc, "update_time"), int_type == BSON_TYPE_INT32 ?
	    BSON_TYPE_INT64 : int_type);
	{
		detection_t d;
		bson_error_t err;

		assert_int_equal(detection_parse(doc, &d, &err), 0);
		assert_int_equal(d.id, 1);
		assert_int_equal(d.fields.status, FIELDS_STATUS_IN_PROGRESS);
		assert_string_equal(d.fields.ticket_id, "TK-16982");
		assert_true(d.has_risk_score);
		assert_true(d.risk_score == 90.0);
		assert_int_equal(d.update_time, T0 + 3600000);
	}

	/* Null risk score: stored as null, parsed as "no score". */
	doc = tsmongo_find_one(det, "{'_id': 2}");
	assert_int_equal(tsmongo_get_type(doc, "risk_score"), BSON_TYPE_NULL);
	assert_int_equal(tsmongo_get_type(doc, "end_time"), BSON_TYPE_NULL);
	{
		detection_t d;
		bson_error_t err;

		assert_int_equal(detection_parse(doc, &d, &err), 0);
		assert_false(d.has_risk_score);
		assert_int_equal(d.fields.status, FIELDS_STATUS_NULL);
		assert_false(d.fields.has_ticket_id);
	}

	/* Custom detection type. */
	doc = tsmongo_find_one(det, "{'_id': 3}");
	assert_string_equal(tsmongo_get_str(doc, "type"), "custom.exfil_over_dns");

	/* No participants, absent participants: empty lists. */
	doc = tsmongo_find_one(det, "{'_id': 4}");
	assert_int_equal(tsmongo_get_type(doc, "participants"), BSON_TYPE_ARRAY);
	assert_int_equal(tsmongo_get_type(doc, "participants.0"), BSON_TYPE_EOD);
	assert_string_equal(tsmongo_get_str(doc, "status"), "acknowledged");
	doc = tsmongo_find_one(det, "{'_id': 5}");
	assert_int_equal(tsmongo_get_type(doc, "participants"), BSON_TYPE_ARRAY);

	/* Many participants: all 600 stored. */
	doc = tsmongo_find_one(det, "{'_id': 6}");
	assert_int_equal(tsmongo_get_type(doc, "participants.599"), BSON_TYPE_DOCUMENT);
	assert_int_equal(tsmongo_get_type(doc, "participants.600"), BSON_TYPE_EOD);
	/* Fixture pattern: index % 3 = 0 device, 1 address, 2 application. */
	assert_string_equal(tsmongo_get_str(doc, "participants.597.object_type"), "device");
	assert_int_equal(tsmongo_get_int(doc, "participants.597.object_id"), 10597);
	assert_string_equal(tsmongo_get_str(doc, "participants.599.object_type"), "application");

	/* Live objects flattened to plain fields. */
	doc = tsmongo_find_one(det, "{'_id': 7}");
	expect_sub(doc, "participants.0", "{'object_type': 'device', 'object_id': 4321, "
	    "'ipaddrs': ['192.0.2.55', '2001:db8::55']}");
	expect_sub(doc, "participants.2", "{'object_type': 'application', 'object_value': 'payroll'}");
	expect_sub(doc, "participants.3", "{'object_type': 'ipaddr', 'object_value': '198.51.100.9'}");

	/* Closed with a resolution. */
	doc = tsmongo_find_one(det, "{'_id': 8}");
	{
		detection_t d;
		bson_error_t err;

		assert_int_equal(detection_parse(doc, &d, &err), 0);
		assert_int_equal(d.fields.status, FIELDS_STATUS_CLOSED);
		assert_int_equal(d.fields.resolution, FIELDS_RESOLUTION_ACTION_TAKEN);
	}

	/* An id beyond 32 bits survives whatever number type carried it. */
	doc = find_detection(det, LARGE_ID);
	assert_non_null(doc);
	assert_int_equal(tsmongo_get_int(doc, "_id"), LARGE_ID);
	assert_int_equal(tsmongo_get_type(doc, "_id"),
	    int_type == BSON_TYPE_INT32 ? BSON_TYPE_INT64 : int_type);
	{
		detection_t d;
		bson_error_t err;

		assert_int_equal(detection_parse(doc, &d, &err), 0);
		assert_int_equal(d.id, LARGE_ID);
	}

	mongoc_collection_destroy(strict);
	mongoc_collection_destroy(det);
}

static void
run_mode(const char *numbers, bson_type_t int_type)
{
	static int seq;
	mongoc_client_t *client = tsmongo_client(tsgroup_mongo());
	char db[64];

	tsmongo_dbname(tsgroup_mongo(), "trigger", ++seq, db, sizeof(db));
	prepare_db(client, db);
	assert_int_equal(replay(client, db, numbers), N_UPDATES);
	check_documents(client, db, int_type);
	tsmongo_drop_db(client, db);
	mongoc_client_destroy(client);
}

static void
test_trigger_documents_plain_numbers(void **state)
{
	(void)state;
	run_mode("relaxed", BSON_TYPE_INT32);
}

static void
test_trigger_documents_doubles(void **state)
{
	(void)state;
	run_mode("double", BSON_TYPE_DOUBLE);
}

static void
test_trigger_documents_int64(void **state)
{
	(void)state;
	run_mode("int64", BSON_TYPE_INT64);
}

/*
 * The checks above can fail: a write the validator must refuse is refused by the
 * strict copy (and only logged by the real collection, which keeps it), and the
 * service's parser names the bad field.
 */
static void
test_trigger_checks_catch_bad_documents(void **state)
{
	mongoc_client_t *client = tsmongo_client(tsgroup_mongo());
	mongoc_collection_t *det, *strict;
	const bson_t *doc;
	detection_t d;
	bson_error_t err;
	char db[64];

	(void)state;
	tsmongo_dbname(tsgroup_mongo(), "trigger_bad", 1, db, sizeof(db));
	prepare_db(client, db);
	det = mongoc_client_get_collection(client, db, "detections");
	strict = mongoc_client_get_collection(client, db, STRICT_COLL);
	assert_false(mongoc_collection_update_one(strict, tsmongo_json("{'_id': 41}"),
	    tsmongo_json("{'$set': {'title': 't', 'type': 'x', 'categories': [], 'start_time': 1, "
	                 "'update_time': 1, 'risk_score': 'high'}}"),
	    tsmongo_json("{'upsert': true}"), NULL, &err));
	assert_int_equal(err.code, MONGOERR_DOCUMENT_VALIDATION_FAILURE);
	/* Missing required fields (what the trigger leaves out when ExtraHop has no
	 * value) are refused by the strict copy too. */
	assert_false(mongoc_collection_update_one(strict, tsmongo_json("{'_id': 42}"),
	    tsmongo_json("{'$set': {'type': 'x', 'categories': [], 'start_time': 1}}"),
	    tsmongo_json("{'upsert': true}"), NULL, &err));
	assert_int_equal(err.code, MONGOERR_DOCUMENT_VALIDATION_FAILURE);

	if (!mongoc_collection_update_one(det, tsmongo_json("{'_id': 41}"),
	        tsmongo_json("{'$set': {'title': 't', 'type': 'x', 'categories': [], "
	                     "'start_time': 1, 'update_time': 1, 'risk_score': 'high'}}"),
	        tsmongo_json("{'upsert': true}"), NULL, &err))
		fail_msg("detections (validationAction warn) refused the write: %s", err.message);
	doc = tsmongo_find_one(det, "{'_id': 41}");
	assert_non_null(doc);
	assert_int_equal(detection_parse(doc, &d, &err), -1);
	assert_non_null(strstr(err.message, "risk_score"));

	tsmongo_drop_db(client, db);
	mongoc_collection_destroy(strict);
	mongoc_collection_destroy(det);
	mongoc_client_destroy(client);
}

/* The trigger writes detections and nothing else: no HTTP ODS call, whatever the
 * event (tickets are ticketsyncd's, [create]). */
static void
test_trigger_writes_only_mongodb(void **state)
{
	char *out;
	size_t mongodb = 0;
	char *line, *save = NULL;

	(void)state;
	out = run_trigger("extrahop", "relaxed");
	for (line = strtok_r(out, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		bson_t call;
		bson_error_t err;

		if (!bson_init_from_json(&call, line, -1, &err))
			fail_msg("run-trigger line is not JSON: %s", err.message);
		if (strcmp(tsmongo_get_str(&call, "kind"), "http") == 0)
			fail_msg("the trigger made an HTTP call: %s", line);
		mongodb++;
		bson_destroy(&call);
	}
	free(out);
	assert_int_equal(mongodb, N_UPDATES);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_trigger_node_checks, teardown),
		cmocka_unit_test_teardown(test_trigger_documents_plain_numbers, teardown),
		cmocka_unit_test_teardown(test_trigger_documents_doubles, teardown),
		cmocka_unit_test_teardown(test_trigger_documents_int64, teardown),
		cmocka_unit_test_teardown(test_trigger_checks_catch_bad_documents, teardown),
		cmocka_unit_test_teardown(test_trigger_writes_only_mongodb, teardown),
	};

	return cmocka_run_group_tests(tests, tsgroup_setup, tsgroup_teardown);
}
