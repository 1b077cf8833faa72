/* fx_control: detections, recordings, stats, faults, tokens and settings for tests. */
#include "fx_control.h"

#include "fx_api.h"
#include "fx_json.h"
#include "ticketsync/clock.h"

#include <sys/queue.h>
#include <event2/keyvalq_struct.h>
#include <stdlib.h>
#include <string.h>

static int
fx_control_reply(struct evbuffer *out, const bson_t *doc, int status)
{
	fx_json_add(out, doc);
	return status;
}

static int
fx_control_bad(struct evbuffer *out, int status, const char *msg)
{
	fx_json_add_error(out, "%s", msg);
	return status;
}

static int
fx_control_detections(fx_ctx_t *ctx, const char *method, const char *rest,
    const char *body, size_t len, struct evbuffer *out)
{
	bson_t wrapper, doc = BSON_INITIALIZER;
	bson_error_t error;
	int64_t id = 0, stored = 0;
	int status;
	fx_detection_t *d;

	if (rest[0] == '\0') {
		if (strcmp(method, "DELETE") == 0) {
			fx_store_clear(ctx->store);
			return 204;
		}
		if (strcmp(method, "POST") != 0)
			return fx_control_bad(out, 405, "use POST (create/replace) or DELETE (all)");
		if (fx_json_parse_value(body, len, &wrapper, &error) != 0 ||
		    fx_store_put_many(ctx->store, &wrapper, clock_wall_ms(), &stored,
			&error) != 0) {
			status = fx_control_bad(out, 400, error.message);
		} else {
			BSON_APPEND_INT64(&doc, "stored", stored);
			BSON_APPEND_INT64(&doc, "detections", (int64_t)fx_store_count(ctx->store));
			status = fx_control_reply(out, &doc, 200);
		}
		bson_destroy(&wrapper);
		bson_destroy(&doc);
		return status;
	}
	if (fx_api_parse_id(rest, strlen(rest), &id) != 1) {
		bson_destroy(&doc);
		return fx_control_bad(out, 400, "detection id must be a positive integer");
	}
	if (strcmp(method, "GET") == 0) {
		d = fx_store_get(ctx->store, id);
		if (d == NULL) {
			status = fx_control_bad(out, 404, "no such detection");
		} else {
			fx_store_to_bson(d, &doc);
			if (d->note != NULL)
				BSON_APPEND_UTF8(&doc, "_note", d->note);
			status = fx_control_reply(out, &doc, 200);
		}
	} else if (strcmp(method, "DELETE") == 0) {
		status = fx_store_remove(ctx->store, id) ? 204
		    : fx_control_bad(out, 404, "no such detection");
	} else if (strcmp(method, "PUT") == 0) {
		bson_t parsed;
		bson_iter_t it;
		int64_t body_id;

		if (fx_json_parse_object(body, len, &parsed, &error) != 0) {
			status = fx_control_bad(out, 400, error.message);
		} else if (bson_iter_init_find(&it, &parsed, "id") &&
		    (!fx_json_int64(&it, &body_id) || body_id != id)) {
			status = fx_control_bad(out, 400, "body id differs from the path id");
		} else {
			/* The path names the id; copy the body with it in front. */
			BSON_APPEND_INT64(&doc, "id", id);
			bson_copy_to_excluding_noinit(&parsed, &doc, "id", NULL);
			if (fx_store_put(ctx->store, &doc, clock_wall_ms(), NULL, &error) != 0)
				status = fx_control_bad(out, 400, error.message);
			else
				status = 204;
		}
		bson_destroy(&parsed);
	} else {
		status = fx_control_bad(out, 405, "use GET, PUT or DELETE");
	}
	bson_destroy(&doc);
	return status;
}

static int64_t
fx_control_query_int(const char *query, const char *key, int64_t dflt, bool *ok)
{
	struct evkeyvalq q;
	const char *v;
	char *end;
	int64_t n = dflt;

	TAILQ_INIT(&q);
	if (query != NULL && evhttp_parse_query_str(query, &q) == 0 &&
	    (v = evhttp_find_header(&q, key)) != NULL) {
		n = strtoll(v, &end, 10);
		if (*v == '\0' || *end != '\0' || n < 0)
			*ok = false;
	}
	evhttp_clear_headers(&q);
	return n;
}

static int
fx_control_requests(fx_ctx_t *ctx, const char *method, const char *query,
    struct evbuffer *out)
{
	bson_t doc = BSON_INITIALIZER;
	bool ok = true;
	int64_t since = fx_control_query_int(query, "since", 0, &ok);
	int64_t limit = fx_control_query_int(query, "limit", 0, &ok);
	int status;

	if (strcmp(method, "GET") != 0)
		status = fx_control_bad(out, 405, "use GET (POST /_fake/reset clears)");
	else if (!ok)
		status = fx_control_bad(out, 400, "since and limit must be integers >= 0");
	else {
		fx_record_requests(ctx->rec, (uint64_t)since, (size_t)limit, &doc);
		status = fx_control_reply(out, &doc, 200);
	}
	bson_destroy(&doc);
	return status;
}

static int
fx_control_stats(fx_ctx_t *ctx, struct evbuffer *out)
{
	bson_t doc = BSON_INITIALIZER;
	int status;

	fx_record_stats(ctx->rec, &doc);
	BSON_APPEND_INT64(&doc, "connections", (int64_t)fx_server_connections(ctx->server));
	BSON_APPEND_INT64(&doc, "detections", (int64_t)fx_store_count(ctx->store));
	BSON_APPEND_INT64(&doc, "delayed_now", (int64_t)ctx->npending);
	BSON_APPEND_INT64(&doc, "fault_rules", (int64_t)fx_faults_count(ctx->faults));
	BSON_APPEND_INT64(&doc, "live_tokens",
	    (int64_t)fx_auth_live_tokens(ctx->auth, clock_mono_ms()));
	status = fx_control_reply(out, &doc, 200);
	bson_destroy(&doc);
	return status;
}

static int
fx_control_faults(fx_ctx_t *ctx, const char *method, const char *rest, const char *body,
    size_t len, struct evbuffer *out)
{
	bson_t wrapper, doc = BSON_INITIALIZER, rules = BSON_INITIALIZER, ids;
	bson_error_t error;
	bson_iter_t it, child;
	int64_t id, first = 0;
	fx_faults_t *check = NULL;
	int status = 200;

	bson_init(&wrapper);
	if (rest[0] != '\0') {
		if (strcmp(method, "DELETE") != 0)
			status = fx_control_bad(out, 405, "use DELETE /_fake/faults/{id}");
		else if (fx_api_parse_id(rest, strlen(rest), &id) != 1 ||
		    !fx_faults_remove(ctx->faults, id))
			status = fx_control_bad(out, 404, "no such fault rule");
		else
			status = 204;
		goto cleanup;
	}
	if (strcmp(method, "GET") == 0) {
		fx_faults_list(ctx->faults, &doc);
		status = fx_control_reply(out, &doc, 200);
		goto cleanup;
	}
	if (strcmp(method, "DELETE") == 0) {
		fx_faults_clear(ctx->faults);
		status = 204;
		goto cleanup;
	}
	if (strcmp(method, "POST") != 0) {
		status = fx_control_bad(out, 405, "use GET, POST or DELETE");
		goto cleanup;
	}
	bson_destroy(&wrapper);
	if (fx_json_parse_value(body, len, &wrapper, &error) != 0 ||
	    !bson_iter_init_find(&it, &wrapper, "v")) {
		status = fx_control_bad(out, 400, error.message);
		goto cleanup;
	}
	/* One rule or an array of rules: all are checked before any is added. */
	if (BSON_ITER_HOLDS_DOCUMENT(&it)) {
		bson_t arr;
		bson_append_array_begin(&rules, "r", 1, &arr);
		bson_append_iter(&arr, "0", 1, &it);
		bson_append_array_end(&rules, &arr);
	} else if (BSON_ITER_HOLDS_ARRAY(&it)) {
		bson_append_iter(&rules, "r", 1, &it);
	} else {
		status = fx_control_bad(out, 400, "expected a fault rule object or an array");
		goto cleanup;
	}
	check = fx_faults_new(1);
	bson_append_array_begin(&doc, "ids", -1, &ids);
	for (int pass = 0; pass < 2 && status == 200; pass++) {
		uint32_t n = 0;

		if (!bson_iter_init_find(&it, &rules, "r") || !bson_iter_recurse(&it, &child))
			break;
		while (status == 200 && bson_iter_next(&child)) {
			const uint8_t *data;
			uint32_t dlen;
			bson_t rule;
			char key[16];

			if (!BSON_ITER_HOLDS_DOCUMENT(&child)) {
				status = fx_control_bad(out, 400, "a fault rule must be an object");
				break;
			}
			bson_iter_document(&child, &dlen, &data);
			if (!bson_init_static(&rule, data, dlen) ||
			    fx_faults_add(pass == 0 ? check : ctx->faults, &rule, &id, &error)) {
				status = fx_control_bad(out, 400, error.message);
				break;
			}
			if (pass == 1) {
				snprintf(key, sizeof(key), "%u", n++);
				BSON_APPEND_INT64(&ids, key, id);
				if (n == 1)
					first = id;
			}
		}
	}
	bson_append_array_end(&doc, &ids);
	if (status == 200) {
		BSON_APPEND_INT64(&doc, "id", first);
		fx_json_add(out, &doc);
	}
cleanup:
	fx_faults_destroy(check);
	bson_destroy(&wrapper);
	bson_destroy(&rules);
	bson_destroy(&doc);
	return status;
}

static void
fx_control_settings_doc(fx_ctx_t *ctx, bson_t *doc)
{
	BSON_APPEND_BOOL(doc, "auto_create", ctx->auto_create);
	BSON_APPEND_BOOL(doc, "ticket_tracking", ctx->ticket_tracking);
	BSON_APPEND_BOOL(doc, "require_ticket_id", ctx->require_ticket_id);
	BSON_APPEND_INT64(doc, "latency_ms", ctx->base_latency_ms);
	BSON_APPEND_BOOL(doc, "log_requests", ctx->log_requests);
}

static int
fx_control_settings(fx_ctx_t *ctx, const char *method, const char *body, size_t len,
    struct evbuffer *out)
{
	bson_t parsed, doc = BSON_INITIALIZER;
	bson_error_t error;
	bson_iter_t it;
	int status = 200;
	/* Validate everything before changing anything. */
	bool ac = ctx->auto_create, tt = ctx->ticket_tracking, rt = ctx->require_ticket_id;
	bool lr = ctx->log_requests;
	int64_t lat = ctx->base_latency_ms;

	bson_init(&parsed);
	if (strcmp(method, "PUT") == 0 || strcmp(method, "PATCH") == 0 ||
	    strcmp(method, "POST") == 0) {
		bson_destroy(&parsed);
		if (fx_json_parse_object(body, len, &parsed, &error) != 0) {
			status = fx_control_bad(out, 400, error.message);
			goto cleanup;
		}
		bson_iter_init(&it, &parsed);
		while (bson_iter_next(&it)) {
			const char *k = bson_iter_key(&it);
			bool *flag = strcmp(k, "auto_create") == 0 ? &ac
			    : strcmp(k, "ticket_tracking") == 0 ? &tt
			    : strcmp(k, "require_ticket_id") == 0 ? &rt
			    : strcmp(k, "log_requests") == 0 ? &lr : NULL;

			if (flag != NULL && BSON_ITER_HOLDS_BOOL(&it)) {
				*flag = bson_iter_bool(&it);
			} else if (strcmp(k, "latency_ms") == 0 && fx_json_int64(&it, &lat) &&
			    lat >= 0 && lat <= 3600000) {
				continue;
			} else {
				char msg[160];
				snprintf(msg, sizeof(msg), "bad setting \"%.40s\" (auto_create, "
				    "ticket_tracking, require_ticket_id, log_requests: booleans; "
				    "latency_ms: 0..3600000)", k);
				status = fx_control_bad(out, 400, msg);
				goto cleanup;
			}
		}
		ctx->auto_create = ac;
		ctx->ticket_tracking = tt;
		ctx->require_ticket_id = rt;
		ctx->log_requests = lr;
		ctx->base_latency_ms = lat;
	} else if (strcmp(method, "GET") != 0) {
		status = fx_control_bad(out, 405, "use GET or PUT");
		goto cleanup;
	}
	fx_control_settings_doc(ctx, &doc);
	fx_json_add(out, &doc);
cleanup:
	bson_destroy(&parsed);
	bson_destroy(&doc);
	return status;
}

int
fx_control_handle(fx_ctx_t *ctx, struct evhttp_request *req, const char *method,
    const char *path, const char *query, const char *body, size_t len,
    struct evbuffer *out)
{
	const char *p = path + 6; /* after "/_fake" */
	bson_t doc = BSON_INITIALIZER;
	int status;

	(void)req;
	if (strcmp(p, "/health") == 0 || strcmp(p, "") == 0 || strcmp(p, "/") == 0) {
		BSON_APPEND_BOOL(&doc, "ok", true);
		BSON_APPEND_INT32(&doc, "http_port", fx_server_http_port(ctx->server));
		BSON_APPEND_INT32(&doc, "https_port", fx_server_https_port(ctx->server));
		status = fx_control_reply(out, &doc, 200);
	} else if (strcmp(p, "/detections") == 0) {
		status = fx_control_detections(ctx, method, "", body, len, out);
	} else if (strncmp(p, "/detections/", 12) == 0) {
		status = fx_control_detections(ctx, method, p + 12, body, len, out);
	} else if (strcmp(p, "/requests") == 0) {
		status = fx_control_requests(ctx, method, query, out);
	} else if (strcmp(p, "/stats") == 0) {
		status = strcmp(method, "GET") == 0 ? fx_control_stats(ctx, out)
		    : fx_control_bad(out, 405, "use GET");
	} else if (strcmp(p, "/reset") == 0) {
		if (strcmp(method, "POST") != 0) {
			status = fx_control_bad(out, 405, "use POST");
		} else {
			fx_record_reset(ctx->rec);
			status = 204;
		}
	} else if (strcmp(p, "/faults") == 0) {
		status = fx_control_faults(ctx, method, "", body, len, out);
	} else if (strncmp(p, "/faults/", 8) == 0) {
		status = fx_control_faults(ctx, method, p + 8, body, len, out);
	} else if (strcmp(p, "/tokens/revoke") == 0) {
		if (strcmp(method, "POST") != 0) {
			status = fx_control_bad(out, 405, "use POST");
		} else {
			BSON_APPEND_INT64(&doc, "revoked",
			    (int64_t)fx_auth_revoke_all(ctx->auth, clock_mono_ms()));
			status = fx_control_reply(out, &doc, 200);
		}
	} else if (strcmp(p, "/settings") == 0) {
		status = fx_control_settings(ctx, method, body, len, out);
	} else {
		status = fx_control_bad(out, 404, "no such control endpoint");
	}
	bson_destroy(&doc);
	return status;
}
