/*
 * docs/TICKET-SYSTEMS.md against the code that it describes. The names come from the
 * code's own tables, and nothing is copied here: webhook sources (webhook_source_name),
 * [webhooks] keys and defaults (config_key_at), the summary prefix
 * (WEBHOOK_SUMMARY_PREFIX), audit events (audit_event_names), delivery outcomes
 * (intake_outcome_name), and metric labels (metrics_render). Every example body the
 * page marks must parse with webhook_parse, and the ServiceNow script must send every
 * member of the ServiceNow example.
 *
 * The page is not checked for the credential header names (X-Hub-Signature,
 * X-Ticketsync-Signature, X-Ticketsync-Token) or the HTTP status codes, because
 * webhook_http.c keeps them private: a static function, inline strings and a static
 * switch.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "ticketsync/audit.h"
#include "ticketsync/config.h"
#include "ticketsync/intake.h"
#include "ticketsync/metrics.h"
#include "ticketsync/webhook.h"
#include "tsfile.h"

#define DOC "docs/TICKET-SYSTEMS.md"
/* The route prefix. webhook_http_start builds "/webhooks/<source name>" inline. */
#define PATH_PREFIX "/webhooks/"
#define EXAMPLE_MARK "<!-- ticketsync-example: "
#define SCRIPT_MARK "<!-- ticketsync-script: servicenow -->"

static char *
doc_read(void)
{
	char *doc = tsfile_read_source(DOC, NULL);

	if (doc == NULL)
		fail_msg("cannot read %s", DOC);
	return doc;
}

/* The run of characters at s that are in set, copied into buf ("" if none or too long). */
static size_t
token(const char *s, const char *set, char *buf, size_t len)
{
	size_t n = strspn(s, set);

	if (n >= len)
		n = 0;
	memcpy(buf, s, n);
	buf[n] = '\0';
	return n;
}

static bool
contains_quoted(const char *doc, const char *name)
{
	char want[256];

	snprintf(want, sizeof(want), "`%s`", name);
	return strstr(doc, want) != NULL;
}

static int
source_by_name(const char *name)
{
	for (int i = 0; i < WEBHOOK_SOURCE_COUNT; i++)
		if (strcmp(webhook_source_name((enum webhook_source)i), name) == 0)
			return i;
	return -1;
}

#define LOWER "abcdefghijklmnopqrstuvwxyz"
#define NAME_CHARS LOWER "0123456789_"

/* Every source's endpoint is in the page, and every endpoint in the page is a source. */
static void
test_paths(void **state)
{
	char *doc = doc_read();

	(void)state;
	for (int i = 0; i < WEBHOOK_SOURCE_COUNT; i++) {
		char want[64];

		snprintf(want, sizeof(want), "`POST " PATH_PREFIX "%s`",
		    webhook_source_name((enum webhook_source)i));
		if (strstr(doc, want) == NULL)
			fail_msg(DOC " lacks %s", want);
	}
	for (const char *p = strstr(doc, PATH_PREFIX); p != NULL; p = strstr(p + 1, PATH_PREFIX)) {
		char name[32];

		/* placeholders such as "/webhooks/<source>" name no source */
		if (token(p + strlen(PATH_PREFIX), LOWER, name, sizeof(name)) == 0)
			continue;
		if (source_by_name(name) < 0)
			fail_msg(DOC " names the endpoint " PATH_PREFIX "%s, which is no webhook source",
			    name);
	}
	free(doc);
}

static const config_key_t *
webhooks_key(const char *name)
{
	for (size_t i = 0; i < config_key_count(); i++) {
		const config_key_t *k = config_key_at(i);

		if (strcmp(k->section, "webhooks") == 0 && strcmp(k->name, name) == 0)
			return k;
	}
	return NULL;
}

/* Every [webhooks] key, its default and its environment name as the config table has
 * them; every "[webhooks] key" and TICKETSYNC_WEBHOOKS_... the page names exists. */
static void
test_config_keys(void **state)
{
	char *doc = doc_read();
	const char *p;

	(void)state;
	for (size_t i = 0; i < config_key_count(); i++) {
		const config_key_t *k = config_key_at(i);
		char want[160];

		if (strcmp(k->section, "webhooks") != 0)
			continue;
		snprintf(want, sizeof(want), "`[webhooks] %s`", k->name);
		if (strstr(doc, want) == NULL)
			fail_msg(DOC " lacks %s", want);
		if (k->default_value != NULL && !contains_quoted(doc, k->default_value))
			fail_msg(DOC " lacks the default of [webhooks] %s, `%s`", k->name,
			    k->default_value);
	}
	for (p = strstr(doc, "[webhooks] "); p != NULL; p = strstr(p + 1, "[webhooks] ")) {
		char name[64];

		if (token(p + strlen("[webhooks] "), NAME_CHARS, name, sizeof(name)) == 0)
			continue;
		if (webhooks_key(name) == NULL)
			fail_msg(DOC " names [webhooks] %s, which is no key", name);
	}
	for (p = strstr(doc, "TICKETSYNC_WEBHOOKS_"); p != NULL;
	     p = strstr(p + 1, "TICKETSYNC_WEBHOOKS_")) {
		char env[96], want[96];
		bool found = false;

		token(p, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_", env, sizeof(env));
		for (size_t i = 0; i < config_key_count() && !found; i++) {
			config_key_env_name(config_key_at(i), want, sizeof(want));
			found = strcmp(env, want) == 0;
		}
		if (!found)
			fail_msg(DOC " names %s, which is no configuration variable", env);
	}
	free(doc);
}

/* The Jira summary rule quotes the prefix that the parser uses. */
static void
test_summary_prefix(void **state)
{
	char *doc = doc_read();

	(void)state;
	if (!contains_quoted(doc, WEBHOOK_SUMMARY_PREFIX))
		fail_msg(DOC " lacks `%s`", WEBHOOK_SUMMARY_PREFIX);
	free(doc);
}

/* The webhook audit events: every one that ticketsync writes is in the page, and every
 * `webhook_...` name that the page gives is one of them. */
static void
test_audit_events(void **state)
{
	char *doc = doc_read(), names[2048], *save = NULL;
	size_t n = 0;

	(void)state;
	audit_event_names(names, sizeof(names));
	for (char *e = strtok_r(names, ", ", &save); e != NULL; e = strtok_r(NULL, ", ", &save)) {
		if (strncmp(e, "webhook_", 8) != 0)
			continue;
		n++;
		if (!contains_quoted(doc, e))
			fail_msg(DOC " lacks the audit event `%s`", e);
	}
	assert_true(n > 0);
	for (const char *p = strstr(doc, "`webhook_"); p != NULL; p = strstr(p + 1, "`webhook_")) {
		char name[AUDIT_EVENT_MAX + 1];
		size_t len = token(p + 1, LOWER "_", name, sizeof(name));

		/* `webhook_http.c` and the like are not event names */
		if (len == 0 || p[1 + len] != '`')
			continue;
		if (!audit_event_known(name))
			fail_msg(DOC " names the audit event `%s`, which ticketsync does not write", name);
	}
	free(doc);
}

/* The delivery outcomes of replies and audit records. */
static void
test_intake_outcomes(void **state)
{
	char *doc = doc_read();

	(void)state;
	for (int o = INTAKE_INSERTED; o <= INTAKE_REFUSED; o++) {
		const char *name = intake_outcome_name((enum intake_outcome)o);

		if (!contains_quoted(doc, name))
			fail_msg(DOC " lacks the outcome `%s`", name);
	}
	free(doc);
}

static char *
render_metrics(void)
{
	struct evbuffer *buf = evbuffer_new();
	size_t n;
	char *s;

	metrics_reset();
	metrics_render(buf, 1000);
	n = evbuffer_get_length(buf);
	s = malloc(n + 1);
	assert_non_null(s);
	evbuffer_remove(buf, s, n);
	s[n] = '\0';
	evbuffer_free(buf);
	return s;
}

/* The label values of ticketsync_webhooks_total that /metrics renders, as
 * "|value|value|". */
static void
metric_labels(const char *metrics, const char *label, char *out, size_t len)
{
	const char *series = "\nticketsync_webhooks_total{";
	char key[32];

	snprintf(key, sizeof(key), "%s=\"", label);
	snprintf(out, len, "|");
	for (const char *p = strstr(metrics, series); p != NULL; p = strstr(p + 1, series)) {
		const char *v = strstr(p + 1, key), *eol = strchr(p + 1, '\n');
		char value[64], item[80];

		if (v == NULL || (eol != NULL && v > eol))
			continue;
		token(v + strlen(key), NAME_CHARS, value, sizeof(value));
		snprintf(item, sizeof(item), "|%s|", value);
		if (strstr(out, item) == NULL && strlen(out) + strlen(value) + 2 < len)
			strcat(strcat(out, value), "|");
	}
}

/* Every outcome of ticketsync_webhooks_total is in the page's table; every
 * outcome="..." and source="..." of the page is one that /metrics renders. */
static void
test_metric_labels(void **state)
{
	char *doc = doc_read(), *metrics = render_metrics();
	char outcomes[512], sources[256], *save = NULL;
	static const char *const labels[] = { "outcome", "source" };

	(void)state;
	metric_labels(metrics, "outcome", outcomes, sizeof(outcomes));
	metric_labels(metrics, "source", sources, sizeof(sources));
	assert_true(strlen(outcomes) > 1);
	assert_true(strlen(sources) > 1);
	{
		char copy[512];

		snprintf(copy, sizeof(copy), "%s", outcomes);
		for (char *o = strtok_r(copy, "|", &save); o != NULL; o = strtok_r(NULL, "|", &save))
			if (!contains_quoted(doc, o))
				fail_msg(DOC " lacks the ticketsync_webhooks_total outcome `%s`", o);
	}
	for (size_t i = 0; i < sizeof(labels) / sizeof(labels[0]); i++) {
		const char *known = i == 0 ? outcomes : sources;
		char key[32];

		snprintf(key, sizeof(key), "%s=\"", labels[i]);
		for (const char *p = strstr(doc, key); p != NULL; p = strstr(p + 1, key)) {
			char value[64], item[80];

			token(p + strlen(key), NAME_CHARS, value, sizeof(value));
			snprintf(item, sizeof(item), "|%s|", value);
			if (strstr(known, item) == NULL)
				fail_msg(DOC " names %s%s\", which /metrics does not render", key, value);
		}
	}
	free(metrics);
	free(doc);
}

/* The fenced block on the line after the marker that ends at "-->": its text
 * (malloc'd), or NULL when that line does not open one with fence. */
static char *
fenced_after(const char *marker_end, const char *fence)
{
	const char *start = marker_end + strlen("-->\n"), *end;
	char *out;

	if (strncmp(marker_end, "-->\n", 4) != 0 || strncmp(start, fence, strlen(fence)) != 0)
		return NULL;
	start += strlen(fence);
	end = strstr(start, "\n```");
	if (end == NULL)
		return NULL;
	out = malloc((size_t)(end - start) + 2);
	assert_non_null(out);
	memcpy(out, start, (size_t)(end - start) + 1); /* with its last newline */
	out[end - start + 1] = '\0';
	return out;
}

/* Every marked example body parses as its source's webhook, with the configuration's
 * defaults (webhook_opts NULL), and names a detection unless it is marked
 * "no-detection". The top-level members of the ServiceNow examples are collected in
 * snow_keys as "|key|key|". */
static void
check_examples(const char *doc, char *snow_keys, size_t keyslen)
{
	int with_ids[WEBHOOK_SOURCE_COUNT] = { 0 };
	size_t n = 0;

	snprintf(snow_keys, keyslen, "|");
	for (const char *p = strstr(doc, EXAMPLE_MARK); p != NULL; p = strstr(p + 1, EXAMPLE_MARK)) {
		const char *eol = strstr(p, "-->");
		char name[32], why[512];
		const char *rest;
		char *body;
		bool no_detection;
		int src;
		ticket_t t;
		enum webhook_result r;

		assert_non_null(eol);
		rest = p + strlen(EXAMPLE_MARK);
		rest += token(rest, LOWER, name, sizeof(name));
		src = source_by_name(name);
		if (src < 0)
			fail_msg(DOC ": an example is marked for \"%s\", which is no webhook source", name);
		no_detection = strncmp(rest, " no-detection -->", 17) == 0;
		if (!no_detection && strncmp(rest, " -->", 4) != 0)
			fail_msg(DOC ": cannot read the example marker \"%.60s\"", p);
		body = fenced_after(eol, "```json\n");
		if (body == NULL)
			fail_msg(DOC ": the line after the %s example marker opens no ```json block", name);
		r = webhook_parse((enum webhook_source)src, body, strlen(body), NULL, &t, why,
		    sizeof(why));
		if (r != WEBHOOK_OK)
			fail_msg(DOC ": the %s example does not parse (%s): %s", name,
			    webhook_result_name(r), why);
		if (no_detection && t.n_detection_ids != 0)
			fail_msg(DOC ": the %s example marked no-detection names %zu detection ids", name,
			    t.n_detection_ids);
		if (!no_detection && t.n_detection_ids == 0)
			fail_msg(DOC ": the %s example names no detection id", name);
		if (!no_detection)
			with_ids[src]++;
		if (src == WEBHOOK_SERVICENOW && !no_detection) {
			bson_t doc_bson;
			bson_error_t err;
			bson_iter_t it;

			assert_true(bson_init_from_json(&doc_bson, body, -1, &err));
			assert_true(bson_iter_init(&it, &doc_bson));
			while (bson_iter_next(&it)) {
				char item[80];

				snprintf(item, sizeof(item), "|%s|", bson_iter_key(&it));
				if (strstr(snow_keys, item) == NULL &&
				    strlen(snow_keys) + strlen(item) < keyslen)
					strcat(strcat(snow_keys, bson_iter_key(&it)), "|");
			}
			bson_destroy(&doc_bson);
		}
		ticket_cleanup(&t);
		free(body);
		n++;
	}
	assert_true(n > 0);
	for (int i = 0; i < WEBHOOK_SOURCE_COUNT; i++)
		if (with_ids[i] == 0)
			fail_msg(DOC " has no example body for %s that names a detection",
			    webhook_source_name((enum webhook_source)i));
}

/* The business rule script builds the body that the ServiceNow example shows: each
 * member is set in its object literal ("number: ..."). */
static void
test_examples(void **state)
{
	char *doc = doc_read(), keys[512], *save = NULL, *script;
	const char *mark;
	size_t n = 0;

	(void)state;
	check_examples(doc, keys, sizeof(keys));
	mark = strstr(doc, SCRIPT_MARK);
	if (mark == NULL)
		fail_msg(DOC " lacks the marked ServiceNow business rule script");
	script = fenced_after(mark + strlen(SCRIPT_MARK) - strlen("-->"), "```javascript\n");
	if (script == NULL)
		fail_msg(DOC ": the line after the ServiceNow script marker opens no ```javascript "
		         "block");
	for (char *k = strtok_r(keys, "|", &save); k != NULL; k = strtok_r(NULL, "|", &save)) {
		char want[96];

		snprintf(want, sizeof(want), " %s: ", k);
		if (strstr(script, want) == NULL)
			fail_msg(DOC ": the ServiceNow script does not send \"%s\"", k);
		n++;
	}
	assert_true(n > 0);
	free(script);
	free(doc);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_paths),
		cmocka_unit_test(test_config_keys),
		cmocka_unit_test(test_summary_prefix),
		cmocka_unit_test(test_audit_events),
		cmocka_unit_test(test_intake_outcomes),
		cmocka_unit_test(test_metric_labels),
		cmocka_unit_test(test_examples),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
