/* tsworkload: recognisable ticket changes and the lost/stale checks; see tsworkload.h. */
#include "ticketsync/clock.h"
#include "tsworkload.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The ticket life cycle the scenarios walk through, and what ExtraHop should show. */
static const struct {
	const char *status, *resolution;
	const char *eh_status, *eh_resolution;
} cycle[] = {
	{ "To Do", NULL, "new", NULL },
	{ "In Progress", NULL, "in_progress", NULL },
	{ "Triage", NULL, "acknowledged", NULL },
	{ "Done", "Fixed", "closed", "action_taken" },
	{ "Done", "Won't Do", "closed", "no_action_taken" },
};
#define NCYCLE (sizeof(cycle) / sizeof(cycle[0]))

/* Change k (1-based) of detection d: assignee "u<k>" grows with k, so the order of
 * values is visible in every PATCH body. */
static void
ticket_json(int64_t d, int k, char *buf, size_t len)
{
	int c = k % (int)NCYCLE;

	/* Real JSON (double quotes): "Won't Do" has an apostrophe. */
	snprintf(buf, len,
	    "{\"_id\": \"TK-%lld\", \"detection_ids\": [%lld], \"status\": \"%s\", "
	    "\"assignee\": \"u%d\", \"resolution\": %s%s%s, "
	    "\"updated_at\": {\"$date\": {\"$numberLong\": \"%lld\"}}}",
	    (long long)d, (long long)d, cycle[c].status, k, cycle[c].resolution ? "\"" : "",
	    cycle[c].resolution ? cycle[c].resolution : "null", cycle[c].resolution ? "\"" : "",
	    (long long)(1764000000000LL + k));
}

void
tsworkload_init(tsworkload_t *w, tsscene_t *s, int ndet, int total, int pace_us)
{
	memset(w, 0, sizeof(*w));
	w->s = s;
	w->ndet = ndet;
	w->total = total;
	w->pace_us = pace_us;
	w->last_k = calloc((size_t)ndet + 1, sizeof(int));
}

void
tsworkload_free(tsworkload_t *w)
{
	free(w->last_k);
	w->last_k = NULL;
}

bool
tsworkload_put_detections(tsworkload_t *w)
{
	tsscene_t *s = w->s;
	mongoc_collection_t *coll = mongoc_client_get_collection(s->client, s->db, "detections");
	mongoc_bulk_operation_t *bulk = mongoc_collection_create_bulk_operation_with_opts(coll, NULL);
	bson_error_t err;
	bson_t reply;
	bool ok;

	for (int i = 1; i <= w->ndet; i++) {
		bson_t *doc = BCON_NEW("_id", BCON_INT64(i), "title", BCON_UTF8("workload"),
		    "status", BCON_NULL, "assignee", BCON_NULL, "ticket_id", BCON_NULL,
		    "resolution", BCON_NULL);
		mongoc_bulk_operation_insert(bulk, doc);
		bson_destroy(doc);
	}
	ok = mongoc_bulk_operation_execute(bulk, &reply, &err);
	if (!ok)
		snprintf(s->error, sizeof(s->error), "insert detections: %.400s", err.message);
	bson_destroy(&reply);
	mongoc_bulk_operation_destroy(bulk);
	mongoc_collection_destroy(coll);
	return ok;
}

void *
tsworkload_write(void *arg)
{
	tsworkload_t *w = arg;
	mongoc_client_t *client = tsmongo_client(w->s->mongo);
	mongoc_collection_t *coll = mongoc_client_get_collection(client, w->s->db, "tickets");
	char json[512];

	for (int i = 0; i < w->total; i++) {
		int64_t d = (i % w->ndet) + 1;
		int k = ++w->last_k[d];
		bson_t *doc, filter = BSON_INITIALIZER;
		bson_t *opts = BCON_NEW("upsert", BCON_BOOL(true));
		bson_error_t err;
		bson_iter_t it;

		ticket_json(d, k, json, sizeof(json));
		doc = bson_new_from_json((const uint8_t *)json, -1, &err);
		if (doc == NULL) {
			snprintf(w->error, sizeof(w->error), "bad JSON %.120s: %.100s", json,
			    err.message);
			bson_destroy(opts);
			break;
		}
		bson_iter_init_find(&it, doc, "_id");
		bson_append_iter(&filter, "_id", 3, &it);
		/* A write the test server refuses (fault injection) is written again. */
		while (!mongoc_collection_replace_one(coll, &filter, doc, opts, NULL, &err))
			usleep(20000);
		bson_destroy(doc);
		bson_destroy(&filter);
		bson_destroy(opts);
		w->written = i + 1;
		if (w->pace_us > 0)
			usleep((useconds_t)w->pace_us);
	}
	mongoc_collection_destroy(coll);
	mongoc_client_destroy(client);
	return NULL;
}

bool
tsworkload_wait_converged(tsworkload_t *w, int timeout_ms)
{
	int64_t start = clock_mono_ms();
	int stable = 0;

	while (clock_mono_ms() - start < timeout_ms) {
		if (tsscene_count(w->s, "ticketsync_state", "{'state': 'synced'}") == w->ndet) {
			if (++stable == 3)
				return true;
		} else {
			stable = 0;
		}
		ts_sleep_ms(100);
	}
	return false;
}

/* When a detection ends wrong, say what the service recorded for it. */
static void
tsworkload_explain(tsworkload_t *w, int64_t d)
{
	char filter[96];
	mongoc_collection_t *coll;
	mongoc_cursor_t *cur;
	const bson_t *doc;
	bson_t *f, *opts;

	snprintf(filter, sizeof(filter), "{'_id': %lld}", (long long)d);
	coll = mongoc_client_get_collection(w->s->client, w->s->db, "ticketsync_state");
	doc = tsmongo_find_one(coll, filter);
	if (doc != NULL) {
		char *j = bson_as_relaxed_extended_json(doc, NULL);
		fprintf(stderr, "  state of %lld: %s\n", (long long)d, j);
		bson_free(j);
	}
	mongoc_collection_destroy(coll);
	coll = mongoc_client_get_collection(w->s->client, w->s->db, "ticketsync_audit");
	f = BCON_NEW("detection_id", BCON_INT64(d));
	opts = BCON_NEW("sort", "{", "at", BCON_INT32(1), "}", "projection", "{", "event",
	    BCON_INT32(1), "http_status", BCON_INT32(1), "message", BCON_INT32(1), "fields",
	    BCON_INT32(1), "at", BCON_INT32(1), "}");
	cur = mongoc_collection_find_with_opts(coll, f, opts, NULL);
	while (mongoc_cursor_next(cur, &doc)) {
		char *j = bson_as_relaxed_extended_json(doc, NULL);
		fprintf(stderr, "  audit: %s\n", j);
		bson_free(j);
	}
	mongoc_cursor_destroy(cur);
	bson_destroy(f);
	bson_destroy(opts);
	mongoc_collection_destroy(coll);
}

int
tsworkload_lost(tsworkload_t *w)
{
	int lost = 0;

	for (int64_t d = 1; d <= w->ndet; d++) {
		bson_t det;
		char want_assignee[32], tid[32];
		int c = w->last_k[d] % (int)NCYCLE;
		const char *st, *res, *as, *ti;

		snprintf(want_assignee, sizeof(want_assignee), "u%d", w->last_k[d]);
		snprintf(tid, sizeof(tid), "TK-%lld", (long long)d);
		if (tsextrahop_get_detection(&w->s->fx, d, &det) != 0) {
			lost++;
			bson_destroy(&det);
			continue;
		}
		st = tsextrahop_str(&det, "status");
		res = tsextrahop_str(&det, "resolution");
		as = tsextrahop_str(&det, "assignee");
		ti = tsextrahop_str(&det, "ticket_id");
		if (st == NULL || strcmp(st, cycle[c].eh_status) != 0 ||
		    (cycle[c].eh_resolution == NULL) != (res == NULL) ||
		    (res != NULL && strcmp(res, cycle[c].eh_resolution) != 0) ||
		    as == NULL || strcmp(as, want_assignee) != 0 || ti == NULL ||
		    strcmp(ti, tid) != 0) {
			if (lost < 5)
				fprintf(stderr, "detection %lld: ExtraHop shows %s/%s/%s/%s, expected "
				    "%s/%s/%s/%s\n", (long long)d, ti ? ti : "null", st ? st : "null",
				    as ? as : "null", res ? res : "null", tid, cycle[c].eh_status,
				    want_assignee, cycle[c].eh_resolution ? cycle[c].eh_resolution : "null");
			if (lost == 0)
				tsworkload_explain(w, d);
			lost++;
		}
		bson_destroy(&det);
	}
	return lost;
}

int
tsworkload_stale(tsworkload_t *w, int *patches_out, const char *agent, int *agent_patches,
    int64_t *agent_first_ms, int64_t *agent_last_ms)
{
	bson_t all;
	bson_iter_t it, arr;
	int *acked = calloc((size_t)w->ndet + 1, sizeof(int));
	int violations = 0, n = 0, na = 0;
	int64_t first = 0, last = 0;

	if (tsscene_patches(w->s, -1, NULL, &all) < 0 || tsextrahop_int(&all, "dropped", 0) != 0) {
		/* Without the whole history, order cannot be proven: count it as a failure. */
		free(acked);
		bson_destroy(&all);
		return -1;
	}
	if (bson_iter_init_find(&it, &all, "requests") && bson_iter_recurse(&it, &arr)) {
		while (bson_iter_next(&arr)) {
			const uint8_t *data;
			uint32_t len;
			bson_t req;
			const char *path, *method, *as, *ua;
			long long d;
			int k;

			bson_iter_document(&arr, &len, &data);
			bson_init_static(&req, data, len);
			method = tsextrahop_str(&req, "method");
			path = tsextrahop_str(&req, "path");
			as = tsextrahop_str(&req, "body.assignee");
			if (method == NULL || strcmp(method, "PATCH") != 0 || path == NULL ||
			    sscanf(path, "/api/v1/detections/%lld", &d) != 1 || d < 1 ||
			    d > w->ndet || as == NULL || sscanf(as, "u%d", &k) != 1)
				continue;
			n++;
			ua = tsextrahop_str(&req, "user_agent");
			if (agent != NULL && ua != NULL && strstr(ua, agent) != NULL) {
				int64_t t = tsextrahop_int(&req, "time_ms", 0);
				if (na++ == 0)
					first = t;
				last = t;
			}
			if (k < acked[d]) {
				if (violations < 5)
					fprintf(stderr, "detection %lld: PATCH with u%d after u%d was "
					    "acknowledged\n", d, k, acked[d]);
				violations++;
			}
			if (tsextrahop_int(&req, "status", 0) == 204 && k > acked[d])
				acked[d] = k;
		}
	}
	bson_destroy(&all);
	free(acked);
	if (patches_out != NULL)
		*patches_out = n;
	if (agent_patches != NULL)
		*agent_patches = na;
	if (agent_first_ms != NULL)
		*agent_first_ms = first;
	if (agent_last_ms != NULL)
		*agent_last_ms = last;
	return violations;
}
