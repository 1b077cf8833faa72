/* fx_store: detections by id (open addressing), REST rendering, PATCH validation. */
#include "fx_store.h"

#include "fc_json.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct fx_store {
	fx_detection_t **slots; /* open addressing, linear probing; NULL = empty */
	size_t cap;             /* power of two */
	size_t count;
	int64_t last_mod;
	fx_detection_t **raw;   /* raw search records, in the order added */
	size_t nraw, capraw;
	int64_t raw_seq;
};

/* What a synthesized detection looks like, chosen by id. */
struct fx_synth_kind {
	const char *type, *title, *cat;
	int risk; /* base risk score; -1: null (performance detections have none) */
	const char *tactic_id, *tactic_name, *tech_id, *tech_name;
};

static const struct fx_synth_kind fx_synth_kinds[] = {
	{ "dns_tunnel", "DNS Tunnel", "sec.exfil", 60, "TA0011", "Command and Control",
	    "T1071.004", "Application Layer Protocol: DNS" },
	{ "ldap_enumeration", "LDAP Enumeration", "sec.recon", 35, "TA0007", "Discovery",
	    "T1087", "Account Discovery" },
	{ "ssh_brute_force", "SSH Brute Force", "sec.attack", 55, "TA0006", "Credential Access",
	    "T1110", "Brute Force" },
	{ "ransomware_activity", "Ransomware Activity", "sec.action", 90, "TA0040", "Impact",
	    "T1486", "Data Encrypted for Impact" },
	{ "smb_unusual_file_access", "Unusual SMB File Access", "sec.lateral", 45, "TA0008",
	    "Lateral Movement", "T1021.002", "Remote Services: SMB/Windows Admin Shares" },
	{ "expired_ssl_certificates", "Expired SSL Server Certificates", "sec.hardening", 10,
	    NULL, NULL, NULL, NULL },
	{ "db_error_spike", "Database Errors", "perf", -1, NULL, NULL, NULL, NULL },
};
#define FX_SYNTH_NKINDS (sizeof(fx_synth_kinds) / sizeof(fx_synth_kinds[0]))

static const struct fx_synth_kind *
fx_synth_kind(int64_t id)
{
	return &fx_synth_kinds[(uint64_t)id % FX_SYNTH_NKINDS];
}

static size_t
fx_store_hash(int64_t id)
{
	uint64_t x = (uint64_t)id;

	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	return (size_t)x;
}

fx_store_t *
fx_store_new(void)
{
	fx_store_t *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	s->cap = 1024;
	s->slots = calloc(s->cap, sizeof(*s->slots));
	if (s->slots == NULL) {
		free(s);
		return NULL;
	}
	return s;
}

static void
fx_detection_free(fx_detection_t *d)
{
	if (d == NULL)
		return;
	if (d->doc != NULL)
		bson_destroy(d->doc);
	if (d->participants != NULL)
		bson_destroy(d->participants);
	free(d->ticket_id);
	free(d->status);
	free(d->assignee);
	free(d->resolution);
	free(d->note);
	free(d->title);
	free(d->type);
	free(d);
}

void
fx_store_clear(fx_store_t *s)
{
	for (size_t i = 0; i < s->cap; i++) {
		fx_detection_free(s->slots[i]);
		s->slots[i] = NULL;
	}
	s->count = 0;
}

void
fx_store_destroy(fx_store_t *s)
{
	if (s == NULL)
		return;
	fx_store_clear(s);
	fx_store_clear_raw(s);
	free(s->raw);
	free(s->slots);
	free(s);
}

size_t
fx_store_count(const fx_store_t *s)
{
	return s->count;
}

static size_t
fx_store_slot(const fx_store_t *s, int64_t id)
{
	size_t mask = s->cap - 1, i = fx_store_hash(id) & mask;

	while (s->slots[i] != NULL && s->slots[i]->id != id)
		i = (i + 1) & mask;
	return i;
}

fx_detection_t *
fx_store_get(fx_store_t *s, int64_t id)
{
	return s->slots[fx_store_slot(s, id)];
}

static int
fx_store_grow(fx_store_t *s)
{
	size_t ncap = s->cap * 2;
	fx_detection_t **old = s->slots;
	size_t ocap = s->cap;

	s->slots = calloc(ncap, sizeof(*s->slots));
	if (s->slots == NULL) {
		s->slots = old;
		return -1;
	}
	s->cap = ncap;
	for (size_t i = 0; i < ocap; i++)
		if (old[i] != NULL)
			s->slots[fx_store_slot(s, old[i]->id)] = old[i];
	free(old);
	return 0;
}

/* Insert d, replacing (and freeing) any detection with its id. */
static int
fx_store_insert(fx_store_t *s, fx_detection_t *d)
{
	size_t i;

	if ((s->count + 1) * 2 > s->cap && fx_store_grow(s) != 0)
		return -1;
	i = fx_store_slot(s, d->id);
	if (s->slots[i] != NULL)
		fx_detection_free(s->slots[i]);
	else
		s->count++;
	s->slots[i] = d;
	return 0;
}

bool
fx_store_remove(fx_store_t *s, int64_t id)
{
	size_t mask = s->cap - 1, i = fx_store_slot(s, id), j;

	if (s->slots[i] == NULL)
		return false;
	fx_detection_free(s->slots[i]);
	s->slots[i] = NULL;
	s->count--;
	/* Backward-shift deletion keeps every probe chain unbroken without tombstones. */
	for (j = (i + 1) & mask; s->slots[j] != NULL; j = (j + 1) & mask) {
		size_t home = fx_store_hash(s->slots[j]->id) & mask;
		bool between = (i <= j) ? (i < home && home <= j) : (i < home || home <= j);
		if (between)
			continue;
		s->slots[i] = s->slots[j];
		s->slots[j] = NULL;
		i = j;
	}
	return true;
}

void
fx_store_foreach(fx_store_t *s, void (*fn)(fx_detection_t *, void *), void *arg)
{
	for (size_t i = 0; i < s->cap; i++)
		if (s->slots[i] != NULL)
			fn(s->slots[i], arg);
}

/* Lenient readers for raw search records: a value of another type counts as absent. */
static int64_t
fx_store_raw_int(const bson_t *doc, const char *key, bool *has)
{
	bson_iter_t it;
	int64_t v = 0;
	bool ok = bson_iter_init_find(&it, doc, key) && fc_json_int64(&it, &v);

	if (has != NULL)
		*has = ok;
	return ok ? v : 0;
}

static char *
fx_store_raw_str(const bson_t *doc, const char *key, bool *oom)
{
	bson_iter_t it;
	char *v;

	if (!bson_iter_init_find(&it, doc, key) || !BSON_ITER_HOLDS_UTF8(&it))
		return NULL;
	if ((v = strdup(bson_iter_utf8(&it, NULL))) == NULL)
		*oom = true;
	return v;
}

static fx_detection_t *
fx_store_raw_new(const bson_t *doc, int64_t seq)
{
	fx_detection_t *d = calloc(1, sizeof(*d));
	bool oom = false;

	if (d == NULL)
		return NULL;
	d->raw = true;
	d->raw_seq = seq;
	d->id = fx_store_raw_int(doc, "id", NULL);
	if (d->id < 0)
		d->id = 0;
	d->mod_time = fx_store_raw_int(doc, "mod_time", NULL);
	d->start_time = fx_store_raw_int(doc, "start_time", NULL);
	d->end_time = fx_store_raw_int(doc, "end_time", NULL);
	d->update_time = fx_store_raw_int(doc, "update_time", NULL);
	d->create_time = fx_store_raw_int(doc, "create_time", &d->has_create_time);
	d->risk_score = fx_store_raw_int(doc, "risk_score", &d->has_risk_score);
	d->ticket_id = fx_store_raw_str(doc, "ticket_id", &oom);
	d->status = fx_store_raw_str(doc, "status", &oom);
	d->assignee = fx_store_raw_str(doc, "assignee", &oom);
	d->resolution = fx_store_raw_str(doc, "resolution", &oom);
	d->title = fx_store_raw_str(doc, "title", &oom);
	d->type = fx_store_raw_str(doc, "type", &oom);
	d->doc = bson_copy(doc);
	if (oom || d->doc == NULL) {
		fx_detection_free(d);
		return NULL;
	}
	return d;
}

int
fx_store_add_raw(fx_store_t *s, const bson_t *wrapper_v, int64_t *stored, bson_error_t *error)
{
	bson_iter_t it, child;
	bson_t doc;
	const uint8_t *data;
	uint32_t len;
	size_t first = s->nraw;
	bool one;

	*stored = 0;
	if (!bson_iter_init_find(&it, wrapper_v, "v")) {
		bson_set_error(error, 4, 7, "no value");
		return -1;
	}
	one = BSON_ITER_HOLDS_DOCUMENT(&it);
	if (!one && (!BSON_ITER_HOLDS_ARRAY(&it) || !bson_iter_recurse(&it, &child))) {
		bson_set_error(error, 4, 8, "expected an object or an array of objects");
		return -1;
	}
	/* All or nothing: check every element before keeping any. */
	if (!one) {
		bson_iter_t check = child;

		while (bson_iter_next(&check)) {
			if (!BSON_ITER_HOLDS_DOCUMENT(&check)) {
				bson_set_error(error, 4, 9, "element %s is not an object",
				    bson_iter_key(&check));
				return -1;
			}
		}
	}
	while (one || bson_iter_next(&child)) {
		bson_iter_t *cur = one ? &it : &child;
		fx_detection_t *d;

		bson_iter_document(cur, &len, &data);
		if (s->nraw == s->capraw) {
			size_t ncap = s->capraw ? s->capraw * 2 : 16;
			fx_detection_t **n = realloc(s->raw, ncap * sizeof(*n));

			if (n == NULL)
				goto oom;
			s->raw = n;
			s->capraw = ncap;
		}
		if (!bson_init_static(&doc, data, len) ||
		    (d = fx_store_raw_new(&doc, ++s->raw_seq)) == NULL)
			goto oom;
		s->raw[s->nraw++] = d;
		(*stored)++;
		if (one)
			break;
	}
	return 0;
oom:
	while (s->nraw > first)
		fx_detection_free(s->raw[--s->nraw]);
	*stored = 0;
	bson_set_error(error, 4, 4, "out of memory");
	return -1;
}

void
fx_store_clear_raw(fx_store_t *s)
{
	for (size_t i = 0; i < s->nraw; i++)
		fx_detection_free(s->raw[i]);
	s->nraw = 0;
}

size_t
fx_store_raw_count(const fx_store_t *s)
{
	return s->nraw;
}

void
fx_store_foreach_raw(fx_store_t *s, void (*fn)(fx_detection_t *, void *), void *arg)
{
	for (size_t i = 0; i < s->nraw; i++)
		fn(s->raw[i], arg);
}

static fx_detection_t *
fx_store_synth(int64_t id, int64_t now_ms)
{
	const struct fx_synth_kind *k = fx_synth_kind(id);
	fx_detection_t *d = calloc(1, sizeof(*d));

	if (d == NULL)
		return NULL;
	d->id = id;
	d->created_ms = now_ms;
	d->title = strdup(k->title);
	d->type = strdup(k->type);
	if (d->title == NULL || d->type == NULL) {
		fx_detection_free(d);
		return NULL;
	}
	/* Seen within the last two hours, ended before it was stored. */
	d->start_time = now_ms - 7200000 + (id % 3600) * 1000;
	d->end_time = d->start_time + 120000 + (id % 10) * 1000;
	d->update_time = d->end_time;
	d->create_time = d->start_time;
	d->has_create_time = true;
	d->has_risk_score = k->risk >= 0;
	d->risk_score = k->risk >= 0 ? k->risk + (id * 7) % 10 : 0;
	d->mod_time = now_ms;
	return d;
}

fx_detection_t *
fx_store_get_or_create(fx_store_t *s, int64_t id, int64_t now_ms)
{
	fx_detection_t *d = fx_store_get(s, id);

	if (d != NULL)
		return d;
	d = fx_store_synth(id, now_ms);
	if (d == NULL || fx_store_insert(s, d) != 0) {
		fx_detection_free(d);
		return NULL;
	}
	return d;
}

int
fx_store_generate(fx_store_t *s, int64_t count, int64_t now_ms, bson_error_t *error)
{
	for (int64_t id = 1; id <= count; id++) {
		fx_detection_t *d = fx_store_synth(id, now_ms);
		if (d == NULL || fx_store_insert(s, d) != 0) {
			fx_detection_free(d);
			bson_set_error(error, 4, 1, "out of memory generating detection %lld",
			    (long long)id);
			return -1;
		}
	}
	return 0;
}

/* String or null ticket field from a stored document. */
static int
fx_store_doc_str(const bson_t *doc, const char *key, char **out, bson_error_t *error)
{
	bson_iter_t it;

	*out = NULL;
	if (!bson_iter_init_find(&it, doc, key) || BSON_ITER_HOLDS_NULL(&it))
		return 0;
	if (!BSON_ITER_HOLDS_UTF8(&it)) {
		bson_set_error(error, 4, 2, "detection field %s must be a string or null", key);
		return -1;
	}
	*out = strdup(bson_iter_utf8(&it, NULL));
	return *out ? 0 : -1;
}

/* Integer time or score; absent or null leave *has false. */
static int
fx_store_doc_int(const bson_t *doc, const char *key, int64_t *out, bool *has,
    bson_error_t *error)
{
	bson_iter_t it;

	*has = false;
	if (!bson_iter_init_find(&it, doc, key) || BSON_ITER_HOLDS_NULL(&it))
		return 0;
	if (!fc_json_int64(&it, out)) {
		bson_set_error(error, 4, 3, "detection field %s must be an integer or null", key);
		return -1;
	}
	*has = true;
	return 0;
}

int
fx_store_put(fx_store_t *s, const bson_t *doc, int64_t now_ms, int64_t *id,
    bson_error_t *error)
{
	fx_detection_t *d = calloc(1, sizeof(*d));
	bson_iter_t it;
	bool has;
	char *title = NULL, *type = NULL;

	if (d == NULL) {
		bson_set_error(error, 4, 4, "out of memory");
		return -1;
	}
	if (!bson_iter_init_find(&it, doc, "id") || !fc_json_int64(&it, &d->id) || d->id <= 0) {
		bson_set_error(error, 4, 5, "a detection needs an integer \"id\" > 0");
		goto fail;
	}
	d->created_ms = now_ms;
	if (fx_store_doc_str(doc, "ticket_id", &d->ticket_id, error) ||
	    fx_store_doc_str(doc, "status", &d->status, error) ||
	    fx_store_doc_str(doc, "assignee", &d->assignee, error) ||
	    fx_store_doc_str(doc, "resolution", &d->resolution, error) ||
	    fx_store_doc_str(doc, "title", &title, error) ||
	    fx_store_doc_str(doc, "type", &type, error))
		goto fail;
	d->title = title ? title : strdup("");
	d->type = type ? type : strdup("");
	title = type = NULL;
	if (fx_store_doc_int(doc, "start_time", &d->start_time, &has, error) ||
	    fx_store_doc_int(doc, "end_time", &d->end_time, &has, error) ||
	    fx_store_doc_int(doc, "update_time", &d->update_time, &has, error) ||
	    fx_store_doc_int(doc, "create_time", &d->create_time, &d->has_create_time, error) ||
	    fx_store_doc_int(doc, "risk_score", &d->risk_score, &d->has_risk_score, error) ||
	    fx_store_doc_int(doc, "mod_time", &d->mod_time, &has, error))
		goto fail;
	if (!has)
		d->mod_time = now_ms;
	if (bson_iter_init_find(&it, doc, "categories") && !BSON_ITER_HOLDS_ARRAY(&it)) {
		bson_set_error(error, 4, 6, "detection field categories must be an array");
		goto fail;
	}
	d->doc = bson_copy(doc);
	if (d->doc == NULL || d->title == NULL || d->type == NULL ||
	    fx_store_insert(s, d) != 0) {
		bson_set_error(error, 4, 4, "out of memory");
		goto fail;
	}
	if (id != NULL)
		*id = d->id;
	return 0;
fail:
	free(title);
	free(type);
	fx_detection_free(d);
	return -1;
}

int
fx_store_put_many(fx_store_t *s, const bson_t *wrapper_v, int64_t now_ms, int64_t *stored,
    bson_error_t *error)
{
	bson_iter_t it, child;
	bson_t doc;
	const uint8_t *data;
	uint32_t len;

	*stored = 0;
	if (!bson_iter_init_find(&it, wrapper_v, "v")) {
		bson_set_error(error, 4, 7, "no value");
		return -1;
	}
	if (BSON_ITER_HOLDS_DOCUMENT(&it)) {
		bson_iter_document(&it, &len, &data);
		if (!bson_init_static(&doc, data, len) || fx_store_put(s, &doc, now_ms, NULL, error))
			return -1;
		*stored = 1;
		return 0;
	}
	if (!BSON_ITER_HOLDS_ARRAY(&it) || !bson_iter_recurse(&it, &child)) {
		bson_set_error(error, 4, 8, "expected a detection object or an array of them");
		return -1;
	}
	while (bson_iter_next(&child)) {
		if (!BSON_ITER_HOLDS_DOCUMENT(&child)) {
			bson_set_error(error, 4, 9, "element %s is not an object", bson_iter_key(&child));
			return -1;
		}
		bson_iter_document(&child, &len, &data);
		if (!bson_init_static(&doc, data, len))
			return -1;
		if (fx_store_put(s, &doc, now_ms, NULL, error) != 0) {
			char msg[sizeof(error->message)];
			bson_strncpy(msg, error->message, sizeof(msg));
			bson_set_error(error, 4, 10, "element %s: %s", bson_iter_key(&child), msg);
			return -1;
		}
		(*stored)++;
	}
	return 0;
}

int
fx_store_load_file(fx_store_t *s, const char *path, int64_t now_ms, int64_t *stored,
    bson_error_t *error)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t len = 0, cap = 0, n;
	bson_t wrapper;
	int rc = -1;

	bson_init(&wrapper);
	if (f == NULL) {
		bson_set_error(error, 4, 11, "%s: %s", path, strerror(errno));
		goto cleanup;
	}
	for (;;) {
		if (len == cap) {
			char *nb = realloc(buf, cap = cap ? cap * 2 : 65536);
			if (nb == NULL) {
				bson_set_error(error, 4, 4, "out of memory");
				goto cleanup;
			}
			buf = nb;
		}
		n = fread(buf + len, 1, cap - len, f);
		if (n == 0)
			break;
		len += n;
	}
	if (ferror(f)) {
		bson_set_error(error, 4, 12, "%s: read error", path);
		goto cleanup;
	}
	bson_destroy(&wrapper);
	if (fc_json_parse_value(buf, len, &wrapper, error) != 0)
		goto cleanup;
	rc = fx_store_put_many(s, &wrapper, now_ms, stored, error);
cleanup:
	if (rc != 0 && error->message[0] != '\0' && strncmp(error->message, path, strlen(path))) {
		char msg[sizeof(error->message)];
		bson_strncpy(msg, error->message, sizeof(msg));
		bson_set_error(error, 4, 13, "%s: %s", path, msg);
	}
	bson_destroy(&wrapper);
	free(buf);
	if (f != NULL)
		fclose(f);
	return rc;
}

static void
fx_store_append_str(bson_t *out, const char *key, const char *v)
{
	if (v != NULL)
		bson_append_utf8(out, key, -1, v, -1);
	else
		bson_append_null(out, key, -1);
}

static void
fx_store_append_participants(const fx_detection_t *d, bson_t *out)
{
	bson_iter_t it;

	if (bson_iter_init_find(&it, d->participants, "participants"))
		bson_append_iter(out, "participants", -1, &it);
}

static void
fx_store_synth_to_bson(const fx_detection_t *d, bson_t *out)
{
	const struct fx_synth_kind *k = fx_synth_kind(d->id);
	bson_t arr, item, props;
	char buf[256];
	int64_t id = d->id;

	BSON_APPEND_INT64(out, "id", id);
	BSON_APPEND_UTF8(out, "title", k->title);
	snprintf(buf, sizeof(buf),
	    "Synthetic **%s** detection %lld generated by the fake ExtraHop API. "
	    "The offender `10.%d.%d.%d` was seen by the sensor.",
	    k->title, (long long)id, (int)(id >> 16) & 255, (int)(id >> 8) & 255, (int)id & 255);
	BSON_APPEND_UTF8(out, "description", buf);
	BSON_APPEND_UTF8(out, "type", k->type);
	bson_append_array_begin(out, "categories", -1, &arr);
	BSON_APPEND_UTF8(&arr, "0", strncmp(k->cat, "sec", 3) == 0 ? "sec" : "perf");
	if (strcmp(k->cat, "perf") != 0)
		BSON_APPEND_UTF8(&arr, "1", k->cat);
	bson_append_array_end(out, &arr);
	if (d->has_risk_score)
		BSON_APPEND_INT64(out, "risk_score", d->risk_score);
	else
		BSON_APPEND_NULL(out, "risk_score");
	BSON_APPEND_INT64(out, "start_time", d->start_time);
	BSON_APPEND_INT64(out, "end_time", d->end_time);
	BSON_APPEND_INT64(out, "update_time", d->update_time);
	BSON_APPEND_INT64(out, "create_time", d->create_time);
	BSON_APPEND_INT64(out, "mod_time", d->mod_time);
	fx_store_append_str(out, "ticket_id", d->ticket_id);
	fx_store_append_str(out, "status", d->status);
	fx_store_append_str(out, "assignee", d->assignee);
	fx_store_append_str(out, "resolution", d->resolution);
	if (d->participants != NULL) {
		fx_store_append_participants(d, out);
	} else {
		bson_append_array_begin(out, "participants", -1, &arr);
		bson_append_document_begin(&arr, "0", 1, &item);
		BSON_APPEND_UTF8(&item, "role", "offender");
		BSON_APPEND_UTF8(&item, "object_type", "device");
		BSON_APPEND_INT64(&item, "object_id", 1000 + id % 97);
		BSON_APPEND_INT64(&item, "id", id * 2);
		BSON_APPEND_BOOL(&item, "external", false);
		bson_append_document_end(&arr, &item);
		bson_append_document_begin(&arr, "1", 1, &item);
		BSON_APPEND_UTF8(&item, "role", "victim");
		BSON_APPEND_UTF8(&item, "object_type", "ipaddr");
		snprintf(buf, sizeof(buf), "10.%d.%d.%d", (int)((id * 3) >> 16) & 255,
		    (int)((id * 3) >> 8) & 255, (int)(id * 3) & 255);
		BSON_APPEND_UTF8(&item, "object_value", buf);
		BSON_APPEND_INT64(&item, "id", id * 2 + 1);
		BSON_APPEND_BOOL(&item, "external", id % 4 == 0);
		bson_append_document_end(&arr, &item);
		bson_append_array_end(out, &arr);
	}
	bson_append_document_begin(out, "properties", -1, &props);
	if (d->has_risk_score)
		BSON_APPEND_INT64(&props, "count", 1 + id % 50);
	bson_append_document_end(out, &props);
	bson_append_array_begin(out, "mitre_tactics", -1, &arr);
	if (k->tactic_id != NULL) {
		bson_append_document_begin(&arr, "0", 1, &item);
		BSON_APPEND_UTF8(&item, "id", k->tactic_id);
		BSON_APPEND_UTF8(&item, "name", k->tactic_name);
		snprintf(buf, sizeof(buf), "https://attack.mitre.org/tactics/%s", k->tactic_id);
		BSON_APPEND_UTF8(&item, "url", buf);
		bson_append_document_end(&arr, &item);
	}
	bson_append_array_end(out, &arr);
	bson_append_array_begin(out, "mitre_techniques", -1, &arr);
	if (k->tech_id != NULL) {
		bson_t legacy;
		bson_append_document_begin(&arr, "0", 1, &item);
		BSON_APPEND_UTF8(&item, "id", k->tech_id);
		BSON_APPEND_UTF8(&item, "name", k->tech_name);
		/* Sub-techniques are paths on attack.mitre.org: T1071.004 -> T1071/004. */
		snprintf(buf, sizeof(buf), "https://attack.mitre.org/techniques/%s", k->tech_id);
		for (char *p = buf + strlen("https://attack.mitre.org/techniques/"); *p; p++)
			if (*p == '.')
				*p = '/';
		BSON_APPEND_UTF8(&item, "url", buf);
		bson_append_array_begin(&item, "legacy_ids", -1, &legacy);
		bson_append_array_end(&item, &legacy);
		bson_append_document_end(&arr, &item);
	}
	bson_append_array_end(out, &arr);
	BSON_APPEND_INT32(out, "appliance_id", 1);
	BSON_APPEND_BOOL(out, "is_user_created", false);
	BSON_APPEND_BOOL(out, "recommended", id % 5 == 0);
	snprintf(buf, sizeof(buf), "https://extrahop.invalid/extrahop/#/detections/detail/%lld",
	    (long long)id);
	BSON_APPEND_UTF8(out, "url", buf);
}

/* Keys the store owns: these win over the stored document, in the document's order. */
static const char *const fx_store_live_keys[] = {
	"ticket_id", "status", "assignee", "resolution", "mod_time", "participants",
};

static void
fx_store_append_live(const fx_detection_t *d, size_t which, bson_t *out)
{
	switch (which) {
	case 0: fx_store_append_str(out, "ticket_id", d->ticket_id); break;
	case 1: fx_store_append_str(out, "status", d->status); break;
	case 2: fx_store_append_str(out, "assignee", d->assignee); break;
	case 3: fx_store_append_str(out, "resolution", d->resolution); break;
	case 4: BSON_APPEND_INT64(out, "mod_time", d->mod_time); break;
	case 5: fx_store_append_participants(d, out); break;
	}
}

void
fx_store_to_bson(const fx_detection_t *d, bson_t *out)
{
	const size_t nlive = sizeof(fx_store_live_keys) / sizeof(fx_store_live_keys[0]);
	bool done[sizeof(fx_store_live_keys) / sizeof(fx_store_live_keys[0])] = { false };
	bson_iter_t it;

	if (d->raw) {
		bson_concat(out, d->doc);
		return;
	}
	if (d->doc == NULL) {
		fx_store_synth_to_bson(d, out);
		return;
	}
	/* participants only counts as live once patched. */
	if (d->participants == NULL)
		done[5] = true;
	if (bson_iter_init(&it, d->doc)) {
		while (bson_iter_next(&it)) {
			const char *key = bson_iter_key(&it);
			size_t i;

			for (i = 0; i < nlive; i++)
				if (!done[i] && strcmp(key, fx_store_live_keys[i]) == 0)
					break;
			if (i < nlive) {
				fx_store_append_live(d, i, out);
				done[i] = true;
			} else {
				bson_append_iter(out, key, -1, &it);
			}
		}
	}
	for (size_t i = 0; i < nlive; i++)
		if (!done[i])
			fx_store_append_live(d, i, out);
}

bool
fx_store_has_category(const fx_detection_t *d, const char *cat)
{
	bson_iter_t it, child;

	if (d->doc == NULL) {
		const struct fx_synth_kind *k = fx_synth_kind(d->id);
		const char *top = strncmp(k->cat, "sec", 3) == 0 ? "sec" : "perf";
		return strcmp(cat, top) == 0 || strcmp(cat, k->cat) == 0;
	}
	if (!bson_iter_init_find(&it, d->doc, "categories") || !BSON_ITER_HOLDS_ARRAY(&it) ||
	    !bson_iter_recurse(&it, &child))
		return false;
	while (bson_iter_next(&child))
		if (BSON_ITER_HOLDS_UTF8(&child) && strcmp(bson_iter_utf8(&child, NULL), cat) == 0)
			return true;
	return false;
}

static bool
fx_patch_in(const char *v, const char *const *set)
{
	for (; *set != NULL; set++)
		if (strcmp(v, *set) == 0)
			return true;
	return false;
}

/* A string or null field; *out NULL means null. */
static int
fx_patch_str(bson_iter_t *it, const char *key, const char *const *allowed,
    const char **out, bson_error_t *error)
{
	if (BSON_ITER_HOLDS_NULL(it)) {
		*out = NULL;
		return 0;
	}
	if (!BSON_ITER_HOLDS_UTF8(it)) {
		bson_set_error(error, 5, 2, "%s must be a string or null", key);
		return -1;
	}
	*out = bson_iter_utf8(it, NULL);
	if (allowed != NULL && !fx_patch_in(*out, allowed)) {
		char list[160] = "";
		for (const char *const *a = allowed; *a != NULL; a++)
			snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s",
			    a == allowed ? "" : ", ", *a);
		bson_set_error(error, 5, 3, "invalid %s \"%.60s\" (expected one of %s, or null)",
		    key, *out, list);
		return -1;
	}
	return 0;
}

int
fx_patch_parse(const char *body, size_t len, bool require_ticket_id, fx_patch_t *p,
    bson_error_t *error)
{
	static const char *const statuses[] = { "new", "in_progress", "closed", "acknowledged",
		NULL };
	static const char *const resolutions[] = { "action_taken", "no_action_taken", NULL };
	bson_iter_t it, child;

	memset(p, 0, sizeof(*p));
	if (fc_json_parse_object(body, len, &p->body, error) != 0) {
		if (error->domain != FC_JSON_ERROR_DOMAIN) {
			char msg[sizeof(error->message)];
			bson_strncpy(msg, error->message, sizeof(msg));
			bson_set_error(error, 5, 1, "invalid JSON: %s", msg);
		}
		return -1;
	}
	if (!bson_iter_init(&it, &p->body)) {
		bson_set_error(error, 5, 1, "invalid JSON");
		return -1;
	}
	while (bson_iter_next(&it)) {
		const char *key = bson_iter_key(&it);

		if (strcmp(key, "ticket_id") == 0) {
			if (fx_patch_str(&it, key, NULL, &p->ticket_id, error))
				return -1;
			p->set |= FX_PATCH_TICKET_ID;
		} else if (strcmp(key, "status") == 0) {
			if (fx_patch_str(&it, key, statuses, &p->status, error))
				return -1;
			p->set |= FX_PATCH_STATUS;
		} else if (strcmp(key, "assignee") == 0) {
			if (fx_patch_str(&it, key, NULL, &p->assignee, error))
				return -1;
			p->set |= FX_PATCH_ASSIGNEE;
		} else if (strcmp(key, "resolution") == 0) {
			if (fx_patch_str(&it, key, resolutions, &p->resolution, error))
				return -1;
			p->set |= FX_PATCH_RESOLUTION;
		} else if (strcmp(key, "participants") == 0) {
			if (!BSON_ITER_HOLDS_ARRAY(&it) || !bson_iter_recurse(&it, &child)) {
				bson_set_error(error, 5, 4, "participants must be an array of objects");
				return -1;
			}
			while (bson_iter_next(&child)) {
				if (!BSON_ITER_HOLDS_DOCUMENT(&child)) {
					bson_set_error(error, 5, 4,
					    "participants must be an array of objects");
					return -1;
				}
			}
			p->participants = it;
			p->set |= FX_PATCH_PARTICIPANTS;
		} else {
			bson_set_error(error, 5, 5,
			    "unknown field \"%.80s\" (allowed: ticket_id, status, assignee, "
			    "resolution, participants)", key);
			return -1;
		}
	}
	if (p->set == 0) {
		bson_set_error(error, 5, 6, "request body has no fields to update");
		return -1;
	}
	if (require_ticket_id && !((p->set & FX_PATCH_TICKET_ID) && p->ticket_id != NULL)) {
		bson_set_error(error, 5, 7, "ticket_id is required");
		return -1;
	}
	return 0;
}

void
fx_patch_cleanup(fx_patch_t *p)
{
	bson_destroy(&p->body);
}

static int
fx_patch_set(char **field, const char *v)
{
	char *copy = NULL;

	if (v != NULL && (copy = strdup(v)) == NULL)
		return -1;
	free(*field);
	*field = copy;
	return 0;
}

int
fx_patch_apply(fx_store_t *s, fx_detection_t *d, const fx_patch_t *p, int64_t now_ms)
{
	if ((p->set & FX_PATCH_TICKET_ID) && fx_patch_set(&d->ticket_id, p->ticket_id))
		return -1;
	if ((p->set & FX_PATCH_STATUS) && fx_patch_set(&d->status, p->status))
		return -1;
	if ((p->set & FX_PATCH_ASSIGNEE) && fx_patch_set(&d->assignee, p->assignee))
		return -1;
	if ((p->set & FX_PATCH_RESOLUTION) && fx_patch_set(&d->resolution, p->resolution))
		return -1;
	if (p->set & FX_PATCH_PARTICIPANTS) {
		bson_t *b = bson_new();
		bson_append_iter(b, "participants", -1, &p->participants);
		if (d->participants != NULL)
			bson_destroy(d->participants);
		d->participants = b;
	}
	/* Incremental readers sort by mod_time: it must never step back. */
	if (now_ms < s->last_mod)
		now_ms = s->last_mod;
	s->last_mod = now_ms;
	d->mod_time = now_ms;
	return 0;
}

struct fx_patch_ticket_ctx {
	fx_store_t *s;
	const fx_patch_t *p;
	int64_t now_ms;
	size_t n;
};

static void
fx_patch_ticket_one(fx_detection_t *d, void *arg)
{
	struct fx_patch_ticket_ctx *c = arg;

	if (d->ticket_id != NULL && strcmp(d->ticket_id, c->p->ticket_id) == 0 &&
	    fx_patch_apply(c->s, d, c->p, c->now_ms) == 0)
		c->n++;
}

size_t
fx_patch_apply_by_ticket(fx_store_t *s, const fx_patch_t *p, int64_t now_ms)
{
	struct fx_patch_ticket_ctx c = { s, p, now_ms, 0 };

	if (p->ticket_id == NULL)
		return 0;
	fx_store_foreach(s, fx_patch_ticket_one, &c);
	return c.n;
}

int
fx_store_set_note(fx_detection_t *d, const char *note, int64_t now_ms)
{
	if (fx_patch_set(&d->note, note) != 0)
		return -1;
	d->note_time = note ? now_ms : 0;
	return 0;
}
