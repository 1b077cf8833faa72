/*
 * fuzz_statusmap: statusmap_add and statusmap_lookup on arbitrary strings.
 *
 * Input: text lines (any bytes but '\n'; a NUL ends that string early). The first
 * byte 'D' starts from the shipped defaults, anything else from an empty map.
 *   +key=value     statusmap_add(key, value)          (split at the first '=')
 *   ?status\tres   statusmap_lookup(status, res)      (no tab: res NULL)
 *   !res           statusmap_lookup(NULL, res)
 *   ~status\tcategory[\tres]   statusmap_lookup_ticket (status falls back to category)
 *   #res           statusmap_resolution_rule(res)
 * Checks: a refused entry leaves the map unchanged and says why; lookups obey the
 * header's rules (a resolution only with closed, nothing on unmapped, case and
 * surrounding blanks ignored; the category only decides what the status leaves
 * unmapped); and every accepted entry answers for its key exactly
 * as it does alone in an empty map (user entries replace defaults, never each other).
 */
#include <ctype.h>

#include "fuzz_common.h"
#include "ticketsync/statusmap.h"

#define MAX_KEPT 64

struct kept {
	char *key, *value;
};

static void
check_result(enum statusmap_result r, enum fields_status st, enum fields_resolution res)
{
	FUZZ_CHECK(r == STATUSMAP_MAPPED || r == STATUSMAP_UNMAPPED, "result %d", (int)r);
	FUZZ_CHECK((unsigned)st <= FIELDS_STATUS_ACKNOWLEDGED, "status %d", (int)st);
	FUZZ_CHECK((unsigned)res <= FIELDS_RESOLUTION_NO_ACTION_TAKEN, "resolution %d", (int)res);
	if (r == STATUSMAP_UNMAPPED)
		FUZZ_CHECK(st == FIELDS_STATUS_NULL && res == FIELDS_RESOLUTION_NULL,
		    "unmapped but outputs set");
	if (st != FIELDS_STATUS_CLOSED)
		FUZZ_CHECK(res == FIELDS_RESOLUTION_NULL, "a resolution without closed");
}

/* s upper-cased (ASCII only) and wrapped in blanks: must look up the same. */
static char *
variant(const char *s)
{
	size_t n = strlen(s);
	char *v = malloc(n + 4);

	if (v == NULL)
		abort();
	v[0] = ' ';
	for (size_t i = 0; i < n; i++)
		v[i + 1] = (s[i] >= 'a' && s[i] <= 'z') ? (char)(s[i] - 'a' + 'A') : s[i];
	v[n + 1] = '\t';
	v[n + 2] = '\0';
	return v;
}

static void
lookup(const statusmap_t *map, const char *status, const char *resolution)
{
	enum fields_status st, st2;
	enum fields_resolution res, res2;
	enum statusmap_result r, r2;
	char *vs, *vr;

	r = statusmap_lookup(map, status, resolution, &st, &res);
	check_result(r, st, res);
	if (status == NULL)
		FUZZ_CHECK(r == STATUSMAP_MAPPED && st == FIELDS_STATUS_NULL, "null status not Open");
	/* Case and surrounding blanks never matter... unless the blanks push a name over
	 * the length limit, which then (rightly) differs only in that way. */
	if (status == NULL || strlen(status) + 2 > STATUSMAP_NAME_MAX ||
	    (resolution != NULL && strlen(resolution) + 2 > STATUSMAP_NAME_MAX))
		return;
	vs = variant(status);
	vr = resolution ? variant(resolution) : NULL;
	r2 = statusmap_lookup(map, vs, vr, &st2, &res2);
	FUZZ_CHECK(r == r2 && st == st2 && res == res2,
	    "\"%s\"/\"%s\" and \"%s\"/\"%s\" map differently", status, resolution ? resolution : "(null)",
	    vs, vr ? vr : "(null)");
	free(vs);
	free(vr);
}

/* The category is a fallback: it never changes what the status alone decides. */
static void
lookup_ticket(const statusmap_t *map, const char *status, const char *category,
    const char *resolution)
{
	enum fields_status st, st2;
	enum fields_resolution res, res2;
	enum statusmap_result r, r2;
	bool by_category = true, ignored;

	r = statusmap_lookup_ticket(map, status, category, resolution, &st, &res, &by_category);
	check_result(r, st, res);
	r2 = statusmap_lookup(map, status, resolution, &st2, &res2);
	if (r2 == STATUSMAP_MAPPED)
		FUZZ_CHECK(r == r2 && st == st2 && res == res2 && !by_category,
		    "the category overrode the mapped status \"%s\"", status);
	else
		FUZZ_CHECK(r == STATUSMAP_UNMAPPED || by_category,
		    "unmapped status \"%s\" mapped, but not by its category", status);
	r2 = statusmap_lookup_ticket(map, status, NULL, resolution, &st2, &res2, &ignored);
	FUZZ_CHECK(r2 == statusmap_lookup(map, status, resolution, &st, &res),
	    "no category, yet not plain lookup");
}

/* An accepted entry answers for its key as it does alone. */
static void
check_kept(const statusmap_t *map, const struct kept *k)
{
	statusmap_t *alone = statusmap_new(false);
	bson_error_t err;
	char *status = strdup(k->key), *bar, longres[STATUSMAP_NAME_MAX + 8];
	const char *res;
	enum fields_status st1, st2;
	enum fields_resolution r1, r2;
	enum statusmap_result o1, o2;

	FUZZ_CHECK(alone != NULL && status != NULL, "out of memory");
	FUZZ_CHECK(statusmap_add(alone, k->key, k->value, &err) == 0,
	    "\"%s\" = \"%s\" accepted in the map but refused alone: %s", k->key, k->value, err.message);
	bar = strchr(status, '|');
	if (bar != NULL) {
		*bar = '\0';
		res = bar + 1;
	} else {
		/* Too long to be any key's resolution: only the status-only entry matches. */
		memset(longres, 'x', sizeof(longres) - 1);
		longres[sizeof(longres) - 1] = '\0';
		res = longres;
	}
	o1 = statusmap_lookup(map, status, res, &st1, &r1);
	o2 = statusmap_lookup(alone, status, res, &st2, &r2);
	FUZZ_CHECK(o1 == STATUSMAP_MAPPED && o1 == o2 && st1 == st2 && r1 == r2,
	    "\"%s\" = \"%s\": the map says %d/%d/%d, the entry alone %d/%d/%d", k->key, k->value,
	    (int)o1, (int)st1, (int)r1, (int)o2, (int)st2, (int)r2);
	free(status);
	statusmap_destroy(alone);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_strdup(data, size), *line, *next;
	statusmap_t *map = statusmap_new(size > 0 && data[0] == 'D');
	struct kept kept[MAX_KEPT];
	size_t nkept = 0;
	const char *key, *value;
	bson_error_t err;

	FUZZ_CHECK(map != NULL, "statusmap_new failed");
	for (line = text; line != NULL && line < text + size; line = next) {
		size_t before = statusmap_count(map);
		char *eq, *tab;
		enum fields_resolution res;

		next = memchr(line, '\n', (size_t)(text + size - line));
		if (next != NULL)
			*next++ = '\0';
		switch (line[0]) {
		case '+':
			eq = strchr(line + 1, '=');
			if (eq == NULL)
				break;
			*eq = '\0';
			memset(&err, 0, sizeof(err));
			if (statusmap_add(map, line + 1, eq + 1, &err) != 0) {
				FUZZ_CHECK(statusmap_count(map) == before, "a refused entry changed the map");
				FUZZ_CHECK(err.message[0] != '\0', "refused without a message");
			} else {
				FUZZ_CHECK(statusmap_count(map) <= before + 1, "one add, several entries");
				if (nkept < MAX_KEPT) {
					kept[nkept].key = line + 1;
					kept[nkept].value = eq + 1;
					nkept++;
				}
			}
			break;
		case '?':
			tab = strchr(line + 1, '\t');
			if (tab != NULL)
				*tab = '\0';
			lookup(map, line + 1, tab ? tab + 1 : NULL);
			break;
		case '!':
			lookup(map, NULL, line + 1);
			break;
		case '~':
			tab = strchr(line + 1, '\t');
			if (tab == NULL)
				break;
			*tab = '\0';
			eq = strchr(tab + 1, '\t');
			if (eq != NULL)
				*eq = '\0';
			lookup_ticket(map, line + 1, tab + 1, eq ? eq + 1 : NULL);
			break;
		case '#':
			res = FIELDS_RESOLUTION_NULL;
			if (statusmap_resolution_rule(line + 1, &res) == 0)
				FUZZ_CHECK(res != FIELDS_RESOLUTION_NULL, "rule matched to null");
			break;
		default:
			break;
		}
	}
	for (size_t i = 0; i < nkept; i++)
		check_kept(map, &kept[i]);
	for (size_t i = 0; i < statusmap_count(map); i++)
		FUZZ_CHECK(statusmap_entry(map, i, &key, &value) && key != NULL && value != NULL,
		    "entry %zu unreadable", i);
	FUZZ_CHECK(!statusmap_entry(map, statusmap_count(map), &key, &value), "entry past the end");
	statusmap_destroy(map);
	free(text);
	return 0;
}
