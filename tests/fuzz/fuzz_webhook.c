/*
 * fuzz_webhook: webhook_parse on arbitrary HTTP bodies, as Jira (with each way of
 * naming detection ids), ServiceNow and the generic source: the one input the
 * service takes straight from the network.
 *
 * Checks: a ticket it accepts keeps the bounds of ticket_parse and the `tickets`
 * validator, and once stored the way intake writes it, ticket_parse accepts it back
 * (a webhook may never store a ticket the daemon then refuses); a refusal has a
 * reason, holds no memory, and its reason is NUL-terminated inside any buffer size;
 * the JSON and the BSON entry points agree.
 */
#include "fuzz_common.h"
#include "ticketsync/detection.h"
#include "ticketsync/fields.h"
#include "ticketsync/statusmap.h"
#include "ticketsync/ticket.h"
#include "ticketsync/webhook.h"

static void
check_text(const char *name, const char *s, size_t max, bool may_be_empty)
{
	size_t len;

	if (s == NULL)
		return;
	len = strlen(s);
	FUZZ_CHECK(len <= max, "%s is %zu bytes", name, len);
	FUZZ_CHECK(may_be_empty || len > 0, "%s is empty", name);
	FUZZ_CHECK(fuzz_utf8(s, len), "%s is not valid UTF-8", name);
}

static void
append_text(bson_t *doc, const char *key, const char *v)
{
	if (v != NULL)
		BSON_APPEND_UTF8(doc, key, v);
	else
		BSON_APPEND_NULL(doc, key);
}

/* The document intake's upsert leaves in `tickets`, read back by the daemon. */
static void
check_stored(const ticket_t *t, enum webhook_source src)
{
	bson_t doc = BSON_INITIALIZER, arr;
	ticket_t back;
	bson_error_t err;
	char key[16];
	const char *k;

	BSON_APPEND_UTF8(&doc, "_id", t->id);
	append_text(&doc, "status", t->status);
	append_text(&doc, "status_category", t->status_category);
	append_text(&doc, "assignee", t->assignee);
	append_text(&doc, "resolution", t->resolution);
	BSON_APPEND_DATE_TIME(&doc, "updated_at", t->updated_at);
	BSON_APPEND_UTF8(&doc, "source", webhook_source_tag(src));
	BSON_APPEND_ARRAY_BEGIN(&doc, "detection_ids", &arr);
	for (size_t i = 0; i < t->n_detection_ids; i++) {
		bson_uint32_to_string((uint32_t)i, &k, key, sizeof(key));
		bson_append_int64(&arr, k, -1, t->detection_ids[i]);
	}
	bson_append_array_end(&doc, &arr);
	FUZZ_CHECK(ticket_parse(&doc, &back, &err) == 0, "%s ticket %s refused once stored: %s",
	    webhook_source_name(src), t->id, err.message);
	FUZZ_CHECK(back.n_detection_ids == t->n_detection_ids && back.updated_at == t->updated_at,
	    "stored ticket reads back differently");
	ticket_cleanup(&back);
	bson_destroy(&doc);
}

static void
check_ticket(const ticket_t *t, enum webhook_source src)
{
	FUZZ_CHECK(t->id != NULL, "accepted without an id");
	check_text("id", t->id, FIELDS_TICKET_ID_MAX, false);
	FUZZ_CHECK(t->status != NULL, "accepted without a status");
	check_text("status", t->status, STATUSMAP_NAME_MAX, false);
	check_text("status_category", t->status_category, STATUSMAP_NAME_MAX, true);
	check_text("resolution", t->resolution, STATUSMAP_NAME_MAX, true);
	check_text("assignee", t->assignee, FIELDS_ASSIGNEE_MAX, true);
	FUZZ_CHECK(t->updated_at >= 1 && t->updated_at <= DETECTION_ID_MAX, "updated_at %lld",
	    (long long)t->updated_at);
	FUZZ_CHECK(t->n_detection_ids <= TICKET_DETECTION_IDS_MAX, "%zu ids", t->n_detection_ids);
	for (size_t i = 0; i < t->n_detection_ids; i++) {
		int64_t v = t->detection_ids[i];
		FUZZ_CHECK(v >= 1 && v <= DETECTION_ID_MAX, "detection id %lld", (long long)v);
		FUZZ_CHECK(i == 0 || t->detection_ids[i - 1] < v, "detection ids not sorted/unique");
	}
	check_stored(t, src);
}

static bool
holds_nothing(const ticket_t *t)
{
	return t->id == NULL && t->detection_ids == NULL && t->status == NULL &&
	       t->status_category == NULL && t->assignee == NULL && t->resolution == NULL &&
	       t->source == NULL;
}

static enum webhook_result
parse_one(enum webhook_source src, const uint8_t *data, size_t size, const webhook_opts_t *opts,
    const bson_t *doc)
{
	char why[256], small[17];
	ticket_t t, t2;
	enum webhook_result r, r2;

	memset(why, 'G', sizeof(why));
	r = webhook_parse(src, (const char *)data, size, opts, &t, why, sizeof(why));
	FUZZ_CHECK(r == WEBHOOK_OK || r == WEBHOOK_IGNORED || r == WEBHOOK_MALFORMED ||
	               r == WEBHOOK_INVALID, "result %d", (int)r);
	if (r == WEBHOOK_OK) {
		check_ticket(&t, src);
	} else {
		FUZZ_CHECK(holds_nothing(&t), "%s refused but holds memory", webhook_result_name(r));
		FUZZ_CHECK(memchr(why, '\0', sizeof(why)) != NULL && why[0] != '\0',
		    "%s without a reason", webhook_result_name(r));
		/* A short buffer still gets a terminated reason, and nothing past it. */
		memset(small, 'G', sizeof(small));
		FUZZ_CHECK(webhook_parse(src, (const char *)data, size, opts, &t2, small, 16) == r,
		    "a shorter reason buffer changed the result");
		FUZZ_CHECK(memchr(small, '\0', 16) != NULL && small[16] == 'G',
		    "reason not kept inside 16 bytes");
		ticket_cleanup(&t2);
	}
	if (doc != NULL) {
		r2 = webhook_parse_bson(src, doc, opts, &t2, why, sizeof(why));
		FUZZ_CHECK(r2 == r, "JSON entry says %s, BSON entry %s", webhook_result_name(r),
		    webhook_result_name(r2));
		if (r2 == WEBHOOK_OK)
			FUZZ_CHECK(strcmp(t.id, t2.id) == 0 && t.n_detection_ids == t2.n_detection_ids,
			    "entry points disagree on the ticket");
		ticket_cleanup(&t2);
	}
	ticket_cleanup(&t);
	return r;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const webhook_opts_t jira_opts[] = {
		{ NULL, NULL, NULL },
		{ "labels", "det-", NULL },
		{ "customfield_10010", NULL, NULL },
	};
	static const webhook_opts_t snow_opts = { NULL, NULL, "u_extrahop_detection" };
	bson_t doc;
	bson_error_t err;
	bool have_doc;

	if (size > 64 * 1024)
		return 0;
	/* Compare the entry points where the JSON one gets past its checks of the raw
	 * text (strict UTF-8, an object at the top). */
	have_doc = size > 0 && data[0] == '{' && fuzz_utf8((const char *)data, size) &&
	           bson_init_from_json(&doc, (const char *)data, (ssize_t)size, &err);
	for (size_t i = 0; i < sizeof(jira_opts) / sizeof(jira_opts[0]); i++)
		parse_one(WEBHOOK_JIRA, data, size, &jira_opts[i], have_doc ? &doc : NULL);
	parse_one(WEBHOOK_SERVICENOW, data, size, NULL, have_doc ? &doc : NULL);
	parse_one(WEBHOOK_SERVICENOW, data, size, &snow_opts, have_doc ? &doc : NULL);
	parse_one(WEBHOOK_GENERIC, data, size, NULL, have_doc ? &doc : NULL);
	if (have_doc)
		bson_destroy(&doc);
	return 0;
}
