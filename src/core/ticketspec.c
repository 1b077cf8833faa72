/* ticketspec: which detections get a ticket and what it says; see ticketspec.h. */
#include "ticketsync/ticketspec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ticketsync/jsonerr.h"
#include "ticketsync/text.h"
#include "ticketsync/timefmt.h"
#include "ticketsync/xalloc.h"

#define TICKETSPEC_BANDS_MAX 16
#define TICKETSPEC_LIST_MAX 64
#define TICKETSPEC_NAME_MAX 256

typedef struct ticketspec_band {
	int64_t min;
	char *name;
} ticketspec_band_t;

typedef struct ticketspec_list {
	char *items[TICKETSPEC_LIST_MAX];
	size_t n;
} ticketspec_list_t;

typedef struct ticketspec_bands {
	ticketspec_band_t b[TICKETSPEC_BANDS_MAX]; /* by minimum, highest first */
	size_t n;
} ticketspec_bands_t;

struct ticketspec {
	enum ticketspec_target target;
	bool jira_cloud;
	int64_t risk_score_min;
	ticketspec_list_t categories, types_include, types_exclude, labels;
	enum ticketspec_user_created user_created;
	char *summary, *description;
	ticketspec_bands_t priority, urgency, impact;
	char *assignee;
	bson_t extra;
	char *jira_project, *jira_issue_type;
	char *sn_assignment_group, *sn_caller;
	char *extrahop_url;
};

static const char *const ticketspec_placeholders[] = {
	"id", "title", "description", "risk_score", "categories", "type", "start_time",
	"end_time", "url", "mitre_tactics", "mitre_techniques", "participants",
};
#define TICKETSPEC_NPLACEHOLDERS (sizeof(ticketspec_placeholders) / sizeof(ticketspec_placeholders[0]))

const char *
ticketspec_target_name(enum ticketspec_target t)
{
	switch (t) {
	case TICKETSPEC_JIRA: return "jira";
	case TICKETSPEC_SERVICENOW: return "servicenow";
	case TICKETSPEC_HTTP: return "http";
	}
	return "unknown";
}

const char *
ticketspec_verdict_name(enum ticketspec_verdict v)
{
	switch (v) {
	case TICKETSPEC_CREATE: return "create";
	case TICKETSPEC_HAS_TICKET: return "has_ticket";
	case TICKETSPEC_BEFORE_START: return "before_start";
	case TICKETSPEC_RISK_LOW: return "risk_low";
	case TICKETSPEC_CATEGORY: return "category";
	case TICKETSPEC_TYPE: return "type";
	case TICKETSPEC_USER_CREATED: return "user_created";
	}
	return "unknown";
}

enum ticketspec_target
ticketspec_target(const ticketspec_t *s)
{
	return s->target;
}

void
ticketspec_key(enum ticketspec_target t, int64_t id, char *buf, size_t len)
{
	if (t == TICKETSPEC_SERVICENOW)
		snprintf(buf, len, "%lld", (long long)id);
	else
		snprintf(buf, len, TICKETSPEC_LABEL_PREFIX "%lld", (long long)id);
}

/* ---- building ---- */

static void
ticketspec_list_clear(ticketspec_list_t *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->items[i]);
	l->n = 0;
}

/* A comma list: items trimmed of blanks, empty ones dropped. */
static bool
ticketspec_list_parse(const char *key, const char *s, ticketspec_list_t *l, bson_error_t *err)
{
	const char *p = s ? s : "";

	while (*p != '\0') {
		const char *e = strchr(p, ',');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		const char *b = p;

		while (n > 0 && (*b == ' ' || *b == '\t'))
			b++, n--;
		while (n > 0 && (b[n - 1] == ' ' || b[n - 1] == '\t'))
			n--;
		if (n > TICKETSPEC_NAME_MAX) {
			bson_set_error(err, ERROR_DOMAIN, TICKETSPEC_ERR_CONFIG,
			    "%s: an item is longer than %d bytes", key, TICKETSPEC_NAME_MAX);
			return false;
		}
		if (n > 0) {
			if (l->n == TICKETSPEC_LIST_MAX) {
				bson_set_error(err, ERROR_DOMAIN, TICKETSPEC_ERR_CONFIG,
				    "%s: more than %d items", key, TICKETSPEC_LIST_MAX);
				return false;
			}
			l->items[l->n++] = xstrndup(b, n);
		}
		p = e ? e + 1 : p + strlen(p);
	}
	return true;
}

static bool
ticketspec_list_has(const ticketspec_list_t *l, const char *s)
{
	for (size_t i = 0; s != NULL && i < l->n; i++)
		if (strcmp(l->items[i], s) == 0)
			return true;
	return false;
}

static int
ticketspec_cmp_band(const void *a, const void *b)
{
	const ticketspec_band_t *x = a, *y = b;

	return x->min > y->min ? -1 : x->min < y->min ? 1 : 0;
}

/* "80:Highest,60:High,0:Low": minimums 0..99 (each once), names non-empty. */
static bool
ticketspec_bands_parse(const char *key, const char *s, ticketspec_bands_t *out,
    bson_error_t *err)
{
	ticketspec_list_t items = { 0 };
	bool ok = false;

	if (!ticketspec_list_parse(key, s, &items, err))
		goto cleanup;
	if (items.n > TICKETSPEC_BANDS_MAX) {
		bson_set_error(err, ERROR_DOMAIN, TICKETSPEC_ERR_CONFIG, "%s: more than %d bands",
		    key, TICKETSPEC_BANDS_MAX);
		goto cleanup;
	}
	for (size_t i = 0; i < items.n; i++) {
		char *colon = strchr(items.items[i], ':'), *end = NULL;
		long v = colon ? strtol(items.items[i], &end, 10) : -1;

		if (colon == NULL || end != colon || end == items.items[i] || v < 0 || v > 99 ||
		    colon[1] == '\0') {
			bson_set_error(err, ERROR_DOMAIN, TICKETSPEC_ERR_CONFIG,
			    "%s: expected bands like \"80:Highest,60:High,0:Low\" (a risk score 0-99, "
			    "':', a name), got \"%.64s\"", key, items.items[i]);
			goto cleanup;
		}
		for (size_t j = 0; j < out->n; j++)
			if (out->b[j].min == v) {
				bson_set_error(err, ERROR_DOMAIN, TICKETSPEC_ERR_CONFIG,
				    "%s: the risk score %ld starts two bands", key, v);
				goto cleanup;
			}
		out->b[out->n].min = v;
		out->b[out->n++].name = xstrdup(colon + 1);
	}
	qsort(out->b, out->n, sizeof(out->b[0]), ticketspec_cmp_band);
	ok = true;
cleanup:
	ticketspec_list_clear(&items);
	return ok;
}

static void
ticketspec_bands_clear(ticketspec_bands_t *b)
{
	for (size_t i = 0; i < b->n; i++)
		free(b->b[i].name);
	b->n = 0;
}

/* The band for a risk score; a detection without one takes the lowest. NULL: none. */
static const char *
ticketspec_band(const ticketspec_bands_t *b, const detection_t *det)
{
	if (b->n == 0)
		return NULL;
	if (!det->has_risk_score)
		return b->b[b->n - 1].name;
	for (size_t i = 0; i < b->n; i++)
		if (det->risk_score >= (double)b->b[i].min)
			return b->b[i].name;
	return b->b[b->n - 1].name;
}

static bool
ticketspec_placeholder_known(const char *name, size_t n)
{
	for (size_t i = 0; i < TICKETSPEC_NPLACEHOLDERS; i++)
		if (strlen(ticketspec_placeholders[i]) == n &&
		    memcmp(ticketspec_placeholders[i], name, n) == 0)
			return true;
	return false;
}

/* Every "{name}" names a placeholder; braces otherwise come doubled. */
static bool
ticketspec_template_check(const char *key, const char *t, bson_error_t *err)
{
	for (const char *p = t; *p != '\0'; p++) {
		if (p[0] == '{' && p[1] == '{') {
			p++;
			continue;
		}
		if (p[0] == '}' && p[1] == '}') {
			p++;
			continue;
		}
		if (*p == '}') {
			bson_set_error(err, ERROR_DOMAIN, TICKETSPEC_ERR_CONFIG,
			    "%s: a lone '}' (write \"}}\" for a brace)", key);
			return false;
		}
		if (*p == '{') {
			const char *e = strchr(p, '}');

			if (e == NULL || !ticketspec_placeholder_known(p + 1, (size_t)(e - p - 1))) {
				bson_set_error(err, ERROR_DOMAIN, TICKETSPEC_ERR_CONFIG,
				    "%s: unknown placeholder \"%.*s\"; known: {id} {title} {description} "
				    "{risk_score} {categories} {type} {start_time} {end_time} {url} "
				    "{mitre_tactics} {mitre_techniques} {participants} (\"{{\" for a brace)",
				    key, e ? (int)(e - p + 1) : 16, p);
				return false;
			}
			p = e;
		}
	}
	return true;
}

/* extra_fields into out (initialised by the caller). */
static bool
ticketspec_extra_parse(const char *json, bson_t *out, bson_error_t *err)
{
	bson_error_t e;
	bson_t *doc;

	if (json == NULL || json[0] == '\0')
		return true;
	doc = bson_new_from_json((const uint8_t *)json, -1, &e);
	if (doc == NULL || json[strspn(json, " \t\r\n")] != '{') {
		char why[JSONERR_MAX] = "";

		if (doc == NULL)
			jsonerr_explain(json, strlen(json), e.message, why, sizeof(why));
		bson_set_error(err, ERROR_DOMAIN, TICKETSPEC_ERR_CONFIG,
		    "[create] extra_fields: expected a JSON object such as "
		    "{\"components\": [{\"name\": \"SOC\"}]}%s%s", doc ? "" : ": ", why);
		bson_destroy(doc);
		return false;
	}
	bson_concat(out, doc);
	bson_destroy(doc);
	return true;
}

static bool
ticketspec_has_extra(const ticketspec_t *s, const char *key)
{
	bson_iter_t it;

	return bson_iter_init_find(&it, &s->extra, key);
}

void
ticketspec_destroy(ticketspec_t *s)
{
	if (s == NULL)
		return;
	ticketspec_list_clear(&s->categories);
	ticketspec_list_clear(&s->types_include);
	ticketspec_list_clear(&s->types_exclude);
	ticketspec_list_clear(&s->labels);
	ticketspec_bands_clear(&s->priority);
	ticketspec_bands_clear(&s->urgency);
	ticketspec_bands_clear(&s->impact);
	bson_destroy(&s->extra);
	free(s->summary);
	free(s->description);
	free(s->assignee);
	free(s->jira_project);
	free(s->jira_issue_type);
	free(s->sn_assignment_group);
	free(s->sn_caller);
	free(s->extrahop_url);
	free(s);
}

static char *
ticketspec_dup(const char *s)
{
	return s != NULL && s[0] != '\0' ? xstrdup(s) : NULL;
}

ticketspec_t *
ticketspec_new(const ticketspec_opts_t *o, bson_error_t *err)
{
	ticketspec_t *s = xcalloc(1, sizeof(*s));
	const char *summary = o->summary ? o->summary : TICKETSPEC_DEFAULT_SUMMARY;
	const char *description = o->description ? o->description : TICKETSPEC_DEFAULT_DESCRIPTION;
	const char *labels = o->labels ? o->labels : TICKETSPEC_DEFAULT_LABELS;

	bson_init(&s->extra);
	s->target = o->target;
	s->jira_cloud = o->jira_cloud;
	s->risk_score_min = o->risk_score_min;
	s->user_created = o->user_created;
	if (!ticketspec_list_parse("[create] categories", o->categories, &s->categories, err) ||
	    !ticketspec_list_parse("[create] types_include", o->types_include, &s->types_include,
	        err) ||
	    !ticketspec_list_parse("[create] types_exclude", o->types_exclude, &s->types_exclude,
	        err) ||
	    !ticketspec_template_check("[create] summary", summary, err) ||
	    !ticketspec_template_check("[create] description", description, err) ||
	    !ticketspec_template_check("[create] labels", labels, err) ||
	    !ticketspec_list_parse("[create] labels", labels, &s->labels, err) ||
	    !ticketspec_bands_parse("[create] priority_bands",
	        o->priority_bands ? o->priority_bands : TICKETSPEC_DEFAULT_PRIORITY_BANDS,
	        &s->priority, err) ||
	    !ticketspec_bands_parse("[servicenow] urgency_bands",
	        o->sn_urgency_bands ? o->sn_urgency_bands : TICKETSPEC_DEFAULT_SN_BANDS,
	        &s->urgency, err) ||
	    !ticketspec_bands_parse("[servicenow] impact_bands",
	        o->sn_impact_bands ? o->sn_impact_bands : TICKETSPEC_DEFAULT_SN_BANDS,
	        &s->impact, err))
		goto fail;
	if (!ticketspec_extra_parse(o->extra_fields, &s->extra, err))
		goto fail;
	if (s->target == TICKETSPEC_JIRA && ticketspec_has_extra(s, "labels")) {
		/* Jira finds the ticket again by its label: it must stay among them. */
		bson_set_error(err, ERROR_DOMAIN, TICKETSPEC_ERR_CONFIG,
		    "[create] extra_fields: labels come from [create] labels (the label "
		    TICKETSPEC_LABEL_PREFIX "<id> finds the ticket again); set them there");
		goto fail;
	}
	if (summary[0] == '\0') {
		bson_set_error(err, ERROR_DOMAIN, TICKETSPEC_ERR_CONFIG,
		    "[create] summary: must not be empty");
		goto fail;
	}
	if (s->target == TICKETSPEC_JIRA && (o->jira_project == NULL || o->jira_project[0] == '\0')) {
		bson_set_error(err, ERROR_DOMAIN, TICKETSPEC_ERR_CONFIG,
		    "[jira] project: required to create Jira issues (a project key such as SEC)");
		goto fail;
	}
	s->summary = xstrdup(summary);
	s->description = xstrdup(description);
	s->assignee = ticketspec_dup(o->assignee);
	s->jira_project = ticketspec_dup(o->jira_project);
	s->jira_issue_type = xstrdup(o->jira_issue_type && o->jira_issue_type[0] ? o->jira_issue_type
	                                                                         : "Task");
	s->sn_assignment_group = ticketspec_dup(o->sn_assignment_group);
	s->sn_caller = ticketspec_dup(o->sn_caller);
	s->extrahop_url = ticketspec_dup(o->extrahop_url);
	return s;
fail:
	ticketspec_destroy(s);
	return NULL;
}

/* ---- qualifying ---- */

static bool
ticketspec_doc_bool(const bson_t *doc, const char *key)
{
	bson_iter_t it;

	return bson_iter_init_find(&it, doc, key) && BSON_ITER_HOLDS_BOOL(&it) &&
	       bson_iter_bool(&it);
}

/* Whether the string array doc.key holds one of l's items. */
static bool
ticketspec_doc_any(const bson_t *doc, const char *key, const ticketspec_list_t *l)
{
	bson_iter_t it, child;

	if (!bson_iter_init_find(&it, doc, key) || !BSON_ITER_HOLDS_ARRAY(&it) ||
	    !bson_iter_recurse(&it, &child))
		return false;
	while (bson_iter_next(&child))
		if (BSON_ITER_HOLDS_UTF8(&child) &&
		    ticketspec_list_has(l, bson_iter_utf8(&child, NULL)))
			return true;
	return false;
}

enum ticketspec_verdict
ticketspec_qualify(const ticketspec_t *s, const bson_t *doc, const detection_t *det,
    bool has_ticket, int64_t start_ms)
{
	/* Documents written before the trigger wrote is_user_created: custom types are the
	 * ones users define. */
	bool user = ticketspec_doc_bool(doc, "is_user_created") ||
	            (det->type != NULL && strncmp(det->type, "custom.", 7) == 0);

	if (has_ticket || (det->fields.has_ticket_id && det->fields.ticket_id[0] != '\0'))
		return TICKETSPEC_HAS_TICKET;
	if (start_ms > 0 && det->start_time < start_ms)
		return TICKETSPEC_BEFORE_START;
	if (s->risk_score_min > 0 &&
	    (!det->has_risk_score || det->risk_score < (double)s->risk_score_min))
		return TICKETSPEC_RISK_LOW;
	if (s->categories.n > 0 && !ticketspec_doc_any(doc, "categories", &s->categories))
		return TICKETSPEC_CATEGORY;
	if ((s->types_include.n > 0 && !ticketspec_list_has(&s->types_include, det->type)) ||
	    ticketspec_list_has(&s->types_exclude, det->type))
		return TICKETSPEC_TYPE;
	if ((s->user_created == TICKETSPEC_USER_ONLY && !user) ||
	    (s->user_created == TICKETSPEC_USER_NONE && user))
		return TICKETSPEC_USER_CREATED;
	return TICKETSPEC_CREATE;
}

/* ---- rendering ---- */

/* The strings of the array doc.key joined with ", " (sub-documents by their fields). */
static void
ticketspec_join(bson_string_t *out, const bson_t *doc, const char *key)
{
	static const char *const names[] = { "hostname", "name", "ipaddr", "ipaddr4", "ipaddr6",
		"macaddr", "username", "id" };
	bson_iter_t it, child, f;
	bool first = true;

	if (!bson_iter_init_find(&it, doc, key) || !BSON_ITER_HOLDS_ARRAY(&it) ||
	    !bson_iter_recurse(&it, &child))
		return;
	while (bson_iter_next(&child)) {
		const char *sep = first ? "" : ", ";

		if (BSON_ITER_HOLDS_UTF8(&child)) {
			bson_string_append_printf(out, "%s%s", sep, bson_iter_utf8(&child, NULL));
			first = false;
		} else if (BSON_ITER_HOLDS_DOCUMENT(&child)) {
			bson_t sub;
			const char *role = NULL, *what = NULL, *label = NULL;
			uint32_t len;
			const uint8_t *data;
			char num[32] = "";

			bson_iter_document(&child, &len, &data);
			if (!bson_init_static(&sub, data, len))
				continue;
			if (bson_iter_init_find(&f, &sub, "role") && BSON_ITER_HOLDS_UTF8(&f))
				role = bson_iter_utf8(&f, NULL);
			/* MITRE items: "TA0007 Discovery"; participants: "offender 10.1.1.1". */
			if (bson_iter_init_find(&f, &sub, "name") && BSON_ITER_HOLDS_UTF8(&f) &&
			    bson_iter_init_find(&f, &sub, "id") && BSON_ITER_HOLDS_UTF8(&f)) {
				label = bson_iter_utf8(&f, NULL);
				bson_iter_init_find(&f, &sub, "name");
				what = bson_iter_utf8(&f, NULL);
			}
			for (size_t i = 0; what == NULL && i < sizeof(names) / sizeof(names[0]); i++) {
				if (!bson_iter_init_find(&f, &sub, names[i]))
					continue;
				if (BSON_ITER_HOLDS_UTF8(&f))
					what = bson_iter_utf8(&f, NULL);
				else if (BSON_ITER_HOLDS_INT(&f) || BSON_ITER_HOLDS_DOUBLE(&f)) {
					snprintf(num, sizeof(num), "%lld", (long long)bson_iter_as_int64(&f));
					what = num;
				}
			}
			if (what == NULL)
				continue;
			bson_string_append_printf(out, "%s%s%s%s", sep,
			    label ? label : role ? role : "", (label || role) ? " " : "", what);
			first = false;
		}
	}
}

static void
ticketspec_time(bson_string_t *out, int64_t ms)
{
	char buf[64];

	if (ms <= 0)
		return;
	timefmt_format_iso8601(ms, false, buf, sizeof(buf));
	bson_string_append(out, buf);
}

static void
ticketspec_value(const ticketspec_t *s, const bson_t *doc, const detection_t *det,
    const char *name, size_t n, bson_string_t *out)
{
	bson_iter_t it;

#define IS(x) (n == sizeof(x) - 1 && memcmp(name, x, n) == 0)
	if (IS("id")) {
		bson_string_append_printf(out, "%lld", (long long)det->id);
	} else if (IS("title")) {
		bson_string_append(out, det->title ? det->title : "");
	} else if (IS("description")) {
		if (bson_iter_init_find(&it, doc, "description") && BSON_ITER_HOLDS_UTF8(&it))
			bson_string_append(out, bson_iter_utf8(&it, NULL));
	} else if (IS("risk_score")) {
		if (det->has_risk_score)
			bson_string_append_printf(out, "%lld", (long long)det->risk_score);
	} else if (IS("categories")) {
		ticketspec_join(out, doc, "categories");
	} else if (IS("type")) {
		bson_string_append(out, det->type ? det->type : "");
	} else if (IS("start_time")) {
		ticketspec_time(out, det->start_time);
	} else if (IS("end_time")) {
		ticketspec_time(out, det->end_time);
	} else if (IS("url")) {
		if (bson_iter_init_find(&it, doc, "url") && BSON_ITER_HOLDS_UTF8(&it))
			bson_string_append(out, bson_iter_utf8(&it, NULL));
		else if (s->extrahop_url != NULL)
			bson_string_append_printf(out, "%s/extrahop/#/detections/detail/%lld",
			    s->extrahop_url, (long long)det->id);
	} else if (IS("mitre_tactics")) {
		ticketspec_join(out, doc, "mitre_tactics");
	} else if (IS("mitre_techniques")) {
		ticketspec_join(out, doc, "mitre_techniques");
	} else if (IS("participants")) {
		ticketspec_join(out, doc, "participants");
	}
#undef IS
}

/* The template with its placeholders filled (checked when the spec was built). */
static char *
ticketspec_fill(const ticketspec_t *s, const char *t, size_t tlen, const bson_t *doc,
    const detection_t *det)
{
	bson_string_t *out = bson_string_new(NULL);

	for (size_t i = 0; i < tlen; i++) {
		/* INI values are one line: "\n" in a template is a line break. */
		if (t[i] == '\\' && i + 1 < tlen && (t[i + 1] == 'n' || t[i + 1] == '\\')) {
			bson_string_append_c(out, t[i + 1] == 'n' ? '\n' : '\\');
			i++;
			continue;
		}
		if ((t[i] == '{' || t[i] == '}') && i + 1 < tlen && t[i + 1] == t[i]) {
			bson_string_append_c(out, t[i++]);
			continue;
		}
		if (t[i] == '{') {
			const char *e = memchr(t + i, '}', tlen - i);

			if (e != NULL) {
				ticketspec_value(s, doc, det, t + i + 1, (size_t)(e - t - i - 1), out);
				i = (size_t)(e - t);
				continue;
			}
		}
		bson_string_append_c(out, t[i]);
	}
	return bson_string_free(out, false);
}

/* Foreign text into the body: valid UTF-8, bounded, controls kept only if asked. */
static void
ticketspec_append_text(bson_t *b, const char *key, const char *text, size_t max_chars,
    bool multiline)
{
	size_t cap = max_chars * 4 + 1;
	char *buf = xmalloc(cap);

	text_sanitize(buf, cap, text, TEXT_STRLEN, max_chars,
	    TEXT_ELLIPSIS | (multiline ? 0 : TEXT_CONTROLS_TO_SPACE));
	BSON_APPEND_UTF8(b, key, buf);
	free(buf);
}

/* One label: blanks become '_', bounded; NULL when empty. */
static char *
ticketspec_label(const char *raw)
{
	char buf[TICKETSPEC_NAME_MAX + 1];

	text_sanitize(buf, sizeof(buf), raw, TEXT_STRLEN, 0, TEXT_CONTROLS_TO_SPACE);
	for (char *p = buf; *p != '\0'; p++)
		if (*p == ' ' || *p == '\t')
			*p = '_';
	return buf[0] != '\0' ? xstrdup(buf) : NULL;
}

static void ticketspec_label_items(const ticketspec_t *s, const bson_t *doc,
    const detection_t *det, ticketspec_list_t *out, size_t max);

/* The labels: the template's, then the lookup key's if the template left it out (it
 * always fits: the template's items stop one short of the bound). */
static void
ticketspec_labels(const ticketspec_t *s, const bson_t *doc, const detection_t *det,
    ticketspec_list_t *out)
{
	char key[64];

	ticketspec_label_items(s, doc, det, out, TICKETSPEC_LIST_MAX - 1);
	snprintf(key, sizeof(key), TICKETSPEC_LABEL_PREFIX "%lld", (long long)det->id);
	if (!ticketspec_list_has(out, key))
		out->items[out->n++] = xstrdup(key);
}

static void
ticketspec_label_items(const ticketspec_t *s, const bson_t *doc, const detection_t *det,
    ticketspec_list_t *out, size_t max)
{
	for (size_t i = 0; i < s->labels.n; i++) {
		const char *item = s->labels.items[i];
		bson_iter_t it, child;
		char *filled, *label;

		if (strcmp(item, "{categories}") == 0) {
			if (!bson_iter_init_find(&it, doc, "categories") || !BSON_ITER_HOLDS_ARRAY(&it) ||
			    !bson_iter_recurse(&it, &child))
				continue;
			while (bson_iter_next(&child) && out->n < max) {
				if (!BSON_ITER_HOLDS_UTF8(&child) ||
				    (label = ticketspec_label(bson_iter_utf8(&child, NULL))) == NULL)
					continue;
				if (ticketspec_list_has(out, label))
					free(label);
				else
					out->items[out->n++] = label;
			}
			continue;
		}
		filled = ticketspec_fill(s, item, strlen(item), doc, det);
		label = ticketspec_label(filled);
		free(filled);
		if (label == NULL || ticketspec_list_has(out, label) || out->n >= max)
			free(label);
		else
			out->items[out->n++] = label;
	}
}

/* extra's members into b, but never one named keep (the key ticketsync finds the
 * ticket by): ours follow where extra does not set them (extra wins). */
static void
ticketspec_append_extra(const ticketspec_t *s, bson_t *b, const char *keep, const char *keep2)
{
	bson_iter_t it;

	if (!bson_iter_init(&it, &s->extra))
		return;
	while (bson_iter_next(&it)) {
		const char *k = bson_iter_key(&it);

		if ((keep == NULL || strcmp(k, keep) != 0) && (keep2 == NULL || strcmp(k, keep2) != 0))
			bson_append_iter(b, k, -1, &it);
	}
}


static void
ticketspec_append_list(bson_t *b, const char *key, const ticketspec_list_t *l)
{
	bson_t arr;
	char idx[16];
	const char *k;

	BSON_APPEND_ARRAY_BEGIN(b, key, &arr);
	for (size_t i = 0; i < l->n; i++) {
		bson_uint32_to_string((uint32_t)i, &k, idx, sizeof(idx));
		bson_append_utf8(&arr, k, -1, l->items[i], -1);
	}
	bson_append_array_end(b, &arr);
}

static void
ticketspec_append_name(bson_t *b, const char *key, const char *member, const char *value)
{
	bson_t sub;

	BSON_APPEND_DOCUMENT_BEGIN(b, key, &sub);
	BSON_APPEND_UTF8(&sub, member, value);
	bson_append_document_end(b, &sub);
}

static void
ticketspec_body_jira(const ticketspec_t *s, const char *summary, const char *description,
    const ticketspec_list_t *labels, const char *priority, bson_t *body)
{
	bson_t fields;

	BSON_APPEND_DOCUMENT_BEGIN(body, "fields", &fields);
	ticketspec_append_extra(s, &fields, NULL, NULL);
	if (!ticketspec_has_extra(s, "project"))
		ticketspec_append_name(&fields, "project", "key", s->jira_project);
	if (!ticketspec_has_extra(s, "issuetype"))
		ticketspec_append_name(&fields, "issuetype", "name", s->jira_issue_type);
	if (!ticketspec_has_extra(s, "summary"))
		ticketspec_append_text(&fields, "summary", summary, TICKETSPEC_SUMMARY_MAX, false);
	if (!ticketspec_has_extra(s, "description"))
		ticketspec_append_text(&fields, "description", description,
		    TICKETSPEC_DESCRIPTION_MAX, true);
	if (!ticketspec_has_extra(s, "labels"))
		ticketspec_append_list(&fields, "labels", labels);
	if (priority != NULL && !ticketspec_has_extra(s, "priority"))
		ticketspec_append_name(&fields, "priority", "name", priority);
	if (s->assignee != NULL && !ticketspec_has_extra(s, "assignee"))
		ticketspec_append_name(&fields, "assignee", s->jira_cloud ? "accountId" : "name",
		    s->assignee);
	bson_append_document_end(body, &fields);
}

static void
ticketspec_body_servicenow(const ticketspec_t *s, const detection_t *det, const char *summary,
    const char *description, bson_t *body)
{
	char id[32];
	const char *urgency = ticketspec_band(&s->urgency, det), *impact = ticketspec_band(&s->impact, det);

	snprintf(id, sizeof(id), "%lld", (long long)det->id);
	ticketspec_append_extra(s, body, "correlation_id", "correlation_display");
	if (!ticketspec_has_extra(s, "short_description"))
		ticketspec_append_text(body, "short_description", summary, TICKETSPEC_SN_SUMMARY_MAX,
		    false);
	if (!ticketspec_has_extra(s, "description"))
		ticketspec_append_text(body, "description", description, TICKETSPEC_DESCRIPTION_MAX,
		    true);
	/* The key ticketsync finds the incident by: never overridden. */
	BSON_APPEND_UTF8(body, "correlation_id", id);
	/* With correlation_id, how the lookup tells ticketsync's incidents from others'. */
	BSON_APPEND_UTF8(body, "correlation_display", TICKETSPEC_SN_CORRELATION_DISPLAY);
	if (urgency != NULL && !ticketspec_has_extra(s, "urgency"))
		BSON_APPEND_UTF8(body, "urgency", urgency);
	if (impact != NULL && !ticketspec_has_extra(s, "impact"))
		BSON_APPEND_UTF8(body, "impact", impact);
	if (s->sn_assignment_group != NULL && !ticketspec_has_extra(s, "assignment_group"))
		BSON_APPEND_UTF8(body, "assignment_group", s->sn_assignment_group);
	if (s->sn_caller != NULL && !ticketspec_has_extra(s, "caller_id"))
		BSON_APPEND_UTF8(body, "caller_id", s->sn_caller);
}

static void
ticketspec_body_http(const ticketspec_t *s, const bson_t *doc, const detection_t *det,
    const char *summary, const char *description, const ticketspec_list_t *labels,
    const char *priority, bson_t *body)
{
	bson_string_t *url = bson_string_new(NULL);
	bson_iter_t it;

#define OURS(k) (!ticketspec_has_extra(s, (k)))
	ticketspec_append_extra(s, body, "detection_id", NULL);
	BSON_APPEND_INT64(body, "detection_id", det->id);
	if (OURS("summary"))
		ticketspec_append_text(body, "summary", summary, TICKETSPEC_SUMMARY_MAX, false);
	if (OURS("description"))
		ticketspec_append_text(body, "description", description, TICKETSPEC_DESCRIPTION_MAX,
		    true);
	if (OURS("labels"))
		ticketspec_append_list(body, "labels", labels);
	if (priority != NULL && OURS("priority"))
		BSON_APPEND_UTF8(body, "priority", priority);
	if (s->assignee != NULL && OURS("assignee"))
		BSON_APPEND_UTF8(body, "assignee", s->assignee);
	if (det->has_risk_score && OURS("risk_score"))
		BSON_APPEND_INT64(body, "risk_score", (int64_t)det->risk_score);
	else if (OURS("risk_score"))
		BSON_APPEND_NULL(body, "risk_score");
	if (bson_iter_init_find(&it, doc, "categories") && BSON_ITER_HOLDS_ARRAY(&it) &&
	    OURS("categories"))
		bson_append_iter(body, "categories", -1, &it);
	if (det->type != NULL && OURS("type"))
		ticketspec_append_text(body, "type", det->type, DETECTION_TYPE_MAX, false);
	ticketspec_value(s, doc, det, "url", 3, url);
	if (OURS("url"))
		BSON_APPEND_UTF8(body, "url", url->str);
	if (OURS("start_time"))
		BSON_APPEND_INT64(body, "start_time", det->start_time);
	if (OURS("end_time"))
		BSON_APPEND_INT64(body, "end_time", det->end_time);
#undef OURS
	bson_string_free(url, true);
}

bool
ticketspec_render(const ticketspec_t *s, const bson_t *doc, const detection_t *det,
    bson_t *out, bson_error_t *err)
{
	char *summary, *description, key[64];
	ticketspec_list_t labels = { 0 };
	const char *priority = ticketspec_band(&s->priority, det);
	bson_t body;

	bson_init(out);
	if (det->id < 1 || det->id > DETECTION_ID_MAX) {
		bson_set_error(err, ERROR_DOMAIN, TICKETSPEC_ERR_DETECTION,
		    "detection id %lld cannot be ticketed", (long long)det->id);
		return false;
	}
	summary = ticketspec_fill(s, s->summary, strlen(s->summary), doc, det);
	description = ticketspec_fill(s, s->description, strlen(s->description), doc, det);
	ticketspec_labels(s, doc, det, &labels);
	ticketspec_key(s->target, det->id, key, sizeof(key));

	BSON_APPEND_INT64(out, "detection_id", det->id);
	BSON_APPEND_UTF8(out, "key", key);
	BSON_APPEND_UTF8(out, "target", ticketspec_target_name(s->target));
	ticketspec_append_text(out, "summary", summary, TICKETSPEC_SUMMARY_MAX, false);
	if (s->assignee != NULL)
		BSON_APPEND_UTF8(out, "assignee", s->assignee);
	else
		BSON_APPEND_NULL(out, "assignee");
	BSON_APPEND_DOCUMENT_BEGIN(out, "body", &body);
	switch (s->target) {
	case TICKETSPEC_JIRA:
		ticketspec_body_jira(s, summary, description, &labels, priority, &body);
		break;
	case TICKETSPEC_SERVICENOW:
		ticketspec_body_servicenow(s, det, summary, description, &body);
		break;
	case TICKETSPEC_HTTP:
		ticketspec_body_http(s, doc, det, summary, description, &labels, priority, &body);
		break;
	}
	bson_append_document_end(out, &body);
	free(summary);
	free(description);
	ticketspec_list_clear(&labels);
	return true;
}
