/* fc_control: the control endpoints every fake serves the same way (recorded requests,
 * fault rules), and the small helpers the rest of each fake's control API uses. */
#include "fc_control.h"

#include "fc_json.h"

#include <sys/queue.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
fc_control_reply(struct evbuffer *out, const bson_t *doc, int status)
{
	fc_json_add(out, doc);
	return status;
}

int
fc_control_bad(struct evbuffer *out, int status, const char *msg)
{
	fc_json_add_error(out, "%s", msg);
	return status;
}

int64_t
fc_control_query_int(const char *query, const char *key, int64_t dflt, bool *ok)
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

int
fc_control_requests(fc_record_t *rec, const char *method, const char *query,
    struct evbuffer *out)
{
	bson_t doc = BSON_INITIALIZER;
	bool ok = true;
	int64_t since = fc_control_query_int(query, "since", 0, &ok);
	int64_t limit = fc_control_query_int(query, "limit", 0, &ok);
	int status;

	if (strcmp(method, "GET") != 0)
		status = fc_control_bad(out, 405, "use GET (POST /_fake/reset clears)");
	else if (!ok)
		status = fc_control_bad(out, 400, "since and limit must be integers >= 0");
	else {
		fc_record_requests(rec, (uint64_t)since, (size_t)limit, &doc);
		status = fc_control_reply(out, &doc, 200);
	}
	bson_destroy(&doc);
	return status;
}

int
fc_control_faults(fc_faults_t *faults, const char *method, const char *rest, const char *body,
    size_t len, struct evbuffer *out)
{
	bson_t wrapper, doc = BSON_INITIALIZER, rules = BSON_INITIALIZER, ids;
	bson_error_t error;
	bson_iter_t it, child;
	int64_t id, first = 0;
	fc_faults_t *check = NULL;
	int status = 200;

	bson_init(&wrapper);
	if (rest[0] != '\0') {
		if (strcmp(method, "DELETE") != 0)
			status = fc_control_bad(out, 405, "use DELETE /_fake/faults/{id}");
		else if (fc_json_parse_id(rest, strlen(rest), &id) != 1 ||
		    !fc_faults_remove(faults, id))
			status = fc_control_bad(out, 404, "no such fault rule");
		else
			status = 204;
		goto cleanup;
	}
	if (strcmp(method, "GET") == 0) {
		fc_faults_list(faults, &doc);
		status = fc_control_reply(out, &doc, 200);
		goto cleanup;
	}
	if (strcmp(method, "DELETE") == 0) {
		fc_faults_clear(faults);
		status = 204;
		goto cleanup;
	}
	if (strcmp(method, "POST") != 0) {
		status = fc_control_bad(out, 405, "use GET, POST or DELETE");
		goto cleanup;
	}
	bson_destroy(&wrapper);
	if (fc_json_parse_value(body, len, &wrapper, &error) != 0 ||
	    !bson_iter_init_find(&it, &wrapper, "v")) {
		status = fc_control_bad(out, 400, error.message);
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
		status = fc_control_bad(out, 400, "expected a fault rule object or an array");
		goto cleanup;
	}
	check = fc_faults_new_like(faults);
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
				status = fc_control_bad(out, 400, "a fault rule must be an object");
				break;
			}
			bson_iter_document(&child, &dlen, &data);
			if (!bson_init_static(&rule, data, dlen) ||
			    fc_faults_add(pass == 0 ? check : faults, &rule, &id, &error)) {
				status = fc_control_bad(out, 400, error.message);
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
		fc_json_add(out, &doc);
	}
cleanup:
	fc_faults_destroy(check);
	bson_destroy(&wrapper);
	bson_destroy(&rules);
	bson_destroy(&doc);
	return status;
}

