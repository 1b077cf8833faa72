/* ft_snow: the ServiceNow Table API endpoints of the fake. */
#include "ft_snow.h"

#include "fc_json.h"
#include "ft_snq.h"
#include "ticketsync/clock.h"
#include "ticketsync/xalloc.h"

#include <event2/keyvalq_struct.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#define FT_SNOW_TABLE_PREFIX "/api/now/table/"
#define FT_SNOW_DEFAULT_LIMIT 10000

/* The incident fields the fake stores; anything else sent is ignored, as on a real
 * instance. Journals (work_notes, comments) are kept as entry lists, not here. */
static const char *const ft_snow_fields[] = {
	"sys_id", "number", "state", "incident_state", "short_description", "description",
	"correlation_id", "correlation_display", "assignment_group", "assigned_to",
	"caller_id", "urgency", "impact", "priority", "severity", "category", "subcategory",
	"contact_type", "cmdb_ci", "business_service", "close_code", "close_notes",
	"resolved_by", "active", "opened_at", "opened_by", "resolved_at", "closed_at",
	"sys_created_on", "sys_created_by", "sys_updated_on", "sys_updated_by", "sys_mod_count",
	"work_notes", "comments", NULL,
};

/* Set by the system, never by a request. */
static bool
ft_snow_readonly(const char *f)
{
	return strcmp(f, "sys_id") == 0 || strcmp(f, "number") == 0 ||
	    strncmp(f, "sys_", 4) == 0 || strcmp(f, "priority") == 0;
}

static bool
ft_snow_is_time(const char *f)
{
	return strcmp(f, "sys_created_on") == 0 || strcmp(f, "sys_updated_on") == 0 ||
	    strcmp(f, "opened_at") == 0 || strcmp(f, "resolved_at") == 0 ||
	    strcmp(f, "closed_at") == 0;
}

static bool
ft_snow_known(const char *field, bool *is_time)
{
	for (size_t i = 0; ft_snow_fields[i] != NULL; i++)
		if (strcmp(ft_snow_fields[i], field) == 0) {
			*is_time = ft_snow_is_time(field);
			return true;
		}
	return false;
}

const char *
ft_snow_get(const ft_ticket_t *t, const char *field)
{
	bson_iter_t it;

	if (bson_iter_init_find(&it, t->fields, field) && BSON_ITER_HOLDS_UTF8(&it))
		return bson_iter_utf8(&it, NULL);
	return "";
}

static const char *
ft_snow_get_rec(const void *rec, const char *field)
{
	return ft_snow_get(rec, field);
}

static void
ft_snow_set(ft_ticket_t *t, const char *field, const char *value)
{
	bson_value_t v;

	v.value_type = BSON_TYPE_UTF8;
	v.value.v_utf8.str = (char *)value;
	v.value.v_utf8.len = (uint32_t)strlen(value);
	ft_ticket_set_field(t, field, &v);
}

/* ServiceNow's default priority lookup from impact and urgency (1 high .. 3 low). */
static void
ft_snow_priority(ft_ticket_t *t)
{
	int i = atoi(ft_snow_get(t, "impact")), u = atoi(ft_snow_get(t, "urgency"));
	char p[16];

	if (i < 1 || i > 3)
		i = 3;
	if (u < 1 || u > 3)
		u = 3;
	snprintf(p, sizeof(p), "%d", i + u - 1);
	ft_snow_set(t, "priority", p);
}

void
ft_snow_render(const ft_ticket_t *t, bson_t *out)
{
	for (size_t i = 0; ft_snow_fields[i] != NULL; i++)
		BSON_APPEND_UTF8(out, ft_snow_fields[i], ft_snow_get(t, ft_snow_fields[i]));
}

static void
ft_snow_render_fields(const ft_ticket_t *t, char *const *fields, size_t n, bson_t *out)
{
	bool is_time;

	if (n == 0) {
		ft_snow_render(t, out);
		return;
	}
	for (size_t i = 0; i < n; i++)
		if (ft_snow_known(fields[i], &is_time) && !bson_has_field(out, fields[i]))
			BSON_APPEND_UTF8(out, fields[i], ft_snow_get(t, fields[i]));
}

/* A request value as the string the Table API stores; false if it cannot be one. */
static bool
ft_snow_value(const bson_iter_t *it, char *buf, size_t len)
{
	int64_t n;
	double d;

	if (BSON_ITER_HOLDS_UTF8(it))
		bson_strncpy(buf, bson_iter_utf8(it, NULL), len);
	else if (BSON_ITER_HOLDS_NULL(it))
		buf[0] = '\0';
	else if (BSON_ITER_HOLDS_BOOL(it))
		bson_strncpy(buf, bson_iter_bool(it) ? "true" : "false", len);
	else if (fc_json_int64(it, &n))
		snprintf(buf, len, "%lld", (long long)n);
	else if (fc_json_double(it, &d))
		snprintf(buf, len, "%g", d);
	else
		return false;
	return true;
}

/*
 * Check a create/update body: 0 with nothing changed, or -1 and the 400 reply written.
 * A known field with an object or array value is refused; unknown fields are ignored.
 */
static int
ft_snow_check(const bson_t *doc, struct evbuffer *out)
{
	bson_iter_t it;
	char buf[8192], detail[300];
	bool is_time;

	bson_iter_init(&it, doc);
	while (bson_iter_next(&it)) {
		const char *k = bson_iter_key(&it);

		if (!ft_snow_known(k, &is_time) || ft_snow_readonly(k))
			continue;
		if (!ft_snow_value(&it, buf, sizeof(buf))) {
			snprintf(detail, sizeof(detail), "Field '%.60s' takes a string or a number",
			    k);
			ft_snow_error(out, 400, "Invalid value for a field", detail);
			return -1;
		}
		if ((strcmp(k, "urgency") == 0 || strcmp(k, "impact") == 0) &&
		    (strlen(buf) != 1 || buf[0] < '1' || buf[0] > '3')) {
			snprintf(detail, sizeof(detail), "%s must be 1, 2 or 3 (got \"%.40s\")", k, buf);
			ft_snow_error(out, 400, "Invalid value for field", detail);
			return -1;
		}
	}
	return 0;
}

static void
ft_snow_touch(ft_ctx_t *ctx, ft_ticket_t *t)
{
	char when[32], mods[24];
	int64_t now = clock_wall_ms();

	t->updated_ms = now > t->updated_ms ? now : t->updated_ms;
	ft_time_snow(t->updated_ms, when, sizeof(when));
	ft_snow_set(t, "sys_updated_on", when);
	ft_snow_set(t, "sys_updated_by", ctx->me ? ctx->me : "admin");
	snprintf(mods, sizeof(mods), "%lld", (long long)t->mod_count);
	ft_snow_set(t, "sys_mod_count", mods);
}

/* Apply a checked body: known writable fields set, journals appended. */
static void
ft_snow_apply(ft_ctx_t *ctx, ft_ticket_t *t, const bson_t *doc, int64_t now)
{
	bson_iter_t it;
	char buf[8192];
	bool is_time;

	bson_iter_init(&it, doc);
	while (bson_iter_next(&it)) {
		const char *k = bson_iter_key(&it);

		if (!ft_snow_known(k, &is_time) || ft_snow_readonly(k) ||
		    !ft_snow_value(&it, buf, sizeof(buf)))
			continue;
		if (strcmp(k, "work_notes") == 0 || strcmp(k, "comments") == 0) {
			/* A journal: each non-empty write is one more entry. */
			if (buf[0] != '\0') {
				if (k[0] == 'w')
					ft_store_add_entry(ctx->store, &t->work_notes, &t->nwork_notes, buf,
					    now);
				else
					ft_store_add_entry(ctx->store, &t->comments, &t->ncomments, buf,
					    now);
			}
			continue;
		}
		ft_snow_set(t, k, buf);
		if (strcmp(k, "state") == 0)
			ft_snow_set(t, "incident_state", buf);
	}
	ft_snow_priority(t);
}

static void
ft_snow_parse_fields(const struct evkeyvalq *q, char ***fields, size_t *n)
{
	const char *v = evhttp_find_header(q, "sysparm_fields");

	if (v != NULL)
		ft_list_add(fields, n, v);
}

static bool
ft_snow_table_ok(ft_ctx_t *ctx, const char *table)
{
	return ft_list_has(ctx->tables, ctx->ntables, table);
}

static int
ft_snow_create(ft_ctx_t *ctx, struct evhttp_request *req, const char *table,
    const struct evkeyvalq *q, const char *body, size_t len, struct evbuffer *out)
{
	bson_t doc, reply = BSON_INITIALIZER, result;
	bson_error_t error;
	ft_ticket_t *t;
	char **fields = NULL, when[32], buf[600];
	unsigned char raw[16];
	size_t nfields = 0;
	int status;
	int64_t now;

	bson_init(&doc);
	if (!ft_routes_write_allowed(ctx, req, out, &status))
		goto cleanup;
	bson_destroy(&doc);
	if (fc_json_parse_object(body, len, &doc, &error) != 0) {
		status = ft_snow_error(out, 400, "Exception while reading request",
		    "The payload is not valid JSON.");
		goto cleanup;
	}
	if (ft_snow_check(&doc, out) != 0) {
		status = 400;
		goto cleanup;
	}
	t = ft_store_add(ctx->store);
	bson_strncpy(t->project, table, sizeof(t->project));
	snprintf(t->key, sizeof(t->key), "INC%07lld",
	    (long long)(10000 + ft_store_next_number(ctx->store, table)));
	if (RAND_bytes(raw, sizeof(raw)) != 1)
		memset(raw, 0x42, sizeof(raw));
	ft_hex(raw, sizeof(raw), t->sys_id);
	now = clock_wall_ms();
	t->created_ms = t->updated_ms = now;
	ft_time_snow(now, when, sizeof(when));
	ft_snow_set(t, "sys_id", t->sys_id);
	ft_snow_set(t, "number", t->key);
	ft_snow_set(t, "state", "1");
	ft_snow_set(t, "incident_state", "1");
	ft_snow_set(t, "urgency", "3");
	ft_snow_set(t, "impact", "3");
	ft_snow_set(t, "active", "true");
	ft_snow_set(t, "opened_at", when);
	ft_snow_set(t, "sys_created_on", when);
	ft_snow_set(t, "sys_created_by", ctx->me ? ctx->me : "admin");
	ft_snow_apply(ctx, t, &doc, now);
	ft_snow_touch(ctx, t);
	ctx->creates++;
	snprintf(buf, sizeof(buf), "%s%s%s/%s", ctx->base_url, FT_SNOW_TABLE_PREFIX, table,
	    t->sys_id);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Location", buf);
	ft_snow_parse_fields(q, &fields, &nfields);
	bson_append_document_begin(&reply, "result", -1, &result);
	ft_snow_render_fields(t, fields, nfields, &result);
	bson_append_document_end(&reply, &result);
	fc_json_add(out, &reply);
	status = 201;
cleanup:
	ft_list_free(fields, nfields);
	bson_destroy(&doc);
	bson_destroy(&reply);
	return status;
}

typedef struct ft_snow_sort {
	const ft_snq_t *q;
} ft_snow_sort_t;

static int
ft_snow_cmp(const void *a, const void *b, void *arg)
{
	const ft_snq_t *q = arg;
	const ft_ticket_t *x = *(ft_ticket_t *const *)a, *y = *(ft_ticket_t *const *)b;
	int c = ft_snq_compare(q, ft_snow_get_rec, x, y);

	/* Without an order (or on ties) records come in creation order. */
	return c != 0 ? c : (x->id < y->id ? -1 : x->id > y->id);
}

static bool
ft_snow_int_param(const struct evkeyvalq *q, const char *key, int64_t dflt, int64_t *out)
{
	const char *v = evhttp_find_header(q, key);
	char *end;

	*out = dflt;
	if (v == NULL)
		return true;
	*out = strtoll(v, &end, 10);
	return *v != '\0' && *end == '\0' && *out >= 0;
}

static int
ft_snow_list(ft_ctx_t *ctx, struct evhttp_request *req, const struct evkeyvalq *q,
    struct evbuffer *out)
{
	bson_t reply = BSON_INITIALIZER, arr;
	ft_snq_t sq;
	ft_ticket_t **hits;
	char **fields = NULL, total[24], key[24];
	size_t nfields = 0, nhits = 0, n = 0;
	int64_t limit, offset;

	if (!ft_snow_int_param(q, "sysparm_limit", FT_SNOW_DEFAULT_LIMIT, &limit) ||
	    !ft_snow_int_param(q, "sysparm_offset", 0, &offset)) {
		bson_destroy(&reply);
		return ft_snow_error(out, 400, "Invalid parameter",
		    "sysparm_limit and sysparm_offset must be non-negative integers");
	}
	if (limit == 0)
		limit = FT_SNOW_DEFAULT_LIMIT;
	ft_snq_parse(evhttp_find_header(q, "sysparm_query"), ft_snow_known, &sq);
	hits = xcalloc(ft_store_count(ctx->store) + 1, sizeof(*hits));
	/* The pitfall: invalid parts are dropped (so the rest may match every row) unless
	 * glide.invalid_query.returns_no_rows is on. */
	if (!(sq.invalid > 0 && ctx->invalid_query_returns_no_rows))
		for (size_t i = 0; i < ft_store_count(ctx->store); i++) {
			ft_ticket_t *t = ft_store_at(ctx->store, i);
			if (ft_snq_match(&sq, ft_snow_get_rec, t))
				hits[nhits++] = t;
		}
	qsort_r(hits, nhits, sizeof(*hits), ft_snow_cmp, &sq);
	ft_snow_parse_fields(q, &fields, &nfields);
	bson_append_array_begin(&reply, "result", -1, &arr);
	for (size_t i = (size_t)offset; i < nhits && n < (size_t)limit; i++, n++) {
		bson_t item;
		snprintf(key, sizeof(key), "%zu", n);
		bson_append_document_begin(&arr, key, -1, &item);
		ft_snow_render_fields(hits[i], fields, nfields, &item);
		bson_append_document_end(&arr, &item);
	}
	bson_append_array_end(&reply, &arr);
	snprintf(total, sizeof(total), "%zu", nhits);
	evhttp_add_header(evhttp_request_get_output_headers(req), "X-Total-Count", total);
	fc_json_add(out, &reply);
	ft_list_free(fields, nfields);
	ft_snq_free(&sq);
	free(hits);
	bson_destroy(&reply);
	return 200;
}

static int
ft_snow_not_found(struct evbuffer *out)
{
	return ft_snow_error(out, 404, "No Record found",
	    "Record doesn't exist or ACL restricts the record retrieval");
}

static int
ft_snow_record(ft_ctx_t *ctx, struct evhttp_request *req, const char *method,
    ft_ticket_t *t, const struct evkeyvalq *q, const char *body, size_t len,
    struct evbuffer *out)
{
	bson_t doc, reply = BSON_INITIALIZER, result;
	bson_error_t error;
	char **fields = NULL;
	size_t nfields = 0;
	int status;

	bson_init(&doc);
	if (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0) {
		if (t == NULL) {
			status = ft_snow_not_found(out);
			goto cleanup;
		}
	} else if (strcmp(method, "PATCH") == 0 || strcmp(method, "PUT") == 0) {
		if (!ft_routes_write_allowed(ctx, req, out, &status))
			goto cleanup;
		if (t == NULL) {
			status = ft_snow_not_found(out);
			goto cleanup;
		}
		bson_destroy(&doc);
		if (fc_json_parse_object(body, len, &doc, &error) != 0) {
			status = ft_snow_error(out, 400, "Exception while reading request",
			    "The payload is not valid JSON.");
			goto cleanup;
		}
		if (ft_snow_check(&doc, out) != 0) {
			status = 400;
			goto cleanup;
		}
		t->mod_count++;
		ft_snow_apply(ctx, t, &doc, clock_wall_ms());
		ft_snow_touch(ctx, t);
	} else if (strcmp(method, "DELETE") == 0) {
		if (!ft_routes_write_allowed(ctx, req, out, &status))
			goto cleanup;
		status = ft_snow_error(out, 403, "Operation Failed",
		    "The fake does not delete records (tickets are evidence)");
		goto cleanup;
	} else {
		status = ft_routes_bad_method(ctx, req, out, "GET, PUT, PATCH, DELETE");
		goto cleanup;
	}
	ft_snow_parse_fields(q, &fields, &nfields);
	bson_append_document_begin(&reply, "result", -1, &result);
	ft_snow_render_fields(t, fields, nfields, &result);
	bson_append_document_end(&reply, &result);
	fc_json_add(out, &reply);
	status = 200;
cleanup:
	ft_list_free(fields, nfields);
	bson_destroy(&doc);
	bson_destroy(&reply);
	return status;
}

int
ft_snow_handle(ft_ctx_t *ctx, struct evhttp_request *req, const char *method,
    const char *path, const char *query, const char *body, size_t len,
    struct evbuffer *out)
{
	const char *rest, *slash;
	char table[64], detail[160];
	struct evkeyvalq q;
	int status;

	if (strncmp(path, FT_SNOW_TABLE_PREFIX, strlen(FT_SNOW_TABLE_PREFIX)) != 0)
		return ft_snow_error(out, 400, "Requested URI does not represent any resource",
		    NULL);
	rest = path + strlen(FT_SNOW_TABLE_PREFIX);
	slash = strchr(rest, '/');
	snprintf(table, sizeof(table), "%.*s", (int)(slash ? (size_t)(slash - rest)
	    : strlen(rest)), rest);
	if (!ft_snow_table_ok(ctx, table)) {
		snprintf(detail, sizeof(detail), "Invalid table %.60s", table);
		return ft_snow_error(out, 400, detail, NULL);
	}
	TAILQ_INIT(&q);
	if (query != NULL && evhttp_parse_query_str(query, &q) != 0) {
		evhttp_clear_headers(&q);
		return ft_snow_error(out, 400, "Invalid query string", NULL);
	}
	if (slash == NULL || slash[1] == '\0') {
		if (strcmp(method, "POST") == 0)
			status = ft_snow_create(ctx, req, table, &q, body, len, out);
		else if (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0)
			status = ft_snow_list(ctx, req, &q, out);
		else
			status = ft_routes_bad_method(ctx, req, out, "GET, POST");
	} else {
		ft_ticket_t *t = ft_store_find(ctx->store, slash + 1);

		/* Only by sys_id, and only within the table. */
		if (t != NULL && (strcmp(t->sys_id, slash + 1) != 0 || strcmp(t->project, table) != 0))
			t = NULL;
		status = ft_snow_record(ctx, req, method, t, &q, body, len, out);
	}
	evhttp_clear_headers(&q);
	return status;
}

int
ft_snow_transition(ft_ctx_t *ctx, ft_ticket_t *t, const bson_t *body, char *err,
    size_t errlen)
{
	struct evbuffer *out = evbuffer_new();

	if (out == NULL) {
		snprintf(err, errlen, "evbuffer_new failed");
		return -1;
	}
	if (ft_snow_check(body, out) != 0) {
		size_t n = evbuffer_get_length(out);
		snprintf(err, errlen, "%.*s", (int)(n < errlen ? n : errlen - 1),
		    (const char *)evbuffer_pullup(out, -1));
		evbuffer_free(out);
		return -1;
	}
	evbuffer_free(out);
	t->mod_count++;
	ft_snow_apply(ctx, t, body, clock_wall_ms());
	ft_snow_touch(ctx, t);
	return 0;
}
