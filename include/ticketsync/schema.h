/*
 * schema: MongoDB collections, validators and indexes ticketsync relies on, from the
 * schema/<collection>.json files compiled into the library (cmake/EmbedSchema.cmake),
 * so a binary needs no schema directory at run time.
 *
 * Runs on libmongoc threads only (the daemon at start, ticketsyncctl init).
 */
#ifndef TICKETSYNC_SCHEMA_H
#define TICKETSYNC_SCHEMA_H

#include <mongoc/mongoc.h>
#include <stdbool.h>
#include <stddef.h>

/* Generated from schema/<collection>.json: NULL-terminated, same order, sorted by name. */
extern const char *const schema_embedded_names[];
extern const char *const schema_embedded_json[];
extern const size_t schema_embedded_count;

/* The daemon ensures only its own collections; `ticketsyncctl init` ensures all
 * (NULL list), detections and tickets included. NULL-terminated. */
extern const char *const schema_service_collections[];

/* Oldest MongoDB release ticketsync supports (change streams with startAfter and
 * postBatchResumeToken exist since 4.2; 4.2 itself is end of life). */
#define SCHEMA_MIN_SERVER_MAJOR 4
#define SCHEMA_MIN_SERVER_MINOR 4

/* One collection's definition, parsed from its JSON file. */
typedef struct schema_spec {
	char name[64];
	bson_t validator;          /* {$jsonSchema: ...} */
	char validation_level[16]; /* "strict" | "moderate" | "off" */
	char validation_action[8]; /* "error" | "warn" */
	bson_t indexes;            /* array of {name, key, unique?, partialFilterExpression?} */
} schema_spec_t;

/* Parse one schema file's JSON text; checks the shape (validator, action, level,
 * every index has a name and a key). spec is always initialised: destroy it. */
bool schema_spec_parse(const char *json, schema_spec_t *spec, bson_error_t *err);
/* The embedded definition of a collection; false (err set) for an unknown name. */
bool schema_spec_load(const char *collection, schema_spec_t *spec, bson_error_t *err);
void schema_spec_destroy(schema_spec_t *spec);

/* True when an index description from listIndexes has the same key pattern (numbers
 * compared by value: 1, 1L and 1.0 are one direction), uniqueness and partial filter
 * as the wanted one. Names are not compared. */
bool schema_index_same(const bson_t *existing, const bson_t *wanted);

/* What schema_ensure did, or would do on a dry run: one human-readable line per
 * change. Empty when the database already matches. */
typedef struct schema_plan {
	char **lines;
	size_t n;
	size_t cap;
} schema_plan_t;

void schema_plan_init(schema_plan_t *plan);
void schema_plan_destroy(schema_plan_t *plan); /* NULL-safe */

/*
 * Make db match the embedded definitions of the named collections (NULL = all):
 * create missing collections with their validator, collMod validators (and their
 * level/action) that differ, create missing indexes. Idempotent: a second run finds
 * nothing to do. Safe against a concurrent run (NamespaceExists is not an error). An
 * index that exists under the wanted name with a different definition is an error:
 * it is never dropped silently. plan_out (may be NULL) must be initialised; lines are
 * appended, also when an error stops the run half-way.
 */
bool schema_ensure(mongoc_client_t *client, const char *db, const char *const *collections,
    bool dry_run, schema_plan_t *plan_out, bson_error_t *err);

typedef struct schema_deployment {
	bool replica_set;
	bool sharded;
	char set_name[128];
	char version[32]; /* "6.0.5" */
	int major, minor;
	int max_wire_version;
} schema_deployment_t;

/*
 * Ask the server (hello, or isMaster on old servers, then buildInfo) whether change
 * streams are available: a replica set (setName) or a sharded cluster (msg
 * "isdbgrid") running 4.4 or newer. false with a message that says what to fix.
 * info_out (may be NULL) is filled as far as known, also on failure.
 */
bool schema_check_deployment(mongoc_client_t *client, schema_deployment_t *info_out,
    bson_error_t *err);

/* "4.4.1" / "7.0.2-rc0" -> 4, 4 / 7, 0. false when not "<int>.<int>...". */
bool schema_parse_version(const char *version, int *major, int *minor);

#endif
