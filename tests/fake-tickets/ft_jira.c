/* ft_jira: the Jira REST endpoints of the fake (Cloud and Data Center). */
#include "ft_jira.h"

#include "fc_json.h"
#include "ft_jql.h"
#include "ticketsync/clock.h"
#include "ticketsync/xalloc.h"

#include <ctype.h>
#include <event2/keyvalq_struct.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>

#define FT_JIRA_SUMMARY_MAX 255
#define FT_JIRA_CLOUD_MAX_RESULTS 100
#define FT_JIRA_DC_MAX_RESULTS 1000
#define FT_JIRA_DEFAULT_RESULTS 50

static const char *const ft_jira_priorities[] = { "Highest", "High", "Medium", "Low",
	"Lowest" };

/* ---- small readers ---- */

static const char *
ft_jira_sub_str(const bson_t *doc, const char *dotted)
{
	bson_iter_t it, f;

	if (doc != NULL && bson_iter_init(&it, doc) && bson_iter_find_descendant(&it, dotted, &f) &&
	    BSON_ITER_HOLDS_UTF8(&f))
		return bson_iter_utf8(&f, NULL);
	return NULL;
}

static bool
ft_jira_field(const ft_ticket_t *t, const char *key, bson_iter_t *it)
{
	return bson_iter_init_find(it, t->fields, key);
}

/* The id of a priority named or numbered in v ("High" or "2"); 0 if none. */
static int
ft_jira_priority_id(const bson_iter_t *obj)
{
	bson_iter_t it;
	bson_t sub;
	const uint8_t *data;
	uint32_t len;
	int found = 0;

	if (!BSON_ITER_HOLDS_DOCUMENT(obj))
		return 0;
	bson_iter_document(obj, &len, &data);
	if (!bson_init_static(&sub, data, len))
		return 0;
	if (bson_iter_init_find(&it, &sub, "name") && BSON_ITER_HOLDS_UTF8(&it)) {
		for (int i = 0; i < 5; i++)
			if (strcmp(bson_iter_utf8(&it, NULL), ft_jira_priorities[i]) == 0)
				found = i + 1;
	} else if (bson_iter_init_find(&it, &sub, "id")) {
		int64_t v = 0;
		if (BSON_ITER_HOLDS_UTF8(&it)) {
			const char *s = bson_iter_utf8(&it, NULL);
			if (strlen(s) == 1 && s[0] >= '1' && s[0] <= '5')
				found = s[0] - '0';
		} else if (fc_json_int64(&it, &v) && v >= 1 && v <= 5) {
			/* Jira reads ids as strings; a bare number is tolerated by its parser. */
			found = (int)v;
		}
	}
	return found;
}

const char *
ft_jira_priority(const ft_ticket_t *t)
{
	bson_iter_t it;
	int id = ft_jira_field(t, "priority", &it) ? ft_jira_priority_id(&it) : 0;

	return ft_jira_priorities[(id ? id : 3) - 1];
}

const char *
ft_jira_assignee(const ft_ticket_t *t)
{
	const char *v = ft_jira_sub_str(t->fields, "assignee.accountId");

	return v ? v : ft_jira_sub_str(t->fields, "assignee.name");
}

static size_t
ft_jira_project_index(ft_ctx_t *ctx, const char *key)
{
	for (size_t i = 0; i < ctx->nprojects; i++)
		if (strcmp(ctx->projects[i], key) == 0)
			return i;
	return SIZE_MAX;
}

/* ---- rendering ---- */

static void
ft_jira_user(ft_ctx_t *ctx, bson_t *parent, const char *key, const char *who)
{
	bson_t u;
	char self[512];

	if (who == NULL) {
		bson_append_null(parent, key, -1);
		return;
	}
	bson_append_document_begin(parent, key, -1, &u);
	if (ctx->flavour == FT_JIRA_CLOUD) {
		snprintf(self, sizeof(self), "%s/rest/api/2/user?accountId=%s", ctx->base_url, who);
		BSON_APPEND_UTF8(&u, "self", self);
		BSON_APPEND_UTF8(&u, "accountId", who);
		BSON_APPEND_UTF8(&u, "displayName", who);
		BSON_APPEND_BOOL(&u, "active", true);
		BSON_APPEND_UTF8(&u, "accountType", "atlassian");
	} else {
		snprintf(self, sizeof(self), "%s/rest/api/2/user?username=%s", ctx->base_url, who);
		BSON_APPEND_UTF8(&u, "self", self);
		BSON_APPEND_UTF8(&u, "name", who);
		BSON_APPEND_UTF8(&u, "key", who);
		BSON_APPEND_UTF8(&u, "displayName", who);
		BSON_APPEND_BOOL(&u, "active", true);
	}
	bson_append_document_end(parent, &u);
}

static const char *
ft_jira_category_name(const char *key)
{
	return strcmp(key, "new") == 0 ? "To Do" : strcmp(key, "done") == 0 ? "Done"
	    : "In Progress";
}

static int
ft_jira_status_id(const char *name)
{
	uint32_t h = 2166136261u;

	if (strcmp(name, "To Do") == 0)
		return 10000;
	if (strcmp(name, "In Progress") == 0)
		return 3;
	if (strcmp(name, "Done") == 0)
		return 10001;
	for (const char *p = name; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	return 10100 + (int)(h % 900);
}

static void
ft_jira_comment(ft_ctx_t *ctx, const ft_ticket_t *t, const ft_entry_t *e, bson_t *c)
{
	char buf[512], when[40];

	snprintf(buf, sizeof(buf), "%s/rest/api/2/issue/%lld/comment/%lld", ctx->base_url,
	    (long long)t->id, (long long)e->id);
	BSON_APPEND_UTF8(c, "self", buf);
	snprintf(buf, sizeof(buf), "%lld", (long long)e->id);
	BSON_APPEND_UTF8(c, "id", buf);
	ft_jira_user(ctx, c, "author", ctx->me);
	BSON_APPEND_UTF8(c, "body", e->body);
	ft_time_jira(e->created_ms, when, sizeof(when));
	BSON_APPEND_UTF8(c, "created", when);
	BSON_APPEND_UTF8(c, "updated", when);
}

static void
ft_jira_comments(ft_ctx_t *ctx, const ft_ticket_t *t, bson_t *doc)
{
	bson_t arr, c;
	char key[24];

	BSON_APPEND_INT64(doc, "startAt", 0);
	BSON_APPEND_INT64(doc, "maxResults", (int64_t)t->ncomments);
	BSON_APPEND_INT64(doc, "total", (int64_t)t->ncomments);
	bson_append_array_begin(doc, "comments", -1, &arr);
	for (size_t i = 0; i < t->ncomments; i++) {
		snprintf(key, sizeof(key), "%zu", i);
		bson_append_document_begin(&arr, key, -1, &c);
		ft_jira_comment(ctx, t, &t->comments[i], &c);
		bson_append_document_end(&arr, &c);
	}
	bson_append_array_end(doc, &arr);
}

void
ft_jira_render(ft_ctx_t *ctx, const ft_ticket_t *t, bson_t *out)
{
	bson_t f, sub, cat;
	bson_iter_t it;
	char buf[512], when[40];
	size_t pi = ft_jira_project_index(ctx, t->project);
	const char *type = ft_jira_sub_str(t->fields, "issuetype.name");
	int prio = ft_jira_field(t, "priority", &it) ? ft_jira_priority_id(&it) : 0;

	if (type == NULL) {
		/* Created by id: the id names the n-th configured type. */
		const char *tid = ft_jira_sub_str(t->fields, "issuetype.id");
		long n = tid ? strtol(tid, NULL, 10) - 10001 : 0;
		type = n >= 0 && (size_t)n < ctx->nissue_types ? ctx->issue_types[n] : "Task";
	}
	snprintf(buf, sizeof(buf), "%lld", (long long)t->id);
	BSON_APPEND_UTF8(out, "id", buf);
	snprintf(buf, sizeof(buf), "%s/rest/api/2/issue/%lld", ctx->base_url, (long long)t->id);
	BSON_APPEND_UTF8(out, "self", buf);
	BSON_APPEND_UTF8(out, "key", t->key);
	bson_append_document_begin(out, "fields", -1, &f);
	BSON_APPEND_UTF8(&f, "summary", ft_jira_sub_str(t->fields, "summary")
	    ? ft_jira_sub_str(t->fields, "summary") : "");
	if (ft_jira_field(t, "description", &it) && BSON_ITER_HOLDS_UTF8(&it))
		bson_append_iter(&f, "description", -1, &it);
	else
		BSON_APPEND_NULL(&f, "description");
	if (ft_jira_field(t, "labels", &it) && BSON_ITER_HOLDS_ARRAY(&it)) {
		bson_append_iter(&f, "labels", -1, &it);
	} else {
		bson_append_array_begin(&f, "labels", -1, &sub);
		bson_append_array_end(&f, &sub);
	}
	bson_append_document_begin(&f, "issuetype", -1, &sub);
	for (size_t i = 0; i < ctx->nissue_types; i++)
		if (strcmp(ctx->issue_types[i], type) == 0) {
			snprintf(buf, sizeof(buf), "%s/rest/api/2/issuetype/%zu", ctx->base_url,
			    10001 + i);
			BSON_APPEND_UTF8(&sub, "self", buf);
			snprintf(buf, sizeof(buf), "%zu", 10001 + i);
			BSON_APPEND_UTF8(&sub, "id", buf);
		}
	BSON_APPEND_UTF8(&sub, "name", type);
	BSON_APPEND_BOOL(&sub, "subtask", false);
	bson_append_document_end(&f, &sub);
	bson_append_document_begin(&f, "project", -1, &sub);
	snprintf(buf, sizeof(buf), "%s/rest/api/2/project/%zu", ctx->base_url,
	    pi == SIZE_MAX ? (size_t)0 : 10000 + pi);
	BSON_APPEND_UTF8(&sub, "self", buf);
	snprintf(buf, sizeof(buf), "%zu", pi == SIZE_MAX ? (size_t)0 : 10000 + pi);
	BSON_APPEND_UTF8(&sub, "id", buf);
	BSON_APPEND_UTF8(&sub, "key", t->project);
	BSON_APPEND_UTF8(&sub, "name", t->project);
	BSON_APPEND_UTF8(&sub, "projectTypeKey", "software");
	bson_append_document_end(&f, &sub);
	if (prio == 0)
		prio = 3;
	bson_append_document_begin(&f, "priority", -1, &sub);
	snprintf(buf, sizeof(buf), "%s/rest/api/2/priority/%d", ctx->base_url, prio);
	BSON_APPEND_UTF8(&sub, "self", buf);
	BSON_APPEND_UTF8(&sub, "name", ft_jira_priorities[prio - 1]);
	snprintf(buf, sizeof(buf), "%d", prio);
	BSON_APPEND_UTF8(&sub, "id", buf);
	bson_append_document_end(&f, &sub);
	ft_jira_user(ctx, &f, "assignee", ft_jira_assignee(t));
	{
		const char *rep = ft_jira_sub_str(t->fields, "reporter.accountId");
		if (rep == NULL)
			rep = ft_jira_sub_str(t->fields, "reporter.name");
		ft_jira_user(ctx, &f, "reporter", rep);
	}
	bson_append_document_begin(&f, "status", -1, &sub);
	snprintf(buf, sizeof(buf), "%s/rest/api/2/status/%d", ctx->base_url,
	    ft_jira_status_id(t->status));
	BSON_APPEND_UTF8(&sub, "self", buf);
	BSON_APPEND_UTF8(&sub, "name", t->status);
	snprintf(buf, sizeof(buf), "%d", ft_jira_status_id(t->status));
	BSON_APPEND_UTF8(&sub, "id", buf);
	bson_append_document_begin(&sub, "statusCategory", -1, &cat);
	BSON_APPEND_INT32(&cat, "id", strcmp(t->status_category, "new") == 0 ? 2
	    : strcmp(t->status_category, "done") == 0 ? 3 : 4);
	BSON_APPEND_UTF8(&cat, "key", t->status_category);
	BSON_APPEND_UTF8(&cat, "colorName", strcmp(t->status_category, "new") == 0 ? "blue-gray"
	    : strcmp(t->status_category, "done") == 0 ? "green" : "yellow");
	BSON_APPEND_UTF8(&cat, "name", ft_jira_category_name(t->status_category));
	bson_append_document_end(&sub, &cat);
	bson_append_document_end(&f, &sub);
	if (t->resolution != NULL) {
		bson_append_document_begin(&f, "resolution", -1, &sub);
		BSON_APPEND_UTF8(&sub, "id", strcmp(t->resolution, "Done") == 0 ? "10000" : "10001");
		BSON_APPEND_UTF8(&sub, "name", t->resolution);
		bson_append_document_end(&f, &sub);
	} else {
		BSON_APPEND_NULL(&f, "resolution");
	}
	ft_time_jira(t->created_ms, when, sizeof(when));
	BSON_APPEND_UTF8(&f, "created", when);
	ft_time_jira(t->updated_ms, when, sizeof(when));
	BSON_APPEND_UTF8(&f, "updated", when);
	/* Everything else as sent: custom fields, components, duedate, environment. */
	if (bson_iter_init(&it, t->fields))
		while (bson_iter_next(&it)) {
			const char *k = bson_iter_key(&it);
			if (!bson_has_field(&f, k))
				bson_append_iter(&f, k, -1, &it);
		}
	bson_append_document_begin(&f, "comment", -1, &sub);
	ft_jira_comments(ctx, t, &sub);
	bson_append_document_end(&f, &sub);
	bson_append_document_end(out, &f);
}

void
ft_jira_snapshot(ft_ctx_t *ctx, ft_ticket_t *t)
{
	bson_t *doc = bson_new();

	ft_jira_render(ctx, t, doc);
	ft_ticket_snapshot(t, doc, clock_mono_ms());
}

/* The issue with only the named fields ("*all"/"*navigable": all; none: id only). */
static void
ft_jira_filter(const bson_t *issue, char *const *fields, size_t n, bool id_only,
    bson_t *out)
{
	bson_iter_t it, f;
	bool all = false;

	for (size_t i = 0; i < n; i++)
		if (strcmp(fields[i], "*all") == 0 || strcmp(fields[i], "*navigable") == 0)
			all = true;
	if (all || (n == 0 && !id_only)) {
		bson_concat(out, issue);
		return;
	}
	if (bson_iter_init_find(&it, issue, "id"))
		bson_append_iter(out, "id", -1, &it);
	if (n == 0)
		return;
	if (bson_iter_init_find(&it, issue, "self"))
		bson_append_iter(out, "self", -1, &it);
	if (bson_iter_init_find(&it, issue, "key"))
		bson_append_iter(out, "key", -1, &it);
	if (bson_iter_init_find(&it, issue, "fields") && bson_iter_recurse(&it, &f)) {
		bson_t sub;

		bson_append_document_begin(out, "fields", -1, &sub);
		while (bson_iter_next(&f))
			if (ft_list_has(fields, n, bson_iter_key(&f)))
				bson_append_iter(&sub, bson_iter_key(&f), -1, &f);
		bson_append_document_end(out, &sub);
	}
}

/* ---- create ---- */

static void
ft_jira_ferr(bson_t *errors, const char *field, const char *msg)
{
	if (!bson_has_field(errors, field))
		bson_append_utf8(errors, field, -1, msg, -1);
}

static bool
ft_jira_subdoc(const bson_iter_t *it, bson_t *sub)
{
	const uint8_t *data;
	uint32_t len;

	if (!BSON_ITER_HOLDS_DOCUMENT(it))
		return false;
	bson_iter_document(it, &len, &data);
	return bson_init_static(sub, data, len);
}

static bool
ft_jira_custom_field(const char *k)
{
	if (strncmp(k, "customfield_", 12) != 0 || k[12] == '\0')
		return false;
	for (const char *p = k + 12; *p; p++)
		if (!isdigit((unsigned char)*p))
			return false;
	return true;
}

/* The user object rules of the flavour: Cloud by accountId, DC by name. */
static void
ft_jira_check_user(ft_ctx_t *ctx, const bson_iter_t *it, const char *field, bson_t *errors)
{
	bson_t sub;
	const char *id;

	if (BSON_ITER_HOLDS_NULL(it))
		return;
	if (!ft_jira_subdoc(it, &sub)) {
		ft_jira_ferr(errors, field, ctx->flavour == FT_JIRA_CLOUD
		    ? "Specify the user as an object with an accountId: {\"accountId\": \"...\"}"
		    : "expected Object containing a 'name' property");
		return;
	}
	if (ctx->flavour == FT_JIRA_CLOUD) {
		id = ft_jira_sub_str(&sub, "accountId");
		if (id == NULL || id[0] == '\0')
			ft_jira_ferr(errors, field, bson_has_field(&sub, "name")
			    ? "Specify the user by accountId: user names are not accepted on "
			      "Jira Cloud (GDPR strict mode)"
			    : "Specify a valid accountId for the user");
	} else {
		id = ft_jira_sub_str(&sub, "name");
		if (id == NULL)
			id = ft_jira_sub_str(&sub, "key");
		if (id == NULL || id[0] == '\0')
			ft_jira_ferr(errors, field, "expected Object containing a 'name' property");
	}
}

static void
ft_jira_check_fields(ft_ctx_t *ctx, const bson_t *fields, bson_t *errors, char *project,
    size_t plen)
{
	bson_iter_t it, child;
	bson_t sub;
	bool have_project = false, have_type = false, have_summary = false;
	char msg[300];

	bson_iter_init(&it, fields);
	while (bson_iter_next(&it)) {
		const char *k = bson_iter_key(&it);

		if (strcmp(k, "project") == 0) {
			const char *key = NULL, *id = NULL;
			int64_t nid;
			have_project = true;
			if (ft_jira_subdoc(&it, &sub)) {
				key = ft_jira_sub_str(&sub, "key");
				id = ft_jira_sub_str(&sub, "id");
				if (id == NULL && bson_iter_init_find(&child, &sub, "id") &&
				    fc_json_int64(&child, &nid) && nid >= 10000 &&
				    (size_t)(nid - 10000) < ctx->nprojects)
					key = ctx->projects[nid - 10000];
				else if (id != NULL && strtoll(id, NULL, 10) >= 10000 &&
				    (size_t)(strtoll(id, NULL, 10) - 10000) < ctx->nprojects)
					key = ctx->projects[strtoll(id, NULL, 10) - 10000];
			}
			if (key == NULL || ft_jira_project_index(ctx, key) == SIZE_MAX)
				ft_jira_ferr(errors, "project", "Specify a valid project ID or key");
			else
				bson_strncpy(project, key, plen);
		} else if (strcmp(k, "issuetype") == 0) {
			const char *name = NULL, *id = NULL;
			bool ok = false;
			have_type = true;
			if (ft_jira_subdoc(&it, &sub)) {
				name = ft_jira_sub_str(&sub, "name");
				id = ft_jira_sub_str(&sub, "id");
			}
			if (name != NULL)
				ok = ft_list_has(ctx->issue_types, ctx->nissue_types, name);
			else if (id != NULL)
				ok = strtol(id, NULL, 10) >= 10001 &&
				    (size_t)(strtol(id, NULL, 10) - 10001) < ctx->nissue_types;
			if (!ok)
				ft_jira_ferr(errors, "issuetype", name == NULL && id == NULL
				    ? "Specify an issue type" : "The issue type selected is invalid.");
		} else if (strcmp(k, "summary") == 0) {
			const char *s = BSON_ITER_HOLDS_UTF8(&it) ? bson_iter_utf8(&it, NULL) : NULL;
			bool blank = true;
			have_summary = true;
			for (const char *p = s; p != NULL && *p; p++)
				if (!isspace((unsigned char)*p))
					blank = false;
			if (s == NULL && !BSON_ITER_HOLDS_NULL(&it))
				ft_jira_ferr(errors, "summary", "Operation value must be a string");
			else if (s == NULL || blank)
				ft_jira_ferr(errors, "summary", "You must specify a summary of the issue.");
			else if (ft_utf8_len(s) > FT_JIRA_SUMMARY_MAX)
				ft_jira_ferr(errors, "summary", "Summary must be less than 255 characters.");
		} else if (strcmp(k, "description") == 0 || strcmp(k, "environment") == 0) {
			if (!BSON_ITER_HOLDS_UTF8(&it) && !BSON_ITER_HOLDS_NULL(&it))
				ft_jira_ferr(errors, k, "Operation value must be a string");
		} else if (strcmp(k, "labels") == 0) {
			if (!BSON_ITER_HOLDS_ARRAY(&it) || !bson_iter_recurse(&it, &child)) {
				ft_jira_ferr(errors, "labels", "Operation value must be an array of strings");
				continue;
			}
			while (bson_iter_next(&child)) {
				const char *l;
				if (!BSON_ITER_HOLDS_UTF8(&child)) {
					ft_jira_ferr(errors, "labels",
					    "Operation value must be an array of strings");
					break;
				}
				l = bson_iter_utf8(&child, NULL);
				if (l[0] == '\0') {
					ft_jira_ferr(errors, "labels", "A label cannot be empty.");
					break;
				}
				if (strpbrk(l, " \t\r\n") != NULL) {
					snprintf(msg, sizeof(msg), "The label '%.200s' contains spaces which "
					    "is invalid.", l);
					ft_jira_ferr(errors, "labels", msg);
					break;
				}
				if (ft_utf8_len(l) > 255) {
					ft_jira_ferr(errors, "labels", "The label must not exceed 255 "
					    "characters.");
					break;
				}
			}
		} else if (strcmp(k, "priority") == 0) {
			if (!BSON_ITER_HOLDS_DOCUMENT(&it) ||
			    (ft_jira_subdoc(&it, &sub) && !bson_has_field(&sub, "name") &&
			    !bson_has_field(&sub, "id")))
				ft_jira_ferr(errors, "priority",
				    "Specify the Priority (id or name) in the proper format");
			else if (ft_jira_priority_id(&it) == 0)
				ft_jira_ferr(errors, "priority", "The priority selected is invalid.");
		} else if (strcmp(k, "assignee") == 0 || strcmp(k, "reporter") == 0) {
			ft_jira_check_user(ctx, &it, k, errors);
		} else if (strcmp(k, "components") == 0) {
			if (!BSON_ITER_HOLDS_ARRAY(&it))
				ft_jira_ferr(errors, k, "Operation value must be an array of objects");
		} else if (strcmp(k, "duedate") == 0) {
			int64_t ms;
			if (!BSON_ITER_HOLDS_NULL(&it) && (!BSON_ITER_HOLDS_UTF8(&it) ||
			    strlen(bson_iter_utf8(&it, NULL)) != 10 ||
			    !ft_time_parse(bson_iter_utf8(&it, NULL), &ms)))
				ft_jira_ferr(errors, k, "Error parsing date string: use yyyy-MM-dd");
		} else if (!ft_jira_custom_field(k)) {
			snprintf(msg, sizeof(msg), "Field '%.100s' cannot be set. It is not on the "
			    "appropriate screen, or unknown.", k);
			ft_jira_ferr(errors, k, msg);
		}
	}
	if (!have_project)
		ft_jira_ferr(errors, "project", "Specify a valid project ID or key");
	if (!have_type)
		ft_jira_ferr(errors, "issuetype", "Specify an issue type");
	if (!have_summary)
		ft_jira_ferr(errors, "summary", "You must specify a summary of the issue.");
}

static int
ft_jira_field_errors(struct evbuffer *out, bson_t *errors)
{
	bson_t doc = BSON_INITIALIZER, arr;

	bson_append_array_begin(&doc, "errorMessages", -1, &arr);
	bson_append_array_end(&doc, &arr);
	bson_append_document(&doc, "errors", -1, errors);
	fc_json_add(out, &doc);
	bson_destroy(&doc);
	return 400;
}

static int
ft_jira_create(ft_ctx_t *ctx, struct evhttp_request *req, const char *body, size_t len,
    struct evbuffer *out)
{
	bson_t doc, errors = BSON_INITIALIZER, fields, reply = BSON_INITIALIZER;
	bson_error_t error;
	bson_iter_t it;
	char project[48] = "", buf[512];
	ft_ticket_t *t;
	int status;
	int64_t now;

	if (!ft_routes_write_allowed(ctx, req, out, &status))
		goto done;
	if (fc_json_parse_object(body, len, &doc, &error) != 0) {
		snprintf(buf, sizeof(buf), "The request body is not a JSON object: %.200s",
		    error.message);
		status = ft_jira_error(out, 400, buf);
		goto cleanup;
	}
	bson_iter_init(&it, &doc);
	while (bson_iter_next(&it)) {
		const char *k = bson_iter_key(&it);
		if (strcmp(k, "fields") != 0 && strcmp(k, "update") != 0 &&
		    strcmp(k, "properties") != 0 && strcmp(k, "historyMetadata") != 0 &&
		    strcmp(k, "transition") != 0) {
			snprintf(buf, sizeof(buf), "Unrecognized field \"%.100s\" in the request body",
			    k);
			status = ft_jira_error(out, 400, buf);
			goto cleanup;
		}
	}
	if (!bson_iter_init_find(&it, &doc, "fields") || !ft_jira_subdoc(&it, &fields)) {
		BSON_APPEND_UTF8(&errors, "project", "Specify a valid project ID or key");
		BSON_APPEND_UTF8(&errors, "issuetype", "Specify an issue type");
		BSON_APPEND_UTF8(&errors, "summary", "You must specify a summary of the issue.");
		status = ft_jira_field_errors(out, &errors);
		goto cleanup;
	}
	ft_jira_check_fields(ctx, &fields, &errors, project, sizeof(project));
	if (!bson_empty(&errors)) {
		status = ft_jira_field_errors(out, &errors);
		goto cleanup;
	}
	t = ft_store_add(ctx->store);
	t->id += 10000;
	bson_strncpy(t->project, project, sizeof(t->project));
	snprintf(t->key, sizeof(t->key), "%.24s-%lld", project,
	    (long long)ft_store_next_number(ctx->store, project));
	bson_destroy(t->fields);
	t->fields = bson_copy(&fields);
	ft_ticket_set_str(&t->status, "To Do");
	ft_ticket_set_str(&t->status_category, "new");
	now = clock_wall_ms();
	t->created_ms = t->updated_ms = now;
	ft_jira_snapshot(ctx, t);
	ctx->creates++;
	snprintf(buf, sizeof(buf), "%lld", (long long)t->id);
	BSON_APPEND_UTF8(&reply, "id", buf);
	BSON_APPEND_UTF8(&reply, "key", t->key);
	snprintf(buf, sizeof(buf), "%s/rest/api/2/issue/%lld", ctx->base_url, (long long)t->id);
	BSON_APPEND_UTF8(&reply, "self", buf);
	fc_json_add(out, &reply);
	status = 201;
cleanup:
	bson_destroy(&doc);
done:
	bson_destroy(&errors);
	bson_destroy(&reply);
	return status;
}

/* ---- search ---- */

typedef struct ft_jira_hit {
	ft_jql_issue_t i;
} ft_jira_hit_t;

static int
ft_jira_hit_cmp(const void *a, const void *b, void *q)
{
	return ft_jql_compare(q, &((const ft_jira_hit_t *)a)->i, &((const ft_jira_hit_t *)b)->i);
}

static uint64_t
ft_jira_hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static bool
ft_jira_parse_int(const char *s, int64_t *out)
{
	char *end;
	long long v;

	if (s == NULL || *s == '\0')
		return false;
	v = strtoll(s, &end, 10);
	if (*end != '\0')
		return false;
	*out = v;
	return true;
}

static int
ft_jira_search(ft_ctx_t *ctx, const char *method, const char *query, const char *body,
    size_t len, struct evbuffer *out)
{
	bool cloud = ctx->flavour == FT_JIRA_CLOUD;
	struct evkeyvalq q;
	bson_t doc = BSON_INITIALIZER, reply = BSON_INITIALIZER, arr;
	bson_error_t error;
	bson_iter_t it;
	char *jql = NULL, *token = NULL, **fields = NULL, err[400], msg[512];
	size_t nfields = 0, nhits = 0;
	int64_t max = FT_JIRA_DEFAULT_RESULTS, start = 0;
	bool fields_given = false;
	ft_jira_hit_t *hits = NULL;
	ft_jql_t jq;
	int status = 200;

	memset(&jq, 0, sizeof(jq));
	TAILQ_INIT(&q);
	if (strcmp(method, "GET") == 0) {
		const char *v;
		if (query != NULL && evhttp_parse_query_str(query, &q) != 0) {
			status = ft_jira_error(out, 400, "The query string is malformed");
			goto cleanup;
		}
		jql = xstrdup((v = evhttp_find_header(&q, "jql")) ? v : "");
		if ((v = evhttp_find_header(&q, "nextPageToken")) != NULL)
			token = xstrdup(v);
		if ((v = evhttp_find_header(&q, "fields")) != NULL) {
			ft_list_add(&fields, &nfields, v);
			fields_given = true;
		}
		if ((v = evhttp_find_header(&q, "maxResults")) != NULL && !ft_jira_parse_int(v, &max)) {
			status = ft_jira_error(out, 400, "maxResults must be an integer");
			goto cleanup;
		}
		if (!cloud && (v = evhttp_find_header(&q, "startAt")) != NULL &&
		    !ft_jira_parse_int(v, &start)) {
			status = ft_jira_error(out, 400, "startAt must be an integer");
			goto cleanup;
		}
	} else {
		if (fc_json_parse_object(body, len, &doc, &error) != 0) {
			snprintf(msg, sizeof(msg), "The request body is not a JSON object: %.200s",
			    error.message);
			status = ft_jira_error(out, 400, msg);
			goto cleanup;
		}
		bson_iter_init(&it, &doc);
		while (bson_iter_next(&it)) {
			const char *k = bson_iter_key(&it);
			if (strcmp(k, "jql") == 0 && BSON_ITER_HOLDS_UTF8(&it)) {
				jql = xstrdup(bson_iter_utf8(&it, NULL));
			} else if (strcmp(k, "maxResults") == 0 && fc_json_int64(&it, &max)) {
				continue;
			} else if (!cloud && strcmp(k, "startAt") == 0 && fc_json_int64(&it, &start)) {
				continue;
			} else if (cloud && strcmp(k, "nextPageToken") == 0 &&
			    (BSON_ITER_HOLDS_UTF8(&it) || BSON_ITER_HOLDS_NULL(&it))) {
				if (BSON_ITER_HOLDS_UTF8(&it))
					token = xstrdup(bson_iter_utf8(&it, NULL));
			} else if (strcmp(k, "fields") == 0 && BSON_ITER_HOLDS_ARRAY(&it)) {
				bson_iter_t child;
				fields_given = true;
				bson_iter_recurse(&it, &child);
				while (bson_iter_next(&child))
					if (BSON_ITER_HOLDS_UTF8(&child))
						ft_list_add(&fields, &nfields, bson_iter_utf8(&child, NULL));
			} else if (strcmp(k, "expand") == 0 || strcmp(k, "properties") == 0 ||
			    strcmp(k, "fieldsByKeys") == 0 ||
			    (cloud && (strcmp(k, "failFast") == 0 ||
			    strcmp(k, "reconcileIssues") == 0)) ||
			    (!cloud && strcmp(k, "validateQuery") == 0)) {
				continue;
			} else {
				snprintf(msg, sizeof(msg), "Unrecognized or malformed field \"%.100s\" "
				    "in the request body", k);
				status = ft_jira_error(out, 400, msg);
				goto cleanup;
			}
		}
		if (jql == NULL)
			jql = xstrdup("");
	}
	if (max < 0 || start < 0 || (cloud && max == 0)) {
		status = ft_jira_error(out, 400, cloud ? "maxResults must be at least 1"
		    : "startAt and maxResults must not be negative");
		goto cleanup;
	}
	if (max > (cloud ? FT_JIRA_CLOUD_MAX_RESULTS : FT_JIRA_DC_MAX_RESULTS))
		max = cloud ? FT_JIRA_CLOUD_MAX_RESULTS : FT_JIRA_DC_MAX_RESULTS;
	if (ft_jql_parse(jql, &jq, err, sizeof(err)) != 0) {
		snprintf(msg, sizeof(msg), "Error in the JQL Query: %s", err);
		status = ft_jira_error(out, 400, msg);
		goto cleanup;
	}
	if (cloud && jq.nclauses == 0) {
		status = ft_jira_error(out, 400, "Unbounded JQL queries are not allowed here. "
		    "Please add a search restriction to your query.");
		goto cleanup;
	}
	for (size_t c = 0; c < jq.nclauses; c++)
		if (jq.clauses[c].field == FT_JQL_PROJECT)
			for (size_t v = 0; v < jq.clauses[c].nvalues; v++)
				if (!ft_list_has_ci(ctx->projects, ctx->nprojects,
				    jq.clauses[c].values[v])) {
					snprintf(msg, sizeof(msg), "Error in the JQL Query: The value "
					    "'%.100s' does not exist for the field 'project'.",
					    jq.clauses[c].values[v]);
					status = ft_jira_error(out, 400, msg);
					goto cleanup;
				}
	if (token != NULL) {
		unsigned long long off, h;
		if (sscanf(token, "ft%llx.%llx", &off, &h) != 2 || h != ft_jira_hash(jql)) {
			status = ft_jira_error(out, 400, "The provided next page token is invalid "
			    "or expired.");
			goto cleanup;
		}
		start = (int64_t)off;
	}
	/* What the index holds: each issue's newest version older than the delay. */
	hits = xcalloc(ft_store_count(ctx->store) + 1, sizeof(*hits));
	for (size_t i = 0; i < ft_store_count(ctx->store); i++) {
		ft_ticket_t *t = ft_store_at(ctx->store, i);
		const ft_version_t *v = ft_ticket_visible(t, clock_mono_ms(), ctx->index_delay_ms);
		ft_jql_issue_t ji;

		if (v == NULL)
			continue;
		ji.issue = v->issue;
		ji.created_ms = v->created_ms;
		ji.updated_ms = v->updated_ms;
		ji.id = t->id;
		if (ft_jql_match(&jq, &ji))
			hits[nhits++].i = ji;
	}
	qsort_r(hits, nhits, sizeof(*hits), ft_jira_hit_cmp, &jq);
	bson_append_array_begin(&reply, "issues", -1, &arr);
	{
		size_t n = 0;
		char key[24];
		for (size_t i = (size_t)start; i < nhits && n < (size_t)max; i++, n++) {
			bson_t item;
			snprintf(key, sizeof(key), "%zu", n);
			bson_append_document_begin(&arr, key, -1, &item);
			ft_jira_filter(hits[i].i.issue, fields, nfields, cloud && !fields_given, &item);
			bson_append_document_end(&arr, &item);
		}
		bson_append_array_end(&reply, &arr);
		if (cloud) {
			bool last = (size_t)start + n >= nhits;
			if (!last) {
				char tok[64];
				snprintf(tok, sizeof(tok), "ft%llx.%llx",
				    (unsigned long long)((size_t)start + n),
				    (unsigned long long)ft_jira_hash(jql));
				BSON_APPEND_UTF8(&reply, "nextPageToken", tok);
			}
			BSON_APPEND_BOOL(&reply, "isLast", last);
		} else {
			bson_t dc = BSON_INITIALIZER;
			BSON_APPEND_UTF8(&dc, "expand", "schema,names");
			BSON_APPEND_INT64(&dc, "startAt", start);
			BSON_APPEND_INT64(&dc, "maxResults", max);
			BSON_APPEND_INT64(&dc, "total", (int64_t)nhits);
			bson_concat(&dc, &reply);
			bson_destroy(&reply);
			bson_copy_to(&dc, &reply);
			bson_destroy(&dc);
		}
	}
	fc_json_add(out, &reply);
cleanup:
	ft_jql_free(&jq);
	free(hits);
	free(jql);
	free(token);
	ft_list_free(fields, nfields);
	evhttp_clear_headers(&q);
	bson_destroy(&doc);
	bson_destroy(&reply);
	return status;
}

/* ---- issue, comments, myself ---- */

static int
ft_jira_not_found(struct evbuffer *out)
{
	return ft_jira_error(out, 404, "Issue does not exist or you do not have permission "
	    "to see it.");
}

static int
ft_jira_comment_post(ft_ctx_t *ctx, struct evhttp_request *req, ft_ticket_t *t,
    const char *body, size_t len, struct evbuffer *out)
{
	bson_t doc, reply = BSON_INITIALIZER, errors = BSON_INITIALIZER;
	bson_error_t error;
	bson_iter_t it;
	const char *text = NULL;
	ft_entry_t *e;
	char msg[300];
	int status;

	if (!ft_routes_write_allowed(ctx, req, out, &status)) {
		bson_destroy(&reply);
		bson_destroy(&errors);
		return status;
	}
	if (fc_json_parse_object(body, len, &doc, &error) != 0) {
		snprintf(msg, sizeof(msg), "The request body is not a JSON object: %.200s", error.message);
		status = ft_jira_error(out, 400, msg);
		goto cleanup;
	}
	bson_iter_init(&it, &doc);
	while (bson_iter_next(&it)) {
		const char *k = bson_iter_key(&it);
		if (strcmp(k, "body") == 0 && BSON_ITER_HOLDS_UTF8(&it))
			text = bson_iter_utf8(&it, NULL);
		else if (strcmp(k, "visibility") != 0 && strcmp(k, "properties") != 0 &&
		    strcmp(k, "body") != 0) {
			snprintf(msg, sizeof(msg), "Unrecognized field \"%.100s\" in the request body", k);
			status = ft_jira_error(out, 400, msg);
			goto cleanup;
		}
	}
	if (text == NULL || text[0] == '\0') {
		BSON_APPEND_UTF8(&errors, "comment", "Comment body can not be empty!");
		status = ft_jira_field_errors(out, &errors);
		goto cleanup;
	}
	{
		int64_t now = clock_wall_ms();
		if (now <= t->updated_ms)
			now = t->updated_ms + 1;
		e = ft_store_add_entry(ctx->store, &t->comments, &t->ncomments, text, now);
		t->updated_ms = now;
	}
	t->mod_count++;
	ft_jira_snapshot(ctx, t);
	ft_jira_comment(ctx, t, e, &reply);
	fc_json_add(out, &reply);
	status = 201;
cleanup:
	bson_destroy(&doc);
	bson_destroy(&reply);
	bson_destroy(&errors);
	return status;
}

static int
ft_jira_myself(ft_ctx_t *ctx, struct evbuffer *out)
{
	bson_t doc = BSON_INITIALIZER;
	char self[512];
	const char *me = ctx->me ? ctx->me : "fake-user";

	if (ctx->flavour == FT_JIRA_CLOUD) {
		char acct[40];
		snprintf(acct, sizeof(acct), "5b10a2844c2016570%07llx",
		    (unsigned long long)(ft_jira_hash(me) & 0xfffffff));
		snprintf(self, sizeof(self), "%s/rest/api/2/user?accountId=%s", ctx->base_url, acct);
		BSON_APPEND_UTF8(&doc, "self", self);
		BSON_APPEND_UTF8(&doc, "accountId", acct);
		BSON_APPEND_UTF8(&doc, "accountType", "atlassian");
		BSON_APPEND_UTF8(&doc, "emailAddress", me);
		BSON_APPEND_UTF8(&doc, "displayName", me);
	} else {
		snprintf(self, sizeof(self), "%s/rest/api/2/user?username=%s", ctx->base_url, me);
		BSON_APPEND_UTF8(&doc, "self", self);
		BSON_APPEND_UTF8(&doc, "name", me);
		BSON_APPEND_UTF8(&doc, "key", me);
		BSON_APPEND_UTF8(&doc, "displayName", me);
	}
	BSON_APPEND_BOOL(&doc, "active", true);
	BSON_APPEND_UTF8(&doc, "timeZone", "UTC");
	fc_json_add(out, &doc);
	bson_destroy(&doc);
	return 200;
}

int
ft_jira_handle(ft_ctx_t *ctx, struct evhttp_request *req, const char *method,
    const char *path, const char *query, const char *body, size_t len,
    struct evbuffer *out)
{
	bool cloud = ctx->flavour == FT_JIRA_CLOUD;
	bool get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;

	if (strcmp(path, "/rest/api/2/issue") == 0) {
		if (strcmp(method, "POST") != 0)
			return ft_routes_bad_method(ctx, req, out, "POST");
		return ft_jira_create(ctx, req, body, len, out);
	}
	if (strcmp(path, "/rest/api/2/myself") == 0)
		return get ? ft_jira_myself(ctx, out) : ft_routes_bad_method(ctx, req, out, "GET");
	if (cloud && (strcmp(path, "/rest/api/2/search") == 0 ||
	    strcmp(path, "/rest/api/3/search") == 0))
		return ft_jira_error(out, 410, "The requested API has been removed. Please migrate "
		    "to the /rest/api/3/search/jql API.");
	if ((cloud && strcmp(path, "/rest/api/3/search/jql") == 0) ||
	    (!cloud && strcmp(path, "/rest/api/2/search") == 0)) {
		if (!get && strcmp(method, "POST") != 0)
			return ft_routes_bad_method(ctx, req, out, "GET, POST");
		return ft_jira_search(ctx, get ? "GET" : "POST", query, body, len, out);
	}
	if (strncmp(path, "/rest/api/2/issue/", 18) == 0) {
		const char *rest = path + 18, *slash = strchr(rest, '/');
		char ref[64];
		ft_ticket_t *t;

		if (slash != NULL && strcmp(slash, "/comment") != 0)
			return ft_jira_error(out, 404, "No resource at this path in the fake");
		snprintf(ref, sizeof(ref), "%.*s", (int)(slash ? (size_t)(slash - rest)
		    : strlen(rest)), rest);
		t = ft_store_find(ctx->store, ref);
		if (slash == NULL) {
			bson_t doc = BSON_INITIALIZER;
			if (!get) {
				bson_destroy(&doc);
				return ft_routes_bad_method(ctx, req, out, "GET");
			}
			if (t == NULL) {
				bson_destroy(&doc);
				return ft_jira_not_found(out);
			}
			ft_jira_render(ctx, t, &doc);
			fc_json_add(out, &doc);
			bson_destroy(&doc);
			return 200;
		}
		if (get) {
			bson_t doc = BSON_INITIALIZER;
			if (t == NULL) {
				bson_destroy(&doc);
				return ft_jira_not_found(out);
			}
			ft_jira_comments(ctx, t, &doc);
			fc_json_add(out, &doc);
			bson_destroy(&doc);
			return 200;
		}
		if (strcmp(method, "POST") != 0)
			return ft_routes_bad_method(ctx, req, out, "GET, POST");
		if (t == NULL)
			return ft_jira_not_found(out);
		return ft_jira_comment_post(ctx, req, t, body, len, out);
	}
	return ft_jira_error(out, 404, "No resource at this path in the fake Jira (it serves "
	    "/rest/api/2/issue, /rest/api/2/myself and the search of its flavour)");
}

/* ---- control API: transition and webhook ---- */

static const char *
ft_jira_category_of(const char *status)
{
	static const char *const todo[] = { "To Do", "Open", "Backlog", "New", "Reopened",
		"Selected for Development", NULL };
	static const char *const done[] = { "Done", "Closed", "Resolved", "Won't Do",
		"Cancelled", "Canceled", NULL };

	for (size_t i = 0; todo[i]; i++)
		if (strcasecmp(status, todo[i]) == 0)
			return "new";
	for (size_t i = 0; done[i]; i++)
		if (strcasecmp(status, done[i]) == 0)
			return "done";
	return "indeterminate";
}

static void
ft_jira_change(bson_t *items, const char *field, const char *from, const char *to)
{
	bson_t item;
	char key[24];

	snprintf(key, sizeof(key), "%u", bson_count_keys(items));
	bson_append_document_begin(items, key, -1, &item);
	BSON_APPEND_UTF8(&item, "field", field);
	BSON_APPEND_UTF8(&item, "fieldtype", "jira");
	BSON_APPEND_UTF8(&item, "fieldId", field);
	if (from)
		BSON_APPEND_UTF8(&item, "from", from);
	else
		BSON_APPEND_NULL(&item, "from");
	if (from)
		BSON_APPEND_UTF8(&item, "fromString", from);
	else
		BSON_APPEND_NULL(&item, "fromString");
	if (to)
		BSON_APPEND_UTF8(&item, "to", to);
	else
		BSON_APPEND_NULL(&item, "to");
	if (to)
		BSON_APPEND_UTF8(&item, "toString", to);
	else
		BSON_APPEND_NULL(&item, "toString");
	bson_append_document_end(items, &item);
}

int
ft_jira_transition(ft_ctx_t *ctx, ft_ticket_t *t, const bson_t *body, bson_t *items,
    char *err, size_t errlen)
{
	bson_iter_t it;
	const char *status = NULL, *cat = NULL, *res = NULL, *assignee = NULL;
	bool set_res = false, set_assignee = false;
	int64_t now;

	bson_iter_init(&it, body);
	while (bson_iter_next(&it)) {
		const char *k = bson_iter_key(&it);
		bool is_str = BSON_ITER_HOLDS_UTF8(&it), is_null = BSON_ITER_HOLDS_NULL(&it);

		if (strcmp(k, "status") == 0 && is_str && bson_iter_utf8(&it, NULL)[0] != '\0') {
			status = bson_iter_utf8(&it, NULL);
		} else if (strcmp(k, "status_category") == 0 && is_str &&
		    (strcmp(bson_iter_utf8(&it, NULL), "new") == 0 ||
		    strcmp(bson_iter_utf8(&it, NULL), "indeterminate") == 0 ||
		    strcmp(bson_iter_utf8(&it, NULL), "done") == 0)) {
			cat = bson_iter_utf8(&it, NULL);
		} else if (strcmp(k, "resolution") == 0 && (is_str || is_null)) {
			set_res = true;
			res = is_str ? bson_iter_utf8(&it, NULL) : NULL;
		} else if (strcmp(k, "assignee") == 0 && (is_str || is_null)) {
			set_assignee = true;
			assignee = is_str ? bson_iter_utf8(&it, NULL) : NULL;
		} else {
			snprintf(err, errlen, "bad transition key \"%.60s\" (status: non-empty string; "
			    "status_category: new|indeterminate|done; resolution, assignee: string or "
			    "null)", k);
			return -1;
		}
	}
	if (status != NULL && strcmp(status, t->status) != 0) {
		ft_jira_change(items, "status", t->status, status);
		ft_ticket_set_str(&t->status, status);
		ft_ticket_set_str(&t->status_category, cat ? cat : ft_jira_category_of(status));
	} else if (cat != NULL) {
		ft_ticket_set_str(&t->status_category, cat);
	}
	if (set_res && ((res == NULL) != (t->resolution == NULL) ||
	    (res != NULL && t->resolution != NULL && strcmp(res, t->resolution) != 0))) {
		ft_jira_change(items, "resolution", t->resolution, res);
		ft_ticket_set_str(&t->resolution, res);
	}
	if (set_assignee) {
		const char *was = ft_jira_assignee(t);
		char *prev = was ? xstrdup(was) : NULL;
		if ((prev == NULL) != (assignee == NULL) ||
		    (prev != NULL && strcmp(prev, assignee) != 0)) {
			ft_jira_change(items, "assignee", prev, assignee);
			if (assignee == NULL) {
				ft_ticket_set_field(t, "assignee", NULL);
			} else {
				bson_t u = BSON_INITIALIZER;
				bson_value_t v;
				BSON_APPEND_UTF8(&u, ctx->flavour == FT_JIRA_CLOUD ? "accountId" : "name",
				    assignee);
				v.value_type = BSON_TYPE_DOCUMENT;
				v.value.v_doc.data = (uint8_t *)bson_get_data(&u);
				v.value.v_doc.data_len = u.len;
				ft_ticket_set_field(t, "assignee", &v);
				bson_destroy(&u);
			}
		}
		free(prev);
	}
	now = clock_wall_ms();
	t->updated_ms = now > t->updated_ms ? now : t->updated_ms + 1;
	t->mod_count++;
	ft_jira_snapshot(ctx, t);
	return 0;
}

void
ft_jira_webhook_body(ft_ctx_t *ctx, const ft_ticket_t *t, const bson_t *items, bson_t *out)
{
	bson_t issue = BSON_INITIALIZER, cl;
	char id[24];

	BSON_APPEND_INT64(out, "timestamp", clock_wall_ms());
	BSON_APPEND_UTF8(out, "webhookEvent", "jira:issue_updated");
	BSON_APPEND_UTF8(out, "issue_event_type_name", "issue_generic");
	ft_jira_user(ctx, out, "user", ctx->me ? ctx->me : "fake-user");
	ft_jira_render(ctx, t, &issue);
	BSON_APPEND_DOCUMENT(out, "issue", &issue);
	bson_append_document_begin(out, "changelog", -1, &cl);
	snprintf(id, sizeof(id), "%lld", (long long)(10000 + t->mod_count));
	BSON_APPEND_UTF8(&cl, "id", id);
	bson_append_array(&cl, "items", -1, items);
	bson_append_document_end(out, &cl);
	bson_destroy(&issue);
}
