/* ft_control: tickets, transitions (with webhooks), stats, faults and settings. */
#include "ft_control.h"

#include "fc_control.h"
#include "fc_json.h"
#include "ft_jira.h"
#include "ft_routes.h"
#include "ft_snow.h"
#include "ticketsync/clock.h"
#include "ticketsync/xalloc.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FT_DETECTION_LABEL "extrahop-detection-"

static void
ft_control_entries(bson_t *doc, const char *key, const ft_entry_t *e, size_t n, bool jira)
{
	bson_t arr, item;
	char k[24], when[40], id[24];

	bson_append_array_begin(doc, key, -1, &arr);
	for (size_t i = 0; i < n; i++) {
		snprintf(k, sizeof(k), "%zu", i);
		bson_append_document_begin(&arr, k, -1, &item);
		snprintf(id, sizeof(id), "%lld", (long long)e[i].id);
		BSON_APPEND_UTF8(&item, "id", id);
		BSON_APPEND_UTF8(&item, "body", e[i].body);
		if (jira)
			ft_time_jira(e[i].created_ms, when, sizeof(when));
		else
			ft_time_snow(e[i].created_ms, when, sizeof(when));
		BSON_APPEND_UTF8(&item, "created", when);
		bson_append_document_end(&arr, &item);
	}
	bson_append_array_end(doc, &arr);
}

static void
ft_control_ticket(ft_ctx_t *ctx, const ft_ticket_t *t, bson_t *doc)
{
	char id[24], when[40];
	bson_iter_t it;

	if (ctx->flavour == FT_HTTP) {
		ft_http_render_control(t, doc);
	} else if (FT_IS_JIRA(ctx->flavour)) {
		const char *s;
		bson_t empty = BSON_INITIALIZER;

		BSON_APPEND_UTF8(doc, "key", t->key);
		snprintf(id, sizeof(id), "%lld", (long long)t->id);
		BSON_APPEND_UTF8(doc, "id", id);
		BSON_APPEND_UTF8(doc, "project", t->project);
		s = bson_iter_init_find(&it, t->fields, "summary") && BSON_ITER_HOLDS_UTF8(&it)
		    ? bson_iter_utf8(&it, NULL) : "";
		BSON_APPEND_UTF8(doc, "summary", s);
		if (bson_iter_init_find(&it, t->fields, "labels") && BSON_ITER_HOLDS_ARRAY(&it))
			bson_append_iter(doc, "labels", -1, &it);
		else
			BSON_APPEND_ARRAY(doc, "labels", &empty);
		BSON_APPEND_UTF8(doc, "status", t->status);
		BSON_APPEND_UTF8(doc, "status_category", t->status_category);
		if (t->resolution)
			BSON_APPEND_UTF8(doc, "resolution", t->resolution);
		else
			BSON_APPEND_NULL(doc, "resolution");
		if ((s = ft_jira_assignee(t)) != NULL)
			BSON_APPEND_UTF8(doc, "assignee", s);
		else
			BSON_APPEND_NULL(doc, "assignee");
		BSON_APPEND_UTF8(doc, "priority", ft_jira_priority(t));
		ft_time_jira(t->created_ms, when, sizeof(when));
		BSON_APPEND_UTF8(doc, "created", when);
		ft_time_jira(t->updated_ms, when, sizeof(when));
		BSON_APPEND_UTF8(doc, "updated", when);
		ft_control_entries(doc, "comments", t->comments, t->ncomments, true);
		bson_destroy(&empty);
	} else {
		const char *r = ft_snow_get(t, "close_code"), *a = ft_snow_get(t, "assigned_to");
		bson_t rec = BSON_INITIALIZER;

		BSON_APPEND_UTF8(doc, "sys_id", t->sys_id);
		BSON_APPEND_UTF8(doc, "number", t->key);
		BSON_APPEND_UTF8(doc, "table", t->project);
		BSON_APPEND_UTF8(doc, "short_description", ft_snow_get(t, "short_description"));
		BSON_APPEND_UTF8(doc, "correlation_id", ft_snow_get(t, "correlation_id"));
		BSON_APPEND_UTF8(doc, "state", ft_snow_get(t, "state"));
		if (r[0])
			BSON_APPEND_UTF8(doc, "resolution", r);
		else
			BSON_APPEND_NULL(doc, "resolution");
		if (a[0])
			BSON_APPEND_UTF8(doc, "assignee", a);
		else
			BSON_APPEND_NULL(doc, "assignee");
		BSON_APPEND_UTF8(doc, "created", ft_snow_get(t, "sys_created_on"));
		BSON_APPEND_UTF8(doc, "updated", ft_snow_get(t, "sys_updated_on"));
		ft_control_entries(doc, "work_notes", t->work_notes, t->nwork_notes, false);
		ft_control_entries(doc, "comments", t->comments, t->ncomments, false);
		ft_snow_render(t, &rec);
		BSON_APPEND_DOCUMENT(doc, "record", &rec);
		bson_destroy(&rec);
	}
}

/* How many detection keys (Jira label extrahop-detection-N, ServiceNow correlation_id,
 * the http body's detection_id) are held by more than one ticket: each is a duplicate a
 * client created. */
static int64_t
ft_control_duplicates(ft_ctx_t *ctx)
{
	char **keys = NULL;
	size_t nkeys = 0;
	int64_t dups = 0;

	for (size_t i = 0; i < ft_store_count(ctx->store); i++) {
		ft_ticket_t *t = ft_store_at(ctx->store, i);
		char **mine = NULL;
		size_t nmine = 0;
		bson_iter_t it, child;
		int64_t det;

		if (ctx->flavour == FT_HTTP) {
			if (ft_http_detection_id(t, &det)) {
				char buf[24];

				snprintf(buf, sizeof(buf), "%lld", (long long)det);
				mine = xreallocarray(mine, 1, sizeof(*mine));
				mine[nmine++] = xstrdup(buf);
			}
		} else if (FT_IS_JIRA(ctx->flavour)) {
			if (bson_iter_init_find(&it, t->fields, "labels") && BSON_ITER_HOLDS_ARRAY(&it) &&
			    bson_iter_recurse(&it, &child))
				while (bson_iter_next(&child)) {
					const char *l = BSON_ITER_HOLDS_UTF8(&child)
					    ? bson_iter_utf8(&child, NULL) : "";
					if (strncmp(l, FT_DETECTION_LABEL, strlen(FT_DETECTION_LABEL)) == 0 &&
					    !ft_list_has(mine, nmine, l)) {
						mine = xreallocarray(mine, nmine + 1, sizeof(*mine));
						mine[nmine++] = xstrdup(l);
					}
				}
		} else if (ft_snow_get(t, "correlation_id")[0] != '\0') {
			mine = xreallocarray(mine, 1, sizeof(*mine));
			mine[nmine++] = xstrdup(ft_snow_get(t, "correlation_id"));
		}
		for (size_t k = 0; k < nmine; k++) {
			keys = xreallocarray(keys, nkeys + 1, sizeof(*keys));
			keys[nkeys++] = mine[k];
		}
		free(mine);
	}
	for (size_t i = 0; i < nkeys; i++) {
		size_t seen = 0;
		bool first = true;
		for (size_t j = 0; j < nkeys; j++)
			if (strcmp(keys[i], keys[j]) == 0) {
				seen++;
				if (j < i)
					first = false;
			}
		if (first && seen > 1)
			dups++;
	}
	ft_list_free(keys, nkeys);
	return dups;
}

static int
ft_control_stats(ft_ctx_t *ctx, struct evbuffer *out)
{
	bson_t doc = BSON_INITIALIZER;
	int status;

	fc_record_stats(ctx->rec, &doc);
	BSON_APPEND_INT64(&doc, "creates", (int64_t)ctx->creates);
	BSON_APPEND_INT64(&doc, "tickets", (int64_t)ft_store_count(ctx->store));
	BSON_APPEND_INT64(&doc, "duplicates", ft_control_duplicates(ctx));
	if (ctx->flavour == FT_HTTP) {
		BSON_APPEND_INT64(&doc, "idempotent_replays", (int64_t)ctx->idempotent_replays);
		BSON_APPEND_INT64(&doc, "replays_body_changed", (int64_t)ctx->replays_body_changed);
	}
	ft_webhook_stats(ctx->webhook, &doc);
	BSON_APPEND_INT64(&doc, "rate_limited", (int64_t)ctx->rate_limited);
	BSON_APPEND_INT64(&doc, "connections", (int64_t)fc_server_connections(ctx->server));
	BSON_APPEND_INT64(&doc, "delayed_now", (int64_t)ctx->routes.npending);
	BSON_APPEND_INT64(&doc, "fault_rules", (int64_t)fc_faults_count(ctx->faults));
	BSON_APPEND_INT64(&doc, "live_tokens",
	    (int64_t)ft_auth_live_tokens(ctx->auth, clock_mono_ms()));
	status = fc_control_reply(out, &doc, 200);
	bson_destroy(&doc);
	return status;
}

/* POST the webhook for t when a URL is set; the result lands in the stats. */
static void
ft_control_webhook(ft_ctx_t *ctx, const ft_ticket_t *t, const bson_t *items, bson_t *reply)
{
	bson_t body = BSON_INITIALIZER;
	char *json;
	size_t len;
	char err[256] = "", sig[7 + 2 * EVP_MAX_MD_SIZE + 1], bearer[1100];
	const char *headers[3] = { NULL, NULL, NULL };
	int64_t id;

	if (ctx->webhook_url == NULL) {
		BSON_APPEND_NULL(reply, "webhook");
		bson_destroy(&body);
		return;
	}
	if (FT_IS_JIRA(ctx->flavour))
		ft_jira_webhook_body(ctx, t, items, &body);
	else
		ft_snow_render(t, &body);
	json = bson_as_relaxed_extended_json(&body, &len);
	if (ctx->webhook_secret != NULL && FT_IS_JIRA(ctx->flavour)) {
		unsigned char mac[EVP_MAX_MD_SIZE];
		unsigned int n = 0;

		HMAC(EVP_sha256(), ctx->webhook_secret, (int)strlen(ctx->webhook_secret),
		    (const unsigned char *)json, len, mac, &n);
		memcpy(sig, "sha256=", 7);
		ft_hex(mac, n, sig + 7);
		headers[0] = "X-Hub-Signature";
		headers[1] = sig;
	} else if (ctx->webhook_secret != NULL) {
		snprintf(bearer, sizeof(bearer), "Bearer %.1000s", ctx->webhook_secret);
		headers[0] = "Authorization";
		headers[1] = bearer;
	}
	id = ft_webhook_post(ctx->webhook, ctx->webhook_url, headers, json, len, t->key,
	    FT_IS_JIRA(ctx->flavour) ? "jira:issue_updated" : "incident.updated", err,
	    sizeof(err));
	{
		bson_t w;
		bson_append_document_begin(reply, "webhook", -1, &w);
		BSON_APPEND_INT64(&w, "id", id);
		BSON_APPEND_UTF8(&w, "url", ctx->webhook_url);
		BSON_APPEND_BOOL(&w, "started", id > 0 && err[0] == '\0');
		if (err[0] != '\0')
			BSON_APPEND_UTF8(&w, "error", err);
		bson_append_document_end(reply, &w);
	}
	bson_free(json);
	bson_destroy(&body);
}

static int
ft_control_tickets(ft_ctx_t *ctx, const char *method, const char *rest, const char *body,
    size_t len, struct evbuffer *out)
{
	bson_t doc = BSON_INITIALIZER, arr, item;
	char key[24], ref[64], err[400];
	const char *slash;
	ft_ticket_t *t;
	int status = 200;

	if (rest[0] == '\0') {
		if (strcmp(method, "DELETE") == 0) {
			ft_store_clear(ctx->store);
			bson_destroy(&doc);
			return 204;
		}
		if (strcmp(method, "GET") != 0) {
			bson_destroy(&doc);
			return fc_control_bad(out, 405, "use GET (list) or DELETE (forget all)");
		}
		bson_append_array_begin(&doc, "tickets", -1, &arr);
		for (size_t i = 0; i < ft_store_count(ctx->store); i++) {
			snprintf(key, sizeof(key), "%zu", i);
			bson_append_document_begin(&arr, key, -1, &item);
			ft_control_ticket(ctx, ft_store_at(ctx->store, i), &item);
			bson_append_document_end(&arr, &item);
		}
		bson_append_array_end(&doc, &arr);
		BSON_APPEND_INT64(&doc, "count", (int64_t)ft_store_count(ctx->store));
		status = fc_control_reply(out, &doc, 200);
		bson_destroy(&doc);
		return status;
	}
	slash = strchr(rest, '/');
	snprintf(ref, sizeof(ref), "%.*s", (int)(slash ? (size_t)(slash - rest) : strlen(rest)),
	    rest);
	t = ft_store_find(ctx->store, ref);
	if (t == NULL && ctx->flavour == FT_HTTP)
		t = ft_store_find_idempotency(ctx->store, ref);
	if (t == NULL) {
		bson_destroy(&doc);
		return fc_control_bad(out, 404, "no such ticket");
	}
	if (slash == NULL) {
		if (strcmp(method, "GET") != 0)
			status = fc_control_bad(out, 405, "use GET");
		else {
			ft_control_ticket(ctx, t, &doc);
			status = fc_control_reply(out, &doc, 200);
		}
	} else if (strcmp(slash, "/transition") == 0) {
		bson_t parsed, items = BSON_INITIALIZER;
		bson_error_t error;
		bool parse = strcmp(method, "POST") == 0 && ctx->flavour != FT_HTTP;

		if (strcmp(method, "POST") != 0) {
			status = fc_control_bad(out, 405, "use POST");
		} else if (ctx->flavour == FT_HTTP) {
			status = fc_control_bad(out, 400, "the http flavour has no transitions: its "
			    "endpoint only creates tickets");
		} else if (fc_json_parse_object(body, len, &parsed, &error) != 0) {
			status = fc_control_bad(out, 400, error.message);
		} else if ((FT_IS_JIRA(ctx->flavour)
		    ? ft_jira_transition(ctx, t, &parsed, &items, err, sizeof(err))
		    : ft_snow_transition(ctx, t, &parsed, err, sizeof(err))) != 0) {
			status = fc_control_bad(out, 400, err);
		} else {
			bson_t tk;
			bson_append_document_begin(&doc, "ticket", -1, &tk);
			ft_control_ticket(ctx, t, &tk);
			bson_append_document_end(&doc, &tk);
			ft_control_webhook(ctx, t, &items, &doc);
			status = fc_control_reply(out, &doc, 200);
		}
		if (parse)
			bson_destroy(&parsed);
		bson_destroy(&items);
	} else {
		status = fc_control_bad(out, 404, "no such control endpoint");
	}
	bson_destroy(&doc);
	return status;
}

static void
ft_control_settings_doc(ft_ctx_t *ctx, bson_t *doc)
{
	BSON_APPEND_INT64(doc, "index_delay_ms", ctx->index_delay_ms);
	BSON_APPEND_INT64(doc, "rate_limit", ctx->rate.limit);
	if (ctx->webhook_url)
		BSON_APPEND_UTF8(doc, "webhook_url", ctx->webhook_url);
	else
		BSON_APPEND_NULL(doc, "webhook_url");
	/* The secret itself is not echoed back. */
	BSON_APPEND_BOOL(doc, "webhook_secret_set", ctx->webhook_secret != NULL);
	BSON_APPEND_BOOL(doc, "invalid_query_returns_no_rows", ctx->invalid_query_returns_no_rows);
	BSON_APPEND_BOOL(doc, "log_requests", ctx->routes.log_requests);
}

static int
ft_control_settings(ft_ctx_t *ctx, const char *method, const char *body, size_t len,
    struct evbuffer *out)
{
	bson_t parsed, doc = BSON_INITIALIZER;
	bson_error_t error;
	bson_iter_t it;
	int status = 200;
	int64_t delay = ctx->index_delay_ms, rate = ctx->rate.limit;
	bool noq = ctx->invalid_query_returns_no_rows, lr = ctx->routes.log_requests;
	bool set_url = false, set_secret = false;
	const char *url = NULL, *secret = NULL;
	char err[300];

	bson_init(&parsed);
	if (strcmp(method, "PUT") == 0 || strcmp(method, "PATCH") == 0 ||
	    strcmp(method, "POST") == 0) {
		bson_destroy(&parsed);
		if (fc_json_parse_object(body, len, &parsed, &error) != 0) {
			status = fc_control_bad(out, 400, error.message);
			goto cleanup;
		}
		bson_iter_init(&it, &parsed);
		while (bson_iter_next(&it)) {
			const char *k = bson_iter_key(&it);
			bool ok = true;

			if (strcmp(k, "index_delay_ms") == 0)
				ok = fc_json_int64(&it, &delay) && delay >= 0 && delay <= 3600000;
			else if (strcmp(k, "rate_limit") == 0)
				ok = fc_json_int64(&it, &rate) && rate >= 0 && rate <= 1000000;
			else if (strcmp(k, "invalid_query_returns_no_rows") == 0 && BSON_ITER_HOLDS_BOOL(&it))
				noq = bson_iter_bool(&it);
			else if (strcmp(k, "log_requests") == 0 && BSON_ITER_HOLDS_BOOL(&it))
				lr = bson_iter_bool(&it);
			else if (ctx->flavour == FT_HTTP && (strcmp(k, "webhook_url") == 0 ||
			    strcmp(k, "webhook_secret") == 0)) {
				status = fc_control_bad(out, 400, "the http flavour sends no webhooks");
				goto cleanup;
			} else if (strcmp(k, "webhook_url") == 0 &&
			    (BSON_ITER_HOLDS_UTF8(&it) || BSON_ITER_HOLDS_NULL(&it))) {
				set_url = true;
				url = BSON_ITER_HOLDS_UTF8(&it) ? bson_iter_utf8(&it, NULL) : NULL;
				if (url != NULL && ft_webhook_check_url(url, err, sizeof(err)) != 0) {
					status = fc_control_bad(out, 400, err);
					goto cleanup;
				}
			} else if (strcmp(k, "webhook_secret") == 0 &&
			    (BSON_ITER_HOLDS_UTF8(&it) || BSON_ITER_HOLDS_NULL(&it))) {
				set_secret = true;
				secret = BSON_ITER_HOLDS_UTF8(&it) ? bson_iter_utf8(&it, NULL) : NULL;
			} else
				ok = false;
			if (!ok) {
				snprintf(err, sizeof(err), "bad setting \"%.40s\" (index_delay_ms: "
				    "0..3600000; rate_limit: 0..1000000; webhook_url, webhook_secret: "
				    "string or null; invalid_query_returns_no_rows, log_requests: "
				    "booleans)", k);
				status = fc_control_bad(out, 400, err);
				goto cleanup;
			}
		}
		ctx->index_delay_ms = delay;
		if (rate != ctx->rate.limit)
			ft_rate_set(&ctx->rate, rate, clock_mono_ms());
		ctx->invalid_query_returns_no_rows = noq;
		ctx->routes.log_requests = lr;
		if (set_url)
			ft_ticket_set_str(&ctx->webhook_url, url);
		if (set_secret)
			ft_ticket_set_str(&ctx->webhook_secret, secret);
	} else if (strcmp(method, "GET") != 0) {
		status = fc_control_bad(out, 405, "use GET or PUT");
		goto cleanup;
	}
	ft_control_settings_doc(ctx, &doc);
	fc_json_add(out, &doc);
cleanup:
	bson_destroy(&parsed);
	bson_destroy(&doc);
	return status;
}

int
ft_control_handle(ft_ctx_t *ctx, struct evhttp_request *req, const char *method,
    const char *path, const char *query, const char *body, size_t len,
    struct evbuffer *out)
{
	const char *p = path + 6; /* after "/_fake" */
	bson_t doc = BSON_INITIALIZER;
	int status;

	(void)req;
	if (strcmp(p, "/health") == 0 || strcmp(p, "") == 0 || strcmp(p, "/") == 0) {
		BSON_APPEND_BOOL(&doc, "ok", true);
		BSON_APPEND_INT32(&doc, "port", fc_server_http_port(ctx->server));
		BSON_APPEND_UTF8(&doc, "flavour", ctx->flavour_name);
		BSON_APPEND_UTF8(&doc, "auth", ctx->flavour == FT_HTTP
		    ? ft_http_describe(&ctx->http) : ft_auth_describe(ctx->auth));
		status = fc_control_reply(out, &doc, 200);
	} else if (strcmp(p, "/tickets") == 0) {
		status = ft_control_tickets(ctx, method, "", body, len, out);
	} else if (strncmp(p, "/tickets/", 9) == 0) {
		status = ft_control_tickets(ctx, method, p + 9, body, len, out);
	} else if (strcmp(p, "/requests") == 0) {
		status = fc_control_requests(ctx->rec, method, query, out);
	} else if (strcmp(p, "/stats") == 0) {
		status = strcmp(method, "GET") == 0 ? ft_control_stats(ctx, out)
		    : fc_control_bad(out, 405, "use GET");
	} else if (strcmp(p, "/webhooks") == 0) {
		if (strcmp(method, "GET") != 0) {
			status = fc_control_bad(out, 405, "use GET");
		} else {
			ft_webhook_list(ctx->webhook, &doc);
			status = fc_control_reply(out, &doc, 200);
		}
	} else if (strcmp(p, "/reset") == 0) {
		if (strcmp(method, "POST") != 0) {
			status = fc_control_bad(out, 405, "use POST");
		} else {
			fc_record_reset(ctx->rec);
			ctx->creates = ctx->rate_limited = 0;
			ctx->idempotent_replays = ctx->replays_body_changed = 0;
			ft_webhook_reset(ctx->webhook);
			status = 204;
		}
	} else if (strcmp(p, "/faults") == 0) {
		status = fc_control_faults(ctx->faults, method, "", body, len, out);
	} else if (strncmp(p, "/faults/", 8) == 0) {
		status = fc_control_faults(ctx->faults, method, p + 8, body, len, out);
	} else if (strcmp(p, "/tokens/revoke") == 0) {
		if (strcmp(method, "POST") != 0) {
			status = fc_control_bad(out, 405, "use POST");
		} else {
			BSON_APPEND_INT64(&doc, "revoked",
			    (int64_t)ft_auth_revoke_all(ctx->auth, clock_mono_ms()));
			status = fc_control_reply(out, &doc, 200);
		}
	} else if (strcmp(p, "/settings") == 0) {
		status = ft_control_settings(ctx, method, body, len, out);
	} else {
		status = fc_control_bad(out, 404, "no such control endpoint");
	}
	bson_destroy(&doc);
	return status;
}
