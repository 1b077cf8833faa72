/*
 * tsoutbox: ExtraHop's outbox (ticketsync_state) for the store tests, in fields:
 * record fields as desired values, and read a claimed item back as the fields and
 * PATCH mask the ExtraHop destination would send (dest_extrahop_decode).
 */
#ifndef TSOUTBOX_H
#define TSOUTBOX_H

#include <stdbool.h>
#include <stddef.h>

#include "ticketsync/fields.h"
#include "ticketsync/outbox.h"

/* outbox_set_desired on ticketsync_state with fields values. */
bool tsoutbox_set(mongoc_client_t *client, const char *db, int64_t id, const fields_t *desired,
    const fields_t *baseline, const char *ticket_id, int64_t now_ms, outbox_set_result_t *res,
    bson_error_t *err);

/* The claimed item's desired fields / PATCH mask; aborts the test program when the
 * item does not decode (a store test never makes one that does not). */
fields_t tsoutbox_desired(const outbox_item_t *item);
unsigned tsoutbox_mask(const outbox_item_t *item);

/* outbox_item_clear on n items. */
void tsoutbox_clear(outbox_item_t *items, size_t n);

#endif
