/* fx_control: detections, recordings, stats, faults, tokens and settings for tests. */
#include "fx_control.h"

#include "fx_api.h"
#include "fc_control.h"
#include "fc_json.h"
#include "ticketsync/clock.h"

#include <sys/queue.h>
#include <event2/keyvalq_struct.h>
#include <stdlib.h>
#include <string.h>

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
			return fc_control_bad(out, 405, "use POST (create/replace) or DELETE (all)");
		if (fc_json_parse_value(body, len, &wrapper, &error) != 0 ||
		    fx_store_put_many(ctx->store, &wrapper, clock_wall_ms(), &stored,
			&error) != 0) {
			status = fc_control_bad(out, 400, error.message);
		} else {
			BSON_APPEND_INT64(&doc, "stored", stored);
			BSON_APPEND_INT64(&doc, "detections", (int64_t)fx_store_count(ctx->store));
			status = fc_control_reply(out, &doc, 200);
		}
		bson_destroy(&wrapper);
		bson_destroy(&doc);
		return status;
	}
	if (fx_api_parse_id(rest, strlen(rest), &id) != 1) {
		bson_destroy(&doc);
		return fc_control_bad(out, 400, "detection id must be a positive integer");
	}
	if (strcmp(method, "GET") == 0) {
		d = fx_store_get(ctx->store, id);
		if (d == NULL) {
			status = fc_control_bad(out, 404, "no such detection");
		} else {
			fx_store_to_bson(d, &doc);
			if (d->note != NULL)
				BSON_APPEND_UTF8(&doc, "_note", d->note);
			status = fc_control_reply(out, &doc, 200);
		}
	} else if (strcmp(method, "DELETE") == 0) {
		status = fx_store_remove(ctx->store, id) ? 204
		    : fc_control_bad(out, 404, "no such detection");
	} else if (strcmp(method, "PUT") == 0) {
		bson_t parsed;
		bson_iter_t it;
		int64_t body_id;

		if (fc_json_parse_object(body, len, &parsed, &error) != 0) {
			status = fc_control_bad(out, 400, error.message);
		} else if (bson_iter_init_find(&it, &parsed, "id") &&
		    (!fc_json_int64(&it, &body_id) || body_id != id)) {
			status = fc_control_bad(out, 400, "body id differs from the path id");
		} else {
			/* The path names the id; copy the body with it in front. */
			BSON_APPEND_INT64(&doc, "id", id);
			bson_copy_to_excluding_noinit(&parsed, &doc, "id", NULL);
			if (fx_store_put(ctx->store, &doc, clock_wall_ms(), NULL, &error) != 0)
				status = fc_control_bad(out, 400, error.message);
			else
				status = 204;
		}
		bson_destroy(&parsed);
	} else {
		status = fc_control_bad(out, 405, "use GET, PUT or DELETE");
	}
	bson_destroy(&doc);
	return status;
}

/* Test-only: malformed detection objects for search replies (see fx_store.h). */
static int
fx_control_raw(fx_ctx_t *ctx, const char *method, const char *body, size_t len,
    struct evbuffer *out)
{
	bson_t wrapper, doc = BSON_INITIALIZER;
	bson_error_t error;
	int64_t stored = 0;
	int status;

	if (strcmp(method, "DELETE") == 0) {
		fx_store_clear_raw(ctx->store);
		bson_destroy(&doc);
		return 204;
	}
	if (strcmp(method, "POST") != 0) {
		bson_destroy(&doc);
		return fc_control_bad(out, 405, "use POST (add) or DELETE (all)");
	}
	if (fc_json_parse_value(body, len, &wrapper, &error) != 0 ||
	    fx_store_add_raw(ctx->store, &wrapper, &stored, &error) != 0) {
		status = fc_control_bad(out, 400, error.message);
	} else {
		BSON_APPEND_INT64(&doc, "stored", stored);
		BSON_APPEND_INT64(&doc, "raw_search_records", (int64_t)fx_store_raw_count(ctx->store));
		status = fc_control_reply(out, &doc, 200);
	}
	bson_destroy(&wrapper);
	bson_destroy(&doc);
	return status;
}

static int
fx_control_stats(fx_ctx_t *ctx, struct evbuffer *out)
{
	bson_t doc = BSON_INITIALIZER;
	int status;

	fc_record_stats(ctx->rec, &doc);
	BSON_APPEND_INT64(&doc, "connections", (int64_t)fc_server_connections(ctx->server));
	BSON_APPEND_INT64(&doc, "detections", (int64_t)fx_store_count(ctx->store));
	BSON_APPEND_INT64(&doc, "raw_search_records", (int64_t)fx_store_raw_count(ctx->store));
	BSON_APPEND_INT64(&doc, "delayed_now", (int64_t)ctx->routes.npending);
	BSON_APPEND_INT64(&doc, "fault_rules", (int64_t)fc_faults_count(ctx->faults));
	BSON_APPEND_INT64(&doc, "live_tokens",
	    (int64_t)fx_auth_live_tokens(ctx->auth, clock_mono_ms()));
	status = fc_control_reply(out, &doc, 200);
	bson_destroy(&doc);
	return status;
}

static void
fx_control_settings_doc(fx_ctx_t *ctx, bson_t *doc)
{
	BSON_APPEND_BOOL(doc, "auto_create", ctx->auto_create);
	BSON_APPEND_BOOL(doc, "ticket_tracking", ctx->ticket_tracking);
	BSON_APPEND_BOOL(doc, "require_ticket_id", ctx->require_ticket_id);
	BSON_APPEND_INT64(doc, "latency_ms", ctx->routes.base_latency_ms);
	BSON_APPEND_BOOL(doc, "log_requests", ctx->routes.log_requests);
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
	bool lr = ctx->routes.log_requests;
	int64_t lat = ctx->routes.base_latency_ms;

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
			bool *flag = strcmp(k, "auto_create") == 0 ? &ac
			    : strcmp(k, "ticket_tracking") == 0 ? &tt
			    : strcmp(k, "require_ticket_id") == 0 ? &rt
			    : strcmp(k, "log_requests") == 0 ? &lr : NULL;

			if (flag != NULL && BSON_ITER_HOLDS_BOOL(&it)) {
				*flag = bson_iter_bool(&it);
			} else if (strcmp(k, "latency_ms") == 0 && fc_json_int64(&it, &lat) &&
			    lat >= 0 && lat <= 3600000) {
				continue;
			} else {
				char msg[160];
				snprintf(msg, sizeof(msg), "bad setting \"%.40s\" (auto_create, "
				    "ticket_tracking, require_ticket_id, log_requests: booleans; "
				    "latency_ms: 0..3600000)", k);
				status = fc_control_bad(out, 400, msg);
				goto cleanup;
			}
		}
		ctx->auto_create = ac;
		ctx->ticket_tracking = tt;
		ctx->require_ticket_id = rt;
		ctx->routes.log_requests = lr;
		ctx->routes.base_latency_ms = lat;
	} else if (strcmp(method, "GET") != 0) {
		status = fc_control_bad(out, 405, "use GET or PUT");
		goto cleanup;
	}
	fx_control_settings_doc(ctx, &doc);
	fc_json_add(out, &doc);
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
		BSON_APPEND_INT32(&doc, "http_port", fc_server_http_port(ctx->server));
		BSON_APPEND_INT32(&doc, "https_port", fc_server_https_port(ctx->server));
		status = fc_control_reply(out, &doc, 200);
	} else if (strcmp(p, "/detections") == 0) {
		status = fx_control_detections(ctx, method, "", body, len, out);
	} else if (strncmp(p, "/detections/", 12) == 0) {
		status = fx_control_detections(ctx, method, p + 12, body, len, out);
	} else if (strcmp(p, "/raw_search_records") == 0) {
		status = fx_control_raw(ctx, method, body, len, out);
	} else if (strcmp(p, "/requests") == 0) {
		status = fc_control_requests(ctx->rec, method, query, out);
	} else if (strcmp(p, "/stats") == 0) {
		status = strcmp(method, "GET") == 0 ? fx_control_stats(ctx, out)
		    : fc_control_bad(out, 405, "use GET");
	} else if (strcmp(p, "/reset") == 0) {
		if (strcmp(method, "POST") != 0) {
			status = fc_control_bad(out, 405, "use POST");
		} else {
			fc_record_reset(ctx->rec);
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
			    (int64_t)fx_auth_revoke_all(ctx->auth, clock_mono_ms()));
			status = fc_control_reply(out, &doc, 200);
		}
	} else if (strcmp(p, "/settings") == 0) {
		status = fx_control_settings(ctx, method, body, len, out);
	} else {
		status = fc_control_bad(out, 404, "no such control endpoint");
	}
	bson_destroy(&doc);
	return status;
}
