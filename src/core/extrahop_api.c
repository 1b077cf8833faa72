/*
 * extrahop_api: ExtraHop's REST API as data: the detection URL, the PATCH body, error
 * replies and OAuth2 token replies. Pure (no I/O); the network client (extrahop.c)
 * and the tests use it. See extrahop_api.h.
 */
#include "ticketsync/extrahop_api.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ticketsync/text.h"

#define EXTRAHOP_API_TOKEN_MAX 8192
/* expires_in above this (about 68 years) is clamped: no arithmetic overflows. */
#define EXTRAHOP_API_EXPIRES_MAX_S INT64_C(2147483647)

/* "<base>/api/v1<path>", whether base ends in "/", "/api/v1" or neither. */
static char *
extrahop_api_url(const char *base_url, const char *path)
{
	size_t len;
	const char *api = "/api/v1";

	if (base_url == NULL)
		return NULL;
	len = strlen(base_url);
	while (len > 0 && base_url[len - 1] == '/')
		len--;
	if (len == 0)
		return NULL;
	/* Accept a base that already names the API root, as ExtraHop's docs write it. */
	if (len >= 7 && strncmp(base_url + len - 7, api, 7) == 0)
		api = "";
	return bson_strdup_printf("%.*s%s%s", (int)len, base_url, api, path);
}

char *
extrahop_api_detection_url(const char *base_url, int64_t id)
{
	char path[40];

	if (id < 0)
		return NULL;
	snprintf(path, sizeof(path), "/detections/%" PRId64, id);
	return extrahop_api_url(base_url, path);
}

char *
extrahop_api_search_url(const char *base_url)
{
	return extrahop_api_url(base_url, "/detections/search");
}

char *
extrahop_api_patch_body(const fields_t *f, unsigned mask, size_t *len)
{
	bson_t doc = BSON_INITIALIZER;
	char *json;

	if ((mask & FIELDS_ALL) == 0) {
		bson_destroy(&doc);
		return NULL;
	}
	fields_append_members(&doc, f, mask & FIELDS_ALL);
	/* libbson escapes quotes, backslashes and control characters; UTF-8 passes
	 * through, which JSON allows. */
	json = bson_as_relaxed_extended_json(&doc, len);
	bson_destroy(&doc);
	return json;
}

/* The offset of the first byte that is not a space (len when there is none). */
static size_t
extrahop_api_skip_space(const char *body, size_t len)
{
	size_t i = 0;

	while (i < len && isspace((unsigned char)body[i]))
		i++;
	return i;
}

/* libbson would also take a top-level array; replies must be objects. */
static bool
extrahop_api_is_object(const char *body, size_t len)
{
	size_t i;

	if (body == NULL)
		return false;
	i = extrahop_api_skip_space(body, len);
	return i < len && body[i] == '{';
}

/* The prefix is ours (ASCII): copied as is; only the text is sanitized. */
void
extrahop_api_join(char *out, size_t outlen, const char *prefix, const char *text)
{
	size_t n = strlen(prefix);

	if (n >= outlen)
		n = outlen - 1;
	memcpy(out, prefix, n);
	text_sanitize(out + n, outlen - n, text, TEXT_STRLEN, 0,
	    TEXT_CONTROLS_TO_SPACE | TEXT_ELLIPSIS);
}

bool
extrahop_api_error_message(const char *body, size_t len, char *out, size_t outlen)
{
	/* ExtraHop's own key first, then OAuth2's (RFC 6749 5.2) for the token endpoint. */
	static const char *const keys[] = { "error_message", "error_description", "error" };
	bson_t doc;
	bson_iter_t it;
	bool found = false;

	if (outlen > 0)
		out[0] = '\0';
	if (body == NULL || len == 0)
		return false;
	if (!extrahop_api_is_object(body, len))
		return false;
	if (!bson_init_from_json(&doc, body, (ssize_t)len, NULL))
		return false;
	for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]) && !found; k++) {
		uint32_t n;
		const char *s;

		if (!bson_iter_init_find(&it, &doc, keys[k]) || !BSON_ITER_HOLDS_UTF8(&it))
			continue;
		s = bson_iter_utf8(&it, &n);
		if (n == 0)
			continue;
		/* A remote server's text, bound for logs and audit records: libbson's JSON
		 * reader even lets the overlong C0 80 through. */
		text_sanitize(out, outlen, s, n, 0, TEXT_CONTROLS_TO_SPACE | TEXT_ELLIPSIS);
		found = true;
	}
	bson_destroy(&doc);
	return found;
}

void
extrahop_api_token_clear(extrahop_api_token_t *t)
{
	if (t == NULL)
		return;
	if (t->access_token != NULL) {
		explicit_bzero(t->access_token, strlen(t->access_token));
		bson_free(t->access_token);
	}
	t->access_token = NULL;
	t->expires_in_s = -1;
}

static bool
extrahop_api_parse_expires(bson_iter_t *it, int64_t *out, bson_error_t *err)
{
	int64_t v;

	switch (bson_iter_type(it)) {
	case BSON_TYPE_NULL:
		*out = -1;
		return true;
	case BSON_TYPE_INT32:
		v = bson_iter_int32(it);
		break;
	case BSON_TYPE_INT64:
		v = bson_iter_int64(it);
		break;
	case BSON_TYPE_DOUBLE: {
		double d = bson_iter_double(it);
		if (!isfinite(d) || d != floor(d)) {
			bson_set_error(err, ERROR_DOMAIN, EXTRAHOP_API_ERR_TOKEN,
			    "token reply: expires_in is not a whole number");
			return false;
		}
		v = d >= 9.2e18 ? INT64_MAX : d <= -9.2e18 ? INT64_MIN : (int64_t)d;
		break;
	}
	case BSON_TYPE_UTF8: { /* some servers quote it */
		const char *s = bson_iter_utf8(it, NULL);
		char *end;
		long long ll;

		if (*s < '0' || *s > '9') {
			bson_set_error(err, ERROR_DOMAIN, EXTRAHOP_API_ERR_TOKEN,
			    "token reply: expires_in is not a number");
			return false;
		}
		errno = 0;
		ll = strtoll(s, &end, 10);
		if (*end != '\0') {
			bson_set_error(err, ERROR_DOMAIN, EXTRAHOP_API_ERR_TOKEN,
			    "token reply: expires_in is not a number");
			return false;
		}
		v = errno == ERANGE ? INT64_MAX : (int64_t)ll;
		break;
	}
	default:
		bson_set_error(err, ERROR_DOMAIN, EXTRAHOP_API_ERR_TOKEN,
		    "token reply: expires_in has the wrong type");
		return false;
	}
	if (v <= 0) {
		bson_set_error(err, ERROR_DOMAIN, EXTRAHOP_API_ERR_TOKEN,
		    "token reply: expires_in must be positive");
		return false;
	}
	*out = v > EXTRAHOP_API_EXPIRES_MAX_S ? EXTRAHOP_API_EXPIRES_MAX_S : v;
	return true;
}

bool
extrahop_api_token_parse(const char *body, size_t len, extrahop_api_token_t *out, bson_error_t *err)
{
	bson_t doc;
	bson_iter_t it;
	const char *tok;
	uint32_t toklen;
	int64_t expires = -1;
	bool ok = false;

	out->access_token = NULL;
	out->expires_in_s = -1;
	if (!extrahop_api_is_object(body, len)) {
		bson_set_error(err, ERROR_DOMAIN, EXTRAHOP_API_ERR_SYNTAX,
		    "token reply: not a JSON object");
		return false;
	}
	if (!bson_init_from_json(&doc, body, (ssize_t)len, NULL)) {
		bson_set_error(err, ERROR_DOMAIN, EXTRAHOP_API_ERR_SYNTAX,
		    "token reply: not a JSON object");
		return false;
	}
	if (!bson_iter_init_find(&it, &doc, "access_token") || !BSON_ITER_HOLDS_UTF8(&it)) {
		bson_set_error(err, ERROR_DOMAIN, EXTRAHOP_API_ERR_TOKEN,
		    "token reply: no access_token string");
		goto cleanup;
	}
	tok = bson_iter_utf8(&it, &toklen);
	if (toklen == 0 || toklen > EXTRAHOP_API_TOKEN_MAX) {
		bson_set_error(err, ERROR_DOMAIN, EXTRAHOP_API_ERR_TOKEN,
		    "token reply: access_token is empty or too long");
		goto cleanup;
	}
	for (uint32_t k = 0; k < toklen; k++) {
		/* It goes into a header line: visible ASCII only, no CR/LF injection. */
		if ((unsigned char)tok[k] < 0x21 || (unsigned char)tok[k] > 0x7e) {
			bson_set_error(err, ERROR_DOMAIN, EXTRAHOP_API_ERR_TOKEN,
			    "token reply: access_token has invalid characters");
			goto cleanup;
		}
	}
	/* RFC 6749 requires token_type; servers that omit it still mean Bearer. */
	if (bson_iter_init_find(&it, &doc, "token_type")) {
		if (!BSON_ITER_HOLDS_UTF8(&it) ||
		    strcasecmp(bson_iter_utf8(&it, NULL), "bearer") != 0) {
			bson_set_error(err, ERROR_DOMAIN, EXTRAHOP_API_ERR_TOKEN,
			    "token reply: token_type is not Bearer");
			goto cleanup;
		}
	}
	if (bson_iter_init_find(&it, &doc, "expires_in") &&
	    !extrahop_api_parse_expires(&it, &expires, err))
		goto cleanup;
	out->access_token = bson_strndup(tok, toklen);
	out->expires_in_s = expires;
	ok = true;
cleanup:
	bson_destroy(&doc);
	return ok;
}

bool
extrahop_api_search_body_ok(const char *json, size_t len, bson_error_t *err)
{
	bson_t doc;
	bson_error_t jerr;
	char why[sizeof(jerr.message)];

	if (!extrahop_api_is_object(json, len)) {
		bson_set_error(err, ERROR_DOMAIN, EXTRAHOP_API_ERR_SYNTAX,
		    "search body: not a JSON object");
		return false;
	}
	if (len > SSIZE_MAX || !bson_init_from_json(&doc, json, (ssize_t)len, &jerr)) {
		/* libbson quotes the offending text: the caller's, but still sanitized. */
		extrahop_api_join(why, sizeof(why), "", len > SSIZE_MAX ? "too long" : jerr.message);
		bson_set_error(err, ERROR_DOMAIN, EXTRAHOP_API_ERR_SYNTAX,
		    "search body: not valid JSON: %s", why);
		return false;
	}
	bson_destroy(&doc);
	return true;
}

bson_t *
extrahop_api_search_reply(const char *body, size_t len, char *msg, size_t msglen)
{
	bson_t *doc;
	bson_error_t jerr;
	char start[48];
	size_t off = body != NULL ? extrahop_api_skip_space(body, len) : 0;

	if (msglen > 0)
		msg[0] = '\0';
	if (body == NULL || off == len) {
		snprintf(msg, msglen, "the search reply is empty, not a JSON array");
		return NULL;
	}
	if (body[off] != '[') {
		/* What it starts with tells a proxy's HTML page from an error object. */
		text_sanitize(start, sizeof(start), body + off, len - off, 32,
		    TEXT_CONTROLS_TO_SPACE | TEXT_ELLIPSIS);
		snprintf(msg, msglen, "the search reply is not a JSON array (it starts \"%s\")", start);
		return NULL;
	}
	doc = len > SSIZE_MAX ? NULL : bson_new_from_json((const uint8_t *)body, (ssize_t)len, &jerr);
	if (doc == NULL) {
		extrahop_api_join(msg, msglen, "the search reply is not valid JSON: ",
		    len > SSIZE_MAX ? "too long" : jerr.message);
		return NULL;
	}
	return doc;
}

int64_t
extrahop_api_token_refresh_after_ms(int64_t expires_in_s)
{
	if (expires_in_s <= 0)
		return -1;
	if (expires_in_s >= 2 * EXTRAHOP_API_TOKEN_REFRESH_MARGIN_S)
		return (expires_in_s - EXTRAHOP_API_TOKEN_REFRESH_MARGIN_S) * 1000;
	return expires_in_s * 1000 / 2;
}
