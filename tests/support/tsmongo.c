/* tsmongo: start the MongoDB test server (or use TICKETSYNC_TEST_MONGODB_URI). */
#include "tsmongo.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TSMONGO_START_TIMEOUT_MS 20000
#define TSMONGO_STOP_TIMEOUT_MS 10000
#define TSMONGO_REBIND_TRIES 50

static int tsmongo_counter;

static bool
tsmongo_file_exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

static int
tsmongo_spawn(tsmongo_t *m, int port, char *err, size_t errlen)
{
	char script[PATH_MAX], mods[PATH_MAX], portbuf[16], histbuf[16], portfield[16];
	const char *node = getenv("TICKETSYNC_TEST_NODE");
	const char *logenv = getenv("TICKETSYNC_TEST_MONGO_LOG");
	char *argv[16];
	int argc = 0;

	snprintf(script, sizeof(script), "%s/tests/mongo-test-server/server.js",
	    tsproc_source_dir());
	snprintf(mods, sizeof(mods), "%s/tests/mongo-test-server/node_modules/mingo/package.json",
	    tsproc_source_dir());
	if (!tsmongo_file_exists(mods)) {
		snprintf(err, errlen, "MongoDB test server packages are missing (%s/tests/"
		    "mongo-test-server/node_modules): run scripts/bootstrap.sh",
		    tsproc_source_dir());
		return -1;
	}
	snprintf(portbuf, sizeof(portbuf), "%d", port);
	argv[argc++] = (char *)(node != NULL && node[0] != '\0' ? node : "node");
	argv[argc++] = script;
	argv[argc++] = "--port";
	argv[argc++] = portbuf;
	if (m->history > 0) {
		snprintf(histbuf, sizeof(histbuf), "%d", m->history);
		argv[argc++] = "--history";
		argv[argc++] = histbuf;
	}
	if (m->data_file[0] != '\0') {
		argv[argc++] = "--data";
		argv[argc++] = m->data_file;
	}
	if (m->log_commands || (logenv != NULL && strcmp(logenv, "1") == 0))
		argv[argc++] = "--log-commands";
	argv[argc] = NULL;

	if (tsproc_start(&m->proc, argv, NULL, NULL, TSMONGO_START_TIMEOUT_MS, err,
	    errlen) != 0)
		return -1;
	if (!tsproc_field(&m->proc, "uri", m->uri, sizeof(m->uri)) ||
	    !tsproc_field(&m->proc, "port", portfield, sizeof(portfield))) {
		snprintf(err, errlen, "test server READY line lacks uri/port: %s",
		    m->proc.ready_line);
		tsproc_kill(&m->proc);
		return -1;
	}
	m->port = atoi(portfield);
	m->running = true;
	return 0;
}

tsmongo_t *
tsmongo_start_opts(const tsmongo_opts_t *opts, char *err, size_t errlen)
{
	const char *ext = getenv("TICKETSYNC_TEST_MONGODB_URI");
	tsmongo_t *m;

	mongoc_init();
	m = calloc(1, sizeof(*m));
	if (m == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	m->proc.pid = -1;
	m->proc.stdout_fd = -1;
	snprintf(m->dbname, sizeof(m->dbname), "tstest_%d_%d", (int)getpid(),
	    ++tsmongo_counter);
	if (opts != NULL) {
		m->history = opts->history;
		m->log_commands = opts->log_commands;
		if (opts->data_file != NULL)
			snprintf(m->data_file, sizeof(m->data_file), "%s", opts->data_file);
	}
	if (ext != NULL && ext[0] != '\0') {
		m->external = true;
		m->running = true;
		snprintf(m->uri, sizeof(m->uri), "%s", ext);
		return m;
	}
	if (tsmongo_spawn(m, 0, err, errlen) != 0) {
		free(m);
		return NULL;
	}
	return m;
}

tsmongo_t *
tsmongo_start(char *err, size_t errlen)
{
	return tsmongo_start_opts(NULL, err, errlen);
}

const char *
tsmongo_uri(const tsmongo_t *m)
{
	return m->uri;
}

void
tsmongo_dbname(const tsmongo_t *m, const char *tag, int seq, char *out, size_t outlen)
{
	snprintf(out, outlen, "%s_%s_%d", m->dbname, tag, seq);
}

/* External server: drop every database this run created (names start with dbname). */
static void
tsmongo_drop_run_dbs(const tsmongo_t *m)
{
	mongoc_client_t *client = tsmongo_client(m);
	bson_error_t error;
	char **names;
	size_t plen = strlen(m->dbname);

	if (client == NULL)
		return;
	names = mongoc_client_get_database_names_with_opts(client, NULL, &error);
	if (names == NULL) {
		fprintf(stderr, "tsmongo: listing databases: %s\n", error.message);
	} else {
		for (size_t i = 0; names[i] != NULL; i++) {
			if (strncmp(names[i], m->dbname, plen) == 0 &&
			    (names[i][plen] == '\0' || names[i][plen] == '_'))
				tsmongo_drop_db(client, names[i]);
		}
		bson_strfreev(names);
	}
	mongoc_client_destroy(client);
}

void
tsmongo_stop(tsmongo_t *m)
{
	if (m == NULL)
		return;
	if (m->running && m->external)
		tsmongo_drop_run_dbs(m);
	else if (m->running)
		tsproc_stop(&m->proc, TSMONGO_STOP_TIMEOUT_MS);
	m->running = false;
	free(m);
}

void
tsmongo_kill(tsmongo_t *m)
{
	if (m->external || !m->running)
		return;
	tsproc_kill(&m->proc);
	m->running = false;
}

int
tsmongo_restart(tsmongo_t *m, char *err, size_t errlen)
{
	int port = m->port;

	if (m->external) {
		snprintf(err, errlen, "cannot restart an external MongoDB server");
		return -1;
	}
	if (m->running) {
		tsproc_stop(&m->proc, TSMONGO_STOP_TIMEOUT_MS);
		m->running = false;
	}
	/* Rebinding the same port lets clients made before the restart reconnect; the
	 * port can be briefly unavailable, so retry before settling for a new one. */
	for (int i = 0; i < TSMONGO_REBIND_TRIES; i++) {
		if (tsmongo_spawn(m, port, err, errlen) == 0)
			return 0;
		usleep(100 * 1000);
	}
	fprintf(stderr, "tsmongo: port %d not reusable (%s); using a new port\n", port, err);
	return tsmongo_spawn(m, 0, err, errlen);
}

mongoc_client_t *
tsmongo_client(const tsmongo_t *m)
{
	mongoc_client_t *client;

	client = mongoc_client_new(m->uri);
	if (client == NULL)
		return NULL;
	mongoc_client_set_error_api(client, MONGOC_ERROR_API_VERSION_2);
	mongoc_client_set_appname(client, "tsmongo");
	return client;
}

bool
tsmongo_is_test_server(const tsmongo_t *m)
{
	return !m->external;
}

bool
tsmongo_admin_command(const tsmongo_t *m, const bson_t *cmd, bson_t *reply,
    bson_error_t *error)
{
	mongoc_client_t *client;
	bool ok;

	client = tsmongo_client(m);
	if (client == NULL) {
		bson_set_error(error, MONGOC_ERROR_CLIENT, MONGOC_ERROR_CLIENT_NOT_READY,
		    "tsmongo: bad uri %s", m->uri);
		if (reply != NULL)
			bson_init(reply);
		return false;
	}
	ok = mongoc_client_command_simple(client, "admin", cmd, NULL, reply, error);
	mongoc_client_destroy(client);
	return ok;
}

bool
tsmongo_fail_command(const tsmongo_t *m, const char *command, int code, int times,
    bool close_connection, bson_error_t *error)
{
	bson_t cmd = BSON_INITIALIZER, mode, data, list;
	bool ok;

	BSON_APPEND_UTF8(&cmd, "configureFailPoint", "failCommand");
	if (times > 0) {
		BSON_APPEND_DOCUMENT_BEGIN(&cmd, "mode", &mode);
		BSON_APPEND_INT32(&mode, "times", times);
		bson_append_document_end(&cmd, &mode);
	} else {
		BSON_APPEND_UTF8(&cmd, "mode", "alwaysOn");
	}
	BSON_APPEND_DOCUMENT_BEGIN(&cmd, "data", &data);
	BSON_APPEND_ARRAY_BEGIN(&data, "failCommands", &list);
	BSON_APPEND_UTF8(&list, "0", command);
	bson_append_array_end(&data, &list);
	if (close_connection)
		BSON_APPEND_BOOL(&data, "closeConnection", true);
	else
		BSON_APPEND_INT32(&data, "errorCode", code);
	bson_append_document_end(&cmd, &data);
	ok = tsmongo_admin_command(m, &cmd, NULL, error);
	bson_destroy(&cmd);
	return ok;
}

bool
tsmongo_fail_off(const tsmongo_t *m, bson_error_t *error)
{
	bson_t cmd = BSON_INITIALIZER;
	bool ok;

	BSON_APPEND_UTF8(&cmd, "configureFailPoint", "failCommand");
	BSON_APPEND_UTF8(&cmd, "mode", "off");
	ok = tsmongo_admin_command(m, &cmd, NULL, error);
	bson_destroy(&cmd);
	return ok;
}

static bool
tsmongo_test_only(const tsmongo_t *m, const char *what, bson_error_t *error)
{
	if (tsmongo_is_test_server(m))
		return true;
	bson_set_error(error, MONGOC_ERROR_COMMAND, MONGOC_ERROR_COMMAND_INVALID_ARG,
	    "tsmongo: %s needs the test server, not an external MongoDB", what);
	return false;
}

bool
tsmongo_drop_connections(const tsmongo_t *m, bson_error_t *error)
{
	bson_t cmd = BSON_INITIALIZER;
	bool ok;

	if (!tsmongo_test_only(m, "drop_connections", error)) {
		bson_destroy(&cmd);
		return false;
	}
	BSON_APPEND_INT32(&cmd, "ticketsyncTestDropConnections", 1);
	ok = tsmongo_admin_command(m, &cmd, NULL, error);
	bson_destroy(&cmd);
	return ok;
}

bool
tsmongo_set_history(const tsmongo_t *m, int n, bson_error_t *error)
{
	bson_t cmd = BSON_INITIALIZER;
	bool ok;

	if (!tsmongo_test_only(m, "set_history", error)) {
		bson_destroy(&cmd);
		return false;
	}
	BSON_APPEND_INT32(&cmd, "ticketsyncTestSetHistoryLimit", n);
	ok = tsmongo_admin_command(m, &cmd, NULL, error);
	bson_destroy(&cmd);
	return ok;
}

bool
tsmongo_drop_db(mongoc_client_t *client, const char *dbname)
{
	mongoc_database_t *db;
	bson_error_t error;
	bool ok;

	db = mongoc_client_get_database(client, dbname);
	ok = mongoc_database_drop(db, &error);
	if (!ok)
		fprintf(stderr, "tsmongo: dropping %s: %s\n", dbname, error.message);
	mongoc_database_destroy(db);
	return ok;
}

/* ---- test helpers ---- */

static bson_t **tsmongo_pool;
static size_t tsmongo_pool_len, tsmongo_pool_cap;

bson_t *
tsmongo_tmp_keep(bson_t *b)
{
	if (tsmongo_pool_len == tsmongo_pool_cap) {
		size_t cap = tsmongo_pool_cap ? tsmongo_pool_cap * 2 : 64;
		bson_t **p = realloc(tsmongo_pool, cap * sizeof(*p));
		if (p == NULL)
			abort();
		tsmongo_pool = p;
		tsmongo_pool_cap = cap;
	}
	tsmongo_pool[tsmongo_pool_len++] = b;
	return b;
}

void
tsmongo_tmp_free(void)
{
	for (size_t i = 0; i < tsmongo_pool_len; i++)
		bson_destroy(tsmongo_pool[i]);
	free(tsmongo_pool);
	tsmongo_pool = NULL;
	tsmongo_pool_len = tsmongo_pool_cap = 0;
}

bson_t *
tsmongo_json(const char *json)
{
	char *text = bson_strdup(json);
	bson_error_t error;
	bson_t *b;

	for (char *p = text; *p != '\0'; p++)
		if (*p == '\'')
			*p = '"';
	b = bson_new_from_json((const uint8_t *)text, -1, &error);
	if (b == NULL) {
		/* A typo in a test's JSON is a bug in the test: stop loudly. */
		fprintf(stderr, "tsmongo_json: %s: %s\n", error.message, json);
		abort();
	}
	bson_free(text);
	return tsmongo_tmp_keep(b);
}

bson_t *
tsmongo_jsonf(const char *fmt, ...)
{
	va_list ap;
	char *text;
	bson_t *b;

	va_start(ap, fmt);
	text = bson_strdupv_printf(fmt, ap);
	va_end(ap);
	b = tsmongo_json(text);
	bson_free(text);
	return b;
}

bool
tsmongo_cmd(mongoc_client_t *client, const char *db, const char *json, bson_t *reply,
    bson_error_t *error)
{
	return mongoc_client_command_simple(client, db, tsmongo_json(json), NULL, reply, error);
}

static bool
tsmongo_find_path(const bson_t *doc, const char *path, bson_iter_t *out)
{
	bson_iter_t it;

	if (doc == NULL || !bson_iter_init(&it, doc))
		return false;
	if (strchr(path, '.') == NULL)
		return bson_iter_find(&it, path) && (*out = it, true);
	return bson_iter_find_descendant(&it, path, out);
}

int64_t
tsmongo_get_int(const bson_t *doc, const char *path)
{
	bson_iter_t it;

	if (!tsmongo_find_path(doc, path, &it))
		return 0;
	return bson_iter_as_int64(&it);
}

const char *
tsmongo_get_str(const bson_t *doc, const char *path)
{
	bson_iter_t it;

	if (!tsmongo_find_path(doc, path, &it) || !BSON_ITER_HOLDS_UTF8(&it))
		return NULL;
	return bson_iter_utf8(&it, NULL);
}

bool
tsmongo_get_bool(const bson_t *doc, const char *path)
{
	bson_iter_t it;

	return tsmongo_find_path(doc, path, &it) && bson_iter_as_bool(&it);
}

bson_type_t
tsmongo_get_type(const bson_t *doc, const char *path)
{
	bson_iter_t it;

	if (!tsmongo_find_path(doc, path, &it))
		return BSON_TYPE_EOD;
	return bson_iter_type(&it);
}

const bson_t *
tsmongo_get_doc(const bson_t *doc, const char *path)
{
	bson_iter_t it;
	const uint8_t *data;
	uint32_t len;

	if (!tsmongo_find_path(doc, path, &it) ||
	    !(BSON_ITER_HOLDS_DOCUMENT(&it) || BSON_ITER_HOLDS_ARRAY(&it)))
		return NULL;
	if (BSON_ITER_HOLDS_DOCUMENT(&it))
		bson_iter_document(&it, &len, &data);
	else
		bson_iter_array(&it, &len, &data);
	return tsmongo_tmp_keep(bson_new_from_data(data, len));
}

int64_t
tsmongo_count(mongoc_collection_t *coll, const char *json_filter)
{
	bson_error_t error;
	int64_t n;

	n = mongoc_collection_count_documents(coll, tsmongo_json(json_filter), NULL, NULL,
	    NULL, &error);
	if (n < 0)
		fprintf(stderr, "tsmongo_count %s: %s\n", json_filter, error.message);
	return n;
}

const bson_t *
tsmongo_find_one(mongoc_collection_t *coll, const char *json_filter)
{
	mongoc_cursor_t *cur;
	const bson_t *doc;
	bson_t *copy = NULL;
	bson_error_t error;

	cur = mongoc_collection_find_with_opts(coll, tsmongo_json(json_filter),
	    tsmongo_json("{'limit': 1}"), NULL);
	if (mongoc_cursor_next(cur, &doc))
		copy = tsmongo_tmp_keep(bson_copy(doc));
	else if (mongoc_cursor_error(cur, &error))
		fprintf(stderr, "tsmongo_find_one %s: %s\n", json_filter, error.message);
	mongoc_cursor_destroy(cur);
	return copy;
}

static bool
tsmongo_is_number(const bson_iter_t *it)
{
	return BSON_ITER_HOLDS_INT32(it) || BSON_ITER_HOLDS_INT64(it) ||
	    BSON_ITER_HOLDS_DOUBLE(it);
}

static bool tsmongo_match_doc(const bson_t *doc, const bson_t *want, bool exact_len,
    const char *prefix, char *why, size_t whylen);

static bool
tsmongo_match_value(const bson_iter_t *got, const bson_iter_t *want, const char *path,
    char *why, size_t whylen)
{
	if (tsmongo_is_number(want)) {
		if (!tsmongo_is_number(got) ||
		    bson_iter_as_double(got) != bson_iter_as_double(want)) {
			snprintf(why, whylen, "%s: number differs", path);
			return false;
		}
		return true;
	}
	if (BSON_ITER_HOLDS_DOCUMENT(want) || BSON_ITER_HOLDS_ARRAY(want)) {
		const uint8_t *d1, *d2;
		uint32_t l1, l2;
		bson_t b1, b2;
		bool is_array = BSON_ITER_HOLDS_ARRAY(want);

		if (bson_iter_type(got) != bson_iter_type(want)) {
			snprintf(why, whylen, "%s: type differs", path);
			return false;
		}
		if (is_array) {
			bson_iter_array(got, &l1, &d1);
			bson_iter_array(want, &l2, &d2);
		} else {
			bson_iter_document(got, &l1, &d1);
			bson_iter_document(want, &l2, &d2);
		}
		if (!bson_init_static(&b1, d1, l1) || !bson_init_static(&b2, d2, l2))
			return false;
		return tsmongo_match_doc(&b1, &b2, is_array, path, why, whylen);
	}
	if (bson_iter_type(got) != bson_iter_type(want)) {
		snprintf(why, whylen, "%s: type %d, expected %d", path, bson_iter_type(got),
		    bson_iter_type(want));
		return false;
	}
	if (BSON_ITER_HOLDS_UTF8(want)) {
		if (strcmp(bson_iter_utf8(got, NULL), bson_iter_utf8(want, NULL)) != 0) {
			snprintf(why, whylen, "%s: \"%s\", expected \"%s\"", path,
			    bson_iter_utf8(got, NULL), bson_iter_utf8(want, NULL));
			return false;
		}
		return true;
	}
	{
		bson_t a = BSON_INITIALIZER, b = BSON_INITIALIZER;
		bool same;

		bson_append_iter(&a, "v", 1, got);
		bson_append_iter(&b, "v", 1, want);
		same = bson_equal(&a, &b);
		bson_destroy(&a);
		bson_destroy(&b);
		if (!same)
			snprintf(why, whylen, "%s: value differs", path);
		return same;
	}
}

static bool
tsmongo_match_doc(const bson_t *doc, const bson_t *want, bool exact_len, const char *prefix,
    char *why, size_t whylen)
{
	bson_iter_t w, g;

	if (exact_len && bson_count_keys(doc) != bson_count_keys(want)) {
		snprintf(why, whylen, "%s: %u elements, expected %u", prefix[0] ? prefix : "array",
		    bson_count_keys(doc), bson_count_keys(want));
		return false;
	}
	if (!bson_iter_init(&w, want))
		return false;
	while (bson_iter_next(&w)) {
		char path[256];

		snprintf(path, sizeof(path), "%s%s%s", prefix, prefix[0] ? "." : "",
		    bson_iter_key(&w));
		if (!bson_iter_init_find(&g, doc, bson_iter_key(&w))) {
			snprintf(why, whylen, "%s: missing", path);
			return false;
		}
		if (!tsmongo_match_value(&g, &w, path, why, whylen))
			return false;
	}
	return true;
}

bool
tsmongo_matches(const bson_t *doc, const char *json_subset, char *why, size_t whylen)
{
	if (doc == NULL) {
		snprintf(why, whylen, "no document");
		return false;
	}
	return tsmongo_match_doc(doc, tsmongo_json(json_subset), false, "", why, whylen);
}

bool
tsmongo_has_database(mongoc_client_t *client, const char *name)
{
	bson_error_t error;
	char **names = mongoc_client_get_database_names_with_opts(client, NULL, &error);
	bool found = false;

	if (names == NULL)
		return false;
	for (size_t i = 0; names[i] != NULL; i++)
		if (strcmp(names[i], name) == 0)
			found = true;
	bson_strfreev(names);
	return found;
}

int
tsmongo_index_count(mongoc_collection_t *coll)
{
	mongoc_cursor_t *cur = mongoc_collection_find_indexes_with_opts(coll, NULL);
	const bson_t *doc;
	int n = 0;

	while (mongoc_cursor_next(cur, &doc))
		n++;
	if (mongoc_cursor_error(cur, NULL))
		n = -1;
	mongoc_cursor_destroy(cur);
	return n;
}
