/* fx_api: ExtraHop REST endpoints over the store. */
#include "fx_api.h"

#include "fc_json.h"
#include "fx_search.h"
#include "ticketsync/clock.h"

#include <event2/keyvalq_struct.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define FX_API_DETECTIONS "/api/v1/detections/"

int
fx_api_parse_id(const char *s, size_t n, int64_t *id)
{
	return fc_json_parse_id(s, n, id);
}

static int
fx_api_method_not_allowed(struct evhttp_request *req, const char *allow, struct evbuffer *out)
{
	evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", allow);
	fc_json_add_error(out, "method not allowed (allowed: %s)", allow);
	return 405;
}

/* JSON endpoints take JSON; a missing Content-Type is tolerated, a wrong one is not. */
static bool
fx_api_json_type(struct evhttp_request *req, struct evbuffer *out)
{
	const char *ct = evhttp_find_header(evhttp_request_get_input_headers(req),
	    "Content-Type");

	if (ct == NULL)
		return true;
	while (*ct == ' ')
		ct++;
	if (strncasecmp(ct, "application/json", 16) == 0 &&
	    (ct[16] == '\0' || ct[16] == ';' || ct[16] == ' '))
		return true;
	fc_json_add_error(out, "Content-Type must be application/json, not \"%.60s\"", ct);
	return false;
}

static int
fx_api_detection_json(const fx_detection_t *d, struct evbuffer *out)
{
	bson_t doc = BSON_INITIALIZER;

	fx_store_to_bson(d, &doc);
	fc_json_add(out, &doc);
	bson_destroy(&doc);
	return 200;
}

static fx_detection_t *
fx_api_find(fx_ctx_t *ctx, int64_t id)
{
	if (id <= 0)
		return NULL;
	if (ctx->auto_create)
		return fx_store_get_or_create(ctx->store, id, clock_wall_ms());
	return fx_store_get(ctx->store, id);
}

static int
fx_api_patch_one(fx_ctx_t *ctx, struct evhttp_request *req, int64_t id, const char *body,
    size_t len, struct evbuffer *out)
{
	fx_patch_t p;
	bson_error_t error;
	fx_detection_t *d;
	int status;

	if (!ctx->ticket_tracking) {
		fc_json_add_error(out, "ticket tracking is not enabled for this ExtraHop system");
		return 403;
	}
	if (!fx_api_json_type(req, out))
		return 415;
	d = fx_api_find(ctx, id);
	if (d == NULL) {
		fc_json_add_error(out, "detection %lld not found", (long long)id);
		return 404;
	}
	if (fx_patch_parse(body, len, ctx->require_ticket_id, &p, &error) != 0) {
		fc_json_add_error(out, "%s", error.message);
		status = 400;
	} else if (fx_patch_apply(ctx->store, d, &p, clock_wall_ms()) != 0) {
		fc_json_add_error(out, "out of memory");
		status = 500;
	} else {
		status = 204;
	}
	fx_patch_cleanup(&p);
	return status;
}

static int
fx_api_patch_tickets(fx_ctx_t *ctx, struct evhttp_request *req, const char *body,
    size_t len, struct evbuffer *out)
{
	fx_patch_t p;
	bson_error_t error;
	int status = 204;

	if (!ctx->ticket_tracking) {
		fc_json_add_error(out, "ticket tracking is not enabled for this ExtraHop system");
		return 403;
	}
	if (!fx_api_json_type(req, out))
		return 415;
	if (fx_patch_parse(body, len, true, &p, &error) != 0) {
		fc_json_add_error(out, "%s", error.message);
		status = 400;
	} else {
		fx_patch_apply_by_ticket(ctx->store, &p, clock_wall_ms());
	}
	fx_patch_cleanup(&p);
	return status;
}

static int
fx_api_search(fx_ctx_t *ctx, struct evhttp_request *req, const char *body, size_t len,
    struct evbuffer *out)
{
	fx_search_result_t res;
	bson_error_t error;
	int status = 200;

	if (!fx_api_json_type(req, out))
		return 415;
	if (fx_search_run(ctx->store, body, len, clock_wall_ms(), &res, &error) != 0) {
		fc_json_add_error(out, "%s", error.message);
		status = 400;
		goto cleanup;
	}
	evbuffer_add(out, "[", 1);
	for (size_t i = 0; i < res.n; i++) {
		if (i > 0)
			evbuffer_add(out, ",", 1);
		if (res.id_only && res.items[i]->raw && res.items[i]->id <= 0)
			evbuffer_add(out, "null", 4); /* a raw record without an integer id */
		else if (res.id_only)
			evbuffer_add_printf(out, "%lld", (long long)res.items[i]->id);
		else
			fx_api_detection_json(res.items[i], out);
	}
	evbuffer_add(out, "]", 1);
cleanup:
	fx_search_result_free(&res);
	return status;
}

static int
fx_api_notes(struct evhttp_request *req, const char *method,
    fx_detection_t *d, const char *body, size_t len, struct evbuffer *out)
{
	bson_t doc;
	bson_error_t error;
	bson_iter_t it;
	int status;

	if (strcmp(method, "GET") == 0) {
		bson_init(&doc);
		if (d->note != NULL) {
			BSON_APPEND_UTF8(&doc, "note", d->note);
			BSON_APPEND_INT64(&doc, "update_time", d->note_time);
		} else {
			BSON_APPEND_NULL(&doc, "note");
			BSON_APPEND_NULL(&doc, "update_time");
		}
		fc_json_add(out, &doc);
		bson_destroy(&doc);
		return 200;
	}
	if (strcmp(method, "DELETE") == 0) {
		fx_store_set_note(d, NULL, 0);
		return 204;
	}
	if (strcmp(method, "PUT") != 0)
		return fx_api_method_not_allowed(req, "GET, PUT, DELETE", out);
	if (!fx_api_json_type(req, out))
		return 415;
	if (fc_json_parse_object(body, len, &doc, &error) != 0) {
		fc_json_add_error(out, "%s", error.message);
		status = 400;
	} else if (bson_count_keys(&doc) != 1 || !bson_iter_init_find(&it, &doc, "note") ||
	    !BSON_ITER_HOLDS_UTF8(&it)) {
		fc_json_add_error(out, "body must be {\"note\": \"...\"}");
		status = 400;
	} else {
		status = fx_store_set_note(d, bson_iter_utf8(&it, NULL), clock_wall_ms())
		    ? 500 : 204;
	}
	bson_destroy(&doc);
	return status;
}

static int
fx_api_detection(fx_ctx_t *ctx, struct evhttp_request *req, const char *method,
    const char *rest, const char *body, size_t len, struct evbuffer *out)
{
	const char *slash = strchr(rest, '/');
	size_t idlen = slash ? (size_t)(slash - rest) : strlen(rest);
	int64_t id = 0;
	int kind = fx_api_parse_id(rest, idlen, &id);
	bool notes = slash != NULL && strcmp(slash, "/notes") == 0;
	fx_detection_t *d;

	if (slash != NULL && !notes) {
		fc_json_add_error(out, "no such endpoint");
		return 404;
	}
	if (kind < 0) {
		fc_json_add_error(out, "invalid detection id \"%.40s\": must be an integer",
		    rest);
		return 400;
	}
	if (!notes && strcmp(method, "PATCH") == 0)
		return fx_api_patch_one(ctx, req, id, body, len, out);
	if (!notes && strcmp(method, "GET") != 0)
		return fx_api_method_not_allowed(req, "GET, PATCH", out);
	d = kind > 0 ? fx_api_find(ctx, id) : NULL;
	if (d == NULL) {
		fc_json_add_error(out, "detection %.40s not found", rest);
		return 404;
	}
	if (notes)
		return fx_api_notes(req, method, d, body, len, out);
	return fx_api_detection_json(d, out);
}

int
fx_api_handle(fx_ctx_t *ctx, struct evhttp_request *req, const char *method,
    const char *path, const char *body, size_t len, struct evbuffer *out)
{
	const char *authz = evhttp_find_header(evhttp_request_get_input_headers(req),
	    "Authorization");
	const char *why = NULL;

	/* HEAD is GET without a body; evhttp leaves the body out for us. */
	if (strcmp(method, "HEAD") == 0)
		method = "GET";
	if (strcmp(path, "/oauth2/token") == 0) {
		bson_t reply = BSON_INITIALIZER;
		int status;

		if (strcmp(method, "POST") != 0) {
			bson_destroy(&reply);
			return fx_api_method_not_allowed(req, "POST", out);
		}
		status = fx_auth_token(ctx->auth, authz, body, len, clock_mono_ms(), &reply);
		fc_json_add(out, &reply);
		bson_destroy(&reply);
		if (status == 200)
			evhttp_add_header(evhttp_request_get_output_headers(req), "Cache-Control",
			    "no-store");
		return status;
	}
	if (!fx_auth_check(ctx->auth, authz, clock_mono_ms(), &why)) {
		fc_json_add_error(out, "%s", why);
		return 401;
	}
	if (strcmp(path, "/api/v1/extrahop/version") == 0) {
		bson_t doc = BSON_INITIALIZER;

		if (strcmp(method, "GET") != 0) {
			bson_destroy(&doc);
			return fx_api_method_not_allowed(req, "GET", out);
		}
		BSON_APPEND_UTF8(&doc, "version", ctx->firmware);
		fc_json_add(out, &doc);
		bson_destroy(&doc);
		return 200;
	}
	if (strcmp(path, FX_API_DETECTIONS "search") == 0) {
		if (strcmp(method, "POST") != 0)
			return fx_api_method_not_allowed(req, "POST", out);
		return fx_api_search(ctx, req, body, len, out);
	}
	if (strcmp(path, FX_API_DETECTIONS "tickets") == 0) {
		if (strcmp(method, "PATCH") != 0)
			return fx_api_method_not_allowed(req, "PATCH", out);
		return fx_api_patch_tickets(ctx, req, body, len, out);
	}
	if (strncmp(path, FX_API_DETECTIONS, strlen(FX_API_DETECTIONS)) == 0 &&
	    path[strlen(FX_API_DETECTIONS)] != '\0')
		return fx_api_detection(ctx, req, method, path + strlen(FX_API_DETECTIONS), body,
		    len, out);
	fc_json_add_error(out, "no such endpoint: %.200s", path);
	return 404;
}
