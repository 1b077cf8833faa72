/*
 * fuzz_detection: detection_parse on arbitrary documents (raw BSON or extended JSON).
 * Checks what the rest of the service relies on when it says yes (bounded, valid
 * UTF-8 values inside the document; ids and times in range) and that a no always
 * says why, naming the detection.
 */
#include <math.h>

#include "fuzz_common.h"
#include "ticketsync/detection.h"
#include "ticketsync/fields.h"

/* p points into doc's bytes (the parser promises no copies). */
static bool
inside(const bson_t *doc, const char *p)
{
	const uint8_t *d = bson_get_data(doc);

	return (const uint8_t *)p >= d && (const uint8_t *)p < d + doc->len;
}

static void
check_string(const bson_t *doc, const char *name, const char *s, size_t max)
{
	size_t len;

	if (s == NULL)
		return;
	FUZZ_CHECK(inside(doc, s), "%s does not point into the document", name);
	len = strlen(s);
	FUZZ_CHECK(len <= max, "%s is %zu bytes, more than %zu", name, len, max);
	FUZZ_CHECK(fuzz_utf8(s, len), "%s accepted with invalid UTF-8", name);
}

static void
check_fields(const fields_t *f)
{
	bson_t doc = BSON_INITIALIZER;
	bson_iter_t it;
	bson_t sub;
	const uint8_t *data;
	uint32_t len;
	fields_t back;
	bson_error_t err;

	FUZZ_CHECK(strlen(f->ticket_id) <= FIELDS_TICKET_ID_MAX, "ticket_id too long");
	FUZZ_CHECK(strlen(f->assignee) <= FIELDS_ASSIGNEE_MAX, "assignee too long");
	FUZZ_CHECK(f->has_ticket_id || f->ticket_id[0] == '\0', "absent ticket_id has a value");
	FUZZ_CHECK(f->has_assignee || f->assignee[0] == '\0', "absent assignee has a value");
	FUZZ_CHECK((unsigned)f->status <= FIELDS_STATUS_ACKNOWLEDGED, "status %d", (int)f->status);
	FUZZ_CHECK((unsigned)f->resolution <= FIELDS_RESOLUTION_NO_ACTION_TAKEN, "resolution %d",
	    (int)f->resolution);
	/* What ExtraHop showed is written to the state and read back: it must survive. */
	fields_append_document(&doc, "f", f);
	FUZZ_CHECK(bson_iter_init_find(&it, &doc, "f"), "no sub-document");
	bson_iter_document(&it, &len, &data);
	FUZZ_CHECK(bson_init_static(&sub, data, len), "bad sub-document");
	FUZZ_CHECK(fields_from_document(&sub, &back, &err), "round trip refused: %s", err.message);
	FUZZ_CHECK(fields_equal(f, &back), "round trip changed the fields");
	bson_destroy(&doc);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	bson_t doc;
	uint8_t *scratch;
	detection_t d, again;
	bson_error_t err, err2;
	int rc;

	if (!fuzz_doc(data, size, &doc, &scratch))
		return 0;
	memset(&err, 0, sizeof(err));
	rc = detection_parse(&doc, &d, &err);
	FUZZ_CHECK(rc == 0 || rc == -1, "rc %d", rc);
	if (rc != 0) {
		FUZZ_CHECK(err.message[0] != '\0', "refused without a message");
		FUZZ_CHECK(strncmp(err.message, "detection", 9) == 0, "message \"%s\" does not name the detection",
		    err.message);
		FUZZ_CHECK(d.title == NULL && d.type == NULL, "refused but title/type set");
	} else {
		FUZZ_CHECK(d.id >= 1 && d.id <= DETECTION_ID_MAX, "id %lld", (long long)d.id);
		FUZZ_CHECK(d.start_time >= 0 && d.start_time <= DETECTION_ID_MAX, "start_time");
		FUZZ_CHECK(d.end_time >= 0 && d.end_time <= DETECTION_ID_MAX, "end_time");
		FUZZ_CHECK(d.update_time >= 0 && d.update_time <= DETECTION_ID_MAX, "update_time");
		FUZZ_CHECK(d.mod_time >= 0 && d.mod_time <= DETECTION_ID_MAX, "mod_time");
		FUZZ_CHECK(!d.has_risk_score || isfinite(d.risk_score), "risk_score %g", d.risk_score);
		check_string(&doc, "title", d.title, DETECTION_TITLE_MAX);
		check_string(&doc, "type", d.type, DETECTION_TYPE_MAX);
		check_fields(&d.fields);
	}
	/* Pure: the same document gives the same answer. */
	memset(&err2, 0, sizeof(err2));
	FUZZ_CHECK(detection_parse(&doc, &again, &err2) == rc, "second parse disagrees");
	if (rc == 0)
		FUZZ_CHECK(again.id == d.id && fields_equal(&again.fields, &d.fields),
		    "second parse gives other values");
	else
		FUZZ_CHECK(strcmp(err.message, err2.message) == 0, "second parse, other message");
	bson_destroy(&doc);
	free(scratch);
	return 0;
}
