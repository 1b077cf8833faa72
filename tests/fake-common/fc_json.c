/* fc_json: body parsing and reply writing shared by the fake's routes. */
#include "fc_json.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char *
fc_json_skip_ws(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
		p++;
	return p;
}

int
fc_json_parse_object(const char *body, size_t len, bson_t *out, bson_error_t *error)
{
	const char *p = fc_json_skip_ws(body, body + len);

	bson_init(out);
	if (p == body + len) {
		bson_set_error(error, FC_JSON_ERROR_DOMAIN, 1, "request body is empty, expected a JSON object");
		return -1;
	}
	/* libbson would turn a top-level array into an object with "0", "1"... keys: the
	 * API wants an object, so look at the first character ourselves. */
	if (*p != '{') {
		bson_set_error(error, FC_JSON_ERROR_DOMAIN, 2, "request body must be a JSON object");
		return -1;
	}
	bson_destroy(out);
	if (!bson_init_from_json(out, body, (ssize_t)len, error)) {
		bson_init(out);
		return -1;
	}
	return 0;
}

int
fc_json_parse_value(const char *body, size_t len, bson_t *out, bson_error_t *error)
{
	bson_string_t *s = bson_string_new("{\"v\": ");
	bson_iter_t it;
	int rc = -1;

	bson_init(out);
	if (memchr(body, '\0', len) != NULL) {
		bson_set_error(error, FC_JSON_ERROR_DOMAIN, 3, "body contains a NUL byte");
		goto cleanup;
	}
	/* bson_string_append needs a C string; the NUL check above makes the copy exact. */
	{
		char *copy = bson_strndup(body, len);
		bson_string_append(s, copy);
		bson_free(copy);
	}
	bson_string_append(s, "\n}");
	bson_destroy(out);
	if (!bson_init_from_json(out, s->str, (ssize_t)s->len, error)) {
		bson_init(out);
		goto cleanup;
	}
	/* "1, \"w\": 2" would parse once wrapped: one key means one value. */
	if (bson_count_keys(out) != 1 || !bson_iter_init_find(&it, out, "v")) {
		bson_set_error(error, FC_JSON_ERROR_DOMAIN, 4, "not a single JSON value");
		bson_reinit(out);
		goto cleanup;
	}
	rc = 0;
cleanup:
	bson_string_free(s, true);
	return rc;
}

bool
fc_json_int64(const bson_iter_t *it, int64_t *out)
{
	double d;

	switch (bson_iter_type(it)) {
	case BSON_TYPE_INT32:
		*out = bson_iter_int32(it);
		return true;
	case BSON_TYPE_INT64:
		*out = bson_iter_int64(it);
		return true;
	case BSON_TYPE_DOUBLE:
		d = bson_iter_double(it);
		if (!isfinite(d) || d != floor(d) || fabs(d) > 9007199254740992.0)
			return false;
		*out = (int64_t)d;
		return true;
	default:
		return false;
	}
}

bool
fc_json_double(const bson_iter_t *it, double *out)
{
	switch (bson_iter_type(it)) {
	case BSON_TYPE_INT32:
		*out = bson_iter_int32(it);
		return true;
	case BSON_TYPE_INT64:
		*out = (double)bson_iter_int64(it);
		return true;
	case BSON_TYPE_DOUBLE:
		*out = bson_iter_double(it);
		return isfinite(*out);
	default:
		return false;
	}
}

int
fc_json_parse_id(const char *s, size_t n, int64_t *id)
{
	int64_t v = 0;

	if (n == 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return -1;
	if (n > 18)
		return 0;
	for (size_t i = 0; i < n; i++)
		v = v * 10 + (s[i] - '0');
	*id = v;
	return v > 0 ? 1 : 0;
}

void
fc_json_add(struct evbuffer *out, const bson_t *doc)
{
	size_t len;
	char *json = bson_as_relaxed_extended_json(doc, &len);

	if (json != NULL)
		evbuffer_add(out, json, len);
	bson_free(json);
}

void
fc_json_add_error(struct evbuffer *out, const char *fmt, ...)
{
	char msg[512];
	bson_t doc = BSON_INITIALIZER;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	BSON_APPEND_UTF8(&doc, "error_message", msg);
	fc_json_add(out, &doc);
	bson_destroy(&doc);
}
