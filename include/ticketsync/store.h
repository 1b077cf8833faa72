/*
 * store: the MongoDB side of ticketsync. Owns the client pool; each libmongoc thread
 * (watcher, DB worker, ticketsyncctl) pops its own client, since a mongoc_client_t is
 * not thread-safe. Also the read helpers the watcher needs.
 *
 * Every function taking a mongoc_client_t also takes the database name (the
 * configured one). Never called from the libevent loop: every call blocks on the
 * network.
 */
#ifndef TICKETSYNC_STORE_H
#define TICKETSYNC_STORE_H

#include <mongoc/mongoc.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ticketsync/error.h"
#include "ticketsync/fields.h"

#define STORE_DEFAULT_DB "extrahop"
#define STORE_APPNAME "ticketsync"

/* Collection names. */
#define STORE_COLL_DETECTIONS "detections"
#define STORE_COLL_TICKETS "tickets"
#define STORE_COLL_STATE "ticketsync_state"
#define STORE_COLL_CREATE_STATE "ticketsync_create_state" /* ticket creation's outbox */
#define STORE_COLL_AUDIT "ticketsync_audit"
#define STORE_COLL_CHECKPOINTS "ticketsync_checkpoints"
#define STORE_COLL_LEASES "ticketsync_leases"

/* Codes of the errors every store module (outbox, checkpoint, lease, audit, schema...)
 * raises (domain ERROR_DOMAIN; server errors keep the driver's). */
enum store_error {
	STORE_ERR_ARG = ERROR_BASE_STORE, /* bad argument (names the argument) */
	STORE_ERR_CORRUPT,   /* a stored document has an unexpected shape */
	STORE_ERR_CONFLICT,  /* gave up after too many lost compare-and-set races */
	STORE_ERR_DEPLOYMENT /* the server cannot do what ticketsync needs */
};

typedef struct store store_t;

/*
 * Pool for uri (a MongoDB connection string; its own options such as tls, authSource
 * or maxPoolSize are honoured). appname "ticketsync" unless the URI names one;
 * retryWrites is forced on. db is checked against MongoDB's naming rules. Calls
 * mongoc_init() (idempotent); main calls mongoc_cleanup() once at exit. NULL with err
 * set on a bad URI or name. Connects lazily: a down server is not an error here.
 */
store_t *store_new(const char *uri, const char *db, bson_error_t *err);
/* The same for a person waiting (ticketsyncctl): an unreachable server fails after
 * STORE_INTERACTIVE_SELECTION_MS unless the URI sets serverSelectionTimeoutMS. */
#define STORE_INTERACTIVE_SELECTION_MS 5000
store_t *store_new_interactive(const char *uri, const char *db, bson_error_t *err);
void store_destroy(store_t *store); /* NULL-safe; every popped client must be pushed back first */

/* Take a client for this thread (blocks while the pool is exhausted); give it back. */
mongoc_client_t *store_pop(store_t *store);
void store_push(store_t *store, mongoc_client_t *client);
/* The pool itself, for the bottom layer's DB workers (dbworker), which cannot
 * include this header. */
mongoc_client_pool_t *store_pool(store_t *store);

/* MongoDB database naming rules (non-empty, < 64 bytes, none of / \ . " $ space). */
bool store_db_name_valid(const char *db, bson_error_t *err);

/* Read a number stored as int32, int64 or an integral double (ExtraHop's trigger
 * writes JavaScript numbers as either) as int64. false for other types, fractions,
 * NaN or out-of-range doubles. */
bool store_iter_int64(const bson_iter_t *it, int64_t *out);
/* doc.key when it holds a string / an integral number (store_iter_int64) / a date,
 * else dflt. The string points into doc. */
const char *store_doc_utf8(const bson_t *doc, const char *key, const char *dflt);
int64_t store_doc_int64(const bson_t *doc, const char *key, int64_t dflt);
int64_t store_doc_date(const bson_t *doc, const char *key, int64_t dflt);
/* Append field: {$in: [ids[0], ..., ids[n-1]]} (int64s) to filter. */
void store_append_in_int64(bson_t *filter, const char *field, const int64_t *ids, size_t n);

/* Parse the fields sub-document doc.key (as written by fields_append_document).
 * Absent: *present false, out all null, true. Not a valid fields document: false,
 * err STORE_ERR_CORRUPT naming the key. */
bool store_fields_get(const bson_t *doc, const char *key, fields_t *out, bool *present,
    bson_error_t *err);

/* Called per document; return false to stop early (not an error). */
typedef bool (*store_doc_cb)(const bson_t *doc, void *ctx);

/* Run a find on db.collection (opts: sort, limit, batchSize...) and hand each document
 * to cb: the one "visit every match" of the program. n_out (may be NULL) counts the
 * documents handed to cb; *stopped (may be NULL) tells whether cb ended the loop. */
bool store_find_each(mongoc_client_t *client, const char *db, const char *collection,
    const bson_t *filter, const bson_t *opts, store_doc_cb cb, void *ctx, size_t *n_out,
    bool *stopped, bson_error_t *err);

/* The first document coll holds matching filter (opts: projection, read concern...;
 * the limit is added here) into out, which is always initialised (empty when none
 * matched): the caller destroys it. The one "read one document" of the program.
 * An int64 _id filter matches whatever numeric type the trigger stored the id as:
 * MongoDB compares numbers by value across types. */
bool store_find_one(mongoc_collection_t *coll, const bson_t *filter, const bson_t *opts,
    bson_t *out, bool *found, bson_error_t *err);

/*
 * One page of the detections with _id >= from_id, ascending _id, at most batch
 * (1..10000) documents, each handed to cb: memory stays bounded and the scan resumes
 * from *next_from (the last seen id + 1) in a later call or after a restart. *done is
 * true when the page was the last one (or cb stopped). Documents whose _id is not a
 * number are not visited (they cannot be ExtraHop detections). Use INT64_MIN to
 * start from the beginning.
 */
bool store_scan_detections(mongoc_client_t *client, const char *db, int64_t from_id,
    uint32_t batch, store_doc_cb cb, void *ctx, int64_t *next_from, bool *done,
    size_t *n_out, bson_error_t *err);

/* What ticketsync_state says about one detection. */
typedef struct store_pushed {
	bool found;          /* a state document exists */
	bool has_pushed;     /* something was acknowledged by ExtraHop */
	fields_t desired;    /* what ExtraHop should show */
	fields_t baseline;   /* what ExtraHop showed when first reconciled */
	fields_t pushed;     /* last acknowledged push (valid when has_pushed) */
	fields_t shown;      /* what ExtraHop shows as far as we know: pushed, else baseline */
	int64_t version;
	int64_t pushed_version;
	char state[16];      /* "pending" | "in_flight" | "synced" | "parked" */
} store_pushed_t;

/* Parse a ticketsync_state document (e.g. from a bulk find) into out (found true). */
bool store_pushed_from_doc(const bson_t *doc, store_pushed_t *out, bson_error_t *err);

#endif
