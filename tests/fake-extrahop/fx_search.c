/* fx_search: detection search with ExtraHop's filter, time, sort and paging rules. */
#include "fx_search.h"

#include "fc_json.h"

#include <stdlib.h>
#include <string.h>

#define FX_SEARCH_MAX_SORT 8

enum fx_search_field {
	FX_F_ID, FX_F_MOD_TIME, FX_F_START_TIME, FX_F_END_TIME, FX_F_UPDATE_TIME,
	FX_F_CREATE_TIME, FX_F_RISK_SCORE, FX_F_STATUS, FX_F_ASSIGNEE, FX_F_TICKET_ID,
	FX_F_RESOLUTION, FX_F_TITLE, FX_F_TYPE,
};

static const char *const fx_search_fields[] = {
	"id", "mod_time", "start_time", "end_time", "update_time", "create_time",
	"risk_score", "status", "assignee", "ticket_id", "resolution", "title", "type", NULL,
};

/* The string filter lists, in filter-key order. */
enum { FX_L_STATUS, FX_L_ASSIGNEE, FX_L_TICKET_ID, FX_L_RESOLUTION, FX_L_CATEGORIES,
	FX_L_TYPES, FX_L_COUNT };
static const char *const fx_search_lists[] = {
	"status", "assignee", "ticket_id", "resolution", "categories", "types",
};

struct fx_search_sort {
	enum fx_search_field field;
	int dir; /* 1 asc, -1 desc */
};

struct fx_search_query {
	bson_t body;
	bool has_list[FX_L_COUNT];
	/* Raw BSON arrays (bson_iter_t is too strictly aligned to keep in an array). */
	const uint8_t *list[FX_L_COUNT];
	uint32_t list_len[FX_L_COUNT];
	bool has_risk_min, has_from, has_until, has_mod_time;
	int64_t risk_min, from, until, mod_time;
	int64_t limit, offset;
	struct fx_search_sort sort[FX_SEARCH_MAX_SORT];
	size_t nsort;
	bool id_only;
};

static int
fx_search_time(bson_iter_t *it, const char *key, int64_t now_ms, int64_t *out,
    bson_error_t *error)
{
	if (!fc_json_int64(it, out)) {
		bson_set_error(error, 6, 1, "%s must be an integer (epoch ms, or negative ms "
		    "relative to now)", key);
		return -1;
	}
	if (*out < 0)
		*out += now_ms;
	return 0;
}

static int
fx_search_parse_filter(struct fx_search_query *q, bson_iter_t *fit, bson_error_t *error)
{
	bson_iter_t it, child;

	if (!BSON_ITER_HOLDS_DOCUMENT(fit) || !bson_iter_recurse(fit, &it)) {
		bson_set_error(error, 6, 2, "filter must be an object");
		return -1;
	}
	while (bson_iter_next(&it)) {
		const char *key = bson_iter_key(&it);
		size_t i;

		if (strcmp(key, "risk_score_min") == 0) {
			if (BSON_ITER_HOLDS_NULL(&it))
				continue;
			if (!fc_json_int64(&it, &q->risk_min)) {
				bson_set_error(error, 6, 3, "filter.risk_score_min must be an integer");
				return -1;
			}
			q->has_risk_min = true;
			continue;
		}
		for (i = 0; i < FX_L_COUNT; i++)
			if (strcmp(key, fx_search_lists[i]) == 0)
				break;
		if (i == FX_L_COUNT) {
			bson_set_error(error, 6, 4, "unknown filter field \"%.80s\"", key);
			return -1;
		}
		if (!BSON_ITER_HOLDS_ARRAY(&it) || !bson_iter_recurse(&it, &child)) {
			bson_set_error(error, 6, 5, "filter.%s must be an array of strings", key);
			return -1;
		}
		while (bson_iter_next(&child)) {
			if (!BSON_ITER_HOLDS_UTF8(&child)) {
				bson_set_error(error, 6, 5, "filter.%s must be an array of strings", key);
				return -1;
			}
		}
		q->has_list[i] = true;
		bson_iter_array(&it, &q->list_len[i], &q->list[i]);
	}
	return 0;
}

static int
fx_search_parse_sort(struct fx_search_query *q, bson_iter_t *sit, bson_error_t *error)
{
	bson_iter_t arr, item;

	if (!BSON_ITER_HOLDS_ARRAY(sit) || !bson_iter_recurse(sit, &arr)) {
		bson_set_error(error, 6, 6, "sort must be an array of {field, direction}");
		return -1;
	}
	while (bson_iter_next(&arr)) {
		const char *field = NULL, *dir = "asc";
		struct fx_search_sort *s;
		size_t i;

		if (!BSON_ITER_HOLDS_DOCUMENT(&arr) || !bson_iter_recurse(&arr, &item)) {
			bson_set_error(error, 6, 6, "sort must be an array of {field, direction}");
			return -1;
		}
		while (bson_iter_next(&item)) {
			const char *k = bson_iter_key(&item);
			if (strcmp(k, "field") == 0 && BSON_ITER_HOLDS_UTF8(&item))
				field = bson_iter_utf8(&item, NULL);
			else if (strcmp(k, "direction") == 0 && BSON_ITER_HOLDS_UTF8(&item))
				dir = bson_iter_utf8(&item, NULL);
			else {
				bson_set_error(error, 6, 7, "sort entries take a string field and "
				    "direction, not \"%.40s\"", k);
				return -1;
			}
		}
		if (field == NULL) {
			bson_set_error(error, 6, 8, "sort entry without field");
			return -1;
		}
		for (i = 0; fx_search_fields[i] != NULL; i++)
			if (strcmp(field, fx_search_fields[i]) == 0)
				break;
		if (fx_search_fields[i] == NULL) {
			bson_set_error(error, 6, 9, "cannot sort by \"%.40s\"", field);
			return -1;
		}
		if (strcmp(dir, "asc") != 0 && strcmp(dir, "desc") != 0) {
			bson_set_error(error, 6, 10, "sort direction must be \"asc\" or \"desc\"");
			return -1;
		}
		if (q->nsort == FX_SEARCH_MAX_SORT) {
			bson_set_error(error, 6, 11, "at most %d sort keys", FX_SEARCH_MAX_SORT);
			return -1;
		}
		s = &q->sort[q->nsort++];
		s->field = (enum fx_search_field)i;
		s->dir = strcmp(dir, "asc") == 0 ? 1 : -1;
	}
	return 0;
}

static int
fx_search_parse(struct fx_search_query *q, const char *body, size_t len, int64_t now_ms,
    bson_error_t *error)
{
	bson_iter_t it;
	const char *p = body, *end = body + len;

	q->limit = 1000;
	while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
		p++;
	if (p == end) { /* no body: everything, default paging */
		bson_init(&q->body);
		return 0;
	}
	if (fc_json_parse_object(body, len, &q->body, error) != 0)
		return -1;
	if (!bson_iter_init(&it, &q->body))
		return -1;
	while (bson_iter_next(&it)) {
		const char *key = bson_iter_key(&it);

		if (strcmp(key, "filter") == 0) {
			if (fx_search_parse_filter(q, &it, error))
				return -1;
		} else if (strcmp(key, "from") == 0) {
			if (fx_search_time(&it, key, now_ms, &q->from, error))
				return -1;
			q->has_from = true;
		} else if (strcmp(key, "until") == 0) {
			if (fx_search_time(&it, key, now_ms, &q->until, error))
				return -1;
			q->has_until = true;
		} else if (strcmp(key, "mod_time") == 0) {
			if (fx_search_time(&it, key, now_ms, &q->mod_time, error))
				return -1;
			q->has_mod_time = true;
		} else if (strcmp(key, "limit") == 0) {
			if (!fc_json_int64(&it, &q->limit) || q->limit < 1 || q->limit > 20000) {
				bson_set_error(error, 6, 12, "limit must be an integer 1..20000");
				return -1;
			}
		} else if (strcmp(key, "offset") == 0) {
			if (!fc_json_int64(&it, &q->offset) || q->offset < 0) {
				bson_set_error(error, 6, 13, "offset must be an integer >= 0");
				return -1;
			}
		} else if (strcmp(key, "sort") == 0) {
			if (fx_search_parse_sort(q, &it, error))
				return -1;
		} else if (strcmp(key, "id_only") == 0) {
			if (!BSON_ITER_HOLDS_BOOL(&it)) {
				bson_set_error(error, 6, 14, "id_only must be true or false");
				return -1;
			}
			q->id_only = bson_iter_bool(&it);
		} else {
			bson_set_error(error, 6, 15, "unknown search field \"%.80s\"", key);
			return -1;
		}
	}
	return 0;
}

/* Does v (NULL = null) appear in the list? ".none" stands for null. */
static bool
fx_search_in_list(const uint8_t *data, uint32_t len, const char *v)
{
	bson_iter_t child;

	if (!bson_iter_init_from_data(&child, data, len))
		return false;
	while (bson_iter_next(&child)) {
		const char *want = bson_iter_utf8(&child, NULL);
		if (v == NULL ? strcmp(want, ".none") == 0 : strcmp(want, v) == 0)
			return true;
	}
	return false;
}

static bool
fx_search_match(const struct fx_search_query *q, const fx_detection_t *d)
{
	const char *fields[] = { d->status, d->assignee, d->ticket_id, d->resolution };

	for (size_t i = 0; i <= FX_L_RESOLUTION; i++)
		if (q->has_list[i] && !fx_search_in_list(q->list[i], q->list_len[i], fields[i]))
			return false;
	if (q->has_list[FX_L_TYPES] &&
	    !fx_search_in_list(q->list[FX_L_TYPES], q->list_len[FX_L_TYPES], d->type))
		return false;
	if (q->has_list[FX_L_CATEGORIES]) {
		bson_iter_t child;
		bool any = false;

		if (bson_iter_init_from_data(&child, q->list[FX_L_CATEGORIES],
			q->list_len[FX_L_CATEGORIES]))
			while (!any && bson_iter_next(&child))
				any = fx_store_has_category(d, bson_iter_utf8(&child, NULL));
		if (!any)
			return false;
	}
	if (q->has_risk_min && (!d->has_risk_score || d->risk_score < q->risk_min))
		return false;
	if (q->has_from && d->end_time < q->from)
		return false;
	if (q->has_until && d->start_time > q->until)
		return false;
	if (q->has_mod_time && d->mod_time < q->mod_time)
		return false;
	return true;
}

/* Nulls sort first ascending, as absent values do in most stores. */
static int
fx_search_cmp_str(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return (a != NULL) - (b != NULL);
	return strcmp(a, b);
}

static int
fx_search_cmp_int(int64_t a, int64_t b)
{
	return (a > b) - (a < b);
}

static int
fx_search_cmp_field(const fx_detection_t *a, const fx_detection_t *b, enum fx_search_field f)
{
	switch (f) {
	case FX_F_ID: return fx_search_cmp_int(a->id, b->id);
	case FX_F_MOD_TIME: return fx_search_cmp_int(a->mod_time, b->mod_time);
	case FX_F_START_TIME: return fx_search_cmp_int(a->start_time, b->start_time);
	case FX_F_END_TIME: return fx_search_cmp_int(a->end_time, b->end_time);
	case FX_F_UPDATE_TIME: return fx_search_cmp_int(a->update_time, b->update_time);
	case FX_F_CREATE_TIME:
		if (!a->has_create_time || !b->has_create_time)
			return a->has_create_time - b->has_create_time;
		return fx_search_cmp_int(a->create_time, b->create_time);
	case FX_F_RISK_SCORE:
		if (!a->has_risk_score || !b->has_risk_score)
			return a->has_risk_score - b->has_risk_score;
		return fx_search_cmp_int(a->risk_score, b->risk_score);
	case FX_F_STATUS: return fx_search_cmp_str(a->status, b->status);
	case FX_F_ASSIGNEE: return fx_search_cmp_str(a->assignee, b->assignee);
	case FX_F_TICKET_ID: return fx_search_cmp_str(a->ticket_id, b->ticket_id);
	case FX_F_RESOLUTION: return fx_search_cmp_str(a->resolution, b->resolution);
	case FX_F_TITLE: return fx_search_cmp_str(a->title, b->title);
	case FX_F_TYPE: return fx_search_cmp_str(a->type, b->type);
	}
	return 0;
}

static int
fx_search_cmp(const void *pa, const void *pb, void *arg)
{
	const struct fx_search_query *q = arg;
	const fx_detection_t *a = *(fx_detection_t *const *)pa;
	const fx_detection_t *b = *(fx_detection_t *const *)pb;

	for (size_t i = 0; i < q->nsort; i++) {
		int c = fx_search_cmp_field(a, b, q->sort[i].field);
		if (c != 0)
			return c * q->sort[i].dir;
	}
	if (a->id != b->id)
		return fx_search_cmp_int(a->id, b->id);
	/* Raw search records after detections with their id, in the order added. */
	if (a->raw != b->raw)
		return (int)a->raw - (int)b->raw;
	return fx_search_cmp_int(a->raw_seq, b->raw_seq);
}

struct fx_search_collect {
	const struct fx_search_query *q;
	fx_detection_t **items;
	size_t n, cap;
	bool oom;
};

static void
fx_search_collect_one(fx_detection_t *d, void *arg)
{
	struct fx_search_collect *c = arg;

	if (c->oom || !fx_search_match(c->q, d))
		return;
	if (c->n == c->cap) {
		size_t ncap = c->cap ? c->cap * 2 : 256;
		fx_detection_t **n = realloc(c->items, ncap * sizeof(*n));
		if (n == NULL) {
			c->oom = true;
			return;
		}
		c->items = n;
		c->cap = ncap;
	}
	c->items[c->n++] = d;
}

int
fx_search_run(fx_store_t *s, const char *body, size_t len, int64_t now_ms,
    fx_search_result_t *res, bson_error_t *error)
{
	struct fx_search_query q;
	struct fx_search_collect c = { 0 };
	size_t start, n;
	int rc = -1;

	memset(res, 0, sizeof(*res));
	memset(&q, 0, sizeof(q));
	if (fx_search_parse(&q, body, len, now_ms, error) != 0)
		goto cleanup;
	c.q = &q;
	fx_store_foreach(s, fx_search_collect_one, &c);
	fx_store_foreach_raw(s, fx_search_collect_one, &c);
	if (c.oom) {
		bson_set_error(error, 6, 16, "out of memory");
		goto cleanup;
	}
	if (c.n > 1)
		qsort_r(c.items, c.n, sizeof(*c.items), fx_search_cmp, &q);
	start = (size_t)q.offset < c.n ? (size_t)q.offset : c.n;
	n = c.n - start < (size_t)q.limit ? c.n - start : (size_t)q.limit;
	if (start > 0 && n > 0)
		memmove(c.items, c.items + start, n * sizeof(*c.items));
	res->items = c.items;
	res->n = n;
	res->total_matched = c.n;
	res->id_only = q.id_only;
	c.items = NULL;
	rc = 0;
cleanup:
	free(c.items);
	bson_destroy(&q.body);
	return rc;
}

void
fx_search_result_free(fx_search_result_t *res)
{
	free(res->items);
	memset(res, 0, sizeof(*res));
}
