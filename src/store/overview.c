/* overview: what `ticketsyncctl status` shows; see overview.h. */
#include "ticketsync/overview.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "ticketsync/checkpoint.h"
#include "ticketsync/store.h"
#include "ticketsync/sweepdb.h"
#include "ticketsync/xalloc.h"

typedef struct overview_parked_ctx {
	overview_parked_t **list;
	size_t *n;
	size_t cap;
} overview_parked_ctx_t;

static bool
overview_on_parked(const bson_t *doc, void *arg)
{
	overview_parked_ctx_t *c = arg;
	overview_parked_t *p;
	const char *s;

	xgrow((void **)c->list, &c->cap, *c->n + 1, sizeof(**c->list));
	p = &(*c->list)[(*c->n)++];
	memset(p, 0, sizeof(*p));
	p->id = store_doc_int64(doc, "_id", 0);
	if ((s = store_doc_utf8(doc, "ticket_id", NULL)) != NULL)
		bson_strncpy(p->ticket_id, s, sizeof(p->ticket_id));
	if ((s = store_doc_utf8(doc, "parked_reason", NULL)) != NULL)
		bson_strncpy(p->reason, s, sizeof(p->reason));
	p->parked_at_ms = store_doc_date(doc, "parked_at", 0);
	p->attempts = (int32_t)store_doc_int64(doc, "attempts", 0);
	p->version = store_doc_int64(doc, "version", 0);
	return true;
}

static bool
overview_on_push(const bson_t *doc, void *arg)
{
	overview_t *o = arg;
	const char *s;

	o->has_last_push = true;
	o->last_push_ms = store_doc_date(doc, "at", 0);
	o->last_push_detection = store_doc_int64(doc, "detection_id", 0);
	o->last_push_http = (int)store_doc_int64(doc, "http_status", 0);
	if ((s = store_doc_utf8(doc, "ticket_id", NULL)) != NULL)
		bson_strncpy(o->last_push_ticket, s, sizeof(o->last_push_ticket));
	if ((s = store_doc_utf8(doc, "instance", NULL)) != NULL)
		bson_strncpy(o->last_push_instance, s, sizeof(o->last_push_instance));
	return false; /* the newest one is all we want */
}

static bool
overview_on_sweep(const bson_t *doc, void *arg)
{
	overview_t *o = arg;

	o->has_last_sweep = true;
	o->last_sweep_ms = store_doc_date(doc, "at", 0);
	bson_strncpy(o->last_sweep, store_doc_utf8(doc, "message", ""), sizeof(o->last_sweep));
	return false;
}

/* {$group: {_id: "$event", n: {$sum: 1}}}, sorted by name: the server counts. */
static bool
overview_events(mongoc_client_t *client, const char *db, overview_t *o, bson_error_t *err)
{
	mongoc_collection_t *coll = mongoc_client_get_collection(client, db, STORE_COLL_AUDIT);
	mongoc_cursor_t *cursor;
	bson_t *pipeline = BCON_NEW("pipeline", "[",
	    "{", "$group", "{", "_id", BCON_UTF8("$event"), "n", "{", "$sum", BCON_INT32(1), "}",
	    "}", "}",
	    "{", "$sort", "{", "_id", BCON_INT32(1), "}", "}",
	    "]");
	const bson_t *doc;
	size_t cap = 0;
	bool ok;

	cursor = mongoc_collection_aggregate(coll, MONGOC_QUERY_NONE, pipeline, NULL, NULL);
	while (mongoc_cursor_next(cursor, &doc)) {
		const char *ev = store_doc_utf8(doc, "_id", NULL);
		if (ev == NULL)
			continue; /* records without an event cannot pass the validator */
		if (o->n_events == cap) {
			size_t c = cap ? cap * 2 : 16;

			o->events = xreallocarray(o->events, c, sizeof(*o->events));
			cap = c;
		}
		bson_strncpy(o->events[o->n_events].event, ev, sizeof(o->events[0].event));
		o->events[o->n_events].count = store_doc_int64(doc, "n", 0);
		o->n_events++;
	}
	ok = !mongoc_cursor_error(cursor, err);
	mongoc_cursor_destroy(cursor);
	mongoc_collection_destroy(coll);
	bson_destroy(pipeline);
	return ok;
}

bool
overview_collect(mongoc_client_t *client, const char *db, int64_t now_ms, size_t parked_limit,
    overview_t *out, bson_error_t *err)
{
	overview_parked_ctx_t pc = { .list = &out->parked, .n = &out->n_parked };
	overview_parked_ctx_t cpc = { .list = &out->create_parked, .n = &out->n_create_parked };
	audit_query_t q = { .event = AUDIT_PUSHED, .limit = 1 };
	bson_t token;
	bool found = false;

	memset(out, 0, sizeof(*out));
	out->now_ms = now_ms;
	if (!outbox_view_counts(client, db, STORE_COLL_STATE, now_ms, &out->counts, err))
		return false;
	if (!outbox_view_counts(client, db, STORE_COLL_CREATE_STATE, now_ms, &out->create_counts, err))
		return false;
	if (parked_limit > 0) {
		if (!outbox_view_parked(client, db, STORE_COLL_STATE, parked_limit, overview_on_parked,
		        &pc, err) ||
		    !outbox_view_parked(client, db, STORE_COLL_CREATE_STATE, parked_limit,
		        overview_on_parked, &cpc, err))
			return false;
	}
	if (!audit_query(client, db, &q, overview_on_push, out, NULL, err))
		return false;
	if (!checkpoint_load(client, db, CHECKPOINT_WATCHER, &token, &found,
	        &out->checkpoint_saved_ms, err)) {
		bson_destroy(&token);
		return false;
	}
	out->has_checkpoint = found;
	if (found)
		out->has_stream_time = overview_token_time_ms(&token, &out->stream_time_ms);
	bson_destroy(&token);
	if (!lease_read(client, db, LEASE_DAEMON, &out->lease, err))
		return false;
	if (!orphan_scan(client, db, OVERVIEW_ORPHANS_LISTED, &out->orphans, err))
		return false;
	if (!checkpoint_load(client, db, SWEEPDB_CHECKPOINT, &token, &found, &out->sweep_saved_ms,
	        err)) {
		bson_destroy(&token);
		return false;
	}
	out->has_sweep_cursor = found;
	out->sweep_cursor_ms = found ? store_doc_int64(&token, "mod_time", 0) : 0;
	bson_destroy(&token);
	{
		audit_query_t sq = { .event = AUDIT_SWEEP, .limit = 1 };

		if (!audit_query(client, db, &sq, overview_on_sweep, out, NULL, err))
			return false;
	}
	return overview_events(client, db, out, err);
}

void
overview_free(overview_t *o)
{
	if (o == NULL)
		return;
	free(o->parked);
	free(o->create_parked);
	free(o->events);
	orphan_report_free(&o->orphans);
	memset(o, 0, sizeof(*o));
}

bool
overview_token_time_ms(const bson_t *token, int64_t *ms_out)
{
	const char *data = token ? store_doc_utf8(token, "_data", NULL) : NULL;
	int64_t secs = 0;

	/* 0x82 is KeyString's type byte for a Timestamp; seconds come first, big-endian. */
	if (data == NULL || strlen(data) < 18 || data[0] != '8' || data[1] != '2')
		return false;
	for (int i = 2; i < 10; i++) {
		int h = OPENSSL_hexchar2int((unsigned char)data[i]);
		if (h < 0)
			return false;
		secs = secs * 16 + h;
	}
	*ms_out = secs * 1000;
	return true;
}
