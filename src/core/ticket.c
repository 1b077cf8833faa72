/* ticket: validate a `tickets` document; see ticket.h. */
#include "ticketsync/ticket.h"

#include <stdlib.h>
#include <string.h>

#include "ticketsync/detection.h"
#include "ticketsync/fields.h"
#include "ticketsync/statusmap.h"
#include "ticketsync/xalloc.h"

static int
ticket_fail(bson_error_t *err, const char *id, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int
ticket_fail(bson_error_t *err, const char *id, const char *field, const char *fmt, ...)
{
	char why[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	/* id is NULL until _id has passed: an error before that is about the id. */
	if (id != NULL)
		bson_set_error(err, ERROR_DOMAIN, TICKET_ERR_INVALID,
		    "ticket %s: %s %s", id, field, why);
	else
		bson_set_error(err, ERROR_DOMAIN, TICKET_ERR_ID, "ticket: %s %s", field, why);
	return -1;
}

/* Copy a string-or-null field of at most max bytes (NULL for null). */
static int
ticket_string(const bson_iter_t *it, const char *id, const char *field, size_t max, char **out,
              bson_error_t *err)
{
	uint32_t len;
	const char *s;

	*out = NULL;
	if (BSON_ITER_HOLDS_NULL(it))
		return 0;
	if (!BSON_ITER_HOLDS_UTF8(it))
		return ticket_fail(err, id, field, "must be a string or null, got %s",
		    detection_type_name(bson_iter_type(it)));
	s = bson_iter_utf8(it, &len);
	if (len > max)
		return ticket_fail(err, id, field, "is longer than %zu bytes (%" PRIu32 ")", max, len);
	if (!bson_utf8_validate(s, len, false))
		return ticket_fail(err, id, field, "is not valid UTF-8");
	*out = xstrdup(s);
	return 0;
}

/* A detection id written as decimal digits only ("12", not "+12", " 12" or "1e3"). */
static int
ticket_id_from_digits(const char *s, uint32_t len, int64_t *out)
{
	int64_t v = 0;

	if (len == 0 || len > 16)
		return -1;
	for (uint32_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	if (v < 1 || v > DETECTION_ID_MAX)
		return -1;
	*out = v;
	return 0;
}

static int
ticket_cmp_id(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

static int
ticket_detection_ids(const bson_iter_t *it, ticket_t *t, bson_error_t *err)
{
	bson_iter_t child;
	uint32_t count = 0;
	size_t n = 0, u = 0;

	if (BSON_ITER_HOLDS_NULL(it))
		return 0;
	if (!BSON_ITER_HOLDS_ARRAY(it))
		return ticket_fail(err, t->id, "detection_ids", "must be an array or null, got %s",
		    detection_type_name(bson_iter_type(it)));
	if (!bson_iter_recurse(it, &child))
		return ticket_fail(err, t->id, "detection_ids", "is a corrupt array");
	while (bson_iter_next(&child))
		count++;
	if (count > TICKET_DETECTION_IDS_MAX)
		return ticket_fail(err, t->id, "detection_ids", "has %" PRIu32 " items, at most %d allowed",
		    count, TICKET_DETECTION_IDS_MAX);
	if (count == 0)
		return 0;
	t->detection_ids = xcalloc(count, sizeof(int64_t));
	bson_iter_recurse(it, &child);
	while (bson_iter_next(&child) && n < count) {
		char why[128], field[48];
		int64_t v;

		snprintf(field, sizeof(field), "detection_ids[%zu]", n);
		if (BSON_ITER_HOLDS_UTF8(&child)) {
			uint32_t len;
			const char *s = bson_iter_utf8(&child, &len);

			if (ticket_id_from_digits(s, len, &v) != 0)
				return ticket_fail(err, t->id, field,
				    "must be a detection id (decimal digits, 1 to 2^53), got \"%.40s\"",
				    bson_utf8_validate(s, len, false) ? s : "(invalid UTF-8)");
		} else if (detection_id_from_iter(&child, &v, why, sizeof(why)) != 0) {
			return ticket_fail(err, t->id, field, "%s", why);
		}
		t->detection_ids[n++] = v;
	}
	/* Sorted and unique: duplicates are harmless input, and lookups can bisect. */
	qsort(t->detection_ids, n, sizeof(int64_t), ticket_cmp_id);
	for (size_t i = 0; i < n; i++) {
		if (u == 0 || t->detection_ids[u - 1] != t->detection_ids[i])
			t->detection_ids[u++] = t->detection_ids[i];
	}
	t->n_detection_ids = u;
	return 0;
}

static int
ticket_updated_at(const bson_iter_t *it, ticket_t *t, bson_error_t *err)
{
	char why[128];

	t->updated_at = 0;
	if (BSON_ITER_HOLDS_NULL(it))
		return 0;
	if (BSON_ITER_HOLDS_DATE_TIME(it)) {
		t->updated_at = bson_iter_date_time(it);
		if (t->updated_at < 0)
			return ticket_fail(err, t->id, "updated_at", "is before 1970");
		return 0;
	}
	if (!BSON_ITER_HOLDS_NUMBER(it))
		return ticket_fail(err, t->id, "updated_at", "must be a date or epoch ms, got %s",
		    detection_type_name(bson_iter_type(it)));
	if (detection_time_from_iter(it, &t->updated_at, why, sizeof(why)) != 0)
		return ticket_fail(err, t->id, "updated_at", "(epoch ms) %s", why);
	return 0;
}

int
ticket_parse(const bson_t *doc, ticket_t *out, bson_error_t *err)
{
	bson_iter_t it;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (!bson_iter_init_find(&it, doc, "_id")) {
		bson_set_error(err, ERROR_DOMAIN, TICKET_ERR_ID, "ticket: _id is missing");
		return -1;
	}
	if (!BSON_ITER_HOLDS_UTF8(&it)) {
		bson_set_error(err, ERROR_DOMAIN, TICKET_ERR_ID,
		    "ticket: _id must be a string (the ticket id), got %s",
		    detection_type_name(bson_iter_type(&it)));
		return -1;
	}
	if (ticket_string(&it, NULL, "_id", FIELDS_TICKET_ID_MAX, &out->id, err) != 0)
		goto cleanup;
	if (out->id[0] == '\0') {
		ticket_fail(err, NULL, "_id", "is empty");
		goto cleanup;
	}

	if (!bson_iter_init(&it, doc)) {
		ticket_fail(err, out->id, "document", "is corrupt");
		goto cleanup;
	}
	while (bson_iter_next(&it)) {
		const char *key = bson_iter_key(&it);
		int r = 0;

		if (strcmp(key, "detection_ids") == 0) {
			free(out->detection_ids);
			out->detection_ids = NULL;
			out->n_detection_ids = 0;
			r = ticket_detection_ids(&it, out, err);
		} else if (strcmp(key, "status") == 0) {
			free(out->status);
			r = ticket_string(&it, out->id, key, STATUSMAP_NAME_MAX, &out->status, err);
		} else if (strcmp(key, "status_category") == 0) {
			free(out->status_category);
			r = ticket_string(&it, out->id, key, STATUSMAP_NAME_MAX, &out->status_category,
			    err);
		} else if (strcmp(key, "assignee") == 0) {
			free(out->assignee);
			r = ticket_string(&it, out->id, key, FIELDS_ASSIGNEE_MAX, &out->assignee, err);
		} else if (strcmp(key, "resolution") == 0) {
			free(out->resolution);
			r = ticket_string(&it, out->id, key, STATUSMAP_NAME_MAX, &out->resolution, err);
		} else if (strcmp(key, "updated_at") == 0) {
			r = ticket_updated_at(&it, out, err);
		} else if (strcmp(key, "source") == 0) {
			free(out->source);
			r = ticket_string(&it, out->id, key, TICKET_SOURCE_MAX, &out->source, err);
		}
		if (r != 0)
			goto cleanup;
	}
	if (it.err_off != 0) {
		ticket_fail(err, out->id, "document", "is corrupt at byte %" PRIu32, it.err_off);
		goto cleanup;
	}
	rc = 0;
cleanup:
	if (rc != 0)
		ticket_cleanup(out);
	return rc;
}

bool
ticket_has_detection(const ticket_t *t, int64_t detection_id)
{
	return t->n_detection_ids > 0 &&
	       bsearch(&detection_id, t->detection_ids, t->n_detection_ids, sizeof(int64_t),
	           ticket_cmp_id) != NULL;
}

void
ticket_cleanup(ticket_t *t)
{
	if (t == NULL)
		return;
	free(t->id);
	free(t->detection_ids);
	free(t->status);
	free(t->status_category);
	free(t->assignee);
	free(t->resolution);
	free(t->source);
	memset(t, 0, sizeof(*t));
}

void
ticket_destroy(ticket_t *t)
{
	ticket_cleanup(t);
	free(t);
}
