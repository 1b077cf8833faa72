/* orphan: tickets naming detections not in MongoDB; see orphan.h. */
#include "ticketsync/orphan.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ticketsync/audit.h"
#include "ticketsync/error.h"
#include "ticketsync/store.h"
#include "ticketsync/text.h"
#include "ticketsync/xalloc.h"

/* ids per $in query, and tickets per scan step */
#define ORPHAN_BATCH 1000

static int
orphan_cmp(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

typedef struct orphan_found {
	int64_t *ids; /* sorted, unique: the ones asked */
	size_t n;
	bool *exists;
} orphan_found_t;

static bool
orphan_on_detection(const bson_t *doc, void *arg)
{
	orphan_found_t *f = arg;
	bson_iter_t it;
	int64_t id;
	int64_t *hit;

	if (bson_iter_init_find(&it, doc, "_id") && store_iter_int64(&it, &id) &&
	    (hit = bsearch(&id, f->ids, f->n, sizeof(int64_t), orphan_cmp)) != NULL)
		f->exists[hit - f->ids] = true;
	return true;
}

bool
orphan_missing(mongoc_client_t *client, const char *db, const int64_t *ids, size_t n,
    int64_t **missing, size_t *nmissing, bson_error_t *err)
{
	orphan_found_t f = { 0 };
	bool ok = true;
	size_t u = 0;

	*missing = NULL;
	*nmissing = 0;
	if (n == 0)
		return true;
	f.ids = xmalloc(n * sizeof(int64_t));
	memcpy(f.ids, ids, n * sizeof(int64_t));
	qsort(f.ids, n, sizeof(int64_t), orphan_cmp);
	for (size_t i = 0; i < n; i++)
		if (u == 0 || f.ids[i] != f.ids[u - 1])
			f.ids[u++] = f.ids[i];
	f.n = u;
	f.exists = xcalloc(u, sizeof(bool));
	for (size_t off = 0; ok && off < u; off += ORPHAN_BATCH) {
		size_t k = u - off < ORPHAN_BATCH ? u - off : ORPHAN_BATCH;
		bson_t filter = BSON_INITIALIZER, opts = BSON_INITIALIZER, proj;

		/* A detection stored as 5.0 or "5" is not found by {_id: 5}: the same rule
		 * as every other lookup of ours (ids are integers, detection.h). */
		store_append_in_int64(&filter, "_id", f.ids + off, k);
		BSON_APPEND_DOCUMENT_BEGIN(&opts, "projection", &proj);
		BSON_APPEND_INT32(&proj, "_id", 1);
		bson_append_document_end(&opts, &proj);
		BSON_APPEND_INT64(&opts, "batchSize", (int64_t)k);
		ok = store_find_each(client, db, STORE_COLL_DETECTIONS, &filter, &opts,
		    orphan_on_detection, &f, NULL, NULL, err);
		bson_destroy(&filter);
		bson_destroy(&opts);
	}
	if (ok) {
		for (size_t i = 0; i < u; i++) {
			if (f.exists[i])
				continue;
			if (*missing == NULL)
				*missing = xmalloc(u * sizeof(int64_t));
			(*missing)[(*nmissing)++] = f.ids[i];
		}
	}
	free(f.ids);
	free(f.exists);
	return ok;
}

bool
orphan_contains(const int64_t *missing, size_t n, int64_t id)
{
	return n > 0 && bsearch(&id, missing, n, sizeof(int64_t), orphan_cmp) != NULL;
}

void
orphan_format_ids(const int64_t *ids, size_t n, size_t show, char *buf, size_t len)
{
	size_t at = 0;

	if (len == 0)
		return;
	buf[0] = '\0';
	for (size_t i = 0; i < n && i < show; i++) {
		int w = snprintf(buf + at, len - at, "%s%" PRId64, i > 0 ? ", " : "", ids[i]);

		if (w < 0 || (size_t)w >= len - at)
			return;
		at += (size_t)w;
	}
	if (n > show)
		snprintf(buf + at, len - at, " (+%zu more)", n - show);
}

/* One ticket's missing ids, and whether its last record already says so. */
typedef struct orphan_hit {
	size_t index;
	int64_t *missing; /* sorted */
	size_t n;
	bool recorded;
	bson_t *detail;   /* bson_new: kept for the batch insert */
	char msg[512];
} orphan_hit_t;

typedef struct orphan_recorded_ctx {
	orphan_hit_t *hits;
	size_t nhits;
	const orphan_ticket_t *tickets;
} orphan_recorded_ctx_t;

/* An earlier record {ticket_id, detail.detection_ids} naming the same missing set. */
static bool
orphan_on_record(const bson_t *doc, void *arg)
{
	orphan_recorded_ctx_t *c = arg;
	bson_iter_t it, d, a;
	const char *tid;

	if (!bson_iter_init_find(&it, doc, "ticket_id") || !BSON_ITER_HOLDS_UTF8(&it))
		return true;
	tid = bson_iter_utf8(&it, NULL);
	if (!bson_iter_init_find(&d, doc, "detail") || !BSON_ITER_HOLDS_DOCUMENT(&d) ||
	    !bson_iter_recurse(&d, &a) || !bson_iter_find(&a, "detection_ids") ||
	    !BSON_ITER_HOLDS_ARRAY(&a))
		return true;
	for (size_t h = 0; h < c->nhits; h++) {
		orphan_hit_t *hit = &c->hits[h];
		bson_iter_t e;
		size_t k = 0;
		bool same = true;

		if (hit->recorded || strcmp(c->tickets[hit->index].id, tid) != 0)
			continue;
		bson_iter_recurse(&a, &e);
		while (bson_iter_next(&e)) {
			int64_t v;

			if (k >= hit->n || !store_iter_int64(&e, &v) || v != hit->missing[k++])
				same = false;
		}
		hit->recorded = same && k == hit->n;
	}
	return true;
}

bool
orphan_note(mongoc_client_t *client, const char *db, const char *instance,
    const char *source, const orphan_ticket_t *tickets, size_t n, orphan_notice_fn notice,
    void *arg, size_t *recorded, bson_error_t *err)
{
	int64_t *ids = NULL, *missing = NULL;
	size_t nids = 0, cap = 0, nmissing = 0, nhits = 0, capw = 0, nw = 0;
	orphan_hit_t *hits = NULL;
	audit_record_t *recs = NULL;
	bool ok = false;

	if (recorded != NULL)
		*recorded = 0;
	for (size_t i = 0; i < n; i++) {
		xgrow((void **)&ids, &cap, nids + tickets[i].n_detection_ids, sizeof(int64_t));
		memcpy(ids + nids, tickets[i].detection_ids, tickets[i].n_detection_ids * sizeof(int64_t));
		nids += tickets[i].n_detection_ids;
	}
	if (!orphan_missing(client, db, ids, nids, &missing, &nmissing, err))
		goto cleanup;
	for (size_t i = 0; nmissing > 0 && i < n; i++) {
		orphan_hit_t hit = { .index = i };

		for (size_t j = 0; j < tickets[i].n_detection_ids; j++) {
			if (!orphan_contains(missing, nmissing, tickets[i].detection_ids[j]))
				continue;
			if (hit.missing == NULL)
				hit.missing = xmalloc(tickets[i].n_detection_ids * sizeof(int64_t));
			hit.missing[hit.n++] = tickets[i].detection_ids[j];
		}
		if (hit.n == 0)
			continue;
		qsort(hit.missing, hit.n, sizeof(int64_t), orphan_cmp);
		xgrow((void **)&hits, &capw, nhits + 1, sizeof(*hits));
		hits[nhits++] = hit;
		if (notice != NULL)
			notice(arg, i, hit.missing, hit.n);
	}
	/* Which of them say so already: their records, a batch of tickets per query. */
	for (size_t off = 0; off < nhits; off += ORPHAN_BATCH) {
		size_t k = nhits - off < ORPHAN_BATCH ? nhits - off : ORPHAN_BATCH;
		bson_t filter = BSON_INITIALIZER, opts = BSON_INITIALIZER, in, arr, proj;
		orphan_recorded_ctx_t rc = { hits + off, k, tickets };
		bool qok;

		BSON_APPEND_UTF8(&filter, "event", AUDIT_UNKNOWN_DETECTION);
		BSON_APPEND_DOCUMENT_BEGIN(&filter, "ticket_id", &in);
		BSON_APPEND_ARRAY_BEGIN(&in, "$in", &arr);
		for (size_t h = 0; h < k; h++) {
			char key[16];
			const char *ks;

			bson_uint32_to_string((uint32_t)h, &ks, key, sizeof(key));
			BSON_APPEND_UTF8(&arr, ks, tickets[hits[off + h].index].id);
		}
		bson_append_array_end(&in, &arr);
		bson_append_document_end(&filter, &in);
		BSON_APPEND_DOCUMENT_BEGIN(&opts, "projection", &proj);
		BSON_APPEND_INT32(&proj, "ticket_id", 1);
		BSON_APPEND_INT32(&proj, "detail.detection_ids", 1);
		bson_append_document_end(&opts, &proj);
		qok = store_find_each(client, db, STORE_COLL_AUDIT, &filter, &opts, orphan_on_record, &rc,
		    NULL, NULL, err);
		bson_destroy(&filter);
		bson_destroy(&opts);
		if (!qok)
			goto cleanup;
	}
	recs = xcalloc(nhits > 0 ? nhits : 1, sizeof(*recs));
	for (size_t h = 0; h < nhits; h++) {
		orphan_hit_t *hit = &hits[h];
		audit_record_t *r = &recs[nw];
		bson_t arr;
		char list[256];

		if (hit->recorded)
			continue;
		orphan_format_ids(hit->missing, hit->n, 10, list, sizeof(list));
		snprintf(hit->msg, sizeof(hit->msg), "ticket %s names %zu detection(s) not in MongoDB "
		    "(%s): stored; pushed once the detection arrives", tickets[hit->index].id, hit->n,
		    list);
		hit->detail = bson_new();
		if (source != NULL)
			BSON_APPEND_UTF8(hit->detail, "source", source);
		BSON_APPEND_ARRAY_BEGIN(hit->detail, "detection_ids", &arr);
		for (size_t i = 0; i < hit->n; i++) {
			char key[16];
			const char *ks;

			bson_uint32_to_string((uint32_t)i, &ks, key, sizeof(key));
			BSON_APPEND_INT64(&arr, ks, hit->missing[i]);
		}
		bson_append_array_end(hit->detail, &arr);
		*r = (audit_record_t){ .event = AUDIT_UNKNOWN_DETECTION,
			.ticket_id = tickets[hit->index].id, .instance = instance, .message = hit->msg,
			.detail = hit->detail, .has_detection_id = hit->n == 1,
			.detection_id = hit->n == 1 ? hit->missing[0] : 0 };
		nw++;
	}
	for (size_t off = 0; off < nw; off += AUDIT_BATCH_MAX) {
		size_t k = nw - off < AUDIT_BATCH_MAX ? nw - off : AUDIT_BATCH_MAX;

		if (!audit_append_many(client, db, recs + off, k, err))
			goto cleanup;
		if (recorded != NULL)
			*recorded += k;
	}
	ok = true;
cleanup:
	for (size_t h = 0; h < nhits; h++) {
		free(hits[h].missing);
		bson_destroy(hits[h].detail);
	}
	free(hits);
	free(recs);
	free(ids);
	free(missing);
	return ok;
}

/* One scan step: up to ORPHAN_BATCH tickets and their ids. */
typedef struct orphan_step {
	char (*tickets)[FIELDS_TICKET_ID_MAX + 1];
	size_t *first, *count; /* each ticket's ids: ids[first .. first + count) */
	size_t nt;
	int64_t *ids;
	size_t nids, capids;
	char *last_id;  /* whole (ids may be longer than what is shown); NULL: none yet */
} orphan_step_t;

static bool
orphan_on_ticket(const bson_t *doc, void *arg)
{
	orphan_step_t *s = arg;
	bson_iter_t it, a;
	size_t i = s->nt;

	if (!bson_iter_init_find(&it, doc, "_id") || !BSON_ITER_HOLDS_UTF8(&it))
		return true;
	/* shown in status (text and JSON): valid UTF-8, cut visibly */
	text_sanitize(s->tickets[i], sizeof(s->tickets[i]), bson_iter_utf8(&it, NULL), TEXT_STRLEN,
	    0, TEXT_CONTROLS_TO_SPACE | TEXT_ELLIPSIS);
	bson_free(s->last_id);
	s->last_id = bson_strdup(bson_iter_utf8(&it, NULL));
	s->first[i] = s->nids;
	s->count[i] = 0;
	if (bson_iter_init_find(&it, doc, "detection_ids") && BSON_ITER_HOLDS_ARRAY(&it) &&
	    bson_iter_recurse(&it, &a)) {
		while (bson_iter_next(&a)) {
			int64_t id;

			if (!store_iter_int64(&a, &id))
				continue;
			xgrow((void **)&s->ids, &s->capids, s->nids + 1, sizeof(int64_t));
			s->ids[s->nids++] = id;
			s->count[i]++;
		}
	}
	s->nt++;
	return true;
}

bool
orphan_scan(mongoc_client_t *client, const char *db, size_t limit, orphan_report_t *out,
    bson_error_t *err)
{
	orphan_step_t s = { 0 };
	bool ok = true, more = true;

	memset(out, 0, sizeof(*out));
	if (limit > 0)
		out->list = xcalloc(limit, sizeof(orphan_entry_t));
	s.tickets = xmalloc(ORPHAN_BATCH * sizeof(*s.tickets));
	s.first = xmalloc(ORPHAN_BATCH * sizeof(size_t));
	s.count = xmalloc(ORPHAN_BATCH * sizeof(size_t));
	while (ok && more) {
		bson_t filter = BSON_INITIALIZER, opts = BSON_INITIALIZER, doc;
		int64_t *missing = NULL;
		size_t nmissing = 0;

		/* Keyset paging on _id: a step's cost does not grow with the position.
		 * Ticket ids are strings (the validator); others could not be paged so. */
		BSON_APPEND_DOCUMENT_BEGIN(&filter, "_id", &doc);
		BSON_APPEND_UTF8(&doc, "$type", "string");
		if (s.last_id != NULL)
			BSON_APPEND_UTF8(&doc, "$gt", s.last_id);
		bson_append_document_end(&filter, &doc);
		BSON_APPEND_DOCUMENT_BEGIN(&opts, "sort", &doc);
		BSON_APPEND_INT32(&doc, "_id", 1);
		bson_append_document_end(&opts, &doc);
		BSON_APPEND_DOCUMENT_BEGIN(&opts, "projection", &doc);
		BSON_APPEND_INT32(&doc, "detection_ids", 1);
		bson_append_document_end(&opts, &doc);
		BSON_APPEND_INT64(&opts, "limit", ORPHAN_BATCH);
		BSON_APPEND_INT64(&opts, "batchSize", ORPHAN_BATCH);
		s.nt = s.nids = 0;
		ok = store_find_each(client, db, STORE_COLL_TICKETS, &filter, &opts, orphan_on_ticket,
		    &s, NULL, NULL, err);
		bson_destroy(&filter);
		bson_destroy(&opts);
		more = ok && s.nt == ORPHAN_BATCH;
		if (ok)
			ok = orphan_missing(client, db, s.ids, s.nids, &missing, &nmissing, err);
		for (size_t i = 0; ok && nmissing > 0 && i < s.nt; i++) {
			size_t n = 0;
			int64_t first = 0;

			for (size_t j = s.first[i]; j < s.first[i] + s.count[i]; j++) {
				if (!orphan_contains(missing, nmissing, s.ids[j]))
					continue;
				if (n++ == 0 || s.ids[j] < first)
					first = s.ids[j];
			}
			if (n == 0)
				continue;
			out->tickets++;
			out->detections += n;
			if (out->nlist < limit) {
				orphan_entry_t *e = &out->list[out->nlist++];

				bson_strncpy(e->ticket_id, s.tickets[i], sizeof(e->ticket_id));
				e->detection_id = first;
				e->n_missing = n;
			}
		}
		free(missing);
	}
	free(s.tickets);
	free(s.first);
	free(s.count);
	free(s.ids);
	bson_free(s.last_id);
	return ok;
}

void
orphan_report_free(orphan_report_t *r)
{
	if (r == NULL)
		return;
	free(r->list);
	memset(r, 0, sizeof(*r));
}
