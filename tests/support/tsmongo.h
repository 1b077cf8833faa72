/*
 * tsmongo: the MongoDB a test talks to.
 *
 * If TICKETSYNC_TEST_MONGODB_URI is set, that server (a real replica set) is used and
 * nothing is started (m->external). Otherwise the wire-protocol test server in
 * tests/mongo-test-server/ is started with node (found in PATH, or
 * TICKETSYNC_TEST_NODE) on a free port and stopped with the test.
 *
 * Every tsmongo_t gets its own database name (m->dbname, "tstest_<pid>_<n>"), and
 * tsmongo_dbname() derives more from it, so tests against a shared real replica set
 * never collide; on an external server tsmongo_stop() drops every database whose
 * name starts with m->dbname.
 *
 * libmongoc's global state: tsmongo_start() calls mongoc_init() (idempotent); the test
 * program calls mongoc_cleanup() once, after its last client and tsmongo_stop().
 *
 * Environment knobs: TICKETSYNC_TEST_MONGO_LOG=1 starts the server with
 * --log-commands (every command on stderr).
 */
#ifndef TICKETSYNC_TESTS_TSMONGO_H
#define TICKETSYNC_TESTS_TSMONGO_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#include <mongoc/mongoc.h>

#include "tsproc.h"

typedef struct tsmongo_opts {
	int history;           /* change history limit in events; 0 = server default */
	const char *data_file; /* persistence file (kept across tsmongo_restart); NULL = memory */
	bool log_commands;     /* --log-commands */
} tsmongo_opts_t;

typedef struct tsmongo {
	bool external;         /* TICKETSYNC_TEST_MONGODB_URI in use */
	bool running;
	tsproc_t proc;
	int port;              /* test server's port (0 when external) */
	char uri[1024];
	char dbname[64];
	char data_file[PATH_MAX];
	int history;
	bool log_commands;
} tsmongo_t;

/* Start (or attach to) a server with default options. NULL with err set on failure. */
tsmongo_t *tsmongo_start(char *err, size_t errlen);

/* Same with options (history limit, data file, command log); opts may be NULL. */
tsmongo_t *tsmongo_start_opts(const tsmongo_opts_t *opts, char *err, size_t errlen);

/* Stop the test server (on an external one: drop this run's databases) and free m.
 * NULL-safe. */
void tsmongo_stop(tsmongo_t *m);

/* The connection string clients use. */
const char *tsmongo_uri(const tsmongo_t *m);

/* A database name unique to this run: "<m->dbname>_<tag>_<seq>". */
void tsmongo_dbname(const tsmongo_t *m, const char *tag, int seq, char *out, size_t outlen);

/* Stop and start the test server again with the same data file, on the same port if
 * it can be bound again (so existing clients reconnect). -1 on an external server. */
int tsmongo_restart(tsmongo_t *m, char *err, size_t errlen);

/* Kill the test server with SIGKILL (crash tests); tsmongo_restart brings it back. */
void tsmongo_kill(tsmongo_t *m);

/* A new client for m->uri (error API version 2); the caller destroys it. */
mongoc_client_t *tsmongo_client(const tsmongo_t *m);

/* True when the server is the test server, so test-only commands exist. */
bool tsmongo_is_test_server(const tsmongo_t *m);

/* Run a command on the admin database with a short-lived client. reply may be NULL;
 * otherwise it is always initialized and the caller destroys it. */
bool tsmongo_admin_command(const tsmongo_t *m, const bson_t *cmd, bson_t *reply,
    bson_error_t *error);

/* configureFailPoint failCommand: fail the next `times` runs of command (times <= 0:
 * always) with error `code`, or close the connection instead when close_connection. */
bool tsmongo_fail_command(const tsmongo_t *m, const char *command, int code, int times,
    bool close_connection, bson_error_t *error);

/* Turn the failCommand fail point off. */
bool tsmongo_fail_off(const tsmongo_t *m, bson_error_t *error);

/* Test server only: close every client connection. */
bool tsmongo_drop_connections(const tsmongo_t *m, bson_error_t *error);

/* Test server only: keep only the newest n change events (older resume tokens fail
 * with ChangeStreamHistoryLost). */
bool tsmongo_set_history(const tsmongo_t *m, int n, bson_error_t *error);

/* Drop database dbname through client; failures are reported on stderr. */
bool tsmongo_drop_db(mongoc_client_t *client, const char *dbname);

/*
 * Helpers for writing tests tersely.
 *
 * JSON here is MongoDB extended JSON where single quotes stand for double quotes
 * ("{'a': 1}"). Documents and sub-documents returned by these helpers belong to a
 * scratch pool: valid until tsmongo_tmp_free() (call it in each test's teardown).
 * Dotted paths ("a.b.0") reach into sub-documents and arrays.
 */
bson_t *tsmongo_json(const char *json);
bson_t *tsmongo_jsonf(const char *fmt, ...) BSON_GNUC_PRINTF(1, 2);
void tsmongo_tmp_free(void);
/* Hand a document to the scratch pool (freed by tsmongo_tmp_free); returns it. */
bson_t *tsmongo_tmp_keep(bson_t *b);

/* Run a command given as JSON. reply may be NULL; otherwise the caller destroys it. */
bool tsmongo_cmd(mongoc_client_t *client, const char *db, const char *json, bson_t *reply,
    bson_error_t *error);

/* Field access by dotted path: absent fields give 0 / NULL / false / BSON_TYPE_EOD. */
int64_t tsmongo_get_int(const bson_t *doc, const char *path);
const char *tsmongo_get_str(const bson_t *doc, const char *path);
bool tsmongo_get_bool(const bson_t *doc, const char *path);
bson_type_t tsmongo_get_type(const bson_t *doc, const char *path);
const bson_t *tsmongo_get_doc(const bson_t *doc, const char *path); /* doc or array; pool */

/* count_documents with a JSON filter; -1 on error (printed). */
int64_t tsmongo_count(mongoc_collection_t *coll, const char *json_filter);
/* First document matching a JSON filter (pool), or NULL. */
const bson_t *tsmongo_find_one(mongoc_collection_t *coll, const char *json_filter);
/* Does doc contain every field of the JSON subset with an equal value? Numbers compare
 * by value across int32/int64/double; sub-documents recursively as subsets; arrays
 * element by element with equal length. On false, why says which field differs. */
bool tsmongo_matches(const bson_t *doc, const char *json_subset, char *why, size_t whylen);
bool tsmongo_has_database(mongoc_client_t *client, const char *name);
int tsmongo_index_count(mongoc_collection_t *coll);

#endif
