/* tsoutbox: ExtraHop's outbox in fields, for tests; see tsoutbox.h. */
#include "tsoutbox.h"

#include <stdio.h>
#include <stdlib.h>

#include "ticketsync/dest_extrahop.h"
#include "ticketsync/store.h"

bool
tsoutbox_set(mongoc_client_t *client, const char *db, int64_t id, const fields_t *desired,
    const fields_t *baseline, const char *ticket_id, int64_t now_ms, outbox_set_result_t *res,
    bson_error_t *err)
{
	bson_t *d = fields_new_document(desired);
	bson_t *b = fields_new_document(baseline);
	bool ok = outbox_set_desired(client, db, STORE_COLL_STATE, id, d, b, ticket_id, now_ms, res,
	    err);

	bson_destroy(d);
	bson_destroy(b);
	return ok;
}

static void
tsoutbox_decode(const outbox_item_t *item, fields_t *f, unsigned *mask)
{
	bson_error_t err;

	if (!dest_extrahop_decode(item, f, mask, &err)) {
		fprintf(stderr, "tsoutbox: item %lld does not decode: %s\n", (long long)item->id,
		    err.message);
		abort();
	}
}

fields_t
tsoutbox_desired(const outbox_item_t *item)
{
	fields_t f;
	unsigned mask;

	tsoutbox_decode(item, &f, &mask);
	return f;
}

unsigned
tsoutbox_mask(const outbox_item_t *item)
{
	fields_t f;
	unsigned mask;

	tsoutbox_decode(item, &f, &mask);
	return mask;
}

void
tsoutbox_clear(outbox_item_t *items, size_t n)
{
	for (size_t i = 0; i < n; i++)
		outbox_item_clear(&items[i]);
}
