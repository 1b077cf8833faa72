/*
 * The monitoring files against promtool (Debian's prometheus package) and the real
 * daemon: deploy/prometheus/ticketsync-rules.yml passes `promtool check rules` and its
 * unit tests (ticketsync-rules.test.yml, `promtool test rules`); every alert has a
 * severity, a summary, a description and a runbook_url whose anchor is a heading of the
 * document it names; deploy/grafana/ticketsync-dashboard.json's queries parse as PromQL;
 * a live ticketsyncd's /metrics, after a push, passes `promtool check metrics` (lint
 * included); and every metric the rules and the dashboard select is one that scrape
 * exports (or a series the rules record, or Prometheus's own), with rate()/increase()
 * only over counters and delta()/deriv() only over gauges.
 *
 * promtool missing is a failure, not a skip: scripts/bootstrap.sh installs it. The
 * rules' YAML is read through python3 + PyYAML (python3-yaml, also bootstrap's).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bson/bson.h>

#include "tsfile.h"
#include "tsproc.h"
#include "tsrun.h"
#include "tsscene.h"

#define RULES_REL "deploy/prometheus/ticketsync-rules.yml"
#define RULES_TEST_REL "deploy/prometheus/ticketsync-rules.test.yml"
#define DASHBOARD_REL "deploy/grafana/ticketsync-dashboard.json"

/* Prometheus's own series (and the blackbox exporter's), not ticketsyncd's. */
static const char *const foreign_metrics[] = { "up", "probe_success" };

/* ---- small sets of strings ---------------------------------------------------------- */

typedef struct strset {
	char **v;
	size_t n, cap;
} strset_t;

static bool
strset_has(const strset_t *s, const char *x)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->v[i], x) == 0)
			return true;
	return false;
}

static void
strset_add(strset_t *s, const char *x)
{
	if (strset_has(s, x))
		return;
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 32;
		s->v = realloc(s->v, s->cap * sizeof(*s->v));
		assert_non_null(s->v);
	}
	s->v[s->n] = strdup(x);
	assert_non_null(s->v[s->n]);
	s->n++;
}

static void
strset_free(strset_t *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	memset(s, 0, sizeof(*s));
}

/* ---- tools -------------------------------------------------------------------------- */

static char *
in_path(const char *prog)
{
	const char *path = getenv("PATH");
	char *copy, *dir, *save = NULL, *found = NULL;

	copy = strdup(path != NULL ? path : "/usr/local/bin:/usr/bin:/bin");
	assert_non_null(copy);
	for (dir = strtok_r(copy, ":", &save); dir != NULL; dir = strtok_r(NULL, ":", &save)) {
		char cand[PATH_MAX];

		snprintf(cand, sizeof(cand), "%s/%s", dir, prog);
		if (access(cand, X_OK) == 0) {
			found = strdup(cand);
			break;
		}
	}
	free(copy);
	return found;
}

static const char *
promtool(void)
{
	static char *tool;

	if (tool == NULL)
		tool = in_path("promtool");
	if (tool == NULL)
		fail_msg("promtool not found in PATH. It comes with Debian's prometheus package: "
		    "`apt-get install --no-install-recommends prometheus` (scripts/bootstrap.sh "
		    "installs it). On a machine run by systemd the package also enables a Prometheus "
		    "server (`systemctl disable --now prometheus` if promtool is all you want).");
	return tool;
}

static void
src_path(char *out, size_t len, const char *rel)
{
	snprintf(out, len, "%s/%s", tsproc_source_dir(), rel);
}

/* Run argv[] (argv[0] a path) with stdin_data; the result, printed on request. */
static void
run(const char *const *argv, const char *stdin_data, tsrun_result_t *res, bool print)
{
	tsrun_opts_t o = { .stdin_data = stdin_data,
		.stdin_len = stdin_data ? strlen(stdin_data) : 0, .timeout_ms = 120000 };

	if (tsrun(argv, &o, res) != 0)
		fail_msg("cannot run %s: %s", argv[0], res->err ? res->err : "?");
	if (print) {
		fprintf(stderr, "--- %s %s (exit %d)\n%s%s", argv[0], argv[1], res->exit_code,
		    res->out, res->err);
	}
}

/* A YAML file as BSON, through python3 and PyYAML. */
static bson_t *
yaml_load(const char *rel)
{
	char path[PATH_MAX];
	char *py = in_path("python3");
	tsrun_result_t r = { 0 };
	bson_error_t err;
	bson_t *doc;

	if (py == NULL)
		fail_msg("python3 not found (Debian: python3, python3-yaml; scripts/bootstrap.sh)");
	src_path(path, sizeof(path), rel);
	{
		const char *argv[] = { py, "-c",
			"import json, sys\n"
			"try:\n"
			"    import yaml\n"
			"except ImportError:\n"
			"    sys.exit('PyYAML is missing (Debian: python3-yaml; scripts/bootstrap.sh)')\n"
			"json.dump(yaml.safe_load(open(sys.argv[1], encoding='utf-8')), sys.stdout)\n",
			path, NULL };
		run(argv, NULL, &r, false);
	}
	if (r.exit_code != 0)
		fail_msg("%s does not read as YAML: %s", rel, r.err);
	doc = bson_new_from_json((const uint8_t *)r.out, -1, &err);
	if (doc == NULL)
		fail_msg("%s: %s", rel, err.message);
	tsrun_free(&r);
	free(py);
	return doc;
}

static bson_t *
json_load(const char *rel)
{
	char *text = tsfile_read_source(rel, NULL);
	bson_error_t err;
	bson_t *doc;

	if (text == NULL)
		fail_msg("cannot read %s", rel);
	doc = bson_new_from_json((const uint8_t *)text, -1, &err);
	if (doc == NULL)
		fail_msg("%s is not JSON: %s", rel, err.message);
	free(text);
	return doc;
}

/* ---- BSON access -------------------------------------------------------------------- */

static const char *
str_at(const bson_t *doc, const char *dotted)
{
	bson_iter_t it, f;

	if (bson_iter_init(&it, doc) && bson_iter_find_descendant(&it, dotted, &f) &&
	    BSON_ITER_HOLDS_UTF8(&f))
		return bson_iter_utf8(&f, NULL);
	return NULL;
}

/* The sub-document (array or object) at dotted into *out (static view); false if none. */
static bool
sub_at(const bson_t *doc, const char *dotted, bson_t *out)
{
	bson_iter_t it, f;
	const uint8_t *data;
	uint32_t len;

	if (!bson_iter_init(&it, doc) || !bson_iter_find_descendant(&it, dotted, &f))
		return false;
	if (BSON_ITER_HOLDS_ARRAY(&f))
		bson_iter_array(&f, &len, &data);
	else if (BSON_ITER_HOLDS_DOCUMENT(&f))
		bson_iter_document(&f, &len, &data);
	else
		return false;
	return bson_init_static(out, data, len);
}

/* The document element an array iterator is on (static view). */
static bool
elem_doc(const bson_iter_t *it, bson_t *out)
{
	const uint8_t *data;
	uint32_t len;

	if (!BSON_ITER_HOLDS_DOCUMENT(it))
		return false;
	bson_iter_document(it, &len, &data);
	return bson_init_static(out, data, len);
}

/* ---- rules -------------------------------------------------------------------------- */

typedef void (*rule_fn)(const bson_t *rule, const char *group, void *arg);

static void
each_rule(const bson_t *rules_doc, rule_fn fn, void *arg)
{
	bson_t groups, group, rules, rule;
	bson_iter_t gi, ri;
	int n = 0;

	assert_true(sub_at(rules_doc, "groups", &groups));
	assert_true(bson_iter_init(&gi, &groups));
	while (bson_iter_next(&gi)) {
		assert_true(elem_doc(&gi, &group));
		assert_true(sub_at(&group, "rules", &rules));
		assert_true(bson_iter_init(&ri, &rules));
		while (bson_iter_next(&ri)) {
			assert_true(elem_doc(&ri, &rule));
			fn(&rule, str_at(&group, "name"), arg);
			n++;
		}
	}
	assert_true(n > 0);
}

static void
collect_recorded(const bson_t *rule, const char *group, void *arg)
{
	const char *rec = str_at(rule, "record");

	(void)group;
	if (rec != NULL)
		strset_add(arg, rec);
}

/* ---- PromQL: the metric names an expression selects --------------------------------- */

static bool
is_ident_start(int c)
{
	return isalpha(c) || c == '_' || c == ':';
}

static bool
is_ident(int c)
{
	return isalnum(c) || c == '_' || c == ':';
}

/* Past the string literal, label matchers, range or label list starting at p (a quote,
 * {, [ or (). */
static const char *
skip_delimited(const char *p)
{
	char open = *p;
	char close = open == '{' ? '}' : open == '[' ? ']' : open == '(' ? ')' : open;

	if (open == '"' || open == '\'' || open == '`') {
		for (p++; *p && *p != close; p++)
			if (*p == '\\' && open != '`' && p[1])
				p++;
		return *p ? p + 1 : p;
	}
	for (p++; *p && *p != close; ) {
		if (*p == '"' || *p == '\'' || *p == '`')
			p = skip_delimited(p);
		else
			p++;
	}
	return *p ? p + 1 : p;
}

static bool
word_in(const char *w, const char *const *list)
{
	for (size_t i = 0; list[i] != NULL; i++)
		if (strcmp(w, list[i]) == 0)
			return true;
	return false;
}

typedef void (*name_fn)(const char *name, const char *func, void *arg);

/*
 * Call fn for each metric name expr selects, with the innermost function applied to it
 * ("" if none). Skips strings, label matchers, ranges, numbers and durations, Grafana
 * variables ($x, ${x}), keywords, grouping label lists (by, without, on, ignoring,
 * group_left, group_right) and label_values()'s label argument.
 */
static void
promql_names(const char *expr, name_fn fn, void *arg)
{
	static const char *const grouping[] = { "by", "without", "on", "ignoring", "group_left",
		"group_right", NULL };
	static const char *const keywords[] = { "and", "or", "unless", "bool", "offset", "inf",
		"nan", "atan2", NULL };
	static const char *const aggregations[] = { "sum", "min", "max", "avg", "group", "stddev",
		"stdvar", "count", "count_values", "bottomk", "topk", "quantile", NULL };
	char stack[64][64];       /* function per open parenthesis ("" for a plain one) */
	bool after_comma[64];
	char pending[64] = "";    /* an aggregation waiting for its ( */
	int depth = 0;
	const char *p = expr;

	while (*p) {
		unsigned char c = (unsigned char)*p;

		if (isspace(c)) {
			p++;
		} else if (c == '#') {
			while (*p && *p != '\n')
				p++;
		} else if (c == '"' || c == '\'' || c == '`' || c == '{' || c == '[') {
			p = skip_delimited(p);
		} else if (c == '$') {
			p++;
			if (*p == '{')
				p = skip_delimited(p);
			else
				while (is_ident((unsigned char)*p))
					p++;
		} else if (isdigit(c) || (c == '.' && isdigit((unsigned char)p[1]))) {
			while (isalnum((unsigned char)*p) || *p == '.' ||
			    ((*p == '+' || *p == '-') && (p[-1] == 'e' || p[-1] == 'E')))
				p++;
		} else if (is_ident_start(c)) {
			char w[64];
			size_t n = 0;
			const char *r;

			while (is_ident((unsigned char)p[n]))
				n++;
			assert_true(n < sizeof(w));
			memcpy(w, p, n);
			w[n] = '\0';
			p += n;
			for (r = p; isspace((unsigned char)*r); r++)
				;
			if (word_in(w, grouping)) {
				if (*r == '(')
					p = skip_delimited(r); /* a label list holds no parenthesis */
				continue;
			}
			if (word_in(w, keywords))
				continue;
			if (word_in(w, aggregations) && *r != '(') {
				snprintf(pending, sizeof(pending), "%s", w);
				continue;
			}
			if (*r == '(') {
				assert_true(depth < 64);
				snprintf(stack[depth], sizeof(stack[depth]), "%s", w);
				after_comma[depth++] = false;
				p = r + 1;
				continue;
			}
			if (depth > 0 && after_comma[depth - 1] &&
			    strcmp(stack[depth - 1], "label_values") == 0)
				continue; /* label_values(metric, label) */
			{
				const char *func = "";

				for (int i = depth - 1; i >= 0 && func[0] == '\0'; i--)
					func = stack[i];
				fn(w, func, arg);
			}
		} else if (c == '(') {
			assert_true(depth < 64);
			snprintf(stack[depth], sizeof(stack[depth]), "%s", pending);
			after_comma[depth++] = false;
			pending[0] = '\0';
			p++;
		} else if (c == ')') {
			if (depth > 0)
				depth--;
			p++;
		} else if (c == ',') {
			if (depth > 0)
				after_comma[depth - 1] = true;
			p++;
		} else {
			p++;
		}
	}
}

/* ---- the checks ----------------------------------------------------------------------- */

/* GitHub's anchor for a heading: lower case, only letters, digits, - and _, spaces to -. */
static void
heading_slug(const char *h, char *out, size_t len)
{
	size_t n = 0;

	for (; *h && *h != '\n' && n + 1 < len; h++) {
		unsigned char c = (unsigned char)*h;

		if (isalnum(c) || c == '-' || c == '_' || c >= 0x80)
			out[n++] = (char)tolower(c);
		else if (c == ' ')
			out[n++] = '-';
	}
	out[n] = '\0';
}

/* Whether doc (relative to the source tree) has a heading whose anchor is anchor. */
static bool
doc_has_anchor(const char *doc_rel, const char *anchor)
{
	char *text = tsfile_read_source(doc_rel, NULL);
	bool in_code = false, found = false;

	if (text == NULL)
		return false;
	for (char *line = text; line != NULL && *line && !found; ) {
		char *nl = strchr(line, '\n');

		if (strncmp(line, "```", 3) == 0) {
			in_code = !in_code;
		} else if (!in_code && line[0] == '#') {
			char slug[256];
			const char *h = line;

			while (*h == '#')
				h++;
			while (*h == ' ')
				h++;
			heading_slug(h, slug, sizeof(slug));
			found = strcmp(slug, anchor) == 0;
		}
		line = nl ? nl + 1 : NULL;
	}
	free(text);
	return found;
}

typedef struct alert_check {
	int alerts;
	char problems[4096];
} alert_check_t;

static void
problem(alert_check_t *c, const char *fmt, ...)
{
	size_t n = strlen(c->problems);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->problems + n, sizeof(c->problems) - n, fmt, ap);
	va_end(ap);
	n = strlen(c->problems);
	if (n + 1 < sizeof(c->problems))
		strcat(c->problems, "\n");
}

static void
check_alert(const bson_t *rule, const char *group, void *arg)
{
	alert_check_t *c = arg;
	const char *name = str_at(rule, "alert"), *sev, *url;
	static const char *const severities[] = { "critical", "warning", "info", NULL };
	static const char *const texts[] = { "annotations.summary", "annotations.description" };

	(void)group;
	if (name == NULL)
		return;
	c->alerts++;
	sev = str_at(rule, "labels.severity");
	if (sev == NULL || !word_in(sev, severities))
		problem(c, "%s: labels.severity is %s, not critical, warning or info", name,
		    sev ? sev : "missing");
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		const char *v = str_at(rule, texts[i]);
		if (v == NULL || v[0] == '\0')
			problem(c, "%s: no %s", name, texts[i]);
	}
	url = str_at(rule, "annotations.runbook_url");
	if (url == NULL) {
		problem(c, "%s: no annotations.runbook_url", name);
	} else {
		char file[256];
		const char *hash = strchr(url, '#');
		size_t n = hash ? (size_t)(hash - url) : 0;

		if (hash == NULL || n == 0 || n >= sizeof(file)) {
			problem(c, "%s: runbook_url %s is not <doc>#<anchor>", name, url);
		} else {
			memcpy(file, url, n);
			file[n] = '\0';
			if (!doc_has_anchor(file, hash + 1))
				problem(c, "%s: runbook_url %s: %s has no heading with that anchor", name,
				    url, file);
		}
	}
}

static void
test_rules_check(void **state)
{
	char path[PATH_MAX];
	tsrun_result_t r = { 0 };
	alert_check_t c = { 0 };
	bson_t *rules;

	(void)state;
	src_path(path, sizeof(path), RULES_REL);
	{
		const char *argv[] = { promtool(), "check", "rules", path, NULL };
		run(argv, NULL, &r, true);
	}
	if (r.exit_code != 0)
		fail_msg("promtool check rules %s failed (exit %d)", RULES_REL, r.exit_code);
	tsrun_free(&r);

	rules = yaml_load(RULES_REL);
	each_rule(rules, check_alert, &c);
	if (c.problems[0] != '\0')
		fail_msg("%s:\n%s", RULES_REL, c.problems);
	assert_true(c.alerts >= 10);
	bson_destroy(rules);
}

typedef struct coverage {
	strset_t firing, quiet;
} coverage_t;

static void
test_rules_unit(void **state)
{
	char path[PATH_MAX];
	tsrun_result_t r = { 0 };
	bson_t *doc, tests, t, art, a, exp;
	bson_iter_t ti, ai;
	coverage_t cov = { 0 };
	int both = 0;

	(void)state;
	src_path(path, sizeof(path), RULES_TEST_REL);
	{
		const char *argv[] = { promtool(), "test", "rules", path, NULL };
		run(argv, NULL, &r, true);
	}
	if (r.exit_code != 0)
		fail_msg("promtool test rules %s failed (exit %d)", RULES_TEST_REL, r.exit_code);
	tsrun_free(&r);

	/* It exercises at least three alerts both ways, firing and quiet. */
	doc = yaml_load(RULES_TEST_REL);
	assert_true(sub_at(doc, "tests", &tests));
	assert_true(bson_iter_init(&ti, &tests));
	while (bson_iter_next(&ti)) {
		assert_true(elem_doc(&ti, &t));
		if (!sub_at(&t, "alert_rule_test", &art))
			continue;
		assert_true(bson_iter_init(&ai, &art));
		while (bson_iter_next(&ai)) {
			const char *name;

			assert_true(elem_doc(&ai, &a));
			name = str_at(&a, "alertname");
			assert_non_null(name);
			if (sub_at(&a, "exp_alerts", &exp) && bson_count_keys(&exp) > 0)
				strset_add(&cov.firing, name);
			else
				strset_add(&cov.quiet, name);
		}
	}
	for (size_t i = 0; i < cov.firing.n; i++)
		if (strset_has(&cov.quiet, cov.firing.v[i]))
			both++;
	if (both < 3)
		fail_msg("%s tests %d alert(s) both firing and quiet; at least 3 wanted", RULES_TEST_REL,
		    both);
	strset_free(&cov.firing);
	strset_free(&cov.quiet);
	bson_destroy(doc);
}

/* ---- the dashboard -------------------------------------------------------------------- */

typedef void (*query_fn)(const char *where, const char *expr, void *arg);

static void
each_panel(const bson_t *panels, query_fn fn, void *arg, strset_t *ids, char *problems,
    size_t plen)
{
	bson_iter_t pi, ti;
	bson_t panel, targets, target, nested;

	assert_true(bson_iter_init(&pi, panels));
	while (bson_iter_next(&pi)) {
		const char *type, *title;
		bson_iter_t id;
		char idbuf[32], where[256];
		int ntargets = 0;

		assert_true(elem_doc(&pi, &panel));
		type = str_at(&panel, "type");
		title = str_at(&panel, "title");
		assert_non_null(type);
		assert_non_null(title);
		if (!bson_iter_init_find(&id, &panel, "id") || !BSON_ITER_HOLDS_NUMBER(&id))
			fail_msg("dashboard panel \"%s\" has no numeric id", title);
		snprintf(idbuf, sizeof(idbuf), "%lld", (long long)bson_iter_as_int64(&id));
		if (strset_has(ids, idbuf))
			fail_msg("dashboard panel id %s is used twice", idbuf);
		strset_add(ids, idbuf);
		if (sub_at(&panel, "panels", &nested))
			each_panel(&nested, fn, arg, ids, problems, plen);
		if (strcmp(type, "row") == 0)
			continue;
		if (!sub_at(&panel, "targets", &targets))
			fail_msg("dashboard panel \"%s\" has no targets", title);
		assert_true(bson_iter_init(&ti, &targets));
		while (bson_iter_next(&ti)) {
			const char *expr, *uid;

			assert_true(elem_doc(&ti, &target));
			expr = str_at(&target, "expr");
			uid = str_at(&target, "datasource.uid");
			snprintf(where, sizeof(where), "panel \"%s\" target %s", title,
			    str_at(&target, "refId") ? str_at(&target, "refId") : "?");
			if (expr == NULL || expr[0] == '\0')
				fail_msg("dashboard %s has no expr", where);
			if (uid == NULL || strcmp(uid, "${DS_PROMETHEUS}") != 0) {
				size_t n = strlen(problems);
				snprintf(problems + n, plen - n, "%s: datasource uid is not ${DS_PROMETHEUS}\n",
				    where);
			}
			fn(where, expr, arg);
			ntargets++;
		}
		if (ntargets == 0)
			fail_msg("dashboard panel \"%s\" has no query", title);
	}
}

/* Every query of the dashboard (panel targets and the variables' queries). */
static void
each_dashboard_query(const bson_t *dash, query_fn fn, void *arg)
{
	bson_t panels, vars, v;
	bson_iter_t vi;
	strset_t ids = { 0 };
	char problems[2048] = "";
	bool have_ds = false, have_instance = false;
	bson_iter_t sv;

	if (!bson_iter_init_find(&sv, dash, "schemaVersion") || !BSON_ITER_HOLDS_NUMBER(&sv) ||
	    bson_iter_as_int64(&sv) < 36)
		fail_msg("%s: schemaVersion missing or below 36", DASHBOARD_REL);
	assert_true(sub_at(dash, "panels", &panels));
	each_panel(&panels, fn, arg, &ids, problems, sizeof(problems));
	if (problems[0] != '\0')
		fail_msg("%s:\n%s", DASHBOARD_REL, problems);
	assert_true(sub_at(dash, "templating.list", &vars));
	assert_true(bson_iter_init(&vi, &vars));
	while (bson_iter_next(&vi)) {
		const char *name, *type, *q;
		char where[128];

		assert_true(elem_doc(&vi, &v));
		name = str_at(&v, "name");
		type = str_at(&v, "type");
		assert_non_null(name);
		assert_non_null(type);
		if (strcmp(name, "DS_PROMETHEUS") == 0 && strcmp(type, "datasource") == 0 &&
		    str_at(&v, "query") != NULL && strcmp(str_at(&v, "query"), "prometheus") == 0)
			have_ds = true;
		if (strcmp(name, "instance") == 0)
			have_instance = true;
		if (strcmp(type, "query") != 0)
			continue;
		q = str_at(&v, "query.query") ? str_at(&v, "query.query") : str_at(&v, "query");
		assert_non_null(q);
		snprintf(where, sizeof(where), "variable %s", name);
		fn(where, q, arg);
	}
	if (!have_ds || !have_instance)
		fail_msg("%s: wants a datasource variable DS_PROMETHEUS (prometheus) and an instance "
		    "variable", DASHBOARD_REL);
	strset_free(&ids);
}

/* Grafana's variables replaced, as Grafana would before sending the query. */
static char *
grafana_expand(const char *expr)
{
	static const struct { const char *from, *to; } subst[] = {
		{ "$__rate_interval", "5m" }, { "${__rate_interval}", "5m" },
		{ "$__interval", "1m" }, { "${__interval}", "1m" }, { "$__range", "1h" },
		{ "${instance}", ".*" }, { "$instance", ".*" }, { "${job}", ".*" }, { "$job", ".*" },
		{ "${tenant}", ".*" }, { "$tenant", ".*" },
	};
	size_t cap = strlen(expr) * 2 + 64, n = 0;
	char *out = malloc(cap);

	assert_non_null(out);
	while (*expr) {
		bool done = false;

		for (size_t i = 0; i < sizeof(subst) / sizeof(subst[0]) && !done; i++) {
			size_t fl = strlen(subst[i].from), tl = strlen(subst[i].to);

			if (strncmp(expr, subst[i].from, fl) == 0) {
				assert_true(n + tl < cap);
				memcpy(out + n, subst[i].to, tl);
				n += tl;
				expr += fl;
				done = true;
			}
		}
		if (!done) {
			if (*expr == '$')
				fail_msg("dashboard query uses an unknown variable at %s", expr);
			assert_true(n + 1 < cap);
			out[n++] = *expr++;
		}
	}
	out[n] = '\0';
	return out;
}

typedef struct as_rules {
	bson_t rules;
	int n;
	strset_t where;   /* "dashboard:query_N: <where>: <expr>", N = the rule's index */
} as_rules_t;

static void
add_as_rule(const char *where, const char *expr, void *arg)
{
	as_rules_t *a = arg;
	char key[16], record[64];
	char *e;
	bson_t rule;

	if (strncmp(where, "variable", 8) == 0)
		return; /* label_values() is Grafana's, not PromQL */
	e = grafana_expand(expr);
	snprintf(key, sizeof(key), "%d", a->n);
	snprintf(record, sizeof(record), "dashboard:query_%d", a->n++);
	bson_append_document_begin(&a->rules, key, -1, &rule);
	BSON_APPEND_UTF8(&rule, "record", record);
	BSON_APPEND_UTF8(&rule, "expr", e);
	bson_append_document_end(&a->rules, &rule);
	{
		size_t len = strlen(record) + strlen(where) + strlen(expr) + 8;
		char *line = malloc(len);

		assert_non_null(line);
		snprintf(line, len, "%s: %s: %s", record, where, expr);
		strset_add(&a->where, line);
		free(line);
	}
	free(e);
}

/* Every panel query parses as PromQL: promtool check rules on a file of recording rules
 * made of them (JSON is YAML). */
static void
test_dashboard_queries_parse(void **state)
{
	bson_t *dash = json_load(DASHBOARD_REL);
	bson_t file = BSON_INITIALIZER, groups, group;
	as_rules_t a = { .n = 0 };
	char tmp[] = "/tmp/ticketsync-dashboard-rules-XXXXXX.json";
	tsrun_result_t r = { 0 };
	char *json;
	int fd;

	(void)state;
	bson_init(&a.rules);
	each_dashboard_query(dash, add_as_rule, &a);
	assert_true(a.n >= 10);
	bson_append_array_begin(&file, "groups", -1, &groups);
	bson_append_document_begin(&groups, "0", -1, &group);
	BSON_APPEND_UTF8(&group, "name", "dashboard");
	BSON_APPEND_ARRAY(&group, "rules", &a.rules);
	bson_append_document_end(&groups, &group);
	bson_append_array_end(&file, &groups);
	json = bson_as_relaxed_extended_json(&file, NULL);
	fd = mkstemps(tmp, 5);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, json, strlen(json)), (ssize_t)strlen(json));
	close(fd);
	{
		const char *argv[] = { promtool(), "check", "rules", tmp, NULL };
		run(argv, NULL, &r, false);
	}
	unlink(tmp);
	if (r.exit_code != 0) {
		const char *bad = strstr(r.err, "\"dashboard:query_");
		int n = -1;

		fprintf(stderr, "%s%s", r.out, r.err);
		if (bad != NULL && sscanf(bad, "\"dashboard:query_%d", &n) == 1 && n >= 0 &&
		    (size_t)n < a.where.n)
			fail_msg("%s: a query is not valid PromQL: %s", DASHBOARD_REL, a.where.v[n]);
		fail_msg("%s: a query is not valid PromQL (promtool's output above)", DASHBOARD_REL);
	}
	strset_free(&a.where);
	tsrun_free(&r);
	bson_free(json);
	bson_destroy(&file);
	bson_destroy(&a.rules);
	bson_destroy(dash);
}

/* ---- the live scrape ------------------------------------------------------------------ */

typedef struct scrape {
	strset_t samples;   /* names on sample lines: what Prometheus stores */
	strset_t types;     /* "family type" from # TYPE lines */
} scrape_t;

static void
scrape_parse(const char *text, scrape_t *s)
{
	char *copy = strdup(text), *save = NULL;

	assert_non_null(copy);
	for (char *line = strtok_r(copy, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		char name[160], type[32];

		if (sscanf(line, "# TYPE %159s %31s", name, type) == 2) {
			char both[200];
			snprintf(both, sizeof(both), "%s %s", name, type);
			strset_add(&s->types, both);
		} else if (line[0] != '#') {
			size_t n = strcspn(line, "{ ");
			if (n > 0 && n < sizeof(name)) {
				memcpy(name, line, n);
				name[n] = '\0';
				strset_add(&s->samples, name);
			}
		}
	}
	free(copy);
}

/* The TYPE of a series name: its family's, a histogram's _bucket/_sum/_count counting
 * as counters. NULL if the scrape has no TYPE for it. */
static const char *
scrape_type(const scrape_t *s, const char *name)
{
	static const char *const suffixes[] = { "_bucket", "_sum", "_count" };
	static const char *const types[] = { "counter", "gauge", "histogram", "summary", "untyped" };
	char want[200];

	for (size_t t = 0; t < sizeof(types) / sizeof(types[0]); t++) {
		snprintf(want, sizeof(want), "%s %s", name, types[t]);
		if (strset_has(&s->types, want))
			return types[t];
	}
	for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
		size_t nl = strlen(name), sl = strlen(suffixes[i]);
		char family[160];

		if (nl <= sl || strcmp(name + nl - sl, suffixes[i]) != 0 || nl - sl >= sizeof(family))
			continue;
		memcpy(family, name, nl - sl);
		family[nl - sl] = '\0';
		snprintf(want, sizeof(want), "%s histogram", family);
		if (strset_has(&s->types, want))
			return "counter";
		snprintf(want, sizeof(want), "%s summary", family);
		if (strset_has(&s->types, want))
			return "counter";
	}
	return NULL;
}

typedef struct name_check {
	const scrape_t *scrape;
	const strset_t *recorded;
	const char *where;
	strset_t used;
	char problems[8192];
} name_check_t;

static void
name_problem(name_check_t *c, const char *fmt, ...)
{
	size_t n = strlen(c->problems);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->problems + n, sizeof(c->problems) - n, fmt, ap);
	va_end(ap);
	n = strlen(c->problems);
	if (n + 1 < sizeof(c->problems))
		strcat(c->problems, "\n");
}

static void
check_name(const char *name, const char *func, void *arg)
{
	static const char *const counter_funcs[] = { "rate", "irate", "increase", "resets", NULL };
	static const char *const gauge_funcs[] = { "delta", "idelta", "deriv", "predict_linear",
		NULL };
	name_check_t *c = arg;
	const char *type;

	strset_add(&c->used, name);
	for (size_t i = 0; i < sizeof(foreign_metrics) / sizeof(foreign_metrics[0]); i++)
		if (strcmp(name, foreign_metrics[i]) == 0)
			return;
	if (strset_has(c->recorded, name))
		return;
	if (!strset_has(&c->scrape->samples, name)) {
		char want[200];
		snprintf(want, sizeof(want), "%s histogram", name);
		if (strset_has(&c->scrape->types, want))
			name_problem(c, "%s: %s is a histogram: select its _bucket, _sum or _count series",
			    c->where, name);
		else
			name_problem(c, "%s: %s is not in ticketsyncd's /metrics", c->where, name);
		return;
	}
	type = scrape_type(c->scrape, name);
	if (word_in(func, counter_funcs) && (type == NULL || strcmp(type, "counter") != 0))
		name_problem(c, "%s: %s() over %s, a %s, not a counter", c->where, func, name,
		    type ? type : "metric without TYPE");
	if (word_in(func, gauge_funcs) && (type == NULL || strcmp(type, "gauge") != 0))
		name_problem(c, "%s: %s() over %s, a %s, not a gauge", c->where, func, name,
		    type ? type : "metric without TYPE");
}

static void
check_rule_names(const bson_t *rule, const char *group, void *arg)
{
	name_check_t *c = arg;
	const char *expr = str_at(rule, "expr");
	char where[160];

	assert_non_null(expr);
	snprintf(where, sizeof(where), "%s: group %s, %s %s", RULES_REL, group,
	    str_at(rule, "alert") ? "alert" : "record",
	    str_at(rule, "alert") ? str_at(rule, "alert") : str_at(rule, "record"));
	c->where = where;
	promql_names(expr, check_name, c);
}

static void
check_query_names(const char *where_in, const char *expr, void *arg)
{
	name_check_t *c = arg;
	char where[320];

	snprintf(where, sizeof(where), "%s: %s", DASHBOARD_REL, where_in);
	c->where = where;
	promql_names(expr, check_name, c);
}

/* The name extraction itself, on the forms the files use. */
static void
collect_name(const char *name, const char *func, void *arg)
{
	char buf[128];

	snprintf(buf, sizeof(buf), "%s/%s", name, func);
	strset_add(arg, buf);
}

static void
test_promql_names(void **state)
{
	strset_t got = { 0 };

	(void)state;
	promql_names("histogram_quantile(0.99, sum by (le) (rate(a_bucket{job=~\"$job\", "
	    "instance=~\"${instance}\"}[$__rate_interval]))) # b c\n"
	    " / on (job) group_left max without (instance) (delta(g[1h] offset 5m)) > 1e+3 "
	    "and ignoring (outcome) x:y * 2 or absent(z) unless label_values(v, instance)"
	    " or count_values(\"k\", w) or time() - timestamp(t) and q{a=\"}{b\"}", collect_name,
	    &got);
	{
		static const char *const want[] = { "a_bucket/rate", "g/delta", "x:y/", "z/absent",
			"v/label_values", "w/count_values", "t/timestamp", "q/" };
		for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
			if (!strset_has(&got, want[i]))
				fail_msg("promql_names missed %s", want[i]);
		assert_int_equal(got.n, sizeof(want) / sizeof(want[0]));
	}
	strset_free(&got);
}

static void
test_live_metrics(void **state)
{
	tsscene_t *s = *state;
	tsrun_result_t r = { 0 };
	scrape_t sc = { 0 };
	strset_t recorded = { 0 };
	name_check_t c = { 0 };
	bson_t *rules, *dash;
	char *body = NULL;
	int64_t start;

	/* A daemon that has pushed: counters, the histogram and the checkpoint have samples. */
	if (tsscene_begin(s, NULL, TSSCENE_API_KEY) != 0 || tsscene_start_daemon(s) != 0)
		fail_msg("%s", s->error);
	if (!tsscene_put(s, "detections", "{'_id': 1, 'title': 'Port scan'}") ||
	    !tsscene_put(s, "tickets", "{'_id': 'TK-1', 'detection_ids': [1], 'status': 'new', "
	        "'assignee': 'sally', 'updated_at': {'$date': '2026-11-01T00:00:00Z'}}"))
		fail_msg("%s", s->error);
	assert_true(tsscene_wait_patches(s, 1, 1, 10000) >= 0);
	start = clock_mono_ms();
	while (tsdaemon_metric(&s->d, "ticketsync_pushes_total{outcome=\"pushed\"}") < 1 ||
	    tsdaemon_metric(&s->d, "ticketsync_push_latency_seconds_count") < 1 ||
	    tsdaemon_metric(&s->d, "ticketsync_checkpoint_age_seconds") < 0) {
		if (clock_mono_ms() - start > 10000)
			fail_msg("no pushed PATCH, latency sample and checkpoint in /metrics after 10 s");
		ts_sleep_ms(50);
	}
	assert_int_equal(tsdaemon_get(&s->d, "/metrics", &body), 200);
	assert_non_null(body);

	/* promtool's parser and linter: errors and lint problems (exit 3) both fail. */
	{
		const char *argv[] = { promtool(), "check", "metrics", NULL };
		run(argv, body, &r, true);
	}
	if (r.exit_code == 3)
		fail_msg("promtool check metrics: lint problems in /metrics (above)");
	if (r.exit_code != 0)
		fail_msg("promtool check metrics: /metrics does not parse (exit %d)", r.exit_code);
	tsrun_free(&r);

	/* Every name the rules and the dashboard select is in this scrape. */
	scrape_parse(body, &sc);
	assert_true(sc.samples.n > 20);
	rules = yaml_load(RULES_REL);
	dash = json_load(DASHBOARD_REL);
	each_rule(rules, collect_recorded, &recorded);
	c.scrape = &sc;
	c.recorded = &recorded;
	each_rule(rules, check_rule_names, &c);
	each_dashboard_query(dash, check_query_names, &c);
	if (c.problems[0] != '\0')
		fail_msg("metric names:\n%s", c.problems);
	/* the rules and the dashboard do select metrics (a tokenizer that finds none passes
	 * nothing) */
	assert_true(c.used.n >= 20);
	fprintf(stderr, "--- %zu metric names used by the rules and the dashboard, all exported\n",
	    c.used.n);

	assert_int_equal(tsscene_stop_daemon(s), 0);
	strset_free(&c.used);
	strset_free(&recorded);
	strset_free(&sc.samples);
	strset_free(&sc.types);
	bson_destroy(rules);
	bson_destroy(dash);
	free(body);
}

static int
scene_setup(void **state)
{
	return tsscene_setup(state, "monitoring");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_promql_names),
		cmocka_unit_test(test_rules_check),
		cmocka_unit_test(test_rules_unit),
		cmocka_unit_test(test_dashboard_queries_parse),
		cmocka_unit_test_setup_teardown(test_live_metrics, scene_setup, tsscene_teardown),
	};

	return cmocka_run_group_tests(tests, tsscene_group_setup, tsscene_group_teardown);
}
