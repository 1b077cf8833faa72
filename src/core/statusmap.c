/* statusmap: ticket status/resolution -> ExtraHop status/resolution; see statusmap.h. */
#include "ticketsync/statusmap.h"

#include <stdlib.h>
#include <string.h>

#include "ticketsync/xalloc.h"

struct statusmap_entry {
	char *status;     /* normalized (trimmed, ASCII lower case) */
	char *resolution; /* normalized; NULL = status-only entry, "" = blank resolution */
	char *key;        /* as written, trimmed: for messages and listings */
	char *value;
	enum fields_status st;
	enum fields_resolution res;
	bool from_ticket;
	bool user; /* added through statusmap_add, not a shipped default */
};

struct statusmap {
	struct statusmap_entry *entries;
	size_t n, cap;
};

/* Shipped defaults: ExtraHop's own values, Jira, ServiceNow (names and state codes).
 * "Open" is Jira's not-started status, so it maps to new (ExtraHop's null status is
 * produced by a null ticket status, or by a user entry `open = open`). */
static const struct {
	const char *key, *value;
} statusmap_defaults[] = {
	{ "new", "new" },
	{ "in_progress", "in_progress" },
	{ "closed", "closed/from_ticket" },
	{ "acknowledged", "acknowledged" },
	/* Jira */
	{ "To Do", "new" },
	{ "Open", "new" },
	{ "Backlog", "new" },
	{ "Selected for Development", "new" },
	{ "In Progress", "in_progress" },
	{ "In Review", "in_progress" },
	{ "Done", "closed/action_taken" },
	{ "Triage", "acknowledged" },
	/* ServiceNow incident states, by name and by number */
	{ "On Hold", "acknowledged" },
	{ "Resolved", "closed/action_taken" },
	{ "Canceled", "closed/no_action_taken" },
	{ "1", "new" },
	{ "2", "in_progress" },
	{ "3", "acknowledged" },
	{ "6", "closed/action_taken" },
	{ "7", "closed/action_taken" },
	{ "8", "closed/no_action_taken" },
	/* Jira status categories: the fallback for workflow statuses not named above. */
	{ STATUSMAP_CATEGORY_PREFIX "new", "new" },
	{ STATUSMAP_CATEGORY_PREFIX "indeterminate", "in_progress" },
	{ STATUSMAP_CATEGORY_PREFIX "done", "closed/from_ticket" },
};

/* Resolutions that turn a "Done" / "Resolved" into closed without action taken. */
static const char *const statusmap_jira_no_action[] = {
	"Won't Do", "Won't Fix", "Duplicate", "Cannot Reproduce", "Incomplete",
};
static const char *const statusmap_jira_done[] = { "Done" };
static const char *const statusmap_snow_no_action[] = {
	"Duplicate", "Known error", "User error", "Not Solved", "Canceled",
};
static const char *const statusmap_snow_resolved[] = { "Resolved", "6", "7" };

/* Resolution rules for closed/from_ticket. */
static const struct {
	const char *name;
	enum fields_resolution res;
} statusmap_resolution_rules[] = {
	{ "action_taken", FIELDS_RESOLUTION_ACTION_TAKEN },
	{ "action taken", FIELDS_RESOLUTION_ACTION_TAKEN },
	{ "no_action_taken", FIELDS_RESOLUTION_NO_ACTION_TAKEN },
	{ "no action taken", FIELDS_RESOLUTION_NO_ACTION_TAKEN },
	/* Jira resolutions */
	{ "Done", FIELDS_RESOLUTION_ACTION_TAKEN },
	{ "Fixed", FIELDS_RESOLUTION_ACTION_TAKEN },
	{ "Won't Do", FIELDS_RESOLUTION_NO_ACTION_TAKEN },
	{ "Won't Fix", FIELDS_RESOLUTION_NO_ACTION_TAKEN },
	{ "Duplicate", FIELDS_RESOLUTION_NO_ACTION_TAKEN },
	{ "Cannot Reproduce", FIELDS_RESOLUTION_NO_ACTION_TAKEN },
	{ "Incomplete", FIELDS_RESOLUTION_NO_ACTION_TAKEN },
	/* ServiceNow close codes */
	{ "Solution provided", FIELDS_RESOLUTION_ACTION_TAKEN },
	{ "Workaround provided", FIELDS_RESOLUTION_ACTION_TAKEN },
	{ "Resolved by caller", FIELDS_RESOLUTION_ACTION_TAKEN },
	{ "Known error", FIELDS_RESOLUTION_NO_ACTION_TAKEN },
	{ "User error", FIELDS_RESOLUTION_NO_ACTION_TAKEN },
	{ "Not Solved", FIELDS_RESOLUTION_NO_ACTION_TAKEN },
	{ "Canceled", FIELDS_RESOLUTION_NO_ACTION_TAKEN },
	/* XSOAR close reasons */
	{ "Resolved", FIELDS_RESOLUTION_ACTION_TAKEN },
	{ "False Positive", FIELDS_RESOLUTION_NO_ACTION_TAKEN },
};

#define STATUSMAP_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static bool
statusmap_is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

/* Trimmed span of s[0..len). */
static void
statusmap_trim(const char **s, size_t *len)
{
	while (*len > 0 && statusmap_is_space(**s)) {
		(*s)++;
		(*len)--;
	}
	while (*len > 0 && statusmap_is_space((*s)[*len - 1]))
		(*len)--;
}

/* Trim and ASCII-lower-case s[0..len) into buf (STATUSMAP_NAME_MAX + 1 bytes).
 * false when the trimmed name is too long. Non-ASCII bytes are kept as they are. */
static bool
statusmap_norm(const char *s, size_t len, char *buf)
{
	statusmap_trim(&s, &len);
	if (len > STATUSMAP_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		buf[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
	}
	buf[len] = '\0';
	return true;
}

/* The shipped defaults are this file's own constants, loaded by every unit test of the
 * map: one refused is a bug here, not a condition a caller could handle. */
static void
statusmap_add_default(statusmap_t *map, const char *key, const char *value)
{
	if (statusmap_add(map, key, value, NULL) != 0)
		abort();
}

statusmap_t *
statusmap_new(bool with_defaults)
{
	statusmap_t *map = xcalloc(1, sizeof(*map));
	char key[2 * STATUSMAP_NAME_MAX + 2];

	if (!with_defaults)
		return map;
	for (size_t i = 0; i < STATUSMAP_ARRAY_LEN(statusmap_defaults); i++)
		statusmap_add_default(map, statusmap_defaults[i].key, statusmap_defaults[i].value);
	for (size_t i = 0; i < STATUSMAP_ARRAY_LEN(statusmap_jira_done); i++) {
		for (size_t j = 0; j < STATUSMAP_ARRAY_LEN(statusmap_jira_no_action); j++) {
			snprintf(key, sizeof(key), "%s|%s", statusmap_jira_done[i], statusmap_jira_no_action[j]);
			statusmap_add_default(map, key, "closed/no_action_taken");
		}
	}
	for (size_t i = 0; i < STATUSMAP_ARRAY_LEN(statusmap_snow_resolved); i++) {
		for (size_t j = 0; j < STATUSMAP_ARRAY_LEN(statusmap_snow_no_action); j++) {
			snprintf(key, sizeof(key), "%s|%s", statusmap_snow_resolved[i], statusmap_snow_no_action[j]);
			statusmap_add_default(map, key, "closed/no_action_taken");
		}
	}
	/* Everything so far is a default that user entries may replace. */
	for (size_t i = 0; i < map->n; i++)
		map->entries[i].user = false;
	return map;
}

static void
statusmap_entry_free(struct statusmap_entry *e)
{
	free(e->status);
	free(e->resolution);
	free(e->key);
	free(e->value);
	memset(e, 0, sizeof(*e));
}

void
statusmap_destroy(statusmap_t *map)
{
	if (map == NULL)
		return;
	for (size_t i = 0; i < map->n; i++)
		statusmap_entry_free(&map->entries[i]);
	free(map->entries);
	free(map);
}

/* Parse the value side: "<status>[/<resolution>]". */
static bool
statusmap_parse_value(const char *value, struct statusmap_entry *e, char *why, size_t whylen)
{
	const char *slash = strchr(value, '/');
	size_t slen = slash ? (size_t)(slash - value) : strlen(value);
	char st[STATUSMAP_NAME_MAX + 1], res[STATUSMAP_NAME_MAX + 1];

	if (!statusmap_norm(value, slen, st) ||
	    (slash != NULL && !statusmap_norm(slash + 1, strlen(slash + 1), res))) {
		snprintf(why, whylen, "the value is longer than %d bytes", STATUSMAP_NAME_MAX);
		return false;
	}
	if (strcmp(st, "open") == 0) {
		e->st = FIELDS_STATUS_NULL;
	} else if (fields_status_parse(st, &e->st) != 0) {
		snprintf(why, whylen,
		    "unknown ExtraHop status \"%s\" (expected new, in_progress, closed, acknowledged "
		    "or open)", st);
		return false;
	}
	e->res = FIELDS_RESOLUTION_NULL;
	e->from_ticket = false;
	if (slash == NULL)
		return true;
	if (e->st != FIELDS_STATUS_CLOSED) {
		snprintf(why, whylen,
		    "a resolution only goes with closed (ExtraHop ignores it otherwise), got "
		    "\"%.60s/%.60s\"", st, res);
		return false;
	}
	if (strcmp(res, "from_ticket") == 0) {
		e->from_ticket = true;
	} else if (fields_resolution_parse(res, &e->res) != 0) {
		snprintf(why, whylen,
		    "unknown ExtraHop resolution \"%s\" (expected action_taken, no_action_taken or "
		    "from_ticket)", res);
		return false;
	}
	return true;
}

/* Parse the key side: "<status>" or "<status>|<resolution>". */
static bool
statusmap_parse_key(const char *key, char *status, char *resolution, bool *has_resolution,
                    char *why, size_t whylen)
{
	const char *bar = strchr(key, '|');
	size_t slen = bar ? (size_t)(bar - key) : strlen(key);

	if (!bson_utf8_validate(key, strlen(key), false)) {
		snprintf(why, whylen, "the ticket status is not valid UTF-8");
		return false;
	}
	if (!statusmap_norm(key, slen, status)) {
		snprintf(why, whylen, "the ticket status is longer than %d bytes", STATUSMAP_NAME_MAX);
		return false;
	}
	if (status[0] == '\0') {
		snprintf(why, whylen, "the ticket status is empty");
		return false;
	}
	*has_resolution = bar != NULL;
	if (bar == NULL)
		return true;
	if (strchr(bar + 1, '|') != NULL) {
		snprintf(why, whylen, "more than one '|' (expected status or status|resolution)");
		return false;
	}
	if (!statusmap_norm(bar + 1, strlen(bar + 1), resolution)) {
		snprintf(why, whylen, "the ticket resolution is longer than %d bytes", STATUSMAP_NAME_MAX);
		return false;
	}
	return true;
}

static struct statusmap_entry *
statusmap_find(const statusmap_t *map, const char *status, const char *resolution)
{
	for (size_t i = 0; i < map->n; i++) {
		struct statusmap_entry *e = &map->entries[i];

		if (strcmp(e->status, status) != 0)
			continue;
		if (resolution == NULL ? e->resolution == NULL
		                       : (e->resolution != NULL && strcmp(e->resolution, resolution) == 0))
			return e;
	}
	return NULL;
}

int
statusmap_add(statusmap_t *map, const char *key, const char *value, bson_error_t *err)
{
	char status[STATUSMAP_NAME_MAX + 1], resolution[STATUSMAP_NAME_MAX + 1];
	char why[512];
	bool has_res = false;
	struct statusmap_entry e = { 0 }, *old;
	const char *k = key, *v = value;
	size_t klen = strlen(key), vlen = strlen(value);
	int kq, vq;

	statusmap_trim(&k, &klen);
	statusmap_trim(&v, &vlen);
	/* Messages quote at most 200 bytes of an entry. */
	kq = klen > 200 ? 200 : (int)klen;
	vq = vlen > 200 ? 200 : (int)vlen;
	if (!bson_utf8_validate(value, strlen(value), false))
		snprintf(why, sizeof(why), "the value is not valid UTF-8");
	else if (statusmap_parse_key(key, status, resolution, &has_res, why, sizeof(why)) &&
	         statusmap_parse_value(value, &e, why, sizeof(why)))
		why[0] = '\0';
	if (why[0] != '\0') {
		bson_set_error(err, ERROR_DOMAIN, STATUSMAP_ERR_VALUE,
		    "\"%.*s\" = \"%.*s\": %s", kq, k,
		    vq, v, why);
		return -1;
	}
	old = statusmap_find(map, status, has_res ? resolution : NULL);
	if (old != NULL && old->user) {
		bson_set_error(err, ERROR_DOMAIN, STATUSMAP_ERR_DUPLICATE,
		    "\"%.*s\": given twice (same entry as \"%s\"; keys ignore case)", kq, k,
		    old->key);
		return -1;
	}
	e.status = xstrdup(status);
	e.resolution = has_res ? xstrdup(resolution) : NULL;
	e.key = xstrndup(k, klen);
	e.value = xstrndup(v, vlen);
	e.user = true;
	if (old != NULL) {
		/* A user entry replaces the shipped default in place. */
		statusmap_entry_free(old);
		*old = e;
		return 0;
	}
	if (map->n == map->cap) {
		size_t cap = map->cap ? map->cap * 2 : 64;

		map->entries = xreallocarray(map->entries, cap, sizeof(*map->entries));
		map->cap = cap;
	}
	map->entries[map->n++] = e;
	return 0;
}

/* norm (already normalized) equals name trimmed and lower-cased. */
static bool
statusmap_norm_equal(const char *norm, const char *name)
{
	char n[STATUSMAP_NAME_MAX + 1];

	return statusmap_norm(name, strlen(name), n) && strcmp(norm, n) == 0;
}

int
statusmap_resolution_rule(const char *ticket_resolution, enum fields_resolution *out)
{
	char r[STATUSMAP_NAME_MAX + 1];

	if (ticket_resolution == NULL ||
	    !statusmap_norm(ticket_resolution, strlen(ticket_resolution), r) || r[0] == '\0')
		return -1;
	for (size_t i = 0; i < STATUSMAP_ARRAY_LEN(statusmap_resolution_rules); i++) {
		if (statusmap_norm_equal(r, statusmap_resolution_rules[i].name)) {
			*out = statusmap_resolution_rules[i].res;
			return 0;
		}
	}
	return -1;
}

enum statusmap_result
statusmap_lookup(const statusmap_t *map, const char *status, const char *resolution,
                 enum fields_status *st, enum fields_resolution *res)
{
	char s[STATUSMAP_NAME_MAX + 1], r[STATUSMAP_NAME_MAX + 1];
	const struct statusmap_entry *e = NULL;

	*st = FIELDS_STATUS_NULL;
	*res = FIELDS_RESOLUTION_NULL;
	if (status == NULL)
		return STATUSMAP_MAPPED;
	if (!statusmap_norm(status, strlen(status), s))
		return STATUSMAP_UNMAPPED;
	/* A resolution too long to be any key can only match the status-only entry. */
	if (resolution == NULL)
		e = statusmap_find(map, s, "");
	else if (statusmap_norm(resolution, strlen(resolution), r))
		e = statusmap_find(map, s, r);
	if (e == NULL)
		e = statusmap_find(map, s, NULL);
	if (e == NULL)
		return STATUSMAP_UNMAPPED;
	*st = e->st;
	if (e->st != FIELDS_STATUS_CLOSED)
		return STATUSMAP_MAPPED;
	if (!e->from_ticket)
		*res = e->res;
	else if (statusmap_resolution_rule(resolution, res) != 0)
		*res = FIELDS_RESOLUTION_NULL;
	return STATUSMAP_MAPPED;
}

enum statusmap_result
statusmap_lookup_ticket(const statusmap_t *map, const char *status, const char *category,
                        const char *resolution, enum fields_status *st,
                        enum fields_resolution *res, bool *by_category)
{
	char key[STATUSMAP_NAME_MAX + 2];
	const char *c = category;
	size_t clen;
	int n;

	if (by_category != NULL)
		*by_category = false;
	if (statusmap_lookup(map, status, resolution, st, res) == STATUSMAP_MAPPED)
		return STATUSMAP_MAPPED;
	if (category == NULL)
		return STATUSMAP_UNMAPPED;
	clen = strlen(c);
	statusmap_trim(&c, &clen);
	if (clen == 0)
		return STATUSMAP_UNMAPPED;
	/* Too long for any key: no entry can match it. */
	n = snprintf(key, sizeof(key), STATUSMAP_CATEGORY_PREFIX "%.*s", (int)clen, c);
	if (n < 0 || (size_t)n > STATUSMAP_NAME_MAX)
		return STATUSMAP_UNMAPPED;
	if (statusmap_lookup(map, key, resolution, st, res) != STATUSMAP_MAPPED)
		return STATUSMAP_UNMAPPED;
	if (by_category != NULL)
		*by_category = true;
	return STATUSMAP_MAPPED;
}

size_t
statusmap_count(const statusmap_t *map)
{
	return map ? map->n : 0;
}

bool
statusmap_entry(const statusmap_t *map, size_t i, const char **key, const char **value)
{
	if (map == NULL || i >= map->n)
		return false;
	*key = map->entries[i].key;
	*value = map->entries[i].value;
	return true;
}
