/*
 * ticketspec: which detections get a ticket, and what the ticket says. Built once from
 * the [create] / [jira] / [servicenow] configuration (every error names its key), then
 * immutable. Pure: no I/O and no clock.
 *
 *   qualify: a detection document (as the trigger wrote it) -> creates a ticket, or why
 *            not (has one already, before the start point, risk score, category, type,
 *            user-created).
 *   render:  the same document -> the creation's desired value, canonical BSON that the
 *            creation outbox stores before any request and the destination sends:
 *              {detection_id, key, target, summary, assignee, body}
 *            key: what finds the ticket again (the Jira label / HTTP idempotency key
 *            "extrahop-detection-<id>", ServiceNow's correlation_id "<id>"); body: the
 *            request's JSON object for the target.
 *
 * Templates (summary, description, labels) take placeholders in braces: {id} {title}
 * {description} {risk_score} {categories} {type} {start_time} {end_time} {url}
 * {mitre_tactics} {mitre_techniques} {participants}; "{{" and "}}" are literal braces,
 * "\n" a line break and "\\" a backslash (an INI value is one line).
 * In labels (a comma list) an item that is exactly {categories} becomes one label per
 * category; blanks inside a label become '_' (Jira labels cannot hold them).
 * Risk bands: "80:Highest,60:High,30:Medium,0:Low" -> the first band whose minimum
 * the risk score reaches (a detection without a score takes the lowest band).
 */
#ifndef TICKETSYNC_TICKETSPEC_H
#define TICKETSYNC_TICKETSPEC_H

#include <bson/bson.h>
#include <stdbool.h>
#include <stdint.h>

#include "ticketsync/detection.h"
#include "ticketsync/error.h"

/* ServiceNow incidents ticketsync made say so; the lookup checks it. */
#define TICKETSPEC_SN_CORRELATION_DISPLAY "ExtraHop"
/* The lookup key's label prefix, which the Jira webhook intake also recognises. */
#define TICKETSPEC_LABEL_PREFIX "extrahop-detection-"
/* Jira's summary limit; ServiceNow's short_description is shorter. */
#define TICKETSPEC_SUMMARY_MAX 255
#define TICKETSPEC_SN_SUMMARY_MAX 160
#define TICKETSPEC_DESCRIPTION_MAX (32 * 1024)

enum ticketspec_error {
	TICKETSPEC_ERR_CONFIG = ERROR_BASE_TICKETSPEC, /* an option is refused (names the key) */
	TICKETSPEC_ERR_DETECTION, /* the detection cannot be rendered (no usable id) */
};

enum ticketspec_target {
	TICKETSPEC_JIRA = 0,
	TICKETSPEC_SERVICENOW,
	TICKETSPEC_HTTP,
};

enum ticketspec_user_created {
	TICKETSPEC_USER_ANY = 0, /* both */
	TICKETSPEC_USER_ONLY,    /* only detections an analyst created */
	TICKETSPEC_USER_NONE,    /* only ExtraHop's own */
};

typedef struct ticketspec_opts {
	enum ticketspec_target target;
	bool jira_cloud;              /* assignee by accountId (Cloud) or by name (DC) */
	int64_t risk_score_min;
	const char *categories;       /* comma lists; NULL or "" = no condition */
	const char *types_include;
	const char *types_exclude;
	enum ticketspec_user_created user_created;
	const char *summary;          /* templates; NULL = the defaults */
	const char *description;
	const char *labels;
	const char *priority_bands;   /* "" = no priority field */
	const char *assignee;         /* "" = none */
	const char *extra_fields;     /* JSON object merged into the body; NULL = none */
	const char *jira_project;
	const char *jira_issue_type;
	const char *sn_assignment_group; /* NULL = none */
	const char *sn_caller;
	const char *sn_urgency_bands;
	const char *sn_impact_bands;
	const char *extrahop_url;     /* for {url} when the document has none; may be NULL */
} ticketspec_opts_t;

/* The shipped defaults, as the configuration documents them. */
#define TICKETSPEC_DEFAULT_SUMMARY "ExtraHop Detection: {id}: {title}"
#define TICKETSPEC_DEFAULT_DESCRIPTION                                                      \
	"ExtraHop has detected the following event on your network: {description}\n\n"      \
	"Risk score: {risk_score}\nType: {type}\nCategories: {categories}\n"                  \
	"Participants: {participants}\nMITRE tactics: {mitre_tactics}\n"                      \
	"MITRE techniques: {mitre_techniques}\nStarted: {start_time}\n\n"                     \
	"View the detection in ExtraHop: {url}"
#define TICKETSPEC_DEFAULT_LABELS "{categories}," TICKETSPEC_LABEL_PREFIX "{id}"
#define TICKETSPEC_DEFAULT_PRIORITY_BANDS "80:Highest,60:High,30:Medium,0:Low"
#define TICKETSPEC_DEFAULT_SN_BANDS "80:1,50:2,0:3"

typedef struct ticketspec ticketspec_t;

/* NULL with err ("[create] priority_bands: ...") when an option is refused. */
ticketspec_t *ticketspec_new(const ticketspec_opts_t *opts, bson_error_t *err);
void ticketspec_destroy(ticketspec_t *s);
enum ticketspec_target ticketspec_target(const ticketspec_t *s);
const char *ticketspec_target_name(enum ticketspec_target t); /* "jira", ... */

enum ticketspec_verdict {
	TICKETSPEC_CREATE = 0,
	TICKETSPEC_HAS_TICKET,    /* a ticket lists it, or ExtraHop shows a ticket_id */
	TICKETSPEC_BEFORE_START,  /* first seen before the start point */
	TICKETSPEC_RISK_LOW,
	TICKETSPEC_CATEGORY,      /* none of the wanted categories */
	TICKETSPEC_TYPE,          /* not an included type, or an excluded one */
	TICKETSPEC_USER_CREATED,
};
const char *ticketspec_verdict_name(enum ticketspec_verdict v); /* "create", "has_ticket", ... */

/*
 * Whether detection det (parsed from doc) gets a ticket. has_ticket: a document in
 * `tickets` lists it. start_ms: detections whose start_time (first seen) is before it
 * do not qualify (0: no start point).
 */
enum ticketspec_verdict ticketspec_qualify(const ticketspec_t *s, const bson_t *doc,
    const detection_t *det, bool has_ticket, int64_t start_ms);

/* The creation's desired value for det (see the top), into out (initialised here). */
bool ticketspec_render(const ticketspec_t *s, const bson_t *doc, const detection_t *det,
    bson_t *out, bson_error_t *err);

/* The lookup key of detection id for target, into buf. */
void ticketspec_key(enum ticketspec_target t, int64_t id, char *buf, size_t len);

#endif
