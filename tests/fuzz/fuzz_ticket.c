/*
 * fuzz_ticket: ticket_parse on arbitrary documents (raw BSON or extended JSON).
 * A ticket it accepts must keep the promises reconcile relies on (a non-empty,
 * bounded, valid UTF-8 id; detection ids sorted, unique and in range, so bisection
 * works; bounded strings); a refusal must say why and name the ticket when it can.
 * Leaks on either path are caught by ASan.
 */
#include "fuzz_common.h"
#include "ticketsync/detection.h"
#include "ticketsync/fields.h"
#include "ticketsync/statusmap.h"
#include "ticketsync/ticket.h"

static void
check_string(const char *name, const char *s, size_t max)
{
	size_t len;

	if (s == NULL)
		return;
	len = strlen(s);
	FUZZ_CHECK(len <= max, "%s is %zu bytes, more than %zu", name, len, max);
	FUZZ_CHECK(fuzz_utf8(s, len), "%s accepted with invalid UTF-8", name);
}

static void
check_ticket(const ticket_t *t)
{
	FUZZ_CHECK(t->id != NULL && t->id[0] != '\0', "accepted without an id");
	check_string("_id", t->id, FIELDS_TICKET_ID_MAX);
	check_string("status", t->status, STATUSMAP_NAME_MAX);
	check_string("assignee", t->assignee, FIELDS_ASSIGNEE_MAX);
	check_string("resolution", t->resolution, STATUSMAP_NAME_MAX);
	check_string("status_category", t->status_category, STATUSMAP_NAME_MAX);
	check_string("source", t->source, TICKET_SOURCE_MAX);
	FUZZ_CHECK(t->updated_at >= 0, "updated_at %lld", (long long)t->updated_at);
	FUZZ_CHECK(t->n_detection_ids <= TICKET_DETECTION_IDS_MAX, "%zu detection ids",
	    t->n_detection_ids);
	FUZZ_CHECK(t->n_detection_ids == 0 || t->detection_ids != NULL, "ids missing");
	for (size_t i = 0; i < t->n_detection_ids; i++) {
		int64_t v = t->detection_ids[i];

		FUZZ_CHECK(v >= 1 && v <= DETECTION_ID_MAX, "detection id %lld", (long long)v);
		FUZZ_CHECK(i == 0 || t->detection_ids[i - 1] < v, "detection ids not sorted/unique at %zu", i);
		FUZZ_CHECK(ticket_has_detection(t, v), "ticket_has_detection misses %lld", (long long)v);
		/* Neighbours not in the list must not be found. */
		if (i + 1 == t->n_detection_ids || t->detection_ids[i + 1] != v + 1)
			FUZZ_CHECK(!ticket_has_detection(t, v + 1), "ticket_has_detection finds %lld",
			    (long long)(v + 1));
	}
	FUZZ_CHECK(!ticket_has_detection(t, 0), "detection 0 found");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	bson_t doc;
	uint8_t *scratch;
	ticket_t t;
	bson_error_t err;
	int rc;

	if (!fuzz_doc(data, size, &doc, &scratch))
		return 0;
	memset(&err, 0, sizeof(err));
	rc = ticket_parse(&doc, &t, &err);
	FUZZ_CHECK(rc == 0 || rc == -1, "rc %d", rc);
	if (rc == 0) {
		check_ticket(&t);
		ticket_cleanup(&t);
		FUZZ_CHECK(t.id == NULL && t.detection_ids == NULL, "ticket_cleanup left pointers");
	} else {
		FUZZ_CHECK(err.message[0] != '\0', "refused without a message");
		FUZZ_CHECK(strncmp(err.message, "ticket", 6) == 0, "message \"%s\" does not name the ticket",
		    err.message);
		/* "out then holds nothing to free" */
		FUZZ_CHECK(t.id == NULL && t.detection_ids == NULL && t.status == NULL &&
		               t.assignee == NULL && t.resolution == NULL && t.source == NULL &&
		               t.status_category == NULL,
		    "refused ticket still holds memory");
	}
	bson_destroy(&doc);
	free(scratch);
	return 0;
}
