/*
 * fuzz_fields: fields_from_document on arbitrary documents (raw BSON or extended
 * JSON): the reader of our own state documents and PATCH bodies. Accepted values must
 * be bounded, valid UTF-8, and survive a write and read back unchanged (the outbox
 * relies on that to tell "already pushed" from "changed"); a refusal must say why.
 * The last input byte also drives fields_mask_describe with every buffer size.
 */
#include "fuzz_common.h"
#include "ticketsync/fields.h"

static void
round_trip(const fields_t *f)
{
	bson_t doc = BSON_INITIALIZER, sub;
	bson_iter_t it;
	const uint8_t *data;
	uint32_t len;
	fields_t back;
	bson_error_t err;

	/* As a sub-document (the state's "pushed"), and as a PATCH body. */
	fields_append_document(&doc, "f", f);
	FUZZ_CHECK(bson_iter_init_find(&it, &doc, "f") && BSON_ITER_HOLDS_DOCUMENT(&it), "no sub-document");
	bson_iter_document(&it, &len, &data);
	FUZZ_CHECK(bson_init_static(&sub, data, len), "bad sub-document");
	FUZZ_CHECK(fields_from_document(&sub, &back, &err), "round trip refused: %s", err.message);
	FUZZ_CHECK(fields_equal(f, &back) && fields_diff(f, &back) == 0, "round trip changed the fields");
	bson_reinit(&doc);
	fields_append_members(&doc, f, FIELDS_ALL);
	FUZZ_CHECK(fields_from_document(&doc, &back, &err), "body round trip refused: %s", err.message);
	FUZZ_CHECK(fields_equal(f, &back), "body round trip changed the fields");
	bson_destroy(&doc);
}

static void
describe(unsigned mask)
{
	char buf[64];

	for (size_t n = 0; n <= sizeof(buf); n++) {
		memset(buf, 'Z', sizeof(buf));
		fields_mask_describe(mask, buf, n);
		if (n > 0)
			FUZZ_CHECK(memchr(buf, '\0', n) != NULL, "mask text not terminated within %zu bytes", n);
		if (n < sizeof(buf))
			FUZZ_CHECK(buf[n] == 'Z', "mask text wrote past %zu bytes", n);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	bson_t doc;
	uint8_t *scratch;
	fields_t f;
	bson_error_t err;

	if (size > 0)
		describe(data[size - 1]);
	if (!fuzz_doc(data, size, &doc, &scratch))
		return 0;
	memset(&err, 0, sizeof(err));
	if (fields_from_document(&doc, &f, &err)) {
		FUZZ_CHECK(strlen(f.ticket_id) <= FIELDS_TICKET_ID_MAX, "ticket_id too long");
		FUZZ_CHECK(strlen(f.assignee) <= FIELDS_ASSIGNEE_MAX, "assignee too long");
		FUZZ_CHECK(fuzz_utf8(f.ticket_id, strlen(f.ticket_id)), "ticket_id invalid UTF-8");
		FUZZ_CHECK(fuzz_utf8(f.assignee, strlen(f.assignee)), "assignee invalid UTF-8");
		FUZZ_CHECK(f.has_ticket_id || f.ticket_id[0] == '\0', "absent ticket_id has a value");
		FUZZ_CHECK(f.has_assignee || f.assignee[0] == '\0', "absent assignee has a value");
		FUZZ_CHECK((unsigned)f.status <= FIELDS_STATUS_ACKNOWLEDGED, "status %d", (int)f.status);
		FUZZ_CHECK((unsigned)f.resolution <= FIELDS_RESOLUTION_NO_ACTION_TAKEN, "resolution %d",
		    (int)f.resolution);
		round_trip(&f);
	} else {
		FUZZ_CHECK(err.message[0] != '\0', "refused without a message");
	}
	bson_destroy(&doc);
	free(scratch);
	return 0;
}
