/*
 * fx_store: the fake's detections, by id, in the REST (snake_case) shape.
 *
 * A detection is either a stored document (loaded from a file or created through the
 * control API) or synthesized from its id (--detections-count and auto-create), which
 * keeps a million detections cheap. Ticket fields, mod_time, patched participants and
 * the note live beside the document and win over it when a detection is shown.
 * Pure data: no I/O except fx_store_load_file.
 */
#ifndef FX_STORE_H
#define FX_STORE_H

#include <bson/bson.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct fx_store fx_store_t;

typedef struct fx_detection {
	int64_t id;
	bson_t *doc;          /* NULL: synthesized from id and created_ms */
	int64_t created_ms;
	char *ticket_id, *status, *assignee, *resolution; /* NULL = JSON null */
	bson_t *participants; /* {"participants": [...]} once patched, else NULL */
	char *note;
	int64_t note_time;
	int64_t mod_time;
	/* Cached for search and sort. */
	char *title, *type;
	int64_t start_time, end_time, update_time, create_time, risk_score;
	bool has_create_time, has_risk_score;
	/* A raw search record (test-only, fx_store_add_raw): doc is sent verbatim by
	 * search and nothing else sees it; raw_seq keeps the order it was added in. */
	bool raw;
	int64_t raw_seq;
} fx_detection_t;

/* Which fields a PATCH sets; the strings point into the parsed body. */
enum {
	FX_PATCH_TICKET_ID = 1 << 0,
	FX_PATCH_STATUS = 1 << 1,
	FX_PATCH_ASSIGNEE = 1 << 2,
	FX_PATCH_RESOLUTION = 1 << 3,
	FX_PATCH_PARTICIPANTS = 1 << 4,
};

typedef struct fx_patch {
	bson_t body;
	unsigned set;
	const char *ticket_id, *status, *assignee, *resolution; /* NULL = set to null */
	bson_iter_t participants;
} fx_patch_t;

fx_store_t *fx_store_new(void);
void fx_store_destroy(fx_store_t *s);
size_t fx_store_count(const fx_store_t *s);

fx_detection_t *fx_store_get(fx_store_t *s, int64_t id);
/* Get, or synthesize a plausible detection with that id (auto-create mode). */
fx_detection_t *fx_store_get_or_create(fx_store_t *s, int64_t id, int64_t now_ms);
/* Synthesize ids 1..count (replacing any with those ids). */
int fx_store_generate(fx_store_t *s, int64_t count, int64_t now_ms, bson_error_t *error);
/* Create or replace from a REST-shaped document with an integer "id" > 0. */
int fx_store_put(fx_store_t *s, const bson_t *doc, int64_t now_ms, int64_t *id,
    bson_error_t *error);
/* Every element of an array iterator (or one document) through fx_store_put. */
int fx_store_put_many(fx_store_t *s, const bson_t *wrapper_v, int64_t now_ms,
    int64_t *stored, bson_error_t *error);
/* A JSON file holding an array of detections (or one object). */
int fx_store_load_file(fx_store_t *s, const char *path, int64_t now_ms, int64_t *stored,
    bson_error_t *error);
bool fx_store_remove(fx_store_t *s, int64_t id);
void fx_store_clear(fx_store_t *s);

/* Calls fn for every detection, in no particular order. */
void fx_store_foreach(fx_store_t *s, void (*fn)(fx_detection_t *, void *), void *arg);

/*
 * Raw search records: test-only equipment (POST /_fake/raw_search_records) for
 * malformed detection objects, which fx_store_put refuses. Each is any JSON object,
 * kept apart from the detections (GET, PATCH, stats' detection count never see it)
 * and returned verbatim by search. For search's filters and sort its fields are read
 * leniently: id, mod_time, start_time, end_time, update_time, create_time and
 * risk_score when they are integers (else 0 / absent), ticket fields, title and type
 * when they are strings (else null). wrapper_v: {"v": object or array of objects}.
 */
int fx_store_add_raw(fx_store_t *s, const bson_t *wrapper_v, int64_t *stored,
    bson_error_t *error);
void fx_store_clear_raw(fx_store_t *s);
size_t fx_store_raw_count(const fx_store_t *s);
/* Calls fn for every raw search record, in the order they were added. */
void fx_store_foreach_raw(fx_store_t *s, void (*fn)(fx_detection_t *, void *), void *arg);

/* The detection as the REST API shows it (a raw record: its document verbatim). out
 * must be initialised. */
void fx_store_to_bson(const fx_detection_t *d, bson_t *out);
/* true if the detection lists category cat. */
bool fx_store_has_category(const fx_detection_t *d, const char *cat);

/*
 * Validate a PATCH body: a JSON object with only ticket_id, status, assignee,
 * resolution, participants; status/resolution from ExtraHop's sets or null;
 * ticket_id/assignee strings or null; participants an array of objects. Always call
 * fx_patch_cleanup. Returns 0 or -1 with a message for the 400 reply.
 */
int fx_patch_parse(const char *body, size_t len, bool require_ticket_id, fx_patch_t *p,
    bson_error_t *error);
void fx_patch_cleanup(fx_patch_t *p);
/* Apply to one detection; mod_time becomes now_ms (never going backwards). */
int fx_patch_apply(fx_store_t *s, fx_detection_t *d, const fx_patch_t *p, int64_t now_ms);
/* Apply to every detection whose ticket_id equals p->ticket_id; returns how many. */
size_t fx_patch_apply_by_ticket(fx_store_t *s, const fx_patch_t *p, int64_t now_ms);

/* Set (note != NULL) or delete the note. */
int fx_store_set_note(fx_detection_t *d, const char *note, int64_t now_ms);

#endif
