/*
 * ticket_import: writing imported tickets into the `tickets` collection (the MongoDB side of
 * `ticketsyncctl import-tickets`; parsing is importer's). Each ticket is one upsert:
 *
 *   {_id: ticket id}
 *   {$addToSet: {detection_ids: {$each: [...]}},     ids already there stay
 *    $set: {<given fields>, updated_at, source},      updated_at: the file's or now
 *    $setOnInsert: {<fields not given>: null}}        a new ticket has every field
 *
 * so rows of one ticket merge with what is stored and a column left out of the file
 * never clears a stored value. Tickets are read first, and one that already says
 * everything the file says is not written at all: re-importing a file changes
 * nothing (not even updated_at) and wakes no change stream. (A ticket changed by
 * someone else between that read and the write keeps the newer value.) The daemon's
 * change stream sees every ticket that did change.
 *
 * Runs on a libmongoc thread (ticketsyncctl's main thread).
 */
#ifndef TICKETSYNC_TICKET_IMPORT_H
#define TICKETSYNC_TICKET_IMPORT_H

#include <mongoc/mongoc.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ticketsync/importer.h"
#include "ticketsync/ticket.h"

#define TICKET_IMPORT_SOURCE "import"
/* Upserts per bulk write. */
#define TICKET_IMPORT_BATCH 1000

typedef struct ticket_import_stats {
	size_t written;   /* tickets that now say what the file says (the three below) */
	size_t inserted;  /* new tickets */
	size_t modified;  /* existing tickets that changed */
	size_t unchanged; /* existing tickets that already said so (not written) */
	size_t refused;   /* refused one by one (e.g. by the validator): see the callback */
} ticket_import_stats_t;

/* One ticket the server refused (code 121: the `tickets` validator). */
typedef void (*ticket_import_refused_fn)(void *arg, const importer_ticket_t *t, int code,
    const char *message);

/* The update document for t (initialised here). Pure. */
void ticket_import_build_update(const importer_ticket_t *t, int64_t now_ms, const char *source,
    bson_t *update);

/* Whether writing t would change nothing on the stored ticket (NULL: none). Pure. */
bool ticket_import_is_noop(const importer_ticket_t *t, const ticket_t *stored);

/*
 * Upsert n tickets in unordered bulk writes of TICKET_IMPORT_BATCH. A ticket the server
 * refuses is handed to refused (may be NULL) and counted; the others are written.
 * false (err set) when a whole batch failed (connection lost, not primary...):
 * stats then says how much was written before.
 */
bool ticket_import_write(mongoc_client_t *client, const char *db, const importer_ticket_t *tickets,
    size_t n, int64_t now_ms, const char *source, ticket_import_refused_fn refused, void *arg,
    ticket_import_stats_t *stats, bson_error_t *err);

#endif
