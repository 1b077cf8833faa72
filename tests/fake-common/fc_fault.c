/* fc_fault: ordered fault rules and their evaluation. */
#include "fc_fault.h"

#include "fc_json.h"

#include <stdlib.h>
#include <string.h>

struct fc_fault_rule {
	int64_t id;
	enum fc_fault_kind kind;
	int status;
	int retry_after;
	char error_message[160];
	int64_t latency_ms, latency_max_ms;
	int64_t count;      /* -1: unlimited */
	int64_t remaining;  /* -1: unlimited */
	double fraction;
	char method[16];    /* "" = any */
	char *path_prefix;  /* NULL = any */
	uint64_t matched, fired;
	struct fc_fault_rule *next;
};

struct fc_faults {
	struct fc_fault_rule *head, *tail;
	int64_t next_id;
	uint64_t rng;
	char name[64];
	bool commit_close;
};

fc_faults_t *
fc_faults_new(uint64_t seed, const char *name, bool commit_close)
{
	fc_faults_t *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return NULL;
	bson_strncpy(f->name, name ? name : "fake", sizeof(f->name));
	f->commit_close = commit_close;
	f->next_id = 1;
	f->rng = seed ? seed : 0x9e3779b97f4a7c15ULL;
	return f;
}

fc_faults_t *
fc_faults_new_like(const fc_faults_t *f)
{
	return fc_faults_new(1, f->name, f->commit_close);
}

static void
fc_faults_rule_free(struct fc_fault_rule *r)
{
	if (r == NULL)
		return;
	free(r->path_prefix);
	free(r);
}

void
fc_faults_clear(fc_faults_t *f)
{
	struct fc_fault_rule *r, *next;

	for (r = f->head; r != NULL; r = next) {
		next = r->next;
		fc_faults_rule_free(r);
	}
	f->head = f->tail = NULL;
}

void
fc_faults_destroy(fc_faults_t *f)
{
	if (f == NULL)
		return;
	fc_faults_clear(f);
	free(f);
}

/* xorshift64*: reproducible with --seed, good enough for coin flips. */
static uint64_t
fc_faults_rand(fc_faults_t *f)
{
	f->rng ^= f->rng >> 12;
	f->rng ^= f->rng << 25;
	f->rng ^= f->rng >> 27;
	return f->rng * 0x2545F4914F6CDD1DULL;
}

static double
fc_faults_uniform(fc_faults_t *f)
{
	return (double)(fc_faults_rand(f) >> 11) * (1.0 / 9007199254740992.0);
}

int
fc_faults_add(fc_faults_t *f, const bson_t *rule, int64_t *id, bson_error_t *error)
{
	struct fc_fault_rule *r = calloc(1, sizeof(*r));
	bson_iter_t it;
	bool have_status = false, have_latency = false, retry_null = false;
	int64_t v;
	double d;

	if (r == NULL) {
		bson_set_error(error, 3, 1, "out of memory");
		return -1;
	}
	r->count = r->remaining = -1;
	r->fraction = 1.0;
	r->retry_after = -2; /* not given */
	r->latency_max_ms = -1;
	if (!bson_iter_init(&it, rule))
		goto bad;
	while (bson_iter_next(&it)) {
		const char *k = bson_iter_key(&it);

		if (strcmp(k, "kind") == 0) {
			const char *s = BSON_ITER_HOLDS_UTF8(&it) ? bson_iter_utf8(&it, NULL) : "";
			if (strcmp(s, "latency") == 0)
				r->kind = FC_FAULT_LATENCY;
			else if (strcmp(s, "status") == 0)
				r->kind = FC_FAULT_STATUS;
			else if (strcmp(s, "close") == 0)
				r->kind = FC_FAULT_CLOSE;
			else if (strcmp(s, "commit_close") == 0 && f->commit_close)
				r->kind = FC_FAULT_COMMIT_CLOSE;
			else {
				bson_set_error(error, 3, 2, f->commit_close
				    ? "kind must be \"latency\", \"status\", \"close\" or "
				      "\"commit_close\""
				    : "kind must be \"latency\", \"status\" or \"close\"");
				goto fail;
			}
		} else if (strcmp(k, "status") == 0) {
			if (!fc_json_int64(&it, &v) || v < 400 || v > 599) {
				bson_set_error(error, 3, 3, "status must be an integer 400..599");
				goto fail;
			}
			r->status = (int)v;
			have_status = true;
		} else if (strcmp(k, "retry_after") == 0) {
			if (BSON_ITER_HOLDS_NULL(&it)) {
				retry_null = true;
				continue;
			}
			if (!fc_json_int64(&it, &v) || v < 0 || v > 86400) {
				bson_set_error(error, 3, 4, "retry_after must be 0..86400 seconds or null");
				goto fail;
			}
			r->retry_after = (int)v;
		} else if (strcmp(k, "error_message") == 0) {
			if (!BSON_ITER_HOLDS_UTF8(&it)) {
				bson_set_error(error, 3, 5, "error_message must be a string");
				goto fail;
			}
			bson_strncpy(r->error_message, bson_iter_utf8(&it, NULL),
			    sizeof(r->error_message));
		} else if (strcmp(k, "latency_ms") == 0 || strcmp(k, "latency_max_ms") == 0) {
			if (!fc_json_int64(&it, &v) || v < 0 || v > 3600000) {
				bson_set_error(error, 3, 6, "%s must be 0..3600000", k);
				goto fail;
			}
			if (strcmp(k, "latency_ms") == 0) {
				r->latency_ms = v;
				have_latency = true;
			} else {
				r->latency_max_ms = v;
			}
		} else if (strcmp(k, "count") == 0) {
			if (BSON_ITER_HOLDS_NULL(&it))
				continue;
			if (!fc_json_int64(&it, &v) || v < 1) {
				bson_set_error(error, 3, 7, "count must be a positive integer or null");
				goto fail;
			}
			r->count = r->remaining = v;
		} else if (strcmp(k, "fraction") == 0) {
			if (!fc_json_double(&it, &d) || d < 0.0 || d > 1.0) {
				bson_set_error(error, 3, 8, "fraction must be a number in [0, 1]");
				goto fail;
			}
			r->fraction = d;
		} else if (strcmp(k, "method") == 0) {
			if (!BSON_ITER_HOLDS_UTF8(&it) || bson_iter_utf8(&it, NULL)[0] == '\0' ||
			    strlen(bson_iter_utf8(&it, NULL)) >= sizeof(r->method)) {
				bson_set_error(error, 3, 9, "method must be an HTTP method name");
				goto fail;
			}
			bson_strncpy(r->method, bson_iter_utf8(&it, NULL), sizeof(r->method));
			for (char *p = r->method; *p; p++)
				if (*p >= 'a' && *p <= 'z')
					*p = (char)(*p - 'a' + 'A');
		} else if (strcmp(k, "path_prefix") == 0) {
			if (!BSON_ITER_HOLDS_UTF8(&it) || bson_iter_utf8(&it, NULL)[0] != '/') {
				bson_set_error(error, 3, 10, "path_prefix must be a string starting with /");
				goto fail;
			}
			free(r->path_prefix);
			r->path_prefix = strdup(bson_iter_utf8(&it, NULL));
			if (r->path_prefix == NULL) {
				bson_set_error(error, 3, 1, "out of memory");
				goto fail;
			}
		} else {
			bson_set_error(error, 3, 11, "unknown fault rule key \"%s\"", k);
			goto fail;
		}
	}
	switch (r->kind) {
	case FC_FAULT_NONE:
		bson_set_error(error, 3, 12, "a fault rule needs \"kind\"");
		goto fail;
	case FC_FAULT_LATENCY:
		if (!have_latency) {
			bson_set_error(error, 3, 13, "a latency rule needs latency_ms");
			goto fail;
		}
		if (r->latency_max_ms >= 0 && r->latency_max_ms < r->latency_ms) {
			bson_set_error(error, 3, 14, "latency_max_ms is below latency_ms");
			goto fail;
		}
		if (have_status || r->retry_after != -2) {
			bson_set_error(error, 3, 15, "status/retry_after belong to status rules");
			goto fail;
		}
		break;
	case FC_FAULT_STATUS:
		if (!have_status) {
			bson_set_error(error, 3, 16, "a status rule needs status");
			goto fail;
		}
		break;
	case FC_FAULT_CLOSE:
	case FC_FAULT_COMMIT_CLOSE:
		if (have_status || r->retry_after != -2) {
			bson_set_error(error, 3, 15, "status/retry_after belong to status rules");
			goto fail;
		}
		break;
	}
	if (r->kind != FC_FAULT_LATENCY && (have_latency || r->latency_max_ms >= 0)) {
		bson_set_error(error, 3, 17, "latency_ms belongs to latency rules (add one)");
		goto fail;
	}
	if (r->retry_after == -2)
		r->retry_after = (r->kind == FC_FAULT_STATUS && r->status == 429 && !retry_null)
		    ? 1 : -1;
	if (r->error_message[0] == '\0' && r->kind == FC_FAULT_STATUS)
		snprintf(r->error_message, sizeof(r->error_message),
		    "%s: injected status %d", f->name, r->status);
	r->id = f->next_id++;
	if (f->tail != NULL)
		f->tail->next = r;
	else
		f->head = r;
	f->tail = r;
	*id = r->id;
	return 0;
bad:
	bson_set_error(error, 3, 18, "malformed fault rule");
fail:
	fc_faults_rule_free(r);
	return -1;
}

bool
fc_faults_remove(fc_faults_t *f, int64_t id)
{
	struct fc_fault_rule *prev = NULL;

	for (struct fc_fault_rule *r = f->head; r != NULL; prev = r, r = r->next) {
		if (r->id != id)
			continue;
		if (prev != NULL)
			prev->next = r->next;
		else
			f->head = r->next;
		if (f->tail == r)
			f->tail = prev;
		fc_faults_rule_free(r);
		return true;
	}
	return false;
}

size_t
fc_faults_count(const fc_faults_t *f)
{
	size_t n = 0;

	for (const struct fc_fault_rule *r = f->head; r != NULL; r = r->next)
		n++;
	return n;
}

void
fc_faults_eval(fc_faults_t *f, const char *method, const char *path,
    fc_fault_outcome_t *out)
{
	memset(out, 0, sizeof(*out));
	out->retry_after = -1;
	for (struct fc_fault_rule *r = f->head; r != NULL; r = r->next) {
		if (r->remaining == 0)
			continue;
		if (r->method[0] != '\0' && strcmp(r->method, method) != 0)
			continue;
		if (r->path_prefix != NULL &&
		    strncmp(path, r->path_prefix, strlen(r->path_prefix)) != 0)
			continue;
		r->matched++;
		if (r->fraction < 1.0 && fc_faults_uniform(f) >= r->fraction)
			continue;
		if (r->remaining > 0)
			r->remaining--;
		r->fired++;
		if (r->kind == FC_FAULT_LATENCY) {
			int64_t span = r->latency_max_ms > r->latency_ms
			    ? r->latency_max_ms - r->latency_ms : 0;
			out->delay_ms += r->latency_ms +
			    (span > 0 ? (int64_t)(fc_faults_rand(f) % (uint64_t)(span + 1)) : 0);
			continue;
		}
		out->kind = r->kind;
		out->status = r->status;
		out->retry_after = r->retry_after;
		bson_strncpy(out->error_message, r->error_message, sizeof(out->error_message));
		out->rule_id = r->id;
		return;
	}
}

void
fc_faults_list(const fc_faults_t *f, bson_t *out)
{
	static const char *const kinds[] = { "none", "latency", "status", "close",
		"commit_close" };
	bson_t arr, item;
	uint32_t n = 0;
	char keybuf[16];
	const char *key;

	bson_append_array_begin(out, "faults", -1, &arr);
	for (const struct fc_fault_rule *r = f->head; r != NULL; r = r->next) {
		bson_uint32_to_string(n++, &key, keybuf, sizeof(keybuf));
		bson_append_document_begin(&arr, key, -1, &item);
		BSON_APPEND_INT64(&item, "id", r->id);
		BSON_APPEND_UTF8(&item, "kind", kinds[r->kind]);
		if (r->kind == FC_FAULT_STATUS) {
			BSON_APPEND_INT32(&item, "status", r->status);
			if (r->retry_after >= 0)
				BSON_APPEND_INT32(&item, "retry_after", r->retry_after);
			else
				BSON_APPEND_NULL(&item, "retry_after");
			BSON_APPEND_UTF8(&item, "error_message", r->error_message);
		}
		if (r->kind == FC_FAULT_LATENCY) {
			BSON_APPEND_INT64(&item, "latency_ms", r->latency_ms);
			BSON_APPEND_INT64(&item, "latency_max_ms",
			    r->latency_max_ms >= 0 ? r->latency_max_ms : r->latency_ms);
		}
		if (r->count >= 0) {
			BSON_APPEND_INT64(&item, "count", r->count);
			BSON_APPEND_INT64(&item, "remaining", r->remaining);
		} else {
			BSON_APPEND_NULL(&item, "count");
			BSON_APPEND_NULL(&item, "remaining");
		}
		BSON_APPEND_DOUBLE(&item, "fraction", r->fraction);
		if (r->method[0] != '\0')
			BSON_APPEND_UTF8(&item, "method", r->method);
		else
			BSON_APPEND_NULL(&item, "method");
		if (r->path_prefix != NULL)
			BSON_APPEND_UTF8(&item, "path_prefix", r->path_prefix);
		else
			BSON_APPEND_NULL(&item, "path_prefix");
		BSON_APPEND_INT64(&item, "matched", (int64_t)r->matched);
		BSON_APPEND_INT64(&item, "fired", (int64_t)r->fired);
		bson_append_document_end(&arr, &item);
	}
	bson_append_array_end(out, &arr);
}
