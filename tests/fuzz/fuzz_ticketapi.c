/*
 * fuzz_ticketapi: a ticket system's reply bytes, before ticketsync believes them: the
 * create reply (ticketapi_parse_created: its key becomes a tickets _id and the
 * detection's ticket_id), the lookup reply (ticketapi_parse_lookup: a match stops a
 * create), the error text (ticketapi_error_message: quoted into audit records and
 * parked reasons) and X-RateLimit-Reset (ticketapi_rate_limit_reset_ms), for every
 * target.
 *
 * Checks: an accepted key is non-empty, valid UTF-8 without control characters and
 * fits the ticket id bound; a refusal says why; a lookup match for ServiceNow is never
 * a row with another correlation_id (checked by re-parsing with a key the input cannot
 * hold); error text is valid UTF-8, NUL-terminated inside every buffer size, never
 * written past; a reset is never negative.
 */
#include "fuzz_common.h"
#include "ticketsync/fields.h"
#include "ticketsync/ticketapi.h"

#define GUARD 8

static const ticketapi_target_t targets[] = {
	{ .kind = TICKETSPEC_JIRA, .jira_cloud = true },
	{ .kind = TICKETSPEC_JIRA },
	{ .kind = TICKETSPEC_SERVICENOW },
	{ .kind = TICKETSPEC_HTTP },
	{ .kind = TICKETSPEC_HTTP, .id_path = "result.ticket.id" },
};

static void
check_key(const char *what, const ticketapi_ticket_t *t)
{
	size_t len = strlen(t->key);

	FUZZ_CHECK(len > 0 && len <= FIELDS_TICKET_ID_MAX, "%s: key of %zu bytes", what, len);
	FUZZ_CHECK(fuzz_utf8(t->key, len), "%s: key is not valid UTF-8", what);
	for (size_t i = 0; i < len; i++)
		FUZZ_CHECK((unsigned char)t->key[i] >= 0x20 && t->key[i] != 0x7f,
		    "%s: control character 0x%02x in a key", what, (unsigned char)t->key[i]);
	FUZZ_CHECK(fuzz_utf8(t->ref, strlen(t->ref)), "%s: ref is not valid UTF-8", what);
	FUZZ_CHECK(fuzz_utf8(t->status, strlen(t->status)), "%s: status is not valid UTF-8", what);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t sizes[] = { 1, 2, 3, 4, 5, 16, 64, 257 };
	const char *body = (const char *)data;
	char buf[257 + GUARD];
	char *text = fuzz_strdup(data, size);

	for (size_t i = 0; i < sizeof(targets) / sizeof(targets[0]); i++) {
		ticketapi_ticket_t t;
		bson_error_t err;
		int rc;

		memset(&err, 0, sizeof(err));
		if (ticketapi_parse_created(&targets[i], body, size, &t, &err))
			check_key("created", &t);
		else
			FUZZ_CHECK(err.message[0] != '\0', "a create reply refused without a message");
		if (targets[i].kind == TICKETSPEC_HTTP)
			continue;
		memset(&err, 0, sizeof(err));
		rc = ticketapi_parse_lookup(&targets[i], body, size,
		    targets[i].kind == TICKETSPEC_SERVICENOW ? "12" : "extrahop-detection-12", &t, &err);
		FUZZ_CHECK(rc >= -1 && rc <= 1, "lookup returned %d", rc);
		if (rc == 1)
			check_key("lookup", &t);
		if (rc < 0)
			FUZZ_CHECK(err.message[0] != '\0', "a lookup reply refused without a message");
		/* A key no JSON text holds can match only where the reply is not checked. */
		if (targets[i].kind == TICKETSPEC_SERVICENOW)
			FUZZ_CHECK(ticketapi_parse_lookup(&targets[i], body, size, "\x01", &t, &err) < 1,
			    "a ServiceNow row matched without its correlation_id");
	}
	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		size_t n = sizes[k];
		const char *nul;

		memset(buf, 'G', sizeof(buf));
		ticketapi_error_message(body, size, buf, n);
		nul = memchr(buf, '\0', n);
		FUZZ_CHECK(nul != NULL, "error message not terminated within %zu bytes", n);
		FUZZ_CHECK(fuzz_utf8(buf, (size_t)(nul - buf)), "error message is not valid UTF-8");
		for (size_t g = 0; g < GUARD; g++)
			FUZZ_CHECK(buf[n + g] == 'G', "error message wrote past %zu bytes", n);
	}
	FUZZ_CHECK(ticketapi_rate_limit_reset_ms(text, INT64_C(1796000000000)) >= -1,
	    "a negative reset");
	free(text);
	return 0;
}
