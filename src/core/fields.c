/* fields: the ticket-field value type; see fields.h. */
#include "ticketsync/fields.h"

#include <string.h>

static const char *const fields_status_names[] = {
	[FIELDS_STATUS_NULL] = NULL,
	[FIELDS_STATUS_NEW] = "new",
	[FIELDS_STATUS_IN_PROGRESS] = "in_progress",
	[FIELDS_STATUS_CLOSED] = "closed",
	[FIELDS_STATUS_ACKNOWLEDGED] = "acknowledged",
};

static const char *const fields_resolution_names[] = {
	[FIELDS_RESOLUTION_NULL] = NULL,
	[FIELDS_RESOLUTION_ACTION_TAKEN] = "action_taken",
	[FIELDS_RESOLUTION_NO_ACTION_TAKEN] = "no_action_taken",
};

void
fields_init(fields_t *f)
{
	memset(f, 0, sizeof(*f));
}

const char *
fields_status_name(enum fields_status s)
{
	if ((unsigned)s > FIELDS_STATUS_ACKNOWLEDGED)
		return NULL;
	return fields_status_names[s];
}

const char *
fields_resolution_name(enum fields_resolution r)
{
	if ((unsigned)r > FIELDS_RESOLUTION_NO_ACTION_TAKEN)
		return NULL;
	return fields_resolution_names[r];
}

int
fields_status_parse(const char *name, enum fields_status *out)
{
	if (name == NULL)
		return -1;
	for (int i = FIELDS_STATUS_NEW; i <= FIELDS_STATUS_ACKNOWLEDGED; i++) {
		if (strcmp(name, fields_status_names[i]) == 0) {
			*out = (enum fields_status)i;
			return 0;
		}
	}
	return -1;
}

int
fields_resolution_parse(const char *name, enum fields_resolution *out)
{
	if (name == NULL)
		return -1;
	for (int i = FIELDS_RESOLUTION_ACTION_TAKEN; i <= FIELDS_RESOLUTION_NO_ACTION_TAKEN; i++) {
		if (strcmp(name, fields_resolution_names[i]) == 0) {
			*out = (enum fields_resolution)i;
			return 0;
		}
	}
	return -1;
}

static int
fields_set_string(bool *has, char *dst, size_t max, const char *value)
{
	size_t len;

	if (value == NULL) {
		*has = false;
		dst[0] = '\0';
		return 0;
	}
	len = strlen(value);
	if (len > max || !bson_utf8_validate(value, len, false))
		return -1;
	memcpy(dst, value, len + 1);
	*has = true;
	return 0;
}

int
fields_set_ticket_id(fields_t *f, const char *value)
{
	return fields_set_string(&f->has_ticket_id, f->ticket_id, FIELDS_TICKET_ID_MAX, value);
}

int
fields_set_assignee(fields_t *f, const char *value)
{
	return fields_set_string(&f->has_assignee, f->assignee, FIELDS_ASSIGNEE_MAX, value);
}

static bool
fields_string_equal(bool ha, const char *a, bool hb, const char *b)
{
	if (ha != hb)
		return false;
	return !ha || strcmp(a, b) == 0;
}

unsigned
fields_diff(const fields_t *a, const fields_t *b)
{
	unsigned mask = 0;

	if (!fields_string_equal(a->has_ticket_id, a->ticket_id, b->has_ticket_id, b->ticket_id))
		mask |= FIELDS_TICKET_ID;
	if (a->status != b->status)
		mask |= FIELDS_STATUS;
	if (!fields_string_equal(a->has_assignee, a->assignee, b->has_assignee, b->assignee))
		mask |= FIELDS_ASSIGNEE;
	if (a->resolution != b->resolution)
		mask |= FIELDS_RESOLUTION;
	return mask;
}

bool
fields_equal(const fields_t *a, const fields_t *b)
{
	return fields_diff(a, b) == 0;
}

void
fields_append_nullable(bson_t *doc, const char *key, const char *value)
{
	if (value != NULL)
		BSON_APPEND_UTF8(doc, key, value);
	else
		BSON_APPEND_NULL(doc, key);
}

void
fields_append_members(bson_t *doc, const fields_t *f, unsigned mask)
{
	if (mask & FIELDS_TICKET_ID)
		fields_append_nullable(doc, "ticket_id", f->has_ticket_id ? f->ticket_id : NULL);
	if (mask & FIELDS_STATUS)
		fields_append_nullable(doc, "status", fields_status_name(f->status));
	if (mask & FIELDS_ASSIGNEE)
		fields_append_nullable(doc, "assignee", f->has_assignee ? f->assignee : NULL);
	if (mask & FIELDS_RESOLUTION)
		fields_append_nullable(doc, "resolution", fields_resolution_name(f->resolution));
}

void
fields_append_document(bson_t *parent, const char *key, const fields_t *f)
{
	bson_t child;

	bson_append_document_begin(parent, key, -1, &child);
	fields_append_members(&child, f, FIELDS_ALL);
	bson_append_document_end(parent, &child);
}

bson_t *
fields_new_document(const fields_t *f)
{
	bson_t *doc = bson_new();

	fields_append_members(doc, f, FIELDS_ALL);
	return doc;
}

bool
fields_from_document(const bson_t *doc, fields_t *out, bson_error_t *err)
{
	bson_iter_t it;

	fields_init(out);
	if (!bson_iter_init(&it, doc)) {
		bson_set_error(err, ERROR_DOMAIN, FIELDS_ERR_CORRUPT, "fields: corrupt document");
		return false;
	}
	while (bson_iter_next(&it)) {
		const char *key = bson_iter_key(&it);
		bson_type_t t = bson_iter_type(&it);
		const char *s = NULL;
		int rc = 0;

		if (strcmp(key, "ticket_id") != 0 && strcmp(key, "status") != 0 &&
		    strcmp(key, "assignee") != 0 && strcmp(key, "resolution") != 0)
			continue;
		if (t == BSON_TYPE_UTF8) {
			uint32_t len;
			s = bson_iter_utf8(&it, &len);
			/* BSON strings carry a length; an embedded NUL would silently cut the
			 * value, so it is refused. */
			if (strlen(s) != len) {
				bson_set_error(err, ERROR_DOMAIN, FIELDS_ERR_VALUE,
				    "fields: %s contains a NUL byte", key);
				return false;
			}
		} else if (t != BSON_TYPE_NULL) {
			bson_set_error(err, ERROR_DOMAIN, FIELDS_ERR_TYPE,
			    "fields: %s must be a string or null", key);
			return false;
		}
		if (strcmp(key, "ticket_id") == 0)
			rc = fields_set_ticket_id(out, s);
		else if (strcmp(key, "assignee") == 0)
			rc = fields_set_assignee(out, s);
		else if (strcmp(key, "status") == 0)
			rc = s == NULL ? (out->status = FIELDS_STATUS_NULL, 0)
			               : fields_status_parse(s, &out->status);
		else
			rc = s == NULL ? (out->resolution = FIELDS_RESOLUTION_NULL, 0)
			               : fields_resolution_parse(s, &out->resolution);
		if (rc != 0) {
			bson_set_error(err, ERROR_DOMAIN, FIELDS_ERR_VALUE,
			    "fields: invalid %s", key);
			return false;
		}
	}
	if (it.err_off != 0) {
		bson_set_error(err, ERROR_DOMAIN, FIELDS_ERR_CORRUPT, "fields: corrupt document");
		return false;
	}
	return true;
}

void
fields_mask_describe(unsigned mask, char *buf, size_t buflen)
{
	static const char *const names[] = { "ticket_id", "status", "assignee", "resolution" };
	size_t used = 0;

	if (buflen == 0)
		return;
	buf[0] = '\0';
	for (int i = 0; i < 4; i++) {
		if (!(mask & (1u << i)))
			continue;
		size_t need = strlen(names[i]) + (used ? 1 : 0);
		/* Whole names only: a cut name would read as another field. */
		if (used + need >= buflen)
			break;
		snprintf(buf + used, buflen - used, "%s%s", used ? "," : "", names[i]);
		used += need;
	}
}
