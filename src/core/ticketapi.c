/* ticketapi: the ticket systems' REST APIs as data; see ticketapi.h. */
#include "ticketsync/ticketapi.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ticketsync/text.h"
#include "ticketsync/timefmt.h"
#include "ticketsync/xalloc.h"

/* What a ServiceNow reply is asked to carry (sysparm_fields, URL-encoded). */
/* (used inside printf formats) */
#define TICKETAPI_SN_FIELDS \
	"sysparm_fields=sys_id%%2Cnumber%%2Cstate%%2Ccorrelation_id%%2Ccorrelation_display"
/* A lookup asks for two, so a second ticket for one key would show. */
#define TICKETAPI_LOOKUP_MAX 2

void
ticketapi_request_clear(ticketapi_request_t *r)
{
	if (r == NULL)
		return;
	free(r->path);
	bson_free(r->body);
	memset(r, 0, sizeof(*r));
}

static const char *
ticketapi_table(const ticketapi_target_t *t)
{
	return t->table != NULL && t->table[0] != '\0' ? t->table : "incident";
}

static void
ticketapi_json(const bson_t *doc, ticketapi_request_t *out)
{
	out->body = bson_as_relaxed_extended_json(doc, &out->body_len);
}

bool
ticketapi_desired_key(const bson_t *desired, const char **key, int64_t *detection_id,
    bson_error_t *err)
{
	bson_iter_t it;

	if (!bson_iter_init_find(&it, desired, "key") || !BSON_ITER_HOLDS_UTF8(&it) ||
	    bson_iter_utf8(&it, NULL)[0] == '\0') {
		bson_set_error(err, ERROR_DOMAIN, TICKETAPI_ERR_VALUE,
		    "the stored creation has no lookup key");
		return false;
	}
	*key = bson_iter_utf8(&it, NULL);
	if (!bson_iter_init_find(&it, desired, "detection_id") || !BSON_ITER_HOLDS_INT(&it)) {
		bson_set_error(err, ERROR_DOMAIN, TICKETAPI_ERR_VALUE,
		    "the stored creation has no detection_id");
		return false;
	}
	*detection_id = bson_iter_as_int64(&it);
	return true;
}

bool
ticketapi_create_request(const ticketapi_target_t *t, const bson_t *desired,
    ticketapi_request_t *out, bson_error_t *err)
{
	bson_iter_t it;
	uint32_t len;
	const uint8_t *data;
	bson_t body;
	char path[256];

	memset(out, 0, sizeof(*out));
	if (!bson_iter_init_find(&it, desired, "body") || !BSON_ITER_HOLDS_DOCUMENT(&it)) {
		bson_set_error(err, ERROR_DOMAIN, TICKETAPI_ERR_VALUE,
		    "the stored creation has no request body");
		return false;
	}
	bson_iter_document(&it, &len, &data);
	if (!bson_init_static(&body, data, len)) {
		bson_set_error(err, ERROR_DOMAIN, TICKETAPI_ERR_VALUE,
		    "the stored creation's body is not a document");
		return false;
	}
	out->method = "POST";
	switch (t->kind) {
	case TICKETSPEC_JIRA:
		snprintf(path, sizeof(path), "/rest/api/2/issue");
		break;
	case TICKETSPEC_SERVICENOW:
		snprintf(path, sizeof(path), "/api/now/table/%s?" TICKETAPI_SN_FIELDS, ticketapi_table(t));
		break;
	case TICKETSPEC_HTTP:
		path[0] = '\0';
		break;
	}
	out->path = xstrdup(path);
	ticketapi_json(&body, out);
	return true;
}

bool
ticketapi_lookup_request(const ticketapi_target_t *t, const bson_t *desired,
    ticketapi_request_t *out)
{
	bson_t q = BSON_INITIALIZER, fields;
	const char *key;
	int64_t id;
	bson_error_t err;
	char buf[512];

	memset(out, 0, sizeof(*out));
	if (t->kind == TICKETSPEC_HTTP || !ticketapi_desired_key(desired, &key, &id, &err))
		return false;
	if (t->kind == TICKETSPEC_SERVICENOW) {
		out->method = "GET";
		/* The key is the detection id's digits: nothing to escape. */
		snprintf(buf, sizeof(buf), "/api/now/table/%s?sysparm_query=correlation_id%%3D%lld%%5E"
		    "correlation_display%%3D" TICKETSPEC_SN_CORRELATION_DISPLAY "&" TICKETAPI_SN_FIELDS
		    "&sysparm_limit=%d", ticketapi_table(t), (long long)id, TICKETAPI_LOOKUP_MAX);
		out->path = xstrdup(buf);
		return true;
	}
	out->method = "POST";
	/* Cloud's old search answers 410; Data Center has only the old one. */
	out->path = xstrdup(t->jira_cloud ? "/rest/api/3/search/jql" : "/rest/api/2/search");
	snprintf(buf, sizeof(buf), "labels = \"%s\"", key);
	BSON_APPEND_UTF8(&q, "jql", buf);
	BSON_APPEND_ARRAY_BEGIN(&q, "fields", &fields);
	BSON_APPEND_UTF8(&fields, "0", "status");
	BSON_APPEND_UTF8(&fields, "1", "labels");
	bson_append_array_end(&q, &fields);
	BSON_APPEND_INT32(&q, "maxResults", TICKETAPI_LOOKUP_MAX);
	ticketapi_json(&q, out);
	bson_destroy(&q);
	return true;
}

bool
ticketapi_check_request(const ticketapi_target_t *t, ticketapi_request_t *out)
{
	char buf[256];

	memset(out, 0, sizeof(*out));
	out->method = "GET";
	switch (t->kind) {
	case TICKETSPEC_JIRA:
		out->path = xstrdup("/rest/api/2/myself");
		return true;
	case TICKETSPEC_SERVICENOW:
		snprintf(buf, sizeof(buf), "/api/now/table/%s?sysparm_limit=1&sysparm_fields=sys_id",
		    ticketapi_table(t));
		out->path = xstrdup(buf);
		return true;
	case TICKETSPEC_HTTP:
		break;
	}
	return false;
}

/* ---- replies ---- */

static bool
ticketapi_parse_object(const char *body, size_t len, bson_t *out, bson_error_t *err)
{
	bson_error_t e;
	size_t skip = 0;

	while (skip < len && (body[skip] == ' ' || body[skip] == '\n' || body[skip] == '\r' ||
	                         body[skip] == '\t'))
		skip++;
	if (len == 0 || skip == len || body[skip] != '{' ||
	    !bson_init_from_json(out, body, (ssize_t)len, &e)) {
		char start[64];

		bson_init(out);
		text_sanitize(start, sizeof(start), body, len, 40, TEXT_CONTROLS_TO_SPACE | TEXT_ELLIPSIS);
		bson_set_error(err, ERROR_DOMAIN, TICKETAPI_ERR_REPLY,
		    "the reply is not a JSON object (it starts \"%s\")", start);
		return false;
	}
	return true;
}

/* A string (or integral number) at doc's dotted path into out; false if none. */
static bool
ticketapi_string_at(const bson_t *doc, const char *path, char *out, size_t outlen)
{
	bson_iter_t it, found;

	if (!bson_iter_init(&it, doc) || !bson_iter_find_descendant(&it, path, &found))
		return false;
	if (BSON_ITER_HOLDS_UTF8(&found)) {
		uint32_t n;
		const char *s = bson_iter_utf8(&found, &n);

		if (n == 0)
			return false;
		text_sanitize(out, outlen, s, n, 0, TEXT_CONTROLS_TO_SPACE);
		return true;
	}
	if (BSON_ITER_HOLDS_INT(&found)) {
		snprintf(out, outlen, "%lld", (long long)bson_iter_as_int64(&found));
		return true;
	}
	return false;
}

/* One ticket object (a Jira issue or a ServiceNow row) into out. */
static bool
ticketapi_ticket_from(const ticketapi_target_t *t, const bson_t *obj, ticketapi_ticket_t *out)
{
	memset(out, 0, sizeof(*out));
	switch (t->kind) {
	case TICKETSPEC_JIRA:
		ticketapi_string_at(obj, "id", out->ref, sizeof(out->ref));
		ticketapi_string_at(obj, "fields.status.name", out->status, sizeof(out->status));
		return ticketapi_string_at(obj, "key", out->key, sizeof(out->key));
	case TICKETSPEC_SERVICENOW:
		ticketapi_string_at(obj, "sys_id", out->ref, sizeof(out->ref));
		ticketapi_string_at(obj, "state", out->status, sizeof(out->status));
		return ticketapi_string_at(obj, "number", out->key, sizeof(out->key));
	case TICKETSPEC_HTTP:
		ticketapi_string_at(obj, "status", out->status, sizeof(out->status));
		return ticketapi_string_at(obj, t->id_path && t->id_path[0] ? t->id_path : "id",
		    out->key, sizeof(out->key));
	}
	return false;
}

static bool
ticketapi_sub(const bson_t *doc, const char *key, bson_type_t type, bson_t *out)
{
	bson_iter_t it;
	uint32_t len;
	const uint8_t *data;

	if (!bson_iter_init_find(&it, doc, key) || bson_iter_type(&it) != type)
		return false;
	if (type == BSON_TYPE_ARRAY)
		bson_iter_array(&it, &len, &data);
	else
		bson_iter_document(&it, &len, &data);
	return bson_init_static(out, data, len);
}

bool
ticketapi_parse_created(const ticketapi_target_t *t, const char *body, size_t len,
    ticketapi_ticket_t *out, bson_error_t *err)
{
	bson_t doc, result;
	bool ok = false;

	memset(out, 0, sizeof(*out));
	if (!ticketapi_parse_object(body, len, &doc, err))
		goto cleanup;
	if (t->kind == TICKETSPEC_SERVICENOW) {
		if (!ticketapi_sub(&doc, "result", BSON_TYPE_DOCUMENT, &result) ||
		    !ticketapi_ticket_from(t, &result, out)) {
			bson_set_error(err, ERROR_DOMAIN, TICKETAPI_ERR_REPLY,
			    "the reply has no result.number: no incident can be recorded");
			goto cleanup;
		}
	} else if (!ticketapi_ticket_from(t, &doc, out)) {
		bson_set_error(err, ERROR_DOMAIN, TICKETAPI_ERR_REPLY,
		    "the reply has no %s: no ticket can be recorded",
		    t->kind == TICKETSPEC_JIRA ? "key" : t->id_path && t->id_path[0] ? t->id_path : "id");
		goto cleanup;
	}
	ok = true;
cleanup:
	bson_destroy(&doc);
	return ok;
}

/* Whether a Jira issue's labels (when the reply lists them) hold key. */
static bool
ticketapi_jira_has_label(const bson_t *issue, const char *key)
{
	bson_iter_t it, found, child;

	if (!bson_iter_init(&it, issue) || !bson_iter_find_descendant(&it, "fields.labels", &found))
		return true; /* not listed: the search's word stands */
	if (!BSON_ITER_HOLDS_ARRAY(&found) || !bson_iter_recurse(&found, &child))
		return false;
	while (bson_iter_next(&child))
		if (BSON_ITER_HOLDS_UTF8(&child) && strcmp(bson_iter_utf8(&child, NULL), key) == 0)
			return true;
	return false;
}

int
ticketapi_parse_lookup(const ticketapi_target_t *t, const char *body, size_t len,
    const char *key, ticketapi_ticket_t *out, bson_error_t *err)
{
	bson_t doc, list, row;
	bson_iter_t it;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (!ticketapi_parse_object(body, len, &doc, err))
		goto cleanup;
	if (!ticketapi_sub(&doc, t->kind == TICKETSPEC_SERVICENOW ? "result" : "issues",
	        BSON_TYPE_ARRAY, &list)) {
		bson_set_error(err, ERROR_DOMAIN, TICKETAPI_ERR_REPLY, "the search reply has no %s list",
		    t->kind == TICKETSPEC_SERVICENOW ? "result" : "issues");
		goto cleanup;
	}
	rc = 0;
	if (!bson_iter_init(&it, &list))
		goto cleanup;
	while (bson_iter_next(&it)) {
		uint32_t n;
		const uint8_t *data;
		char corr[64];

		if (!BSON_ITER_HOLDS_DOCUMENT(&it))
			continue;
		bson_iter_document(&it, &n, &data);
		if (!bson_init_static(&row, data, n))
			continue;
		/* A query part the instance ignored matched this one, or another
		 * integration's incident uses the same correlation_id. */
		if (t->kind == TICKETSPEC_SERVICENOW &&
		    (!ticketapi_string_at(&row, "correlation_id", corr, sizeof(corr)) ||
		        strcmp(corr, key) != 0 ||
		        !ticketapi_string_at(&row, "correlation_display", corr, sizeof(corr)) ||
		        strcmp(corr, TICKETSPEC_SN_CORRELATION_DISPLAY) != 0))
			continue;
		if (t->kind == TICKETSPEC_JIRA && !ticketapi_jira_has_label(&row, key))
			continue;
		if (ticketapi_ticket_from(t, &row, out)) {
			rc = 1;
			break;
		}
	}
cleanup:
	bson_destroy(&doc);
	return rc;
}

static void
ticketapi_append_msg(bson_string_t *s, const char *text)
{
	if (text == NULL || text[0] == '\0')
		return;
	if (s->len > 0)
		bson_string_append(s, "; ");
	bson_string_append(s, text);
}

void
ticketapi_error_message(const char *body, size_t len, char *out, size_t outlen)
{
	bson_string_t *s = bson_string_new(NULL);
	bson_error_t e;
	bson_t doc, sub;
	bson_iter_t it;
	char buf[512];

	if (ticketapi_parse_object(body, len, &doc, &e)) {
		if (ticketapi_sub(&doc, "errorMessages", BSON_TYPE_ARRAY, &sub) && bson_iter_init(&it, &sub))
			while (bson_iter_next(&it))
				if (BSON_ITER_HOLDS_UTF8(&it))
					ticketapi_append_msg(s, bson_iter_utf8(&it, NULL));
		if (ticketapi_sub(&doc, "errors", BSON_TYPE_DOCUMENT, &sub) && bson_iter_init(&it, &sub))
			while (bson_iter_next(&it))
				if (BSON_ITER_HOLDS_UTF8(&it)) {
					snprintf(buf, sizeof(buf), "%s: %s", bson_iter_key(&it),
					    bson_iter_utf8(&it, NULL));
					ticketapi_append_msg(s, buf);
				}
		if (ticketapi_sub(&doc, "error", BSON_TYPE_DOCUMENT, &sub)) {
			if (ticketapi_string_at(&sub, "message", buf, sizeof(buf)))
				ticketapi_append_msg(s, buf);
			if (ticketapi_string_at(&sub, "detail", buf, sizeof(buf)))
				ticketapi_append_msg(s, buf);
		}
		if (s->len == 0 && (ticketapi_string_at(&doc, "error_message", buf, sizeof(buf)) ||
		                       ticketapi_string_at(&doc, "message", buf, sizeof(buf)) ||
		                       ticketapi_string_at(&doc, "error", buf, sizeof(buf))))
			ticketapi_append_msg(s, buf);
	}
	bson_destroy(&doc);
	if (s->len > 0)
		text_sanitize(out, outlen, s->str, s->len, 0, TEXT_CONTROLS_TO_SPACE | TEXT_ELLIPSIS);
	else
		text_sanitize(out, outlen, body, len, 120, TEXT_CONTROLS_TO_SPACE | TEXT_ELLIPSIS);
	bson_string_free(s, true);
}

int64_t
ticketapi_rate_limit_reset_ms(const char *value, int64_t now_ms)
{
	int64_t at;
	char *end;
	long long secs;

	if (value == NULL || value[0] == '\0')
		return -1;
	secs = strtoll(value, &end, 10);
	if (*end == '\0' && end != value) {
		/* Unix seconds (ServiceNow); a small number would be a delay, not a time,
		 * and one past year 5000 nobody sends. */
		if (secs < 1000000000LL || secs > 100000000000LL)
			return -1;
		at = (int64_t)secs * 1000;
	} else if (!timefmt_parse_iso8601(value, &at)) {
		return -1;
	}
	return at > now_ms ? at - now_ms : 0;
}

/* ---- exactly once ---- */

enum ticketapi_step
ticketapi_first_step(const ticketapi_history_t *h)
{
	if (h->acknowledged)
		return TICKETAPI_DONE;
	if (h->can_lookup && (h->recheck_at_ms > 0 || h->reclaimed_until_ms > 0))
		return TICKETAPI_LOOKUP;
	/* HTTP repeats the create under the same idempotency key; others had no
	 * attempt that could have created anything. */
	return TICKETAPI_CREATE;
}

int64_t
ticketapi_proof_at(const ticketapi_history_t *h)
{
	int64_t at = h->recheck_at_ms;

	if (h->reclaimed_until_ms > 0 && h->reclaimed_until_ms + h->lag_ms > at)
		at = h->reclaimed_until_ms + h->lag_ms;
	return at;
}
