/* fc_record: ring of recorded requests plus exact counters. */
#include "fc_record.h"

#include "fc_json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FC_RECORD_MAX_STATUS 600

static const char *const fc_record_methods[] = {
	"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "OTHER",
};
#define FC_RECORD_NMETHODS (sizeof(fc_record_methods) / sizeof(fc_record_methods[0]))

struct fc_record_entry {
	uint64_t seq;
	int64_t time_ms;
	int64_t done_ms;   /* 0 while the reply is pending */
	int status;
	unsigned char fault;
	bool delayed;
	/* One allocation holds every string, so recording costs one malloc. */
	char *block;
	const char *method, *path, *query, *authorization, *content_type, *user_agent, *body;
	size_t body_len;
};

struct fc_record {
	size_t limit;
	size_t cap, start, count; /* ring: entry i at (start + i) % cap */
	struct fc_record_entry *entries;
	uint64_t next_seq;
	uint64_t dropped;
	uint64_t total;
	uint64_t by_method[FC_RECORD_NMETHODS];
	uint64_t by_status[FC_RECORD_MAX_STATUS];
	uint64_t patch_accepted;
	uint64_t fault_status, fault_close, fault_commit_close, delayed;
	uint64_t pending;
};

static size_t
fc_record_method_index(const char *method)
{
	for (size_t i = 0; i + 1 < FC_RECORD_NMETHODS; i++)
		if (strcmp(method, fc_record_methods[i]) == 0)
			return i;
	return FC_RECORD_NMETHODS - 1;
}

fc_record_t *
fc_record_new(size_t limit)
{
	fc_record_t *rec = calloc(1, sizeof(*rec));

	if (rec == NULL)
		return NULL;
	rec->limit = limit;
	rec->next_seq = 1;
	return rec;
}

static void
fc_record_entry_free(struct fc_record_entry *e)
{
	free(e->block);
	memset(e, 0, sizeof(*e));
}

static void
fc_record_clear(fc_record_t *rec)
{
	for (size_t i = 0; i < rec->count; i++)
		fc_record_entry_free(&rec->entries[(rec->start + i) % rec->cap]);
	rec->start = 0;
	rec->count = 0;
}

void
fc_record_destroy(fc_record_t *rec)
{
	if (rec == NULL)
		return;
	fc_record_clear(rec);
	free(rec->entries);
	free(rec);
}

/* Copy s (may be NULL) into the block at *pos; returns the copy or NULL. */
static const char *
fc_record_put(char *block, size_t *pos, const char *s, size_t len)
{
	char *dst;

	if (s == NULL)
		return NULL;
	dst = block + *pos;
	memcpy(dst, s, len);
	dst[len] = '\0';
	*pos += len + 1;
	return dst;
}

static struct fc_record_entry *
fc_record_slot(fc_record_t *rec)
{
	struct fc_record_entry *e;

	if (rec->count < rec->cap) {
		e = &rec->entries[(rec->start + rec->count) % rec->cap];
		rec->count++;
		return e;
	}
	if (rec->cap < rec->limit) {
		/* Grow while not yet wrapped: start is still 0 here. */
		size_t ncap = rec->cap ? rec->cap * 2 : 1024;
		struct fc_record_entry *n;

		if (ncap > rec->limit)
			ncap = rec->limit;
		n = realloc(rec->entries, ncap * sizeof(*n));
		if (n == NULL)
			return NULL;
		memset(n + rec->cap, 0, (ncap - rec->cap) * sizeof(*n));
		rec->entries = n;
		rec->cap = ncap;
		rec->count++;
		return &rec->entries[rec->count - 1];
	}
	/* Full: the oldest gives way. */
	e = &rec->entries[rec->start];
	fc_record_entry_free(e);
	rec->start = (rec->start + 1) % rec->cap;
	rec->dropped++;
	return e;
}

uint64_t
fc_record_begin(fc_record_t *rec, const fc_record_req_t *req)
{
	uint64_t seq = rec->next_seq++;
	struct fc_record_entry *e;
	size_t lens[6], total = 0, pos = 0;
	const char *strs[6] = { req->method, req->path, req->query, req->authorization,
		req->content_type, req->user_agent };

	rec->total++;
	rec->pending++;
	rec->by_method[fc_record_method_index(req->method)]++;
	if (rec->limit == 0 || (e = fc_record_slot(rec)) == NULL)
		return seq;
	for (size_t i = 0; i < 6; i++) {
		lens[i] = strs[i] ? strlen(strs[i]) : 0;
		total += lens[i] + 1;
	}
	total += req->body_len + 1;
	e->block = malloc(total);
	if (e->block == NULL) {
		/* Keep the slot consistent: an entry without strings is skipped on output. */
		e->seq = 0;
		return seq;
	}
	e->seq = seq;
	e->time_ms = req->time_ms;
	e->done_ms = 0;
	e->status = -1;
	e->fault = FC_RECORD_FAULT_NONE;
	e->delayed = false;
	e->method = fc_record_put(e->block, &pos, strs[0], lens[0]);
	e->path = fc_record_put(e->block, &pos, strs[1], lens[1]);
	e->query = fc_record_put(e->block, &pos, strs[2], lens[2]);
	e->authorization = fc_record_put(e->block, &pos, strs[3], lens[3]);
	e->content_type = fc_record_put(e->block, &pos, strs[4], lens[4]);
	e->user_agent = fc_record_put(e->block, &pos, strs[5], lens[5]);
	e->body = fc_record_put(e->block, &pos, req->body ? req->body : "", req->body_len);
	e->body_len = req->body_len;
	return seq;
}

static struct fc_record_entry *
fc_record_find(const fc_record_t *rec, uint64_t seq)
{
	uint64_t newest = rec->next_seq - 1, back;
	struct fc_record_entry *e;

	if (rec->count == 0 || seq > newest)
		return NULL;
	/* Every request takes the next slot, so seq N sits (newest - N) slots behind the
	 * newest entry; a long latency fault must not make each reply scan the ring. */
	back = newest - seq;
	if (back < rec->count) {
		e = &rec->entries[(rec->start + rec->count - 1 - (size_t)back) % rec->cap];
		if (e->seq == seq)
			return e;
	}
	/* Only after a failed allocation left a request without a slot. */
	for (size_t i = rec->count; i > 0; i--) {
		e = &rec->entries[(rec->start + i - 1) % rec->cap];
		if (e->seq == seq)
			return e;
		if (e->seq != 0 && e->seq < seq)
			break;
	}
	return NULL;
}

void
fc_record_finish(fc_record_t *rec, uint64_t seq, const char *method, int status,
    enum fc_record_fault fault, bool delayed, int64_t done_ms)
{
	struct fc_record_entry *e;

	if (rec->pending > 0)
		rec->pending--;
	if (status >= 0 && status < FC_RECORD_MAX_STATUS)
		rec->by_status[status]++;
	if (strcmp(method, "PATCH") == 0 && status == 204)
		rec->patch_accepted++;
	if (fault == FC_RECORD_FAULT_STATUS)
		rec->fault_status++;
	else if (fault == FC_RECORD_FAULT_CLOSE)
		rec->fault_close++;
	else if (fault == FC_RECORD_FAULT_COMMIT_CLOSE)
		rec->fault_commit_close++;
	if (delayed)
		rec->delayed++;
	if (rec->count > 0 && (e = fc_record_find(rec, seq)) != NULL) {
		e->status = status;
		e->fault = (unsigned char)fault;
		e->delayed = delayed;
		e->done_ms = done_ms;
	}
}

void
fc_record_reset(fc_record_t *rec)
{
	fc_record_clear(rec);
	rec->dropped = 0;
	rec->total = 0;
	memset(rec->by_method, 0, sizeof(rec->by_method));
	memset(rec->by_status, 0, sizeof(rec->by_status));
	rec->patch_accepted = 0;
	rec->fault_status = rec->fault_close = rec->fault_commit_close = rec->delayed = 0;
	/* pending stays: those replies are still owed and will be counted. */
}

static void
fc_record_append_body(bson_t *doc, const struct fc_record_entry *e)
{
	bson_t parsed;
	bson_error_t error;
	bson_iter_t it;

	if (e->body_len == 0) {
		BSON_APPEND_NULL(doc, "body");
		return;
	}
	if (fc_json_parse_value(e->body, e->body_len, &parsed, &error) == 0 &&
	    bson_iter_init_find(&it, &parsed, "v")) {
		bson_append_iter(doc, "body", 4, &it);
	} else if (bson_utf8_validate(e->body, e->body_len, false)) {
		bson_append_utf8(doc, "body", 4, e->body, (int)e->body_len);
	} else {
		/* Not text: say so rather than emit invalid UTF-8. */
		char note[64];
		snprintf(note, sizeof(note), "<%zu bytes, not UTF-8>", e->body_len);
		BSON_APPEND_UTF8(doc, "body", note);
	}
	bson_destroy(&parsed);
}

static void
fc_record_append_str(bson_t *doc, const char *key, const char *value)
{
	if (value == NULL)
		bson_append_null(doc, key, -1);
	else if (bson_utf8_validate(value, strlen(value), false))
		bson_append_utf8(doc, key, -1, value, -1);
	else
		bson_append_utf8(doc, key, -1, "<not UTF-8>", -1);
}

void
fc_record_requests(const fc_record_t *rec, uint64_t since, size_t max, bson_t *out)
{
	bson_t arr, item;
	uint32_t n = 0;
	char keybuf[16];
	const char *key;

	bson_append_array_begin(out, "requests", -1, &arr);
	for (size_t i = 0; i < rec->count; i++) {
		const struct fc_record_entry *e = &rec->entries[(rec->start + i) % rec->cap];

		if (e->seq == 0 || e->seq <= since)
			continue;
		if (max > 0 && n >= max)
			break;
		bson_uint32_to_string(n++, &key, keybuf, sizeof(keybuf));
		bson_append_document_begin(&arr, key, -1, &item);
		BSON_APPEND_INT64(&item, "seq", (int64_t)e->seq);
		fc_record_append_str(&item, "method", e->method);
		fc_record_append_str(&item, "path", e->path);
		fc_record_append_str(&item, "query", e->query);
		fc_record_append_str(&item, "authorization", e->authorization);
		fc_record_append_str(&item, "content_type", e->content_type);
		fc_record_append_str(&item, "user_agent", e->user_agent);
		fc_record_append_body(&item, e);
		BSON_APPEND_INT64(&item, "time_ms", e->time_ms);
		if (e->status < 0)
			BSON_APPEND_NULL(&item, "status");
		else
			BSON_APPEND_INT32(&item, "status", e->status);
		if (e->done_ms > 0)
			BSON_APPEND_INT64(&item, "duration_ms", e->done_ms - e->time_ms);
		else
			BSON_APPEND_NULL(&item, "duration_ms");
		if (e->fault == FC_RECORD_FAULT_STATUS)
			BSON_APPEND_UTF8(&item, "fault", "status");
		else if (e->fault == FC_RECORD_FAULT_CLOSE)
			BSON_APPEND_UTF8(&item, "fault", "close");
		else if (e->fault == FC_RECORD_FAULT_COMMIT_CLOSE)
			BSON_APPEND_UTF8(&item, "fault", "commit_close");
		else
			BSON_APPEND_NULL(&item, "fault");
		BSON_APPEND_BOOL(&item, "delayed", e->delayed);
		bson_append_document_end(&arr, &item);
	}
	bson_append_array_end(out, &arr);
	BSON_APPEND_INT64(out, "last_seq", (int64_t)(rec->next_seq - 1));
	BSON_APPEND_INT64(out, "dropped", (int64_t)rec->dropped);
}

void
fc_record_stats(const fc_record_t *rec, bson_t *out)
{
	bson_t sub, faults;
	char key[16];

	BSON_APPEND_INT64(out, "requests", (int64_t)rec->total);
	BSON_APPEND_INT64(out, "pending", (int64_t)rec->pending);
	bson_append_document_begin(out, "by_method", -1, &sub);
	for (size_t i = 0; i < FC_RECORD_NMETHODS; i++)
		if (rec->by_method[i] > 0)
			BSON_APPEND_INT64(&sub, fc_record_methods[i], (int64_t)rec->by_method[i]);
	bson_append_document_end(out, &sub);
	bson_append_document_begin(out, "by_status", -1, &sub);
	for (int s = 0; s < FC_RECORD_MAX_STATUS; s++) {
		if (rec->by_status[s] == 0)
			continue;
		snprintf(key, sizeof(key), "%d", s);
		BSON_APPEND_INT64(&sub, key, (int64_t)rec->by_status[s]);
	}
	bson_append_document_end(out, &sub);
	BSON_APPEND_INT64(out, "patch_accepted", (int64_t)rec->patch_accepted);
	bson_append_document_begin(out, "faults", -1, &faults);
	BSON_APPEND_INT64(&faults, "delayed", (int64_t)rec->delayed);
	BSON_APPEND_INT64(&faults, "status", (int64_t)rec->fault_status);
	BSON_APPEND_INT64(&faults, "close", (int64_t)rec->fault_close);
	/* Only fakes that accept commit_close rules ever count one. */
	if (rec->fault_commit_close > 0)
		BSON_APPEND_INT64(&faults, "commit_close", (int64_t)rec->fault_commit_close);
	bson_append_document_end(out, &faults);
	BSON_APPEND_INT64(out, "recorded", (int64_t)rec->count);
	BSON_APPEND_INT64(out, "record_limit", (int64_t)rec->limit);
	BSON_APPEND_INT64(out, "dropped_records", (int64_t)rec->dropped);
	BSON_APPEND_INT64(out, "last_seq", (int64_t)(rec->next_seq - 1));
}
