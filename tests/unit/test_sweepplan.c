/* sweepplan: REST detection -> trigger document, paging by mod_time, drift decisions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ticketsync/sweepplan.h"

static bson_t *
json(const char *text)
{
	bson_error_t err;
	bson_t *b = bson_new_from_json((const uint8_t *)text, -1, &err);

	if (b == NULL)
		fail_msg("bad test JSON (%s): %s", err.message, text);
	return b;
}

static void
assert_bson_equal(const bson_t *got, const char *expected_json)
{
	bson_t *want = json(expected_json);

	if (!bson_equal(got, want)) {
		char *g = bson_as_canonical_extended_json(got, NULL);
		char *w = bson_as_canonical_extended_json(want, NULL);

		print_error("got:  %s\nwant: %s\n", g, w);
		bson_free(g);
		bson_free(w);
		bson_destroy(want);
		fail();
	}
	bson_destroy(want);
}

/* ---- 1. parse ---- */

static const char full_rest[] =
    "{\"id\": 4294967297, \"mod_time\": 1700000090000, \"create_time\": 1700000000000,"
    " \"title\": \"Spike in SMB file transfers\", \"description\": \"A **large** transfer.\","
    " \"type\": \"smb_transfer_spike\", \"categories\": [\"sec.attack\", \"sec.exfil\"],"
    " \"risk_score\": 83, \"start_time\": 1700000000000, \"end_time\": 1700000060000.0,"
    " \"update_time\": 1700000070000, \"ticket_id\": \"TK-16982\", \"status\": \"closed\","
    " \"assignee\": \"s\u00e4lly\", \"resolution\": \"action_taken\","
    " \"participants\": ["
    "  {\"role\": \"offender\", \"object_type\": \"device\", \"object_id\": 12, \"id\": 5,"
    "   \"external\": false, \"hostname\": \"not a REST participant key\"},"
    "  {\"object_type\": \"ipaddr\", \"object_value\": \"192.0.2.7\", \"id\": 6,"
    "   \"external\": true, \"username\": \"bob\", \"role\": \"victim\"}],"
    " \"is_user_created\": true,"
    " \"mitre_tactics\": [{\"id\": \"TA0010\", \"name\": \"Exfiltration\","
    "   \"url\": \"https://attack.mitre.org/tactics/TA0010/\", \"extra\": 1}],"
    " \"mitre_techniques\": [{\"url\": \"https://attack.mitre.org/techniques/T1048/\","
    "   \"id\": \"T1048\", \"legacy_ids\": [\"T1048.001\"]}],"
    " \"properties\": {\"bytes\": 123456789012, \"share\": \"\\\\\\\\fs\\\\data\","
    "   \"nested\": {\"a.b\": 1, \"$x\": [1, \"two\", null, true, 2.5]}},"
    " \"appliance_id\": 3, \"recommended\": true, \"url\": \"https://eh.example/d/1\"}";

static const char full_set[] =
    "{\"title\": \"Spike in SMB file transfers\", \"description\": \"A **large** transfer.\","
    " \"type\": \"smb_transfer_spike\", \"categories\": [\"sec.attack\", \"sec.exfil\"],"
    " \"risk_score\": 83, \"start_time\": 1700000000000, \"end_time\": 1700000060000,"
    " \"update_time\": 1700000070000, \"ticket_id\": \"TK-16982\", \"status\": \"closed\","
    " \"assignee\": \"s\u00e4lly\", \"resolution\": \"action_taken\","
    " \"participants\": ["
    "  {\"role\": \"offender\", \"object_type\": \"device\", \"object_id\": 12, \"id\": 5,"
    "   \"external\": false},"
    "  {\"role\": \"victim\", \"object_type\": \"ipaddr\", \"object_value\": \"192.0.2.7\","
    "   \"id\": 6, \"external\": true, \"username\": \"bob\"}],"
    " \"is_user_created\": true,"
    " \"mitre_tactics\": [{\"id\": \"TA0010\", \"name\": \"Exfiltration\","
    "   \"url\": \"https://attack.mitre.org/tactics/TA0010/\"}],"
    " \"mitre_techniques\": [{\"id\": \"T1048\", \"name\": null,"
    "   \"url\": \"https://attack.mitre.org/techniques/T1048/\", \"legacy_ids\": [\"T1048.001\"]}],"
    " \"properties\": {\"bytes\": 123456789012, \"share\": \"\\\\\\\\fs\\\\data\","
    "   \"nested\": {\"a_b\": 1, \"_x\": [1, \"two\", null, true, 2.5]}},"
    " \"appliance_id\": 3, \"written_by\": \"ticketsync-sweep\"}";

/* Nulls and absences: dropped where the trigger drops them, null or empty elsewhere. */
static const char minimal_rest[] =
    "{\"id\": 7.0, \"mod_time\": 5, \"update_time\": 6, \"title\": null, \"type\": null,"
    " \"start_time\": null, \"risk_score\": null, \"categories\": null, \"properties\": null,"
    " \"is_user_created\": null, \"participants\": [{\"role\": null, \"id\": null}]}";

static const char minimal_set[] =
    "{\"description\": null, \"categories\": [], \"risk_score\": null, \"end_time\": null,"
    " \"update_time\": {\"$numberLong\": \"6\"}, \"ticket_id\": null, \"status\": null,"
    " \"assignee\": null, \"resolution\": null, \"participants\": [{\"role\": null, \"id\": null}],"
    " \"is_user_created\": false, \"mitre_tactics\": [], \"mitre_techniques\": [],"
    " \"written_by\": \"ticketsync-sweep\"}";

static void
test_parse_ok(void **state)
{
	static const struct {
		const char *rest, *set;
		int64_t id, mod_time, update_time;
		const char *ticket_id, *assignee;
		enum fields_status status;
		enum fields_resolution resolution;
	} rows[] = {
		{ full_rest, full_set, 4294967297LL, 1700000090000LL, 1700000070000LL, "TK-16982",
		    "s\u00e4lly", FIELDS_STATUS_CLOSED, FIELDS_RESOLUTION_ACTION_TAKEN },
		{ minimal_rest, minimal_set, 7, 5, 6, NULL, NULL, FIELDS_STATUS_NULL,
		    FIELDS_RESOLUTION_NULL },
	};
	(void)state;

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		bson_t *rest = json(rows[i].rest);
		sweepplan_det_t d;
		bson_t set;
		bson_error_t err;
		fields_t want;

		if (sweepplan_parse(rest, &d, &set, &err) != 0)
			fail_msg("row %zu: %s", i, err.message);
		assert_int_equal(d.id, rows[i].id);
		assert_int_equal(d.mod_time, rows[i].mod_time);
		assert_int_equal(d.update_time, rows[i].update_time);
		fields_init(&want);
		assert_int_equal(fields_set_ticket_id(&want, rows[i].ticket_id), 0);
		assert_int_equal(fields_set_assignee(&want, rows[i].assignee), 0);
		want.status = rows[i].status;
		want.resolution = rows[i].resolution;
		assert_true(fields_equal(&d.fields, &want));
		assert_bson_equal(&set, rows[i].set);
		bson_destroy(&set);
		bson_destroy(rest);
	}
}

#define BASE "\"id\": 7, \"mod_time\": 5, \"update_time\": 6"

static void
test_parse_errors(void **state)
{
	static const struct {
		const char *rest;
		uint32_t code;
		const char *message;
		int64_t id, mod_time; /* as left in out */
	} rows[] = {
		{ "{\"mod_time\": 5, \"update_time\": 6}", SWEEPPLAN_ERR_ID,
		    "detection: field id is missing", 0, -1 },
		{ "{\"id\": null, \"mod_time\": 5}", SWEEPPLAN_ERR_ID, "detection: field id is missing", 0,
		    -1 },
		{ "{\"id\": \"7\", \"mod_time\": 5}", SWEEPPLAN_ERR_ID,
		    "detection: field id must be an integer from 1 to 2^53, got string", 0, -1 },
		{ "{\"id\": 0, \"mod_time\": 5}", SWEEPPLAN_ERR_ID,
		    "detection: field id must be an integer from 1 to 2^53, got 0", 0, -1 },
		{ "{\"id\": 7.5, \"mod_time\": 5}", SWEEPPLAN_ERR_ID,
		    "detection: field id must be an integer from 1 to 2^53, got 7.5", 0, -1 },
		{ "{\"id\": 7, \"update_time\": 6}", SWEEPPLAN_ERR_INVALID,
		    "detection 7: field mod_time is missing or null", 7, -1 },
		{ "{\"id\": 7, \"mod_time\": 1.5}", SWEEPPLAN_ERR_INVALID,
		    "detection 7: field mod_time (epoch ms) must be an integer from 0 to 2^53, got 1.5", 7,
		    -1 },
		{ "{\"id\": 7, \"mod_time\": 5}", SWEEPPLAN_ERR_INVALID,
		    "detection 7: field update_time is missing or null", 7, 5 },
		{ "{\"id\": 7, \"mod_time\": 5, \"update_time\": \"6\"}", SWEEPPLAN_ERR_INVALID,
		    "detection 7: field update_time (epoch ms) must be an integer from 0 to 2^53, got string",
		    7, 5 },
		{ "{" BASE ", \"start_time\": 1.25}", SWEEPPLAN_ERR_INVALID,
		    "detection 7: field start_time (epoch ms) must be an integer from 0 to 2^53, got 1.25",
		    7, 5 },
		{ "{" BASE ", \"title\": 12}", SWEEPPLAN_ERR_INVALID,
		    "detection 7: field title must be a string or null, got int32", 7, 5 },
		{ "{" BASE ", \"description\": [\"x\"]}", SWEEPPLAN_ERR_INVALID,
		    "detection 7: field description must be a string or null, got array", 7, 5 },
		{ "{" BASE ", \"risk_score\": \"83\"}", SWEEPPLAN_ERR_INVALID,
		    "detection 7: field risk_score must be a number or null, got string", 7, 5 },
		{ "{" BASE ", \"categories\": \"sec.attack\"}", SWEEPPLAN_ERR_INVALID,
		    "detection 7: field categories must be an array or null, got string", 7, 5 },
		{ "{" BASE ", \"categories\": [\"sec\", 3]}", SWEEPPLAN_ERR_INVALID,
		    "detection 7: field categories[1] must be a string, got int32", 7, 5 },
		{ "{" BASE ", \"status\": \"reopened\"}", SWEEPPLAN_ERR_INVALID,
		    "detection 7: field status must be new, in_progress, closed, acknowledged or null, "
		    "got \"reopened\"", 7, 5 },
		{ "{" BASE ", \"resolution\": \"fixed\"}", SWEEPPLAN_ERR_INVALID,
		    "detection 7: field resolution must be action_taken, no_action_taken or null, got "
		    "\"fixed\"", 7, 5 },
		{ "{" BASE ", \"assignee\": 5}", SWEEPPLAN_ERR_INVALID,
		    "detection 7: field assignee must be a string or null, got int32", 7, 5 },
		{ "{" BASE ", \"ticket_id\": true}", SWEEPPLAN_ERR_INVALID,
		    "detection 7: field ticket_id must be a string or null, got bool", 7, 5 },
		{ "{" BASE ", \"participants\": [\"10.0.0.1\"]}", SWEEPPLAN_ERR_INVALID,
		    "detection 7: field participants[0] must be an object, got string", 7, 5 },
		{ "{" BASE ", \"participants\": [{\"role\": \"victim\"}, {\"id\": \"5\"}]}",
		    SWEEPPLAN_ERR_INVALID,
		    "detection 7: field participants[1].id must be a number or null, got string", 7, 5 },
		{ "{" BASE ", \"participants\": [{\"external\": \"yes\"}]}", SWEEPPLAN_ERR_INVALID,
		    "detection 7: field participants[0].external must be a boolean or null, got string", 7,
		    5 },
		{ "{" BASE ", \"participants\": [{\"role\": 1}]}", SWEEPPLAN_ERR_INVALID,
		    "detection 7: field participants[0].role must be a string or null, got int32", 7, 5 },
		{ "{" BASE ", \"is_user_created\": \"true\"}", SWEEPPLAN_ERR_INVALID,
		    "detection 7: field is_user_created must be a boolean or null, got string", 7, 5 },
		{ "{" BASE ", \"mitre_techniques\": [{\"id\": \"T1\", \"legacy_ids\": [1]}]}",
		    SWEEPPLAN_ERR_INVALID,
		    "detection 7: field mitre_techniques[0].legacy_ids[0] must be a string, got int32", 7,
		    5 },
		{ "{" BASE ", \"mitre_tactics\": {\"id\": \"TA1\"}}", SWEEPPLAN_ERR_INVALID,
		    "detection 7: field mitre_tactics must be an array or null, got object", 7, 5 },
		{ "{" BASE ", \"properties\": {\"when\": {\"$date\": 0}}}", SWEEPPLAN_ERR_INVALID,
		    "detection 7: field properties.when must be a JSON value, got date", 7, 5 },
		/* detection_parse's bounds: what a repair writes must load. */
		{ "{" BASE ", \"type\": \"" "0123456789012345678901234567890123456789012345678901234567890123"
		  "0123456789012345678901234567890123456789012345678901234567890123"
		  "0123456789012345678901234567890123456789012345678901234567890123"
		  "0123456789012345678901234567890123456789012345678901234567890123" "x\"}",
		    SWEEPPLAN_ERR_INVALID, "detection 7: type is longer than 256 bytes (257)", 7, 5 },
	};
	(void)state;

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		bson_t *rest = json(rows[i].rest);
		sweepplan_det_t d;
		bson_t set;
		bson_error_t err;

		assert_int_equal(sweepplan_parse(rest, &d, &set, &err), -1);
		if (strcmp(err.message, rows[i].message) != 0)
			fail_msg("row %zu: got \"%s\", want \"%s\"", i, err.message, rows[i].message);
		assert_int_equal(err.domain, ERROR_DOMAIN);
		assert_int_equal(err.code, rows[i].code);
		assert_int_equal(d.id, rows[i].id);
		assert_int_equal(d.mod_time, rows[i].mod_time);
		assert_true(bson_empty(&set));
		bson_destroy(&set);
		bson_destroy(rest);
	}
}

/* Huge and broken text, built with the BSON API (JSON cannot carry bad UTF-8). */
static void
test_parse_size_and_utf8(void **state)
{
	enum { BIG, TOO_BIG_TICKET, DOC, BAD_UTF8, BAD_UTF8_DEEP, NUL, DEEP, N_CASES };
	static const char *const want[] = {
		[BIG] = "detection 7: field description is 65537 bytes (limit 65536 bytes)",
		[TOO_BIG_TICKET] = "detection 7: field ticket_id is 129 bytes (limit 128 bytes)",
		[DOC] = "detection 7: document is ",
		[BAD_UTF8] = "detection 7: field title is not valid UTF-8 (or holds a NUL byte)",
		[BAD_UTF8_DEEP] = "detection 7: field properties.a[1] is not valid UTF-8 (or holds a NUL "
		                  "byte)",
		[NUL] = "detection 7: field assignee is not valid UTF-8 (or holds a NUL byte)",
		[DEEP] = "detection 7: field properties",
	};
	static const uint32_t codes[] = {
		[BIG] = SWEEPPLAN_ERR_TOO_LARGE, [TOO_BIG_TICKET] = SWEEPPLAN_ERR_INVALID,
		[DOC] = SWEEPPLAN_ERR_TOO_LARGE, [BAD_UTF8] = SWEEPPLAN_ERR_INVALID,
		[BAD_UTF8_DEEP] = SWEEPPLAN_ERR_INVALID, [NUL] = SWEEPPLAN_ERR_INVALID,
		[DEEP] = SWEEPPLAN_ERR_TOO_LARGE,
	};
	char *big = malloc(70000);
	(void)state;

	for (int k = 0; k < N_CASES; k++) {
		bson_t rest = BSON_INITIALIZER, set, arr, sub[40];
		sweepplan_det_t d;
		bson_error_t err;

		BSON_APPEND_INT32(&rest, "id", 7);
		BSON_APPEND_INT64(&rest, "mod_time", 5);
		BSON_APPEND_INT64(&rest, "update_time", 6);
		switch (k) {
		case BIG:
			memset(big, 'a', 65537);
			bson_append_utf8(&rest, "description", -1, big, 65537);
			break;
		case TOO_BIG_TICKET:
			memset(big, 'T', 129);
			bson_append_utf8(&rest, "ticket_id", -1, big, 129);
			break;
		case DOC:
			/* Every string within bounds, the whole over 1 MiB. */
			memset(big, 'p', 60000);
			BSON_APPEND_DOCUMENT_BEGIN(&rest, "properties", &sub[0]);
			for (int i = 0; i < 20; i++) {
				char key[8];

				snprintf(key, sizeof(key), "k%d", i);
				bson_append_utf8(&sub[0], key, -1, big, 60000);
			}
			bson_append_document_end(&rest, &sub[0]);
			break;
		case BAD_UTF8:
			bson_append_utf8(&rest, "title", -1, "caf\xc3", 4);
			break;
		case BAD_UTF8_DEEP:
			BSON_APPEND_DOCUMENT_BEGIN(&rest, "properties", &sub[0]);
			BSON_APPEND_ARRAY_BEGIN(&sub[0], "a", &arr);
			BSON_APPEND_UTF8(&arr, "0", "ok");
			bson_append_utf8(&arr, "1", -1, "\xff\xfe", 2);
			bson_append_array_end(&sub[0], &arr);
			bson_append_document_end(&rest, &sub[0]);
			break;
		case NUL:
			bson_append_utf8(&rest, "assignee", -1, "bob\0evil", 8);
			break;
		case DEEP:
			BSON_APPEND_DOCUMENT_BEGIN(&rest, "properties", &sub[0]);
			for (int i = 1; i < 40; i++)
				BSON_APPEND_DOCUMENT_BEGIN(&sub[i - 1], "x", &sub[i]);
			for (int i = 39; i >= 1; i--)
				bson_append_document_end(&sub[i - 1], &sub[i]);
			bson_append_document_end(&rest, &sub[0]);
			break;
		}
		assert_int_equal(sweepplan_parse(&rest, &d, &set, &err), -1);
		if (strncmp(err.message, want[k], strlen(want[k])) != 0)
			fail_msg("case %d: got \"%s\", want \"%s...\"", k, err.message, want[k]);
		assert_int_equal(err.code, codes[k]);
		if (k == DOC)
			assert_non_null(strstr(err.message, "bytes (limit 1048576 bytes)"));
		if (k == DEEP)
			assert_non_null(strstr(err.message, "is nested deeper than 32 levels"));
		assert_int_equal(d.id, 7);
		assert_int_equal(d.mod_time, 5);
		assert_true(bson_empty(&set));
		bson_destroy(&set);
		bson_destroy(&rest);
	}
	free(big);
}

/* ---- 2. paging against a fake listing (ExtraHop's rules: mod_time >= floor, sorted by
 * mod_time then id, offset, limit) ---- */

struct item {
	int64_t id, mod;
};

#define MAX_ITEMS 64
#define MAX_QUERIES 32

struct listing {
	struct item items[MAX_ITEMS];
	size_t n;
};

static int
item_cmp(const void *a, const void *b)
{
	const struct item *x = a, *y = b;

	if (x->mod != y->mod)
		return x->mod < y->mod ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

static size_t
listing_query(struct listing *l, int64_t floor, int64_t offset, int64_t limit, struct item *out)
{
	size_t n = 0;
	int64_t skipped = 0;

	qsort(l->items, l->n, sizeof(l->items[0]), item_cmp);
	for (size_t i = 0; i < l->n && (int64_t)n < limit; i++) {
		if (l->items[i].mod < floor)
			continue;
		if (skipped++ < offset)
			continue;
		out[n++] = l->items[i];
	}
	return n;
}

/* Between pages: after query q (0-based) has been processed, mutate the listing. */
struct mutation {
	int after_query;
	int64_t id, new_mod;
};

struct sweep_case {
	const char *name;
	struct item items[MAX_ITEMS];
	int64_t cursor, overlap;
	int32_t limit;
	struct mutation mutation; /* after_query 0 with id 0: none */
	int64_t queries[MAX_QUERIES][2]; /* expected (floor, offset), ends with {-1, -1} */
	int64_t handed[MAX_ITEMS];       /* expected ids handed out, in order; ends with 0 */
	int64_t new_cursor;
};

static void
run_sweep(const struct sweep_case *c)
{
	struct listing l = { .n = 0 };
	sweepplan_page_t p;
	sweepplan_cursor_t cur = { c->cursor }, next = { -1 };
	bson_error_t err;
	int64_t handed[MAX_ITEMS * 4];
	size_t nh = 0;
	int q = 0;

	while (c->items[l.n].id != 0)
		l.items[l.n] = c->items[l.n], l.n++;
	assert_int_equal(sweepplan_page_init(&p, &cur, c->overlap, c->limit, &err), 0);
	for (;;) {
		char *body = sweepplan_query_json(&p, NULL);
		bson_t *b;
		bson_iter_t it;
		int64_t floor, offset, limit;
		struct item page[MAX_ITEMS];
		size_t n;

		assert_non_null(body);
		b = json(body);
		/* Read the query back from its JSON: plain integers, as ExtraHop takes them. */
		assert_true(bson_iter_init_find(&it, b, "mod_time") &&
		    (BSON_ITER_HOLDS_INT32(&it) || BSON_ITER_HOLDS_INT64(&it)));
		floor = bson_iter_as_int64(&it);
		assert_true(bson_iter_init_find(&it, b, "offset"));
		offset = bson_iter_as_int64(&it);
		assert_true(bson_iter_init_find(&it, b, "limit"));
		limit = bson_iter_as_int64(&it);
		assert_int_equal(limit, c->limit);
		bson_destroy(b);
		bson_free(body);

		if (q >= MAX_QUERIES || c->queries[q][0] == -1)
			fail_msg("%s: unexpected query %d (%lld, %lld)", c->name, q, (long long)floor,
			    (long long)offset);
		if (floor != c->queries[q][0] || offset != c->queries[q][1])
			fail_msg("%s: query %d is (%lld, %lld), want (%lld, %lld)", c->name, q,
			    (long long)floor, (long long)offset, (long long)c->queries[q][0],
			    (long long)c->queries[q][1]);
		n = listing_query(&l, floor, offset, limit, page);
		for (size_t i = 0; i < n; i++)
			if (!sweepplan_seen(&p, page[i].id, page[i].mod))
				handed[nh++] = page[i].id;
		if (c->mutation.id != 0 && c->mutation.after_query == q) {
			for (size_t i = 0; i < l.n; i++)
				if (l.items[i].id == c->mutation.id)
					l.items[i].mod = c->mutation.new_mod;
		}
		q++;
		if (sweepplan_page_done(&p, &next))
			break;
	}
	if (c->queries[q][0] != -1)
		fail_msg("%s: %d queries, more expected", c->name, q);
	assert_null(sweepplan_query_json(&p, NULL));
	for (size_t i = 0; i < nh || c->handed[i] != 0; i++) {
		if (i >= nh || handed[i] != c->handed[i])
			fail_msg("%s: handed out #%zu is %lld, want %lld", c->name, i,
			    i < nh ? (long long)handed[i] : 0LL, (long long)c->handed[i]);
	}
	assert_int_equal(next.mod_time, c->new_cursor);
	assert_false(p.gaps_possible);
	sweepplan_page_clear(&p);
}

static const struct sweep_case sweep_cases[] = {
	{ "normal paging",
	    { { 1, 100 }, { 2, 101 }, { 3, 102 }, { 4, 103 }, { 5, 104 }, { 6, 105 }, { 7, 106 },
	        { 8, 107 }, { 9, 108 }, { 10, 109 } },
	    0, 0, 4, { 0, 0, 0 },
	    /* The last result of a full page comes back first in the next (the floor keeps
	     * its mod_time): skipped as seen. */
	    { { 0, 0 }, { 103, 0 }, { 106, 0 }, { 109, 0 }, { -1, -1 } },
	    { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 0 }, 109 },
	{ "a tie of 2.5 pages",
	    { { 1, 50 }, { 10, 60 }, { 11, 60 }, { 12, 60 }, { 13, 60 }, { 14, 60 }, { 15, 60 },
	        { 16, 60 }, { 17, 60 }, { 18, 60 }, { 19, 60 }, { 30, 70 }, { 99, 10 } },
	    40, 0, 4, { 0, 0, 0 },
	    /* Continued inside the tie: offset = read at 60 so far, less the anchor. */
	    { { 40, 0 }, { 60, 2 }, { 60, 5 }, { 60, 8 }, { -1, -1 } },
	    { 1, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 30, 0 }, 70 },
	{ "empty first page",
	    { { 1, 100 }, { 2, 200 } },
	    500, 0, 4, { 0, 0, 0 },
	    { { 500, 0 }, { -1, -1 } },
	    { 0 }, 500 },
	{ "empty listing from zero",
	    { { 0, 0 } },
	    0, 0, 1000, { 0, 0, 0 },
	    { { 0, 0 }, { -1, -1 } },
	    { 0 }, 0 },
	{ "overlap start",
	    { { 1, 650 }, { 2, 800 }, { 3, 1000 } },
	    1000, 300, 4, { 0, 0, 0 },
	    /* 800 and 1000 were read by the last sweep too: read again, the window's point. */
	    { { 700, 0 }, { -1, -1 } },
	    { 2, 3, 0 }, 1000 },
	{ "overlap larger than the cursor",
	    { { 1, 50 }, { 2, 150 } },
	    100, 300, 4, { 0, 0, 0 },
	    { { 0, 0 }, { -1, -1 } },
	    { 1, 2, 0 }, 150 },
	{ "a page ending exactly at the end",
	    { { 1, 10 }, { 2, 11 }, { 3, 12 }, { 4, 12 } },
	    0, 0, 4, { 0, 0, 0 },
	    { { 0, 0 }, { 12, 1 }, { -1, -1 } },
	    { 1, 2, 3, 4, 0 }, 12 },
	{ "a detection read at the tie leaves it between pages",
	    { { 10, 60 }, { 11, 60 }, { 12, 60 }, { 13, 60 }, { 14, 60 }, { 15, 60 }, { 16, 60 },
	        { 17, 60 }, { 18, 60 }, { 19, 60 } },
	    60, 0, 4, { 0, 11, 200 },
	    /* Offset 3 now skips 10, 12, 13: the anchor (13) is not first, so the tie is read
	     * again from 0 (a plain offset of 4 would have skipped 14 for good). 11 comes back
	     * at its new mod_time: a newer version, handed out again. */
	    { { 60, 0 }, { 60, 3 }, { 60, 0 }, { 60, 3 }, { 60, 6 }, { 200, 0 }, { -1, -1 } },
	    { 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 11, 0 }, 200 },
};

static void
test_paging(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(sweep_cases) / sizeof(sweep_cases[0]); i++)
		run_sweep(&sweep_cases[i]);
}

static void
test_query_json(void **state)
{
	sweepplan_page_t p;
	sweepplan_cursor_t cur = { 1700000000000LL };
	bson_error_t err;
	size_t len;
	char *body;
	(void)state;

	assert_int_equal(sweepplan_page_init(&p, &cur, 60000, 1000, &err), 0);
	body = sweepplan_query_json(&p, &len);
	assert_string_equal(body,
	    "{ \"mod_time\" : 1699999940000, \"sort\" : [ { \"field\" : \"mod_time\", "
	    "\"direction\" : \"asc\" }, { \"field\" : \"id\", \"direction\" : \"asc\" } ], "
	    "\"limit\" : 1000, \"offset\" : 0 }");
	assert_int_equal(len, strlen(body));
	bson_free(body);
	sweepplan_page_clear(&p);
}

static void
test_page_init_errors(void **state)
{
	static const struct {
		int64_t cursor, overlap;
		int32_t limit;
		const char *message;
	} rows[] = {
		{ 0, 0, 1, "sweep: limit must be from 2 to 20000, got 1" },
		{ 0, 0, 20001, "sweep: limit must be from 2 to 20000, got 20001" },
		{ 0, -1, 100, "sweep: cursor and overlap must be >= 0" },
		{ -5, 0, 100, "sweep: cursor and overlap must be >= 0" },
	};
	(void)state;

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		sweepplan_page_t p;
		sweepplan_cursor_t cur = { rows[i].cursor };
		bson_error_t err;

		assert_int_equal(sweepplan_page_init(&p, &cur, rows[i].overlap, rows[i].limit, &err), -1);
		assert_string_equal(err.message, rows[i].message);
		assert_int_equal(err.code, SWEEPPLAN_ERR_ARG);
		assert_null(sweepplan_query_json(&p, NULL));
		sweepplan_page_clear(&p);
	}
}

/* An anchor that keeps vanishing cannot stall a sweep: restarts are bounded. */
static void
test_restarts_bounded(void **state)
{
	sweepplan_page_t p;
	sweepplan_cursor_t cur = { 0 }, next;
	bson_error_t err;
	int pages = 0;
	(void)state;

	assert_int_equal(sweepplan_page_init(&p, &cur, 0, 2, &err), 0);
	/* Page 1: two at 10. Every later page: two fresh ids at 10, never the anchor. */
	for (int64_t id = 1;; id += 2) {
		assert_false(sweepplan_seen(&p, id, 10));
		assert_false(sweepplan_seen(&p, id + 1, 10));
		pages++;
		if (sweepplan_page_done(&p, &next) || pages > 100)
			break;
		if (p.gaps_possible)
			break;
	}
	assert_true(p.gaps_possible);
	assert_int_equal(p.restarts, SWEEPPLAN_RESTARTS_MAX);
	sweepplan_page_clear(&p);
}

/* A record the parser refused still takes its place; unknown ids are never skipped. */
static void
test_seen_unknown(void **state)
{
	sweepplan_page_t p;
	sweepplan_cursor_t cur = { 0 }, next;
	bson_error_t err;
	(void)state;

	assert_int_equal(sweepplan_page_init(&p, &cur, 0, 3, &err), 0);
	assert_false(sweepplan_seen(&p, 1, 10));
	assert_false(sweepplan_seen(&p, 0, -1)); /* counted at 10 */
	assert_false(sweepplan_seen(&p, 3, 10));
	assert_false(sweepplan_page_done(&p, &next));
	assert_int_equal(p.floor, 10);
	assert_int_equal(p.offset, 2);
	/* Next page: the anchor (3) first, then the rest. */
	assert_true(sweepplan_seen(&p, 3, 10));
	assert_false(sweepplan_seen(&p, 4, 11));
	assert_true(sweepplan_page_done(&p, &next));
	assert_int_equal(next.mod_time, 11);
	assert_int_equal(p.duplicates, 1);
	sweepplan_page_clear(&p);
}

/* ---- 3. decide ---- */

struct f4 {
	const char *ticket_id, *status, *assignee, *resolution;
};

static fields_t
mkf(struct f4 v)
{
	fields_t f;

	fields_init(&f);
	assert_int_equal(fields_set_ticket_id(&f, v.ticket_id), 0);
	assert_int_equal(fields_set_assignee(&f, v.assignee), 0);
	if (v.status != NULL)
		assert_int_equal(fields_status_parse(v.status, &f.status), 0);
	if (v.resolution != NULL)
		assert_int_equal(fields_resolution_parse(v.resolution, &f.resolution), 0);
	return f;
}

#define F_NEW { "TK-1", "new", "sally", NULL }
#define F_CLOSED { "TK-1", "closed", "sally", "action_taken" }
#define F_UI { "TK-1", "in_progress", "mallory", NULL }
#define F_NONE { NULL, NULL, NULL, NULL }

static void
test_decide(void **state)
{
	static const struct {
		const char *name;
		struct f4 e;
		int64_t e_update;
		bool mongo;
		int64_t mongo_update;
		struct f4 mongo_f;
		bool st;
		enum pushplan_state state;
		bool has_pushed;
		struct f4 p, d;
		int64_t updated_at;
		bool ticket;
		enum sweepplan_policy policy;
		/* expected */
		bool repair;
		const char *repair_reason;
		enum sweepplan_drift drift;
		unsigned mask;
		const char *reason;
	} rows[] = {
		{ "missing in MongoDB", F_NONE, 100, false, 0, F_NONE, false, 0, false, F_NONE, F_NONE,
		    0, false, SWEEPPLAN_POLICY_REASSERT,
		    true, "missing in MongoDB", SWEEPPLAN_DRIFT_NONE, 0,
		    "no state and no MongoDB copy to compare with" },
		{ "MongoDB older", F_NONE, 100, true, 99, F_NONE, false, 0, false, F_NONE, F_NONE, 0,
		    false, SWEEPPLAN_POLICY_REPORT,
		    true, "MongoDB's copy is older (update_time)", SWEEPPLAN_DRIFT_NONE, 0,
		    "no state; ExtraHop shows what MongoDB has" },
		{ "MongoDB as new", F_NONE, 100, true, 100, F_NONE, false, 0, false, F_NONE, F_NONE, 0,
		    false, SWEEPPLAN_POLICY_REPORT,
		    false, NULL, SWEEPPLAN_DRIFT_NONE, 0, "no state; ExtraHop shows what MongoDB has" },
		{ "MongoDB newer (the page is older than the trigger's write)", F_NONE, 100, true, 101,
		    F_NONE, false, 0, false, F_NONE, F_NONE, 0, false, SWEEPPLAN_POLICY_REPORT,
		    false, NULL, SWEEPPLAN_DRIFT_NONE, 0, "no state; ExtraHop shows what MongoDB has" },
		{ "no ticket, edited in the UI", F_UI, 100, true, 100, F_NONE, false, 0, false, F_NONE,
		    F_NONE, 0, false, SWEEPPLAN_POLICY_REASSERT,
		    false, NULL, SWEEPPLAN_DRIFT_REPORT, FIELDS_ALL & ~FIELDS_RESOLUTION,
		    "ticket_id,status,assignee changed in ExtraHop: a detection without any ticket is "
		    "only reported" },
		{ "ticket, no state, edited in the UI", F_UI, 100, true, 100, F_NEW, false, 0, false,
		    F_NONE, F_NONE, 0, true, SWEEPPLAN_POLICY_REASSERT,
		    false, NULL, SWEEPPLAN_DRIFT_REPORT, FIELDS_STATUS | FIELDS_ASSIGNEE,
		    "status,assignee changed in ExtraHop and nothing was pushed yet: reported (the "
		    "reconciler owns the desired value)" },
		{ "pending", F_UI, 100, true, 100, F_NEW, true, PUSHPLAN_STATE_PENDING, true, F_NEW,
		    F_CLOSED, 10, true, SWEEPPLAN_POLICY_REASSERT,
		    false, NULL, SWEEPPLAN_DRIFT_NONE, 0,
		    "pending: a push is due or on the wire, the difference may be its echo" },
		{ "in flight: the page shows the PATCH on the wire (echo)", F_CLOSED, 100, true, 100,
		    F_NEW, true, PUSHPLAN_STATE_IN_FLIGHT, true, F_NEW, F_CLOSED, 10, true,
		    SWEEPPLAN_POLICY_REASSERT,
		    false, NULL, SWEEPPLAN_DRIFT_NONE, 0,
		    "in_flight: a push is due or on the wire, the difference may be its echo" },
		{ "in flight: the page predates the PATCH", F_NEW, 100, true, 100, F_NEW, true,
		    PUSHPLAN_STATE_IN_FLIGHT, true, F_NEW, F_CLOSED, 10, true, SWEEPPLAN_POLICY_REASSERT,
		    false, NULL, SWEEPPLAN_DRIFT_NONE, 0,
		    "in_flight: a push is due or on the wire, the difference may be its echo" },
		{ "parked", F_UI, 100, true, 100, F_NEW, true, PUSHPLAN_STATE_PARKED, true, F_NEW,
		    F_CLOSED, 10, true, SWEEPPLAN_POLICY_REASSERT,
		    false, NULL, SWEEPPLAN_DRIFT_NONE, 0, "parked: waiting for an operator" },
		{ "synced just after the fetch: the page shows the old value (echo)", F_NEW, 100, true,
		    100, F_NEW, true, PUSHPLAN_STATE_SYNCED, true, F_CLOSED, F_CLOSED, 1000, true,
		    SWEEPPLAN_POLICY_REASSERT,
		    false, NULL, SWEEPPLAN_DRIFT_NONE, 0,
		    "the state moved after the page was read (our own push)" },
		{ "synced at the very ms of the fetch", F_NEW, 100, true, 100, F_NEW, true,
		    PUSHPLAN_STATE_SYNCED, true, F_CLOSED, F_CLOSED, 999, true,
		    SWEEPPLAN_POLICY_REASSERT,
		    false, NULL, SWEEPPLAN_DRIFT_NONE, 0,
		    "the state moved after the page was read (our own push)" },
		{ "synced, ExtraHop shows the push", F_CLOSED, 100, true, 100, F_NEW, true,
		    PUSHPLAN_STATE_SYNCED, true, F_CLOSED, F_CLOSED, 10, true, SWEEPPLAN_POLICY_REASSERT,
		    false, NULL, SWEEPPLAN_DRIFT_NONE, 0, "ExtraHop shows what ticketsync pushed" },
		{ "synced, ExtraHop shows desired (not the last push)", F_CLOSED, 100, true, 100, F_NEW,
		    true, PUSHPLAN_STATE_SYNCED, true, F_NEW, F_CLOSED, 10, true,
		    SWEEPPLAN_POLICY_REASSERT,
		    false, NULL, SWEEPPLAN_DRIFT_NONE, 0, "ExtraHop shows what ticketsync pushed" },
		{ "synced, edited in the UI, reassert", F_UI, 100, true, 100, F_NEW, true,
		    PUSHPLAN_STATE_SYNCED, true, F_CLOSED, F_CLOSED, 10, true, SWEEPPLAN_POLICY_REASSERT,
		    false, NULL, SWEEPPLAN_DRIFT_REASSERT,
		    FIELDS_STATUS | FIELDS_ASSIGNEE | FIELDS_RESOLUTION,
		    "status,assignee,resolution changed in ExtraHop since the last push: reasserted" },
		{ "synced, edited in the UI, report policy", F_UI, 100, true, 100, F_NEW, true,
		    PUSHPLAN_STATE_SYNCED, true, F_CLOSED, F_CLOSED, 10, true, SWEEPPLAN_POLICY_REPORT,
		    false, NULL, SWEEPPLAN_DRIFT_REPORT,
		    FIELDS_STATUS | FIELDS_ASSIGNEE | FIELDS_RESOLUTION,
		    "status,assignee,resolution changed in ExtraHop since the last push: reported" },
		{ "synced, edited in the UI, ticket gone", F_UI, 100, true, 100, F_NEW, true,
		    PUSHPLAN_STATE_SYNCED, true, F_CLOSED, F_CLOSED, 10, false,
		    SWEEPPLAN_POLICY_REASSERT,
		    false, NULL, SWEEPPLAN_DRIFT_REPORT,
		    FIELDS_STATUS | FIELDS_ASSIGNEE | FIELDS_RESOLUTION,
		    "status,assignee,resolution changed in ExtraHop since the last push: reported (no "
		    "ticket names the detection)" },
		{ "synced without a push (desired was shown), edited", F_UI, 100, true, 100, F_NEW, true,
		    PUSHPLAN_STATE_SYNCED, false, F_NONE, F_NEW, 10, true, SWEEPPLAN_POLICY_REASSERT,
		    false, NULL, SWEEPPLAN_DRIFT_REASSERT, FIELDS_STATUS | FIELDS_ASSIGNEE,
		    "status,assignee changed in ExtraHop since the last push: reasserted" },
		{ "synced, drift and MongoDB stale: both", F_UI, 100, true, 50, F_NEW, true,
		    PUSHPLAN_STATE_SYNCED, true, F_NEW, F_NEW, 10, true, SWEEPPLAN_POLICY_REASSERT,
		    true, "MongoDB's copy is older (update_time)", SWEEPPLAN_DRIFT_REASSERT,
		    FIELDS_STATUS | FIELDS_ASSIGNEE,
		    "status,assignee changed in ExtraHop since the last push: reasserted" },
	};
	(void)state;

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		sweepplan_det_t det = { .id = 9, .mod_time = 500, .update_time = rows[i].e_update };
		sweepplan_input_t in = { 0 };
		sweepplan_decision_t out;

		det.fields = mkf(rows[i].e);
		in.det = &det;
		in.mongo_exists = rows[i].mongo;
		in.mongo_update_time = rows[i].mongo_update;
		in.mongo_fields = mkf(rows[i].mongo_f);
		in.state_exists = rows[i].st;
		in.state = rows[i].state;
		in.has_pushed = rows[i].has_pushed;
		in.pushed = mkf(rows[i].p);
		in.desired = mkf(rows[i].d);
		in.state_updated_at_ms = rows[i].updated_at;
		in.fetched_at_ms = 999;
		in.has_ticket = rows[i].ticket;
		in.policy = rows[i].policy;
		sweepplan_decide(&in, &out);
		if (out.repair != rows[i].repair || out.drift != rows[i].drift ||
		    out.drift_mask != rows[i].mask || strcmp(out.reason, rows[i].reason) != 0 ||
		    (rows[i].repair_reason == NULL) != (out.repair_reason == NULL) ||
		    (out.repair_reason != NULL && strcmp(out.repair_reason, rows[i].repair_reason) != 0))
			fail_msg("%s: got repair=%d (%s) drift=%s mask=%#x \"%s\"", rows[i].name,
			    out.repair, out.repair_reason ? out.repair_reason : "-",
			    sweepplan_drift_name(out.drift), out.drift_mask, out.reason);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_ok),
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_parse_size_and_utf8),
		cmocka_unit_test(test_paging),
		cmocka_unit_test(test_query_json),
		cmocka_unit_test(test_page_init_errors),
		cmocka_unit_test(test_restarts_bounded),
		cmocka_unit_test(test_seen_unknown),
		cmocka_unit_test(test_decide),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
