/*
 * dest_extrahop: ExtraHop as a destination of the push engine (dest.h): an item is a
 * detection's ticket fields (its values are fields documents, fields_append_document),
 * sent as PATCH /api/v1/detections/{id} with the fields pushplan_claim_mask names,
 * through the extrahop client. Its items live in ticketsync_state (STORE_COLL_STATE).
 */
#ifndef TICKETSYNC_DEST_EXTRAHOP_H
#define TICKETSYNC_DEST_EXTRAHOP_H

#include <stdbool.h>

#include "ticketsync/dest.h"
#include "ticketsync/extrahop.h"
#include "ticketsync/fields.h"

/* The destination over eh (not owned). */
dest_t dest_extrahop(extrahop_t *eh);

/* A claimed item's desired fields and the PATCH mask (against what ExtraHop last
 * acknowledged, else the baseline; every field for a recheck). Pure. false with err
 * when a value is not a fields document. */
bool dest_extrahop_decode(const outbox_item_t *item, fields_t *desired, unsigned *mask,
    bson_error_t *err);

#endif
