/*
 * statusmap: a ticket's (status, resolution) -> ExtraHop's (status, resolution).
 * Built once from the shipped defaults plus [statusmap] config entries, then only
 * read (safe to share between threads). Pure: no I/O.
 *
 * Entry syntax (see docs/CONFIGURATION.md):
 *   key   = <ticket status>            or  <ticket status>|<ticket resolution>
 *   value = new | in_progress | acknowledged | open | closed
 *           | closed/action_taken | closed/no_action_taken | closed/from_ticket
 * Keys match case-insensitively (ASCII) with surrounding whitespace trimmed; "open"
 * means ExtraHop's null status. Lookup tries the exact (status, resolution) entry,
 * then the status-only entry; a ticket resolution that is NULL or blank matches the
 * key "<status>|" (empty resolution). closed/from_ticket takes the ticket's
 * resolution through the resolution rules (statusmap_resolution_rule), null when it
 * does not resolve.
 *
 * Status categories: a key "category:<key>" (e.g. "category:done") is the entry for
 * tickets whose status name has no entry but whose ticket system files it under a
 * category (Jira's statusCategory.key: new, indeterminate, done). The shipped defaults
 * map new -> new, indeterminate -> in_progress, done -> closed/from_ticket; [statusmap]
 * may override them like any entry, or add "category:done|Won't Do" style keys.
 */
#ifndef TICKETSYNC_STATUSMAP_H
#define TICKETSYNC_STATUSMAP_H

#include <bson/bson.h>
#include <stdbool.h>
#include <stddef.h>

#include "ticketsync/error.h"
#include "ticketsync/fields.h"

/* Longest accepted ticket status / resolution (bytes); the ticket parser uses it too. */
#define STATUSMAP_NAME_MAX 128
/* Key prefix of status category entries. */
#define STATUSMAP_CATEGORY_PREFIX "category:"

typedef struct statusmap statusmap_t;

/* Codes of statusmap_add's errors (domain ERROR_DOMAIN). */
enum statusmap_error {
	STATUSMAP_ERR_VALUE = ERROR_BASE_STATUSMAP, /* the key or value cannot be parsed */
	STATUSMAP_ERR_DUPLICATE, /* the key was already added (keys ignore case) */
};

enum statusmap_result {
	STATUSMAP_MAPPED = 0,
	STATUSMAP_UNMAPPED, /* no entry: the caller pushes nothing and audits */
};

/* An empty map, or one holding the shipped defaults. Never NULL. */
statusmap_t *statusmap_new(bool with_defaults);
void statusmap_destroy(statusmap_t *map);

/*
 * Add one entry. An entry replaces a shipped default with the same key; giving the
 * same key twice through statusmap_add is an error. On error (bad key or value) the
 * map is unchanged and err names the entry: `"Done|Won't Do" = "clsed": ...`.
 */
int statusmap_add(statusmap_t *map, const char *key, const char *value, bson_error_t *err);

/*
 * Map a ticket's status and resolution (either may be NULL). A NULL status maps to
 * ExtraHop's null status ("Open"). A resolution is only ever produced with
 * FIELDS_STATUS_CLOSED. On STATUSMAP_UNMAPPED the outputs are set to null.
 */
enum statusmap_result statusmap_lookup(const statusmap_t *map, const char *status,
                                       const char *resolution, enum fields_status *st,
                                       enum fields_resolution *res);

/*
 * statusmap_lookup, then, when the status is unmapped and category is not NULL (nor
 * blank), the "category:<category>" entries with the same resolution. by_category (may
 * be NULL) says whether the category decided. The result reconcile uses.
 */
enum statusmap_result statusmap_lookup_ticket(const statusmap_t *map, const char *status,
                                              const char *category, const char *resolution,
                                              enum fields_status *st, enum fields_resolution *res,
                                              bool *by_category);

/* The resolution rules closed/from_ticket uses: ExtraHop's own names plus the common
 * Jira resolutions and ServiceNow close codes, matched like keys. -1 if none. */
int statusmap_resolution_rule(const char *ticket_resolution, enum fields_resolution *out);

/* Entries in the map, and entry i as written ("Done|Won't Do", "closed/no_action_taken"),
 * e.g. for `ticketsyncctl config`. Returns false when i is out of range. */
size_t statusmap_count(const statusmap_t *map);
bool statusmap_entry(const statusmap_t *map, size_t i, const char **key, const char **value);

#endif
