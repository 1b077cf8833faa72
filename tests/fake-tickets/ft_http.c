/* ft_http: the generic create-a-ticket endpoint (the http flavour). */
#include "ft_http.h"

#include "fc_json.h"
#include "ft_routes.h"
#include "ticketsync/clock.h"
#include "ticketsync/xalloc.h"

#include <ctype.h>
#include <event2/keyvalq_struct.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ticketsync's limits for the fields it sends (TICKETSPEC_SUMMARY_MAX, DETECTION_ID_MAX). */
#define FT_HTTP_SUMMARY_MAX 255
#define FT_HTTP_DETECTION_ID_MAX (INT64_C(1) << 53)
#define FT_HTTP_ID_PATH_MAX 200

int
ft_http_error(struct evbuffer *out, int status, const char *msg)
{
	bson_t doc = BSON_INITIALIZER;

	BSON_APPEND_UTF8(&doc, "error", msg);
	fc_json_add(out, &doc);
	bson_destroy(&doc);
	return status;
}

/* RFC 9110 token characters: what a header name may hold. */
static bool
ft_http_is_token(const char *s)
{
	if (s == NULL || *s == '\0')
		return false;
	for (; *s != '\0'; s++)
		if (!isalnum((unsigned char)*s) && strchr("!#$%&'*+-.^_`|~", *s) == NULL)
			return false;
	return true;
}

int
ft_http_opts_check(ft_http_opts_t *o, char *err, size_t errlen)
{
	if (o->path == NULL)
		o->path = FT_HTTP_DEFAULT_PATH;
	if (o->signature_header == NULL)
		o->signature_header = FT_HTTP_DEFAULT_SIGNATURE_HEADER;
	if (o->idempotency_header == NULL)
		o->idempotency_header = FT_HTTP_DEFAULT_IDEMPOTENCY_HEADER;
	if (o->path[0] != '/' || strncmp(o->path, "/_fake", 6) == 0 ||
	    strpbrk(o->path, "?# \t") != NULL) {
		snprintf(err, errlen, "--http-path must be a path starting with / (not /_fake, "
		    "no query): \"%.100s\"", o->path);
		return -1;
	}
	if (!ft_http_is_token(o->signature_header) || !ft_http_is_token(o->idempotency_header)) {
		snprintf(err, errlen, "--signature-header/--idempotency-header must be header "
		    "names");
		return -1;
	}
	if (strcasecmp(o->signature_header, o->idempotency_header) == 0 ||
	    strcasecmp(o->signature_header, "Authorization") == 0 ||
	    strcasecmp(o->idempotency_header, "Authorization") == 0) {
		snprintf(err, errlen, "--signature-header, --idempotency-header and "
		    "Authorization must be different headers");
		return -1;
	}
	if (o->token != NULL && o->token[0] == '\0') {
		snprintf(err, errlen, "--token must not be empty");
		return -1;
	}
	if (o->hmac_secret != NULL && o->hmac_secret[0] == '\0') {
		snprintf(err, errlen, "--hmac-secret must not be empty");
		return -1;
	}
	if (o->id_path != NULL) {
		const char *p = o->id_path;
		size_t seg = 0, first = strcspn(p, ".");
		bool ok = strlen(p) <= FT_HTTP_ID_PATH_MAX;

		for (; ok && *p != '\0'; p++) {
			if (*p == '.') {
				ok = seg > 0;
				seg = 0;
			} else if (isalnum((unsigned char)*p) || *p == '_' || *p == '-') {
				seg++;
			} else {
				ok = false;
			}
		}
		ok = ok && seg > 0;
		/* The reply's own members stay where ticketsync reads them. */
		if (ok && ((first == 6 && strncmp(o->id_path, "status", 6) == 0) ||
		    (first == 12 && strncmp(o->id_path, "detection_id", 12) == 0)))
			ok = false;
		if (!ok) {
			snprintf(err, errlen, "--id-path must be a dotted path such as result.ticket.id "
			    "(letters, digits, _ and -; not under status or detection_id): "
			    "\"%.100s\"", o->id_path);
			return -1;
		}
	}
	return 0;
}

const char *
ft_http_describe(const ft_http_opts_t *o)
{
	if (o->token != NULL && o->hmac_secret != NULL)
		return "bearer+hmac";
	if (o->token != NULL)
		return "bearer";
	return o->hmac_secret != NULL ? "hmac" : "open";
}

bool
ft_http_detection_id(const ft_ticket_t *t, int64_t *id)
{
	bson_iter_t it;

	if (!bson_iter_init_find(&it, t->fields, "detection_id") || !BSON_ITER_HOLDS_INT(&it))
		return false;
	*id = bson_iter_as_int64(&it);
	return true;
}

void
ft_http_render_control(const ft_ticket_t *t, bson_t *doc)
{
	char when[40];
	int64_t det;

	BSON_APPEND_UTF8(doc, "key", t->key);
	BSON_APPEND_UTF8(doc, "id", t->key);
	if (ft_http_detection_id(t, &det))
		BSON_APPEND_INT64(doc, "detection_id", det);
	else
		BSON_APPEND_NULL(doc, "detection_id");
	BSON_APPEND_UTF8(doc, "idempotency_key", t->idempotency_key ? t->idempotency_key : "");
	BSON_APPEND_UTF8(doc, "status", t->status ? t->status : "open");
	BSON_APPEND_INT64(doc, "replays", t->replays);
	ft_time_iso(t->created_ms, when, sizeof(when));
	BSON_APPEND_UTF8(doc, "created", when);
	ft_time_iso(t->updated_ms, when, sizeof(when));
	BSON_APPEND_UTF8(doc, "updated", when);
	BSON_APPEND_DOCUMENT(doc, "body", t->fields);
}

/* ---- checks ---- */

static bool
ft_http_auth_ok(ft_ctx_t *ctx, struct evhttp_request *req, const char **why)
{
	const char *h = evhttp_find_header(evhttp_request_get_input_headers(req),
	    "Authorization");
	const char *v;

	if (ctx->http.token == NULL)
		return true;
	if (h == NULL || h[0] == '\0') {
		*why = "missing Authorization: Bearer <token>";
		return false;
	}
	if (strncasecmp(h, "Bearer ", 7) != 0) {
		*why = "the Authorization scheme must be Bearer";
		return false;
	}
	for (v = h + 7; *v == ' '; v++)
		;
	if (strlen(v) != strlen(ctx->http.token) ||
	    CRYPTO_memcmp(v, ctx->http.token, strlen(v)) != 0) {
		*why = "invalid bearer token";
		return false;
	}
	return true;
}

/* The signature header must be exactly "sha256=" and the lower-case hex of
 * HMAC-SHA256(raw body) under the secret. */
static bool
ft_http_signature_ok(ft_ctx_t *ctx, struct evhttp_request *req, const char *body,
    size_t len, char *why, size_t whylen)
{
	const char *h = evhttp_find_header(evhttp_request_get_input_headers(req),
	    ctx->http.signature_header);
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	char want[7 + 2 * EVP_MAX_MD_SIZE + 1];

	if (ctx->http.hmac_secret == NULL)
		return true;
	if (h == NULL || h[0] == '\0') {
		snprintf(why, whylen, "missing %s: sha256=<hex HMAC-SHA256 of the body>",
		    ctx->http.signature_header);
		return false;
	}
	if (HMAC(EVP_sha256(), ctx->http.hmac_secret, (int)strlen(ctx->http.hmac_secret),
	    (const unsigned char *)body, len, mac, &n) == NULL) {
		snprintf(why, whylen, "cannot compute the HMAC");
		return false;
	}
	memcpy(want, "sha256=", 7);
	ft_hex(mac, n, want + 7);
	if (strlen(h) != strlen(want) || CRYPTO_memcmp(h, want, strlen(want)) != 0) {
		snprintf(why, whylen, "%s does not match the body (want sha256=<lower-case hex "
		    "HMAC-SHA256 of the raw body>)", ctx->http.signature_header);
		return false;
	}
	return true;
}

/* application/json, with or without parameters (charset), any case. */
static bool
ft_http_is_json(const char *ct)
{
	size_t n;

	if (ct == NULL)
		return false;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	n = strlen("application/json");
	if (strncasecmp(ct, "application/json", n) != 0)
		return false;
	ct += n;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	return *ct == '\0' || *ct == ';';
}

static bool
ft_http_key_ok(const char *k)
{
	size_t n = strlen(k);

	if (n == 0 || n > FT_HTTP_KEY_MAX)
		return false;
	for (; *k != '\0'; k++)
		if ((unsigned char)*k < 0x21 || (unsigned char)*k > 0x7e)
			return false;
	return true;
}

static bool
ft_http_string_array(const bson_iter_t *it)
{
	bson_iter_t child;

	if (!BSON_ITER_HOLDS_ARRAY(it) || !bson_iter_recurse(it, &child))
		return false;
	while (bson_iter_next(&child))
		if (!BSON_ITER_HOLDS_UTF8(&child))
			return false;
	return true;
}

/*
 * The documented body: detection_id (an integer 1..2^53) and a non-empty summary (at
 * most 255 characters) are required; description, priority, assignee, type and url are
 * strings; labels and categories arrays of strings; risk_score an integer or null;
 * start_time and end_time integers. Other members ([create] extra_fields) are kept as
 * sent, but no member may appear twice. 0, or -1 with the message.
 */
static int
ft_http_check_body(const bson_t *doc, char *err, size_t errlen)
{
	static const char *const strings[] = { "description", "priority", "assignee", "type",
		"url", NULL };
	bson_iter_t it, other;
	bool has_id = false, has_summary = false;

	bson_iter_init(&it, doc);
	while (bson_iter_next(&it)) {
		const char *k = bson_iter_key(&it);
		bool bad = false;

		/* libbson keeps both copies of a repeated name; readers disagree on which wins. */
		bson_iter_init(&other, doc);
		while (bson_iter_next(&other) && bson_iter_offset(&other) < bson_iter_offset(&it))
			if (strcmp(bson_iter_key(&other), k) == 0) {
				snprintf(err, errlen, "member \"%.60s\" appears more than once", k);
				return -1;
			}
		if (strcmp(k, "detection_id") == 0) {
			has_id = true;
			bad = !BSON_ITER_HOLDS_INT(&it) || bson_iter_as_int64(&it) < 1 ||
			    bson_iter_as_int64(&it) > FT_HTTP_DETECTION_ID_MAX;
			if (bad) {
				snprintf(err, errlen, "detection_id must be an integer from 1 to 2^53");
				return -1;
			}
		} else if (strcmp(k, "summary") == 0) {
			const char *s = BSON_ITER_HOLDS_UTF8(&it) ? bson_iter_utf8(&it, NULL) : NULL;

			has_summary = true;
			if (s == NULL || strspn(s, " \t\r\n") == strlen(s)) {
				snprintf(err, errlen, "summary must be a non-empty string");
				return -1;
			}
			if (ft_utf8_len(s) > FT_HTTP_SUMMARY_MAX) {
				snprintf(err, errlen, "summary is longer than %d characters",
				    FT_HTTP_SUMMARY_MAX);
				return -1;
			}
		} else if (strcmp(k, "labels") == 0 || strcmp(k, "categories") == 0) {
			bad = !ft_http_string_array(&it);
			if (bad) {
				snprintf(err, errlen, "%s must be an array of strings", k);
				return -1;
			}
		} else if (strcmp(k, "risk_score") == 0) {
			if (!BSON_ITER_HOLDS_INT(&it) && !BSON_ITER_HOLDS_NULL(&it)) {
				snprintf(err, errlen, "risk_score must be an integer or null");
				return -1;
			}
		} else if (strcmp(k, "start_time") == 0 || strcmp(k, "end_time") == 0) {
			if (!BSON_ITER_HOLDS_INT(&it)) {
				snprintf(err, errlen, "%s must be an integer (epoch milliseconds)", k);
				return -1;
			}
		} else {
			for (size_t i = 0; strings[i] != NULL; i++)
				if (strcmp(k, strings[i]) == 0 && !BSON_ITER_HOLDS_UTF8(&it)) {
					snprintf(err, errlen, "%s must be a string", k);
					return -1;
				}
		}
	}
	if (!has_id || !has_summary) {
		snprintf(err, errlen, "%s is required", !has_id ? "detection_id" : "summary");
		return -1;
	}
	return 0;
}

static bool
ft_http_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Whether anything but white space follows the first top-level JSON value (libbson's
 * reader stops after one document, so "{...}{...}" would pass unnoticed). */
static bool
ft_http_trailing(const char *body, size_t len)
{
	size_t i = 0;
	int depth = 0;
	bool in_str = false;

	while (i < len && ft_http_ws(body[i]))
		i++;
	for (; i < len; i++) {
		char c = body[i];

		if (in_str) {
			if (c == '\\')
				i++;
			else if (c == '"')
				in_str = false;
			continue;
		}
		if (c == '"')
			in_str = true;
		else if (c == '{' || c == '[')
			depth++;
		else if ((c == '}' || c == ']') && --depth == 0)
			break;
	}
	for (i++; i < len; i++)
		if (!ft_http_ws(body[i]))
			return true;
	return false;
}

/* ---- reply ---- */

/* {"a": {"b": {"c": id}}} for the path "a.b.c". */
static void
ft_http_append_at(bson_t *doc, const char *path, const char *id)
{
	const char *dot = strchr(path, '.');
	bson_t child;

	if (dot == NULL) {
		BSON_APPEND_UTF8(doc, path, id);
		return;
	}
	bson_append_document_begin(doc, path, (int)(dot - path), &child);
	ft_http_append_at(&child, dot + 1, id);
	bson_append_document_end(doc, &child);
}

static int
ft_http_reply(ft_ctx_t *ctx, const ft_ticket_t *t, int status, struct evbuffer *out)
{
	bson_t doc = BSON_INITIALIZER;
	int64_t det = 0;

	ft_http_append_at(&doc, ctx->http.id_path ? ctx->http.id_path : "id", t->key);
	BSON_APPEND_UTF8(&doc, "status", t->status ? t->status : "open");
	if (ft_http_detection_id(t, &det))
		BSON_APPEND_INT64(&doc, "detection_id", det);
	else
		BSON_APPEND_NULL(&doc, "detection_id");
	fc_json_add(out, &doc);
	bson_destroy(&doc);
	return status;
}

/* ---- the endpoint ---- */

int
ft_http_handle(ft_ctx_t *ctx, struct evhttp_request *req, const char *method,
    const char *path, const char *query, const char *body, size_t len,
    struct evbuffer *out)
{
	struct evkeyvalq *in = evhttp_request_get_input_headers(req);
	const char *why = "", *key;
	char msg[400];
	bson_t doc;
	bson_error_t error;
	ft_ticket_t *t;
	int status;
	int64_t now;

	(void)query;
	if (strcmp(path, ctx->http.path) != 0) {
		snprintf(msg, sizeof(msg), "no such endpoint (tickets are created with POST %.200s)",
		    ctx->http.path);
		return ft_http_error(out, 404, msg);
	}
	if (strcmp(method, "POST") != 0)
		return ft_routes_bad_method(ctx, req, out, "POST");
	if (!ft_http_auth_ok(ctx, req, &why)) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "WWW-Authenticate",
		    "Bearer realm=\"fake_tickets\"");
		return ft_http_error(out, 401, why);
	}
	if (!ft_http_signature_ok(ctx, req, body, len, msg, sizeof(msg)))
		return ft_http_error(out, 401, msg);
	if (!ft_routes_write_allowed(ctx, req, out, &status))
		return status;
	if (!ft_http_is_json(evhttp_find_header(in, "Content-Type")))
		return ft_http_error(out, 415, "Content-Type must be application/json");
	key = evhttp_find_header(in, ctx->http.idempotency_header);
	if (key == NULL || key[0] == '\0') {
		snprintf(msg, sizeof(msg), "the %s header is required", ctx->http.idempotency_header);
		return ft_http_error(out, 400, msg);
	}
	if (!ft_http_key_ok(key)) {
		snprintf(msg, sizeof(msg), "%s must be 1 to %d visible ASCII characters",
		    ctx->http.idempotency_header, FT_HTTP_KEY_MAX);
		return ft_http_error(out, 400, msg);
	}
	if (fc_json_parse_object(body, len, &doc, &error) != 0) {
		snprintf(msg, sizeof(msg), "the body is not a JSON object: %.200s", error.message);
		status = ft_http_error(out, 400, msg);
		goto cleanup;
	}
	if (ft_http_trailing(body, len)) {
		status = ft_http_error(out, 400, "the body is not a JSON object: content after "
		    "the object");
		goto cleanup;
	}
	if (ft_http_check_body(&doc, msg, sizeof(msg)) != 0) {
		status = ft_http_error(out, 400, msg);
		goto cleanup;
	}
	if ((t = ft_store_find_idempotency(ctx->store, key)) != NULL) {
		/* A repeat: the ticket the key made, nothing new. */
		t->replays++;
		ctx->idempotent_replays++;
		if (!bson_equal(&doc, t->fields))
			ctx->replays_body_changed++;
		status = ft_http_reply(ctx, t, 200, out);
		goto cleanup;
	}
	t = ft_store_add(ctx->store);
	snprintf(t->key, sizeof(t->key), "T-%lld", (long long)t->id);
	bson_destroy(t->fields);
	t->fields = bson_copy(&doc);
	t->idempotency_key = xstrdup(key);
	ft_ticket_set_str(&t->status, "open");
	now = clock_wall_ms();
	t->created_ms = t->updated_ms = now;
	ctx->creates++;
	status = ft_http_reply(ctx, t, 201, out);
cleanup:
	bson_destroy(&doc);
	return status;
}
