/* detection: validate a `detections` document; see detection.h. */
#include "ticketsync/detection.h"

#include <math.h>
#include <string.h>

const char *
detection_type_name(bson_type_t t)
{
	switch (t) {
	case BSON_TYPE_DOUBLE: return "double";
	case BSON_TYPE_UTF8: return "string";
	case BSON_TYPE_DOCUMENT: return "object";
	case BSON_TYPE_ARRAY: return "array";
	case BSON_TYPE_BINARY: return "binary";
	case BSON_TYPE_UNDEFINED: return "undefined";
	case BSON_TYPE_OID: return "objectId";
	case BSON_TYPE_BOOL: return "bool";
	case BSON_TYPE_DATE_TIME: return "date";
	case BSON_TYPE_NULL: return "null";
	case BSON_TYPE_REGEX: return "regex";
	case BSON_TYPE_DBPOINTER: return "dbPointer";
	case BSON_TYPE_CODE: return "javascript";
	case BSON_TYPE_SYMBOL: return "symbol";
	case BSON_TYPE_CODEWSCOPE: return "javascriptWithScope";
	case BSON_TYPE_INT32: return "int32";
	case BSON_TYPE_TIMESTAMP: return "timestamp";
	case BSON_TYPE_INT64: return "int64";
	case BSON_TYPE_DECIMAL128: return "decimal128";
	case BSON_TYPE_MAXKEY: return "maxKey";
	case BSON_TYPE_MINKEY: return "minKey";
	case BSON_TYPE_EOD: break;
	}
	return "unknown type";
}

/* An integral number in [min, DETECTION_ID_MAX] from int32, int64 or double. */
static int
detection_integer(const bson_iter_t *it, int64_t min, int64_t *out, char *why, size_t whylen)
{
	bson_type_t t = bson_iter_type(it);
	int64_t v;

	if (t == BSON_TYPE_INT32) {
		v = bson_iter_int32(it);
	} else if (t == BSON_TYPE_INT64) {
		v = bson_iter_int64(it);
	} else if (t == BSON_TYPE_DOUBLE) {
		double d = bson_iter_double(it);

		/* Compare as double before converting: a cast out of range is undefined. */
		if (!isfinite(d) || d != floor(d) || d < (double)min || d > (double)DETECTION_ID_MAX) {
			snprintf(why, whylen, "must be an integer from %" PRId64 " to 2^53, got %.17g", min, d);
			return -1;
		}
		v = (int64_t)d;
	} else {
		snprintf(why, whylen, "must be an integer from %" PRId64 " to 2^53, got %s", min,
		    detection_type_name(t));
		return -1;
	}
	if (v < min || v > DETECTION_ID_MAX) {
		snprintf(why, whylen, "must be an integer from %" PRId64 " to 2^53, got %" PRId64, min, v);
		return -1;
	}
	*out = v;
	return 0;
}

int
detection_id_from_iter(const bson_iter_t *it, int64_t *out, char *why, size_t whylen)
{
	return detection_integer(it, 1, out, why, whylen);
}

int
detection_time_from_iter(const bson_iter_t *it, int64_t *out, char *why, size_t whylen)
{
	return detection_integer(it, 0, out, why, whylen);
}

/* Parsing state: the document's id for messages, and the error. */
struct detection_ctx {
	int64_t id;
	bson_error_t *err;
};

static int
detection_fail(struct detection_ctx *c, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
detection_fail(struct detection_ctx *c, const char *field, const char *fmt, ...)
{
	char why[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	/* The id is known once _id has passed: an error before that is about the id. */
	if (c->id > 0)
		bson_set_error(c->err, ERROR_DOMAIN, DETECTION_ERR_INVALID,
		    "detection %" PRId64 ": %s %s",
		    c->id, field, why);
	else
		bson_set_error(c->err, ERROR_DOMAIN, DETECTION_ERR_ID,
		    "detection: %s %s", field, why);
	return -1;
}

/* A string (or null -> *out NULL) of at most max bytes, valid UTF-8. */
static int
detection_string(struct detection_ctx *c, const bson_iter_t *it, const char *field, size_t max,
                 const char **out)
{
	uint32_t len;
	const char *s;

	if (BSON_ITER_HOLDS_NULL(it)) {
		*out = NULL;
		return 0;
	}
	if (!BSON_ITER_HOLDS_UTF8(it))
		return detection_fail(c, field, "must be a string or null, got %s",
		    detection_type_name(bson_iter_type(it)));
	s = bson_iter_utf8(it, &len);
	if (len > max)
		return detection_fail(c, field, "is longer than %zu bytes (%" PRIu32 ")", max, len);
	if (!bson_utf8_validate(s, len, false))
		return detection_fail(c, field, "is not valid UTF-8");
	*out = s;
	return 0;
}

static int
detection_time(struct detection_ctx *c, const bson_iter_t *it, const char *field, int64_t *out)
{
	char why[128];

	*out = 0;
	if (BSON_ITER_HOLDS_NULL(it))
		return 0;
	if (detection_time_from_iter(it, out, why, sizeof(why)) != 0)
		return detection_fail(c, field, "(epoch ms) %s", why);
	return 0;
}

/* An ExtraHop ticket field: status/resolution must be ExtraHop's wire values. */
static int
detection_ticket_field(struct detection_ctx *c, const bson_iter_t *it, const char *key,
                       fields_t *f)
{
	const char *s;

	if (strcmp(key, "ticket_id") == 0) {
		if (detection_string(c, it, key, FIELDS_TICKET_ID_MAX, &s) != 0)
			return -1;
		return fields_set_ticket_id(f, s) == 0 ? 0 : detection_fail(c, key, "is invalid");
	}
	if (strcmp(key, "assignee") == 0) {
		if (detection_string(c, it, key, FIELDS_ASSIGNEE_MAX, &s) != 0)
			return -1;
		return fields_set_assignee(f, s) == 0 ? 0 : detection_fail(c, key, "is invalid");
	}
	/* Longer than any ExtraHop value, short enough to quote in the message. */
	if (detection_string(c, it, key, 64, &s) != 0)
		return -1;
	if (strcmp(key, "status") == 0) {
		f->status = FIELDS_STATUS_NULL;
		if (s != NULL && fields_status_parse(s, &f->status) != 0)
			return detection_fail(c, key,
			    "must be new, in_progress, closed, acknowledged or null, got \"%s\"", s);
		return 0;
	}
	f->resolution = FIELDS_RESOLUTION_NULL;
	if (s != NULL && fields_resolution_parse(s, &f->resolution) != 0)
		return detection_fail(c, key, "must be action_taken, no_action_taken or null, got \"%s\"",
		    s);
	return 0;
}

/* An array (or null) of at most max items, each of an accepted type. */
static int
detection_array(struct detection_ctx *c, const bson_iter_t *it, const char *field, size_t max,
                bool strings, bool objects, size_t string_max)
{
	bson_iter_t child;
	size_t n = 0;

	if (BSON_ITER_HOLDS_NULL(it))
		return 0;
	if (!BSON_ITER_HOLDS_ARRAY(it))
		return detection_fail(c, field, "must be an array or null, got %s",
		    detection_type_name(bson_iter_type(it)));
	if (!bson_iter_recurse(it, &child))
		return detection_fail(c, field, "is a corrupt array");
	while (bson_iter_next(&child)) {
		char name[64];

		if (++n > max)
			return detection_fail(c, field, "has more than %zu items", max);
		snprintf(name, sizeof(name), "%s[%zu]", field, n - 1);
		if (strings && BSON_ITER_HOLDS_UTF8(&child)) {
			const char *s;

			if (detection_string(c, &child, name, string_max, &s) != 0)
				return -1;
		} else if (!(objects && BSON_ITER_HOLDS_DOCUMENT(&child))) {
			return detection_fail(c, name, "must be %s, got %s",
			    strings && objects ? "an object or a string" : strings ? "a string" : "an object",
			    detection_type_name(bson_iter_type(&child)));
		}
	}
	return 0;
}

int
detection_parse(const bson_t *doc, detection_t *out, bson_error_t *err)
{
	struct detection_ctx c = { 0, err };
	bson_iter_t it;
	char why[128];
	int rc = -1;

	memset(out, 0, sizeof(*out));
	fields_init(&out->fields);
	if (!bson_iter_init_find(&it, doc, "_id")) {
		bson_set_error(err, ERROR_DOMAIN, DETECTION_ERR_ID, "detection: _id is missing");
		return -1;
	}
	if (detection_id_from_iter(&it, &out->id, why, sizeof(why)) != 0)
		return detection_fail(&c, "_id", "%s", why);
	c.id = out->id;

	if (!bson_iter_init(&it, doc))
		return detection_fail(&c, "document", "is corrupt");
	while (bson_iter_next(&it)) {
		const char *key = bson_iter_key(&it);
		const char *ignored;

		if (strcmp(key, "ticket_id") == 0 || strcmp(key, "status") == 0 ||
		    strcmp(key, "assignee") == 0 || strcmp(key, "resolution") == 0) {
			if (detection_ticket_field(&c, &it, key, &out->fields) != 0)
				goto cleanup;
		} else if (strcmp(key, "title") == 0) {
			if (detection_string(&c, &it, key, DETECTION_TITLE_MAX, &out->title) != 0)
				goto cleanup;
		} else if (strcmp(key, "description") == 0) {
			if (detection_string(&c, &it, key, DETECTION_DESCRIPTION_MAX, &ignored) != 0)
				goto cleanup;
		} else if (strcmp(key, "type") == 0) {
			if (detection_string(&c, &it, key, DETECTION_TYPE_MAX, &out->type) != 0)
				goto cleanup;
		} else if (strcmp(key, "start_time") == 0) {
			if (detection_time(&c, &it, key, &out->start_time) != 0)
				goto cleanup;
		} else if (strcmp(key, "end_time") == 0) {
			if (detection_time(&c, &it, key, &out->end_time) != 0)
				goto cleanup;
		} else if (strcmp(key, "update_time") == 0) {
			if (detection_time(&c, &it, key, &out->update_time) != 0)
				goto cleanup;
		} else if (strcmp(key, "mod_time") == 0) {
			if (detection_time(&c, &it, key, &out->mod_time) != 0)
				goto cleanup;
		} else if (strcmp(key, "risk_score") == 0) {
			if (BSON_ITER_HOLDS_NULL(&it))
				continue;
			if (!BSON_ITER_HOLDS_NUMBER(&it)) {
				detection_fail(&c, key, "must be a number or null, got %s",
				    detection_type_name(bson_iter_type(&it)));
				goto cleanup;
			}
			out->risk_score = bson_iter_as_double(&it);
			if (!isfinite(out->risk_score)) {
				detection_fail(&c, key, "must be a finite number, got %g", out->risk_score);
				goto cleanup;
			}
			out->has_risk_score = true;
		} else if (strcmp(key, "categories") == 0) {
			if (detection_array(&c, &it, key, DETECTION_CATEGORIES_MAX, true, false,
			        DETECTION_CATEGORY_MAX) != 0)
				goto cleanup;
		} else if (strcmp(key, "participants") == 0) {
			if (detection_array(&c, &it, key, DETECTION_PARTICIPANTS_MAX, false, true, 0) != 0)
				goto cleanup;
		} else if (strcmp(key, "mitre_tactics") == 0 || strcmp(key, "mitre_techniques") == 0) {
			if (detection_array(&c, &it, key, DETECTION_MITRE_MAX, true, true,
			        DETECTION_TITLE_MAX) != 0)
				goto cleanup;
		}
	}
	/* bson_iter_next also stops on corrupt data: tell that apart from the end. */
	if (it.err_off != 0) {
		detection_fail(&c, "document", "is corrupt at byte %" PRIu32, it.err_off);
		goto cleanup;
	}
	rc = 0;
cleanup:
	if (rc != 0) {
		int64_t id = out->id;

		memset(out, 0, sizeof(*out));
		out->id = id;
	}
	return rc;
}

void
detection_bad_id_message(const bson_iter_t *id, char *buf, size_t len)
{
	char text[128], why[128];
	int64_t v;

	switch (bson_iter_type(id)) {
	case BSON_TYPE_UTF8:
		snprintf(text, sizeof(text), "\"%.80s\"", bson_iter_utf8(id, NULL));
		break;
	case BSON_TYPE_DOUBLE:
		snprintf(text, sizeof(text), "%.17g", bson_iter_double(id));
		break;
	case BSON_TYPE_INT32:
		snprintf(text, sizeof(text), "%d", bson_iter_int32(id));
		break;
	case BSON_TYPE_INT64:
		snprintf(text, sizeof(text), "%lld", (long long)bson_iter_int64(id));
		break;
	default:
		snprintf(text, sizeof(text), "of type %s", detection_type_name(bson_iter_type(id)));
	}
	if (detection_id_from_iter(id, &v, why, sizeof(why)) == 0)
		snprintf(why, sizeof(why), "is valid");
	snprintf(buf, len, "detection document with _id %s ignored: the detection id %s", text,
	    why);
}
