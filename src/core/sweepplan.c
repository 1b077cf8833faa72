/* sweepplan: the ExtraHop sweep's parse, paging and drift decisions; see sweepplan.h. */
#include "ticketsync/sweepplan.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "ticketsync/detection.h"
#include "ticketsync/xalloc.h"

/* ---- 1. parse ---- */

struct sweep_ctx {
	int64_t id;
	bson_error_t *err;
};

static int
sweep_fail(struct sweep_ctx *c, uint32_t code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
sweep_fail(struct sweep_ctx *c, uint32_t code, const char *fmt, ...)
{
	char why[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (c->id > 0)
		bson_set_error(c->err, ERROR_DOMAIN, code, "detection %" PRId64 ": %s", c->id, why);
	else
		bson_set_error(c->err, ERROR_DOMAIN, code, "detection: %s", why);
	return -1;
}

static int
sweep_type_error(struct sweep_ctx *c, const char *field, const char *want, const bson_iter_t *it)
{
	return sweep_fail(c, SWEEPPLAN_ERR_INVALID, "field %s must be %s, got %s", field, want,
	    detection_type_name(bson_iter_type(it)));
}

/* A checked string: at most SWEEPPLAN_STRING_MAX bytes, valid UTF-8, no NUL. */
static int
sweep_check_utf8(struct sweep_ctx *c, const char *field, const char *s, uint32_t len)
{
	if (len > SWEEPPLAN_STRING_MAX)
		return sweep_fail(c, SWEEPPLAN_ERR_TOO_LARGE,
		    "field %s is %" PRIu32 " bytes (limit %d bytes)", field, len, SWEEPPLAN_STRING_MAX);
	if (!bson_utf8_validate(s, len, false))
		return sweep_fail(c, SWEEPPLAN_ERR_INVALID,
		    "field %s is not valid UTF-8 (or holds a NUL byte)", field);
	return 0;
}

/* rest.key, if present and not null. */
static bool
sweep_find(const bson_t *rest, const char *key, bson_iter_t *it)
{
	return bson_iter_init_find(it, rest, key) && !BSON_ITER_HOLDS_NULL(it);
}

/* A string or null (NULL); absent reads as null. */
static int
sweep_string(struct sweep_ctx *c, const bson_iter_t *it, const char *field, const char **out)
{
	uint32_t len;
	const char *s;

	*out = NULL;
	if (it == NULL || BSON_ITER_HOLDS_NULL(it))
		return 0;
	if (!BSON_ITER_HOLDS_UTF8(it))
		return sweep_type_error(c, field, "a string or null", it);
	s = bson_iter_utf8(it, &len);
	if (sweep_check_utf8(c, field, s, len) != 0)
		return -1;
	*out = s;
	return 0;
}

/* Top-level rest.key as a string or null, appended (as the trigger's tsString). */
static int
sweep_copy_string(struct sweep_ctx *c, const bson_t *rest, const char *key, bson_t *dst,
    bool drop_null)
{
	bson_iter_t it;
	const char *s;

	if (sweep_string(c, bson_iter_init_find(&it, rest, key) ? &it : NULL, key, &s) != 0)
		return -1;
	if (s == NULL && drop_null)
		return 0;
	fields_append_nullable(dst, key, s);
	return 0;
}

/* An epoch-ms time; *present false when absent or null. */
static int
sweep_time(struct sweep_ctx *c, const bson_t *rest, const char *key, bool *present, int64_t *out)
{
	bson_iter_t it;
	char why[128];

	*present = false;
	*out = 0;
	if (!sweep_find(rest, key, &it))
		return 0;
	if (detection_time_from_iter(&it, out, why, sizeof(why)) != 0)
		return sweep_fail(c, SWEEPPLAN_ERR_INVALID, "field %s (epoch ms) %s", key, why);
	*present = true;
	return 0;
}

static int
sweep_copy_time(struct sweep_ctx *c, const bson_t *rest, const char *key, bson_t *dst,
    bool drop_null)
{
	bool present;
	int64_t v;

	if (sweep_time(c, rest, key, &present, &v) != 0)
		return -1;
	if (present)
		BSON_APPEND_INT64(dst, key, v);
	else if (!drop_null)
		BSON_APPEND_NULL(dst, key);
	return 0;
}

/* A finite number (any BSON number type, copied as it is). */
static int
sweep_number_ok(struct sweep_ctx *c, const bson_iter_t *it, const char *field)
{
	if (BSON_ITER_HOLDS_INT32(it) || BSON_ITER_HOLDS_INT64(it))
		return 0;
	if (BSON_ITER_HOLDS_DOUBLE(it)) {
		if (!isfinite(bson_iter_double(it)))
			return sweep_fail(c, SWEEPPLAN_ERR_INVALID, "field %s must be a finite number",
			    field);
		return 0;
	}
	return sweep_type_error(c, field, "a number or null", it);
}

/* Rewrite a key as the trigger's tsPlain does: leading '$' and each '.' become '_'. */
static void
sweep_key(const char *key, char *buf, size_t buflen, char **heap, const char **out)
{
	size_t len = strlen(key);
	char *k;

	*heap = NULL;
	if (key[0] != '$' && strchr(key, '.') == NULL) {
		*out = key;
		return;
	}
	if (len < buflen) {
		k = buf;
	} else {
		*heap = xmalloc(len + 1);
		k = *heap;
	}
	memcpy(k, key, len + 1);
	if (k[0] == '$')
		k[0] = '_';
	for (char *p = k; (p = strchr(p, '.')) != NULL; p++)
		*p = '_';
	*out = k;
}

/* Deep copy of a JSON value into dst.key (properties, appliance_id). */
static int
sweep_copy_plain(struct sweep_ctx *c, bson_t *dst, const char *key, const bson_iter_t *it,
    const char *path, int depth)
{
	bson_type_t t = bson_iter_type(it);

	switch (t) {
	case BSON_TYPE_UTF8: {
		uint32_t len;
		const char *s = bson_iter_utf8(it, &len);

		if (sweep_check_utf8(c, path, s, len) != 0)
			return -1;
		BSON_APPEND_UTF8(dst, key, s);
		return 0;
	}
	case BSON_TYPE_DOUBLE:
	case BSON_TYPE_INT32:
	case BSON_TYPE_INT64:
		if (sweep_number_ok(c, it, path) != 0)
			return -1;
		bson_append_iter(dst, key, -1, it);
		return 0;
	case BSON_TYPE_BOOL:
	case BSON_TYPE_NULL:
		bson_append_iter(dst, key, -1, it);
		return 0;
	case BSON_TYPE_DOCUMENT:
	case BSON_TYPE_ARRAY: {
		bool is_array = t == BSON_TYPE_ARRAY;
		bson_iter_t child;
		bson_t sub;
		int rc = 0;

		if (depth >= SWEEPPLAN_PROPERTIES_DEPTH)
			return sweep_fail(c, SWEEPPLAN_ERR_TOO_LARGE,
			    "field %s is nested deeper than %d levels", path, SWEEPPLAN_PROPERTIES_DEPTH);
		if (!bson_iter_recurse(it, &child))
			return sweep_fail(c, SWEEPPLAN_ERR_INVALID, "field %s is corrupt", path);
		if (is_array)
			bson_append_array_begin(dst, key, -1, &sub);
		else
			bson_append_document_begin(dst, key, -1, &sub);
		while (rc == 0 && bson_iter_next(&child)) {
			const char *ck = bson_iter_key(&child);
			char kbuf[128], pbuf[256];
			char *heap = NULL;
			const char *outkey;

			snprintf(pbuf, sizeof(pbuf), is_array ? "%s[%s]" : "%s.%s", path, ck);
			if (!bson_utf8_validate(ck, strlen(ck), false)) {
				rc = sweep_fail(c, SWEEPPLAN_ERR_INVALID,
				    "field %s has a key that is not valid UTF-8", path);
				break;
			}
			sweep_key(ck, kbuf, sizeof(kbuf), &heap, &outkey);
			rc = sweep_copy_plain(c, &sub, outkey, &child, pbuf, depth + 1);
			free(heap);
		}
		if (rc == 0 && child.err_off != 0)
			rc = sweep_fail(c, SWEEPPLAN_ERR_INVALID, "field %s is corrupt", path);
		if (is_array)
			bson_append_array_end(dst, &sub);
		else
			bson_append_document_end(dst, &sub);
		return rc;
	}
	default:
		return sweep_fail(c, SWEEPPLAN_ERR_INVALID, "field %s must be a JSON value, got %s",
		    path, detection_type_name(t));
	}
}

/* rest.key as an array (absent or null: empty), each item checked by fn into dst. */
typedef int (*sweep_item_fn)(struct sweep_ctx *c, bson_t *arr, const char *idx,
    const bson_iter_t *item, const char *path);

static int
sweep_copy_array(struct sweep_ctx *c, const bson_t *rest, const char *key, bson_t *dst,
    sweep_item_fn fn)
{
	bson_iter_t it, child;
	bson_t arr;
	int rc = 0;
	uint32_t n = 0;

	bson_append_array_begin(dst, key, -1, &arr);
	if (sweep_find(rest, key, &it)) {
		if (!BSON_ITER_HOLDS_ARRAY(&it)) {
			rc = sweep_type_error(c, key, "an array or null", &it);
		} else if (!bson_iter_recurse(&it, &child)) {
			rc = sweep_fail(c, SWEEPPLAN_ERR_INVALID, "field %s is corrupt", key);
		} else {
			while (rc == 0 && bson_iter_next(&child)) {
				char idx[16], path[64];
				const char *ik;

				snprintf(path, sizeof(path), "%s[%" PRIu32 "]", key, n);
				bson_uint32_to_string(n++, &ik, idx, sizeof(idx));
				rc = fn(c, &arr, ik, &child, path);
			}
			if (rc == 0 && child.err_off != 0)
				rc = sweep_fail(c, SWEEPPLAN_ERR_INVALID, "field %s is corrupt", key);
		}
	}
	bson_append_array_end(dst, &arr);
	return rc;
}

static int
sweep_item_string(struct sweep_ctx *c, bson_t *arr, const char *idx, const bson_iter_t *item,
    const char *path)
{
	uint32_t len;
	const char *s;

	if (!BSON_ITER_HOLDS_UTF8(item))
		return sweep_type_error(c, path, "a string", item);
	s = bson_iter_utf8(item, &len);
	if (sweep_check_utf8(c, path, s, len) != 0)
		return -1;
	BSON_APPEND_UTF8(arr, idx, s);
	return 0;
}

enum sweep_kind { SWEEP_STRING, SWEEP_NUMBER, SWEEP_BOOL, SWEEP_STRINGS };

struct sweep_member {
	const char *key;
	enum sweep_kind kind;
	bool always; /* written as null when absent */
};

/* Copy the listed members of an object item, checked, in the listed order. */
static int
sweep_copy_members(struct sweep_ctx *c, bson_t *arr, const char *idx, const bson_iter_t *item,
    const char *path, const struct sweep_member *m, size_t nm)
{
	bson_iter_t obj, it;
	bson_t out;
	int rc = 0;

	if (!BSON_ITER_HOLDS_DOCUMENT(item))
		return sweep_type_error(c, path, "an object", item);
	bson_append_document_begin(arr, idx, -1, &out);
	for (size_t i = 0; rc == 0 && i < nm; i++) {
		char field[128];
		const char *s;

		snprintf(field, sizeof(field), "%s.%s", path, m[i].key);
		if (!bson_iter_recurse(item, &obj) || !bson_iter_find(&obj, m[i].key)) {
			if (m[i].always)
				BSON_APPEND_NULL(&out, m[i].key);
			continue;
		}
		it = obj;
		if (BSON_ITER_HOLDS_NULL(&it)) {
			BSON_APPEND_NULL(&out, m[i].key);
			continue;
		}
		switch (m[i].kind) {
		case SWEEP_STRING:
			if ((rc = sweep_string(c, &it, field, &s)) == 0)
				BSON_APPEND_UTF8(&out, m[i].key, s);
			break;
		case SWEEP_NUMBER:
			if ((rc = sweep_number_ok(c, &it, field)) == 0)
				bson_append_iter(&out, m[i].key, -1, &it);
			break;
		case SWEEP_BOOL:
			if (!BSON_ITER_HOLDS_BOOL(&it))
				rc = sweep_type_error(c, field, "a boolean or null", &it);
			else
				BSON_APPEND_BOOL(&out, m[i].key, bson_iter_bool(&it));
			break;
		case SWEEP_STRINGS: {
			bson_iter_t child;
			bson_t list;
			uint32_t n = 0;

			if (!BSON_ITER_HOLDS_ARRAY(&it) || !bson_iter_recurse(&it, &child)) {
				rc = sweep_type_error(c, field, "an array of strings or null", &it);
				break;
			}
			bson_append_array_begin(&out, m[i].key, -1, &list);
			while (rc == 0 && bson_iter_next(&child)) {
				char ibuf[16], p[160];
				const char *ik;

				snprintf(p, sizeof(p), "%s[%" PRIu32 "]", field, n);
				bson_uint32_to_string(n++, &ik, ibuf, sizeof(ibuf));
				rc = sweep_item_string(c, &list, ik, &child, p);
			}
			bson_append_array_end(&out, &list);
			break;
		}
		}
	}
	bson_append_document_end(arr, &out);
	return rc;
}

/* REST's participant keys; role always (the trigger writes it, null when unknown). */
static const struct sweep_member sweep_participant[] = {
	{ "role", SWEEP_STRING, true },
	{ "object_type", SWEEP_STRING, false },
	{ "object_id", SWEEP_NUMBER, false },
	{ "object_value", SWEEP_STRING, false },
	{ "id", SWEEP_NUMBER, false },
	{ "external", SWEEP_BOOL, false },
	{ "username", SWEEP_STRING, false },
};

/* The trigger's MITRE item: id, name, url always; legacy_ids when present. */
static const struct sweep_member sweep_mitre[] = {
	{ "id", SWEEP_STRING, true },
	{ "name", SWEEP_STRING, true },
	{ "url", SWEEP_STRING, true },
	{ "legacy_ids", SWEEP_STRINGS, false },
};

static int
sweep_item_participant(struct sweep_ctx *c, bson_t *arr, const char *idx,
    const bson_iter_t *item, const char *path)
{
	return sweep_copy_members(c, arr, idx, item, path, sweep_participant,
	    sizeof(sweep_participant) / sizeof(sweep_participant[0]));
}

static int
sweep_item_mitre(struct sweep_ctx *c, bson_t *arr, const char *idx, const bson_iter_t *item,
    const char *path)
{
	return sweep_copy_members(c, arr, idx, item, path, sweep_mitre,
	    sizeof(sweep_mitre) / sizeof(sweep_mitre[0]));
}

/* The four ticket fields: into out->fields and set_doc (raw values, validated). */
static int
sweep_ticket_fields(struct sweep_ctx *c, const bson_t *rest, fields_t *f, bson_t *dst)
{
	static const char *const keys[] = { "ticket_id", "status", "assignee", "resolution" };

	fields_init(f);
	for (size_t i = 0; i < 4; i++) {
		const char *key = keys[i];
		bson_iter_t it;
		const char *s;
		int rc;

		if (sweep_string(c, bson_iter_init_find(&it, rest, key) ? &it : NULL, key, &s) != 0)
			return -1;
		if (i == 0)
			rc = fields_set_ticket_id(f, s);
		else if (i == 2)
			rc = fields_set_assignee(f, s);
		else if (i == 1)
			rc = s == NULL ? 0 : fields_status_parse(s, &f->status);
		else
			rc = s == NULL ? 0 : fields_resolution_parse(s, &f->resolution);
		if (rc != 0) {
			if (i == 0 || i == 2)
				return sweep_fail(c, SWEEPPLAN_ERR_INVALID,
				    "field %s is %zu bytes (limit %d bytes)", key, strlen(s),
				    i == 0 ? FIELDS_TICKET_ID_MAX : FIELDS_ASSIGNEE_MAX);
			return sweep_fail(c, SWEEPPLAN_ERR_INVALID, "field %s must be %s or null, got \"%.64s\"",
			    key, i == 1 ? "new, in_progress, closed, acknowledged" : "action_taken, no_action_taken",
			    s);
		}
		fields_append_nullable(dst, key, s);
	}
	return 0;
}

static int
sweep_build(struct sweep_ctx *c, const bson_t *rest, sweepplan_det_t *out, bson_t *set)
{
	bson_iter_t it;
	bool present;

	if (sweep_copy_string(c, rest, "title", set, true) != 0 ||
	    sweep_copy_string(c, rest, "description", set, false) != 0 ||
	    sweep_copy_string(c, rest, "type", set, true) != 0 ||
	    sweep_copy_array(c, rest, "categories", set, sweep_item_string) != 0)
		return -1;
	if (sweep_find(rest, "risk_score", &it)) {
		if (sweep_number_ok(c, &it, "risk_score") != 0)
			return -1;
		bson_append_iter(set, "risk_score", -1, &it);
	} else {
		BSON_APPEND_NULL(set, "risk_score");
	}
	if (sweep_copy_time(c, rest, "start_time", set, true) != 0 ||
	    sweep_copy_time(c, rest, "end_time", set, false) != 0)
		return -1;
	/* update_time is required: MongoDB's copy is judged stale by it. */
	if (sweep_time(c, rest, "update_time", &present, &out->update_time) != 0)
		return -1;
	if (!present)
		return sweep_fail(c, SWEEPPLAN_ERR_INVALID, "field update_time is missing or null");
	BSON_APPEND_INT64(set, "update_time", out->update_time);
	if (sweep_ticket_fields(c, rest, &out->fields, set) != 0 ||
	    sweep_copy_array(c, rest, "participants", set, sweep_item_participant) != 0)
		return -1;
	if (sweep_find(rest, "is_user_created", &it) && !BSON_ITER_HOLDS_BOOL(&it))
		return sweep_type_error(c, "is_user_created", "a boolean or null", &it);
	BSON_APPEND_BOOL(set, "is_user_created",
	    sweep_find(rest, "is_user_created", &it) && bson_iter_bool(&it));
	if (sweep_copy_array(c, rest, "mitre_tactics", set, sweep_item_mitre) != 0 ||
	    sweep_copy_array(c, rest, "mitre_techniques", set, sweep_item_mitre) != 0)
		return -1;
	if (sweep_find(rest, "properties", &it) &&
	    sweep_copy_plain(c, set, "properties", &it, "properties", 0) != 0)
		return -1;
	if (sweep_find(rest, "appliance_id", &it) &&
	    sweep_copy_plain(c, set, "appliance_id", &it, "appliance_id", 0) != 0)
		return -1;
	BSON_APPEND_UTF8(set, "written_by", SWEEPPLAN_WRITTEN_BY);
	return 0;
}

int
sweepplan_parse(const bson_t *rest, sweepplan_det_t *out, bson_t *set_doc, bson_error_t *err)
{
	struct sweep_ctx c = { 0, err };
	bson_iter_t it;
	char why[128];
	bool present;
	int64_t mod_time;

	memset(out, 0, sizeof(*out));
	out->mod_time = -1;
	fields_init(&out->fields);
	bson_init(set_doc);

	if (!bson_iter_init_find(&it, rest, "id") || BSON_ITER_HOLDS_NULL(&it)) {
		bson_set_error(err, ERROR_DOMAIN, SWEEPPLAN_ERR_ID, "detection: field id is missing");
		return -1;
	}
	if (detection_id_from_iter(&it, &out->id, why, sizeof(why)) != 0) {
		out->id = 0;
		return sweep_fail(&c, SWEEPPLAN_ERR_ID, "field id %s", why);
	}
	c.id = out->id;
	/* mod_time next: paging needs it even when the rest is refused. */
	if (sweep_time(&c, rest, "mod_time", &present, &mod_time) != 0)
		return -1;
	if (!present)
		return sweep_fail(&c, SWEEPPLAN_ERR_INVALID, "field mod_time is missing or null");
	out->mod_time = mod_time;
	if (rest->len > SWEEPPLAN_DOC_MAX)
		return sweep_fail(&c, SWEEPPLAN_ERR_TOO_LARGE,
		    "document is %" PRIu32 " bytes (limit %d bytes)", rest->len, SWEEPPLAN_DOC_MAX);

	if (sweep_build(&c, rest, out, set_doc) != 0)
		goto fail;
	if (set_doc->len > SWEEPPLAN_DOC_MAX) {
		sweep_fail(&c, SWEEPPLAN_ERR_TOO_LARGE, "document is %" PRIu32 " bytes (limit %d bytes)",
		    set_doc->len, SWEEPPLAN_DOC_MAX);
		goto fail;
	}
	{
		/* What the repair writes must load: the same rules as a trigger write. */
		bson_t doc = BSON_INITIALIZER;
		detection_t d;
		bson_error_t derr;
		int rc;

		BSON_APPEND_INT64(&doc, "_id", out->id);
		bson_concat(&doc, set_doc);
		rc = detection_parse(&doc, &d, &derr);
		bson_destroy(&doc);
		if (rc != 0) {
			bson_set_error(err, ERROR_DOMAIN, SWEEPPLAN_ERR_INVALID, "%s", derr.message);
			goto fail;
		}
	}
	return 0;
fail:
	bson_reinit(set_doc);
	fields_init(&out->fields);
	out->update_time = 0;
	return -1;
}

/* ---- 2. paging ---- */

int
sweepplan_page_init(sweepplan_page_t *p, const sweepplan_cursor_t *cursor, int64_t overlap_ms,
    int32_t limit, bson_error_t *err)
{
	memset(p, 0, sizeof(*p));
	p->done = true;
	if (cursor == NULL || cursor->mod_time < 0 || overlap_ms < 0) {
		bson_set_error(err, ERROR_DOMAIN, SWEEPPLAN_ERR_ARG,
		    "sweep: cursor and overlap must be >= 0");
		return -1;
	}
	if (limit < 2 || limit > SWEEPPLAN_LIMIT_MAX) {
		bson_set_error(err, ERROR_DOMAIN, SWEEPPLAN_ERR_ARG,
		    "sweep: limit must be from 2 to %d, got %" PRId32, SWEEPPLAN_LIMIT_MAX, limit);
		return -1;
	}
	p->done = false;
	p->limit = limit;
	p->floor = cursor->mod_time > overlap_ms ? cursor->mod_time - overlap_ms : 0;
	p->max_mod_time = cursor->mod_time;
	p->last_mod = p->floor;
	return 0;
}

void
sweepplan_page_clear(sweepplan_page_t *p)
{
	if (p == NULL)
		return;
	free(p->tie_ids);
	p->tie_ids = NULL;
	p->tie_n = p->tie_cap = 0;
}

char *
sweepplan_query_json(const sweepplan_page_t *p, size_t *len)
{
	bson_t doc = BSON_INITIALIZER, sort, item;
	char *json;

	if (p->done)
		return NULL;
	/* int64 everywhere: relaxed extended JSON prints it as a plain number. */
	BSON_APPEND_INT64(&doc, "mod_time", p->floor);
	BSON_APPEND_ARRAY_BEGIN(&doc, "sort", &sort);
	BSON_APPEND_DOCUMENT_BEGIN(&sort, "0", &item);
	BSON_APPEND_UTF8(&item, "field", "mod_time");
	BSON_APPEND_UTF8(&item, "direction", "asc");
	bson_append_document_end(&sort, &item);
	BSON_APPEND_DOCUMENT_BEGIN(&sort, "1", &item);
	BSON_APPEND_UTF8(&item, "field", "id");
	BSON_APPEND_UTF8(&item, "direction", "asc");
	bson_append_document_end(&sort, &item);
	bson_append_array_end(&doc, &sort);
	BSON_APPEND_INT64(&doc, "limit", p->limit);
	BSON_APPEND_INT64(&doc, "offset", p->offset);
	json = bson_as_relaxed_extended_json(&doc, len);
	bson_destroy(&doc);
	return json;
}

/* Index of id in the ascending tie_ids, or where it goes (*found false). */
static size_t
sweep_tie_find(const sweepplan_page_t *p, int64_t id, bool *found)
{
	size_t lo = 0, hi = p->tie_n;

	/* Ids mostly arrive ascending: check the end first. */
	if (hi == 0 || p->tie_ids[hi - 1] < id) {
		*found = false;
		return hi;
	}
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (p->tie_ids[mid] < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = lo < p->tie_n && p->tie_ids[lo] == id;
	return lo;
}

bool
sweepplan_seen(sweepplan_page_t *p, int64_t id, int64_t mod_time)
{
	size_t idx = p->page_n++;
	bool found;
	size_t at;

	if (mod_time < 0)
		mod_time = p->last_mod; /* unknown: sorted between its neighbours */
	if (idx == 0) {
		/* Positions at M count in the listing from floor M: this page starts at
		 * offset there; a page from a lower floor reaches M from its start. */
		p->tie_pos = p->has_tie && p->floor == p->tie_mod_time ? p->offset : 0;
		if (p->expect_anchor)
			p->anchor_ok = mod_time == p->anchor_mod && id == p->anchor_id;
	}
	p->last_mod = mod_time;
	if (mod_time > p->max_mod_time)
		p->max_mod_time = mod_time;
	if (!p->has_tie || mod_time > p->tie_mod_time) {
		p->has_tie = true;
		p->tie_mod_time = mod_time;
		p->tie_pos = 0;
		p->tie_n = 0;
	}
	if (mod_time != p->tie_mod_time)
		return false; /* below M: out of order; handed out, not remembered */
	p->tie_pos++;
	p->tie_last_id = id;
	if (id <= 0)
		return false;
	at = sweep_tie_find(p, id, &found);
	if (found) {
		p->duplicates++;
		return true;
	}
	xgrow((void **)&p->tie_ids, &p->tie_cap, p->tie_n + 1, sizeof(*p->tie_ids));
	memmove(p->tie_ids + at + 1, p->tie_ids + at, (p->tie_n - at) * sizeof(*p->tie_ids));
	p->tie_ids[at] = id;
	p->tie_n++;
	return false;
}

bool
sweepplan_page_done(sweepplan_page_t *p, sweepplan_cursor_t *next)
{
	size_t n = p->page_n;
	bool mismatch = p->expect_anchor && (n == 0 || !p->anchor_ok);

	if (p->done) {
		next->mod_time = p->max_mod_time;
		return true;
	}
	p->page_n = 0;
	p->pages++;
	if (mismatch) {
		if (p->restarts < SWEEPPLAN_RESTARTS_MAX) {
			/* A result read at anchor_mod left it: the offset may have skipped an
			 * unread one. Read that tie again from its start. */
			p->restarts++;
			p->floor = p->anchor_mod;
			p->offset = 0;
			p->expect_anchor = false;
			return false;
		}
		p->gaps_possible = true;
	}
	p->expect_anchor = false;
	if (n < (size_t)p->limit) {
		p->done = true;
		next->mod_time = p->max_mod_time;
		return true;
	}
	p->floor = p->tie_mod_time;
	if (p->tie_pos > 0) {
		p->offset = p->tie_pos - 1;
		p->anchor_mod = p->tie_mod_time;
		p->anchor_id = p->tie_last_id;
		/* At offset 0 nothing can be skipped: no proof needed. */
		p->expect_anchor = p->offset > 0;
	} else {
		p->offset = 0;
	}
	return false;
}

/* ---- 3. per detection ---- */

const char *
sweepplan_drift_name(enum sweepplan_drift d)
{
	switch (d) {
	case SWEEPPLAN_DRIFT_NONE: return "none";
	case SWEEPPLAN_DRIFT_REPORT: return "report";
	case SWEEPPLAN_DRIFT_REASSERT: return "reassert";
	}
	return "unknown";
}

static void
sweep_reason(sweepplan_decision_t *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
sweep_reason(sweepplan_decision_t *out, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(out->reason, sizeof(out->reason), fmt, ap);
	va_end(ap);
}

void
sweepplan_decide(const sweepplan_input_t *in, sweepplan_decision_t *out)
{
	const sweepplan_det_t *e = in->det;
	char names[64];

	memset(out, 0, sizeof(*out));
	if (!in->mongo_exists) {
		out->repair = true;
		out->repair_reason = "missing in MongoDB";
	} else if (in->mongo_update_time < e->update_time) {
		out->repair = true;
		out->repair_reason = "MongoDB's copy is older (update_time)";
	}

	if (!in->state_exists) {
		if (!in->mongo_exists) {
			sweep_reason(out, "no state and no MongoDB copy to compare with");
			return;
		}
		out->drift_mask = fields_diff(&e->fields, &in->mongo_fields);
		if (out->drift_mask == 0) {
			sweep_reason(out, "no state; ExtraHop shows what MongoDB has");
			return;
		}
		out->drift = SWEEPPLAN_DRIFT_REPORT;
		fields_mask_describe(out->drift_mask, names, sizeof(names));
		if (!in->has_ticket)
			sweep_reason(out, "%s changed in ExtraHop: a detection without any ticket is only "
			    "reported", names);
		else
			sweep_reason(out, "%s changed in ExtraHop and nothing was pushed yet: reported "
			    "(the reconciler owns the desired value)", names);
		return;
	}
	switch (in->state) {
	case PUSHPLAN_STATE_PENDING:
	case PUSHPLAN_STATE_IN_FLIGHT:
		sweep_reason(out, "%s: a push is due or on the wire, the difference may be its echo",
		    pushplan_state_name(in->state));
		return;
	case PUSHPLAN_STATE_PARKED:
		sweep_reason(out, "parked: waiting for an operator");
		return;
	case PUSHPLAN_STATE_SYNCED:
		break;
	}
	if (in->state_updated_at_ms >= in->fetched_at_ms) {
		sweep_reason(out, "the state moved after the page was read (our own push)");
		return;
	}
	if ((in->has_pushed && fields_equal(&e->fields, &in->pushed)) ||
	    fields_equal(&e->fields, &in->desired)) {
		sweep_reason(out, "ExtraHop shows what ticketsync pushed");
		return;
	}
	out->drift_mask = fields_diff(&e->fields, in->has_pushed ? &in->pushed : &in->desired);
	fields_mask_describe(out->drift_mask, names, sizeof(names));
	if (in->has_ticket && in->policy == SWEEPPLAN_POLICY_REASSERT) {
		out->drift = SWEEPPLAN_DRIFT_REASSERT;
		sweep_reason(out, "%s changed in ExtraHop since the last push: reasserted", names);
	} else {
		out->drift = SWEEPPLAN_DRIFT_REPORT;
		sweep_reason(out, "%s changed in ExtraHop since the last push: reported%s", names,
		    in->has_ticket ? "" : " (no ticket names the detection)");
	}
}
