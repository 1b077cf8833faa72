/*
 * detection: validate one `detections` document (written by our ExtraHop trigger
 * through the ODS MongoDB target, REST-style snake_case) into a detection_t.
 * Pure: no I/O. Unknown extra fields are allowed; a known field of the wrong type,
 * too large, or not valid UTF-8 is an error naming the detection and the field.
 * Every optional field may be absent or null.
 */
#ifndef TICKETSYNC_DETECTION_H
#define TICKETSYNC_DETECTION_H

#include <bson/bson.h>
#include <stdint.h>

#include "ticketsync/error.h"
#include "ticketsync/fields.h"

/* Largest id or time accepted: every integer a JavaScript number holds exactly. */
#define DETECTION_ID_MAX (INT64_C(1) << 53)

/* Size bounds (bytes / items). */
#define DETECTION_TITLE_MAX 1024
#define DETECTION_DESCRIPTION_MAX (64 * 1024)
#define DETECTION_TYPE_MAX 256
#define DETECTION_CATEGORY_MAX 256
#define DETECTION_CATEGORIES_MAX 256
#define DETECTION_PARTICIPANTS_MAX 10000
#define DETECTION_MITRE_MAX 1024

typedef struct detection {
	int64_t id;
	/* What ExtraHop showed at its last DETECTION_UPDATE (status/resolution are
	 * ExtraHop's wire values; absent = null). */
	fields_t fields;
	/* Epoch ms; 0 when absent or null. */
	int64_t start_time;
	int64_t end_time;
	int64_t update_time;
	int64_t mod_time;
	bool has_risk_score;
	double risk_score;
	/* Point into the parsed document: valid while the document lives. NULL when
	 * absent or null. */
	const char *title;
	const char *type;
} detection_t;

/* Codes of detection_parse's errors (domain ERROR_DOMAIN). */
enum detection_error {
	DETECTION_ERR_ID = ERROR_BASE_DETECTION, /* _id is missing or not a detection id: the
	                                          * document can never be loaded by id */
	DETECTION_ERR_INVALID, /* another field, or the document, is unusable */
};

/* 0 on success; -1 with err ("detection 12: risk_score must be a number or null,
 * got string") otherwise. out is fully written either way. */
int detection_parse(const bson_t *doc, detection_t *out, bson_error_t *err);

/*
 * One detection id from a BSON value: int32, int64, or an integral double, in
 * 1..DETECTION_ID_MAX. On failure returns -1 and writes why ("must be an integer
 * from 1 to 2^53, got string") into why. Shared with the ticket parser.
 */
int detection_id_from_iter(const bson_iter_t *it, int64_t *out, char *why, size_t whylen);

/* An epoch-ms time: the same rules with 0 allowed (0..2^53). Shared with tickets. */
int detection_time_from_iter(const bson_iter_t *it, int64_t *out, char *why, size_t whylen);

/*
 * The audit message for a `detections` document whose _id is not a detection id
 * ("detection document with _id \"seven\" ignored: the detection id must be ...").
 * Such documents can never be loaded by id, so the watcher (on their change event)
 * and a full rescan report them with this one text.
 */
void detection_bad_id_message(const bson_iter_t *id, char *buf, size_t len);

/* Short name of a BSON type for error messages ("string", "double", "array", ...). */
const char *detection_type_name(bson_type_t t);

#endif
