/*
 * dest_extrahop: ExtraHop as a destination of the push engine (dest.h): an item is a
 * detection's ticket fields, sent as PATCH /api/v1/detections/{id} with the fields
 * its claim's mask names (pushplan_claim_mask), through the extrahop client. Its
 * items live in ticketsync_state (STORE_COLL_STATE).
 */
#ifndef TICKETSYNC_DEST_EXTRAHOP_H
#define TICKETSYNC_DEST_EXTRAHOP_H

#include "ticketsync/dest.h"
#include "ticketsync/extrahop.h"

/* The destination over eh (not owned). */
dest_t dest_extrahop(extrahop_t *eh);

#endif
