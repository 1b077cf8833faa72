/* webhook: ticket system webhook bodies -> ticket_t; see webhook.h. */
#include "ticketsync/webhook.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ticketsync/detection.h"
#include "ticketsync/fields.h"
#include "ticketsync/jsonerr.h"
#include "ticketsync/statusmap.h"
#include "ticketsync/timefmt.h"
#include "ticketsync/xalloc.h"

#define WEBHOOK_DEFAULT_JIRA_FIELD "summary"
#define WEBHOOK_DEFAULT_LABEL_PREFIX "extrahop-detection-"
#define WEBHOOK_DEFAULT_SNOW_FIELD "correlation_id"

/* One body being parsed: where the reason goes, and the detection ids found so far. */
typedef struct wh {
	char *why;
	size_t whylen;
	int64_t *ids;
	size_t nids, capids;
} wh_t;

const char *
webhook_source_name(enum webhook_source s)
{
	switch (s) {
	case WEBHOOK_JIRA: return "jira";
	case WEBHOOK_SERVICENOW: return "servicenow";
	case WEBHOOK_GENERIC: return "generic";
	}
	return "unknown";
}

const char *
webhook_source_tag(enum webhook_source s)
{
	switch (s) {
	case WEBHOOK_JIRA: return "jira-webhook";
	case WEBHOOK_SERVICENOW: return "servicenow-webhook";
	case WEBHOOK_GENERIC: return "generic-webhook";
	}
	return "webhook";
}

const char *
webhook_result_name(enum webhook_result r)
{
	switch (r) {
	case WEBHOOK_OK: return "ok";
	case WEBHOOK_IGNORED: return "ignored";
	case WEBHOOK_MALFORMED: return "malformed";
	case WEBHOOK_INVALID: return "invalid";
	}
	return "unknown";
}

static int
wh_fail(wh_t *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Record why the payload is unusable; always -1 so callers can return it. */
static int
wh_fail(wh_t *w, const char *fmt, ...)
{
	va_list ap;

	if (w->whylen > 0) {
		va_start(ap, fmt);
		vsnprintf(w->why, w->whylen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

/* The value at a dotted path ("issue.fields.status.name"); false when absent. */
static bool
wh_find(const bson_t *doc, const char *path, bson_iter_t *out)
{
	bson_iter_t it;

	return bson_iter_init(&it, doc) && bson_iter_find_descendant(&it, path, out);
}

static bool
wh_is_null(const bson_iter_t *it)
{
	return BSON_ITER_HOLDS_NULL(it) || BSON_ITER_HOLDS_UNDEFINED(it);
}

/* Null, or an empty string. */
static bool
wh_is_blank(const bson_iter_t *it)
{
	return wh_is_null(it) || (BSON_ITER_HOLDS_UTF8(it) && bson_iter_utf8(it, NULL)[0] == '\0');
}

/* Copy the string at it (known to hold UTF-8) of at most max bytes; "" stays "". */
static int
wh_copy(wh_t *w, const bson_iter_t *it, const char *path, size_t max, char **out)
{
	uint32_t len;
	const char *s = bson_iter_utf8(it, &len);

	*out = NULL;
	if (!bson_utf8_validate(s, len, false))
		return wh_fail(w, "%s is not valid UTF-8 (or holds a NUL)", path);
	if (len > max)
		return wh_fail(w, "%s is longer than %zu bytes (%" PRIu32 ")", path, max, len);
	*out = xstrdup(s);
	return 0;
}

/* Sub-document at it, for walking into a reference or option object. */
static bool
wh_subdoc(const bson_iter_t *it, bson_t *out)
{
	const uint8_t *data;
	uint32_t len;

	if (!BSON_ITER_HOLDS_DOCUMENT(it))
		return false;
	bson_iter_document(it, &len, &data);
	return bson_init_static(out, data, len);
}

/*
 * An optional text field: absent, null or "" -> NULL. A ServiceNow-style
 * {"value", "display_value"} object is unwrapped (prefer_display picks which first).
 * A number is written in decimal (ServiceNow states arrive as 2 or "2").
 */
static int
wh_text(wh_t *w, const bson_t *doc, const char *path, size_t max, bool prefer_display,
    char **out)
{
	bson_iter_t it, sub;
	bson_t obj;
	char num[32];

	*out = NULL;
	if (!wh_find(doc, path, &it) || wh_is_null(&it))
		return 0;
	if (wh_subdoc(&it, &obj)) {
		bson_iter_t alt;
		bool has1 = bson_iter_init_find(&sub, &obj, prefer_display ? "display_value" : "value");
		bool has2 = bson_iter_init_find(&alt, &obj, prefer_display ? "value" : "display_value");

		if (!has1 && !has2)
			return wh_fail(w, "%s is an object without value or display_value", path);
		/* The preferred member when it says something, else the other one. */
		if (!has1 || (wh_is_blank(&sub) && has2 && !wh_is_blank(&alt)))
			sub = alt;
		it = sub;
		if (wh_is_null(&it))
			return 0;
	}
	if (BSON_ITER_HOLDS_INT32(&it) || BSON_ITER_HOLDS_INT64(&it)) {
		snprintf(num, sizeof(num), "%" PRId64, bson_iter_as_int64(&it));
		*out = xstrdup(num);
		return 0;
	}
	if (!BSON_ITER_HOLDS_UTF8(&it))
		return wh_fail(w, "%s must be a string or null, got %s", path,
		    detection_type_name(bson_iter_type(&it)));
	if (wh_copy(w, &it, path, max, out) != 0)
		return -1;
	if ((*out)[0] == '\0') {
		free(*out);
		*out = NULL;
	}
	return 0;
}

/* A required text field: present, a string, not empty. */
static int
wh_required(wh_t *w, const bson_t *doc, const char *path, size_t max, char **out)
{
	bson_iter_t it;

	if (!wh_find(doc, path, &it))
		return wh_fail(w, "%s is missing", path);
	if (wh_is_null(&it))
		return wh_fail(w, "%s is null", path);
	if (wh_text(w, doc, path, max, false, out) != 0)
		return -1;
	if (*out == NULL)
		return wh_fail(w, "%s is empty", path);
	return 0;
}

/* ---- detection ids ---- */

static void
wh_add_id(wh_t *w, int64_t id)
{
	if (w->nids == w->capids) {
		size_t cap = w->capids ? w->capids * 2 : 8;

		/* Room for one past the limit, so the count check can tell. */
		if (w->nids > TICKET_DETECTION_IDS_MAX)
			return;
		w->ids = xreallocarray(w->ids, cap, sizeof(int64_t));
		w->capids = cap;
	}
	w->ids[w->nids++] = id;
}

/* One id written as decimal digits (surrounding blanks allowed). */
static bool
wh_id_from_text(const char *s, size_t len, int64_t *out)
{
	int64_t v = 0;

	while (len > 0 && (*s == ' ' || *s == '\t')) {
		s++;
		len--;
	}
	while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
		len--;
	if (len == 0 || len > 16)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	if (v < 1 || v > DETECTION_ID_MAX)
		return false;
	*out = v;
	return true;
}

/* "1234", "1234, 1235": comma-separated ids; empty items are skipped. */
static int
wh_ids_from_list(wh_t *w, const char *s, const char *path)
{
	const char *p = s;

	for (;;) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);
		size_t blank = 0;
		int64_t id;

		while (blank < len && (p[blank] == ' ' || p[blank] == '\t'))
			blank++;
		if (blank < len) {
			if (!wh_id_from_text(p, len, &id))
				return wh_fail(w,
				    "%s must hold detection ids (decimal 1 to 2^53, comma-separated), got "
				    "\"%.*s\"", path, (int)(len > 40 ? 40 : len), p);
			wh_add_id(w, id);
		}
		if (comma == NULL)
			return 0;
		p = comma + 1;
	}
}

/* Ids from any JSON value: a number, a list string, an array of either, or an
 * option/reference object's value. depth bounds nesting. */
static int
wh_ids_from_value(wh_t *w, const bson_iter_t *it, const char *path, int depth)
{
	char why[128];
	bson_iter_t child;
	bson_t obj;
	int64_t id;

	if (wh_is_null(it))
		return 0;
	if (BSON_ITER_HOLDS_INT32(it) || BSON_ITER_HOLDS_INT64(it) || BSON_ITER_HOLDS_DOUBLE(it)) {
		if (detection_id_from_iter(it, &id, why, sizeof(why)) != 0)
			return wh_fail(w, "%s: a detection id %s", path, why);
		wh_add_id(w, id);
		return 0;
	}
	if (BSON_ITER_HOLDS_UTF8(it)) {
		uint32_t len;
		const char *s = bson_iter_utf8(it, &len);

		if (strlen(s) != len)
			return wh_fail(w, "%s holds a NUL byte", path);
		return wh_ids_from_list(w, s, path);
	}
	if (depth < 2 && BSON_ITER_HOLDS_ARRAY(it) && bson_iter_recurse(it, &child)) {
		while (bson_iter_next(&child)) {
			if (BSON_ITER_HOLDS_ARRAY(&child) || BSON_ITER_HOLDS_DOCUMENT(&child))
				return wh_fail(w, "%s must be a list of detection ids, got a nested %s", path,
				    detection_type_name(bson_iter_type(&child)));
			if (wh_ids_from_value(w, &child, path, depth + 1) != 0)
				return -1;
		}
		return 0;
	}
	/* A Jira select option {"value": "1234"} or a ServiceNow {"value", "display_value"}. */
	if (depth < 2 && wh_subdoc(it, &obj) && bson_iter_init_find(&child, &obj, "value"))
		return wh_ids_from_value(w, &child, path, depth + 1);
	return wh_fail(w, "%s must hold detection ids (a number, \"1234, 1235\" or a list), got %s",
	    path, detection_type_name(bson_iter_type(it)));
}

static int
wh_cmp_id(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/* Hand the ids to the ticket sorted and unique, within the ticket parser's bound. */
static int
wh_finish_ids(wh_t *w, ticket_t *t)
{
	size_t u = 0;

	if (w->nids > 1)
		qsort(w->ids, w->nids, sizeof(int64_t), wh_cmp_id);
	for (size_t i = 0; i < w->nids; i++) {
		if (u == 0 || w->ids[u - 1] != w->ids[i])
			w->ids[u++] = w->ids[i];
	}
	if (u > TICKET_DETECTION_IDS_MAX)
		return wh_fail(w, "more than %d detection ids", TICKET_DETECTION_IDS_MAX);
	if (u > 0) {
		t->detection_ids = w->ids;
		t->n_detection_ids = u;
		w->ids = NULL;
	}
	return 0;
}

/* ---- times ---- */

/* An ISO-8601 string (Jira's "2026-11-01T08:30:15.250+0000", ServiceNow's
 * "2026-11-01 08:30:15" in UTC), epoch ms, or a BSON date ({"$date": ...}). */
static int
wh_time(wh_t *w, const bson_iter_t *it, const char *path, int64_t *out)
{
	char why[128];

	if (BSON_ITER_HOLDS_DATE_TIME(it)) {
		*out = bson_iter_date_time(it);
	} else if (BSON_ITER_HOLDS_UTF8(it)) {
		const char *s = bson_iter_utf8(it, NULL);

		if (!timefmt_parse_iso8601(s, out))
			return wh_fail(w, "%s must be an ISO-8601 time or epoch ms, got \"%.40s\"", path,
			    bson_utf8_validate(s, strlen(s), false) ? s : "(invalid UTF-8)");
	} else if (BSON_ITER_HOLDS_NUMBER(it)) {
		if (detection_time_from_iter(it, out, why, sizeof(why)) != 0)
			return wh_fail(w, "%s (epoch ms) %s", path, why);
	} else {
		return wh_fail(w, "%s must be an ISO-8601 time or epoch ms, got %s", path,
		    detection_type_name(bson_iter_type(it)));
	}
	if (*out < 1 || *out > DETECTION_ID_MAX)
		return wh_fail(w, "%s is out of range (%" PRId64 " ms)", path, *out);
	return 0;
}

/* The time at path, unwrapping a ServiceNow {"value", "display_value"} (value first:
 * the display value is in the sending user's time zone, the value in UTC). */
static int
wh_time_at(wh_t *w, const bson_t *doc, const char *path, bool *found, int64_t *out)
{
	bson_iter_t it, sub;
	bson_t obj;

	*found = false;
	if (!wh_find(doc, path, &it) || wh_is_null(&it))
		return 0;
	if (wh_subdoc(&it, &obj)) {
		if (!bson_iter_init_find(&sub, &obj, "value"))
			return wh_fail(w, "%s is an object without a value", path);
		it = sub;
		if (wh_is_null(&it))
			return 0;
	}
	*found = true;
	return wh_time(w, &it, path, out);
}

/* ---- Jira ---- */

/* "ExtraHop Detection: 1234: Port scan" -> 1234. Other summaries name no detection. */
static int
wh_jira_summary_ids(wh_t *w, const bson_t *doc)
{
	const size_t plen = strlen(WEBHOOK_SUMMARY_PREFIX);
	bson_iter_t it;
	const char *s, *p, *end;
	int64_t id;

	if (!wh_find(doc, "issue.fields.summary", &it) || !BSON_ITER_HOLDS_UTF8(&it))
		return 0;
	s = bson_iter_utf8(&it, NULL);
	while (*s == ' ' || *s == '\t')
		s++;
	if (strncasecmp(s, WEBHOOK_SUMMARY_PREFIX, plen) != 0)
		return 0;
	p = s + plen;
	while (*p == ' ' || *p == '\t')
		p++;
	end = p;
	while (*end >= '0' && *end <= '9')
		end++;
	/* The id ends the summary or is followed by ':' (then the title) or a blank. */
	if (!(*end == ':' || *end == '\0' || *end == ' ' || *end == '\t') ||
	    !wh_id_from_text(p, (size_t)(end - p), &id))
		return wh_fail(w, "issue.fields.summary starts with \"%s\" but no detection id (1 to "
		                  "2^53) follows: \"%.60s\"", WEBHOOK_SUMMARY_PREFIX,
		    bson_utf8_validate(s, strlen(s), false) ? s : "(invalid UTF-8)");
	wh_add_id(w, id);
	return 0;
}

/* Every label "<prefix><id>"; labels without the prefix are someone else's. */
static int
wh_jira_label_ids(wh_t *w, const bson_t *doc, const char *prefix)
{
	size_t plen = strlen(prefix);
	bson_iter_t it, child;

	if (!wh_find(doc, "issue.fields.labels", &it) || wh_is_null(&it))
		return 0;
	if (!BSON_ITER_HOLDS_ARRAY(&it) || !bson_iter_recurse(&it, &child))
		return wh_fail(w, "issue.fields.labels must be an array, got %s",
		    detection_type_name(bson_iter_type(&it)));
	while (bson_iter_next(&child)) {
		const char *label;
		uint32_t len;
		int64_t id;

		if (!BSON_ITER_HOLDS_UTF8(&child))
			continue;
		label = bson_iter_utf8(&child, &len);
		if (len < plen || strncasecmp(label, prefix, plen) != 0)
			continue;
		if (!wh_id_from_text(label + plen, len - plen, &id) || strchr(label + plen, ' ') != NULL)
			return wh_fail(w, "issue.fields.labels: \"%.60s\" has the prefix \"%s\" but no "
			                  "detection id (1 to 2^53) after it",
			    bson_utf8_validate(label, len, false) ? label : "(invalid UTF-8)", prefix);
		wh_add_id(w, id);
	}
	return 0;
}

static int
wh_jira_assignee(wh_t *w, const bson_t *doc, char **out)
{
	static const char *const members[] = { "name", "displayName", "accountId" };
	bson_iter_t it;
	char path[64];

	*out = NULL;
	if (!wh_find(doc, "issue.fields.assignee", &it) || wh_is_null(&it))
		return 0;
	if (!BSON_ITER_HOLDS_DOCUMENT(&it))
		return wh_fail(w, "issue.fields.assignee must be an object or null, got %s",
		    detection_type_name(bson_iter_type(&it)));
	/* Server names users by their login (ExtraHop's example assigns "escalations_team");
	 * Cloud hides logins and has displayName and the opaque accountId. */
	for (size_t i = 0; i < sizeof(members) / sizeof(members[0]); i++) {
		snprintf(path, sizeof(path), "issue.fields.assignee.%s", members[i]);
		if (wh_text(w, doc, path, FIELDS_ASSIGNEE_MAX, false, out) != 0)
			return -1;
		if (*out != NULL)
			return 0;
	}
	return wh_fail(w, "issue.fields.assignee has no name, displayName or accountId");
}

static enum webhook_result
wh_jira(wh_t *w, const bson_t *doc, const webhook_opts_t *opts, ticket_t *t)
{
	const char *field = opts && opts->jira_detection_field ? opts->jira_detection_field
	                                                        : WEBHOOK_DEFAULT_JIRA_FIELD;
	const char *prefix = opts && opts->jira_label_prefix ? opts->jira_label_prefix
	                                                     : WEBHOOK_DEFAULT_LABEL_PREFIX;
	bson_iter_t it;
	bool found;

	if (wh_find(doc, "webhookEvent", &it)) {
		const char *ev;

		if (!BSON_ITER_HOLDS_UTF8(&it)) {
			wh_fail(w, "webhookEvent must be a string, got %s",
			    detection_type_name(bson_iter_type(&it)));
			return WEBHOOK_INVALID;
		}
		ev = bson_iter_utf8(&it, NULL);
		if (strcmp(ev, "jira:issue_created") != 0 && strcmp(ev, "jira:issue_updated") != 0) {
			wh_fail(w, "event \"%.60s\" carries no issue state to store (only "
			           "jira:issue_created and jira:issue_updated do)",
			    bson_utf8_validate(ev, strlen(ev), false) ? ev : "(invalid UTF-8)");
			return WEBHOOK_IGNORED;
		}
	}
	if (!wh_find(doc, "issue", &it) || !BSON_ITER_HOLDS_DOCUMENT(&it)) {
		wh_fail(w, "issue is missing or not an object (not a Jira issue event)");
		return WEBHOOK_INVALID;
	}
	if (!wh_find(doc, "issue.fields", &it) || !BSON_ITER_HOLDS_DOCUMENT(&it)) {
		wh_fail(w, "issue.fields is missing or not an object");
		return WEBHOOK_INVALID;
	}
	if (wh_required(w, doc, "issue.key", FIELDS_TICKET_ID_MAX, &t->id) != 0 ||
	    wh_required(w, doc, "issue.fields.status.name", STATUSMAP_NAME_MAX, &t->status) != 0 ||
	    wh_text(w, doc, "issue.fields.status.statusCategory.key", STATUSMAP_NAME_MAX, false,
	        &t->status_category) != 0 ||
	    wh_jira_assignee(w, doc, &t->assignee) != 0)
		return WEBHOOK_INVALID;
	if (wh_find(doc, "issue.fields.resolution", &it) && !wh_is_null(&it)) {
		if (!BSON_ITER_HOLDS_DOCUMENT(&it)) {
			wh_fail(w, "issue.fields.resolution must be an object or null, got %s",
			    detection_type_name(bson_iter_type(&it)));
			return WEBHOOK_INVALID;
		}
		if (wh_text(w, doc, "issue.fields.resolution.name", STATUSMAP_NAME_MAX, false,
		        &t->resolution) != 0)
			return WEBHOOK_INVALID;
	}
	/* The issue's own last change orders deliveries; the event time if it is absent. */
	if (wh_time_at(w, doc, "issue.fields.updated", &found, &t->updated_at) != 0)
		return WEBHOOK_INVALID;
	if (!found && wh_time_at(w, doc, "timestamp", &found, &t->updated_at) != 0)
		return WEBHOOK_INVALID;
	if (!found) {
		wh_fail(w, "issue.fields.updated and timestamp are both missing: deliveries could "
		           "not be ordered");
		return WEBHOOK_INVALID;
	}
	if (strcmp(field, "summary") == 0) {
		if (wh_jira_summary_ids(w, doc) != 0)
			return WEBHOOK_INVALID;
	} else if (strcmp(field, "labels") == 0) {
		if (wh_jira_label_ids(w, doc, prefix) != 0)
			return WEBHOOK_INVALID;
	} else {
		char path[128];

		snprintf(path, sizeof(path), "issue.fields.%s", field);
		if (wh_find(doc, path, &it) && wh_ids_from_value(w, &it, path, 0) != 0)
			return WEBHOOK_INVALID;
	}
	return WEBHOOK_OK;
}

/* ---- ServiceNow ---- */

static enum webhook_result
wh_servicenow(wh_t *w, const bson_t *doc, const webhook_opts_t *opts, ticket_t *t)
{
	const char *field = opts && opts->servicenow_detection_field
	    ? opts->servicenow_detection_field : WEBHOOK_DEFAULT_SNOW_FIELD;
	bson_iter_t it;
	bson_t inner;
	bool found;

	/* The Table API's {"result": {...}} wrapper, as a REST message may forward it. */
	if (!bson_has_field(doc, "number") && wh_find(doc, "result", &it) && wh_subdoc(&it, &inner))
		doc = &inner;
	if (wh_required(w, doc, "number", FIELDS_TICKET_ID_MAX, &t->id) != 0 ||
	    wh_required(w, doc, "state", STATUSMAP_NAME_MAX, &t->status) != 0 ||
	    wh_text(w, doc, "close_code", STATUSMAP_NAME_MAX, false, &t->resolution) != 0 ||
	    wh_text(w, doc, "assigned_to", FIELDS_ASSIGNEE_MAX, true, &t->assignee) != 0)
		return WEBHOOK_INVALID;
	if (wh_time_at(w, doc, "sys_updated_on", &found, &t->updated_at) != 0)
		return WEBHOOK_INVALID;
	if (!found) {
		wh_fail(w, "sys_updated_on is missing: deliveries could not be ordered");
		return WEBHOOK_INVALID;
	}
	if (bson_iter_init_find(&it, doc, field) && wh_ids_from_value(w, &it, field, 0) != 0)
		return WEBHOOK_INVALID;
	return WEBHOOK_OK;
}

/* ---- generic ---- */

static enum webhook_result
wh_generic(wh_t *w, const bson_t *doc, ticket_t *t)
{
	static const char *const keys[] = { "ticket_id", "detection_ids", "status", "status_category",
		"assignee", "resolution", "updated_at" };
	bson_iter_t it;
	bool found;

	if (!bson_iter_init(&it, doc)) {
		wh_fail(w, "the body is a corrupt document");
		return WEBHOOK_MALFORMED;
	}
	while (bson_iter_next(&it)) {
		const char *k = bson_iter_key(&it);
		size_t i = 0;

		while (i < sizeof(keys) / sizeof(keys[0]) && strcmp(k, keys[i]) != 0)
			i++;
		if (i == sizeof(keys) / sizeof(keys[0])) {
			wh_fail(w, "unknown key \"%.40s\" (the generic shape has ticket_id, detection_ids, "
			           "status, status_category, assignee, resolution and updated_at)",
			    bson_utf8_validate(k, strlen(k), false) ? k : "(invalid UTF-8)");
			return WEBHOOK_INVALID;
		}
	}
	if (wh_find(doc, "ticket_id", &it) && !BSON_ITER_HOLDS_UTF8(&it) && !wh_is_null(&it)) {
		wh_fail(w, "ticket_id must be a string, got %s", detection_type_name(bson_iter_type(&it)));
		return WEBHOOK_INVALID;
	}
	if (wh_required(w, doc, "ticket_id", FIELDS_TICKET_ID_MAX, &t->id) != 0 ||
	    wh_required(w, doc, "status", STATUSMAP_NAME_MAX, &t->status) != 0 ||
	    wh_text(w, doc, "status_category", STATUSMAP_NAME_MAX, false, &t->status_category) != 0 ||
	    wh_text(w, doc, "assignee", FIELDS_ASSIGNEE_MAX, false, &t->assignee) != 0 ||
	    wh_text(w, doc, "resolution", STATUSMAP_NAME_MAX, false, &t->resolution) != 0)
		return WEBHOOK_INVALID;
	if (bson_iter_init_find(&it, doc, "updated_at")) {
		found = !wh_is_null(&it);
		if (found && wh_time(w, &it, "updated_at", &t->updated_at) != 0)
			return WEBHOOK_INVALID;
	} else {
		found = false;
	}
	if (!found) {
		wh_fail(w, "updated_at is missing: deliveries could not be ordered");
		return WEBHOOK_INVALID;
	}
	if (bson_iter_init_find(&it, doc, "detection_ids") &&
	    wh_ids_from_value(w, &it, "detection_ids", 0) != 0)
		return WEBHOOK_INVALID;
	return WEBHOOK_OK;
}

enum webhook_result
webhook_parse_bson(enum webhook_source src, const bson_t *doc, const webhook_opts_t *opts,
    ticket_t *out, char *why, size_t whylen)
{
	wh_t w = { .why = why, .whylen = whylen };
	enum webhook_result r;

	memset(out, 0, sizeof(*out));
	if (whylen > 0)
		why[0] = '\0';
	switch (src) {
	case WEBHOOK_JIRA: r = wh_jira(&w, doc, opts, out); break;
	case WEBHOOK_SERVICENOW: r = wh_servicenow(&w, doc, opts, out); break;
	case WEBHOOK_GENERIC: r = wh_generic(&w, doc, out); break;
	default:
		wh_fail(&w, "unknown webhook source %d", (int)src);
		r = WEBHOOK_INVALID;
		break;
	}
	if (r == WEBHOOK_OK && wh_finish_ids(&w, out) != 0)
		r = WEBHOOK_INVALID;
	if (r == WEBHOOK_OK)
		out->source = xstrdup(webhook_source_tag(src));
	free(w.ids);
	if (r != WEBHOOK_OK)
		ticket_cleanup(out);
	return r;
}

enum webhook_result
webhook_parse(enum webhook_source src, const char *body, size_t len, const webhook_opts_t *opts,
    ticket_t *out, char *why, size_t whylen)
{
	wh_t w = { .why = why, .whylen = whylen };
	bson_error_t err;
	bson_t doc;
	size_t i = 0;
	enum webhook_result r;

	memset(out, 0, sizeof(*out));
	if (body == NULL || len == 0) {
		wh_fail(&w, "the body is empty (expected a JSON object)");
		return WEBHOOK_MALFORMED;
	}
	if (!bson_utf8_validate(body, len, false)) {
		wh_fail(&w, "the body is not valid UTF-8 text (or holds a NUL byte)");
		return WEBHOOK_MALFORMED;
	}
	while (i < len && (body[i] == ' ' || body[i] == '\t' || body[i] == '\r' || body[i] == '\n'))
		i++;
	/* libbson would read a top-level array as an object with keys "0", "1", ... */
	if (i == len || body[i] != '{') {
		wh_fail(&w, "the body is not a JSON object");
		return WEBHOOK_MALFORMED;
	}
	if (len > SSIZE_MAX || !bson_init_from_json(&doc, body, (ssize_t)len, &err)) {
		char why_json[JSONERR_MAX];

		jsonerr_explain(body, len, len > SSIZE_MAX ? "too large" : err.message, why_json,
		    sizeof(why_json));
		wh_fail(&w, "the body is not valid JSON: %s", why_json);
		return WEBHOOK_MALFORMED;
	}
	r = webhook_parse_bson(src, &doc, opts, out, why, whylen);
	bson_destroy(&doc);
	return r;
}
