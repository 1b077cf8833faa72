/* ft_snq: ServiceNow encoded queries, with the invalid-part pitfall. */
#include "ft_snq.h"

#include "ft_util.h"
#include "ticketsync/xalloc.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
	const char *text;
	enum ft_snq_op op;
} ft_snq_ops[] = {
	/* Longest first where one is a prefix of another. */
	{ "ISNOTEMPTY", FT_SNQ_NOTEMPTY }, { "ISEMPTY", FT_SNQ_EMPTY },
	{ "STARTSWITH", FT_SNQ_STARTSWITH }, { "LIKE", FT_SNQ_LIKE }, { "IN", FT_SNQ_IN },
	{ "!=", FT_SNQ_NE }, { ">=", FT_SNQ_GE }, { "<=", FT_SNQ_LE }, { ">", FT_SNQ_GT },
	{ "<", FT_SNQ_LT }, { "=", FT_SNQ_EQ },
};

/* "javascript:gs.dateGenerate('2026-12-07','10:00:00')" -> "2026-12-07 10:00:00". */
static bool
ft_snq_time(const char *v, int64_t *ms)
{
	static const char js[] = "javascript:gs.dateGenerate('";
	char buf[40];

	if (strncmp(v, js, sizeof(js) - 1) == 0) {
		const char *d = v + sizeof(js) - 1;
		if (strlen(d) < 25 || strncmp(d + 10, "','", 3) != 0 || strcmp(d + 21, "')") != 0)
			return false;
		snprintf(buf, sizeof(buf), "%.10s %.8s", d, d + 13);
		v = buf;
	}
	return ft_time_parse(v, ms);
}

static void
ft_snq_part(ft_snq_t *q, ft_snq_known_fn known, const char *s, size_t len)
{
	char *part = xstrndup(s, len), *p = part;
	bool is_time = false;
	ft_snq_part_t np;
	size_t k;

	if (strncmp(part, "ORDERBY", 7) == 0) {
		bool desc = strncmp(part + 7, "DESC", 4) == 0;
		const char *f = part + (desc ? 11 : 7);

		if (*f != '\0' && known(f, &is_time)) {
			q->order = xreallocarray(q->order, q->norder + 1, sizeof(*q->order));
			q->order[q->norder].field = xstrdup(f);
			q->order[q->norder++].desc = desc;
		}
		/* An unknown ORDERBY field just does not order. */
		free(part);
		return;
	}
	while (*p != '\0' && (islower((unsigned char)*p) || isdigit((unsigned char)*p) ||
	    *p == '_' || *p == '.'))
		p++;
	for (k = 0; k < sizeof(ft_snq_ops) / sizeof(ft_snq_ops[0]); k++)
		if (strncmp(p, ft_snq_ops[k].text, strlen(ft_snq_ops[k].text)) == 0)
			break;
	if (p == part || k == sizeof(ft_snq_ops) / sizeof(ft_snq_ops[0])) {
		q->invalid++;
		free(part);
		return;
	}
	np.op = ft_snq_ops[k].op;
	np.value = xstrdup(p + strlen(ft_snq_ops[k].text));
	*p = '\0';
	np.field = xstrdup(part);
	np.is_time = false;
	np.ms = 0;
	free(part);
	if (!known(np.field, &is_time) ||
	    ((np.op == FT_SNQ_NOTEMPTY || np.op == FT_SNQ_EMPTY) && np.value[0] != '\0')) {
		q->invalid++;
		free(np.field);
		free(np.value);
		return;
	}
	if (is_time && np.op != FT_SNQ_NOTEMPTY && np.op != FT_SNQ_EMPTY &&
	    np.op != FT_SNQ_LIKE && np.op != FT_SNQ_STARTSWITH && np.op != FT_SNQ_IN) {
		if (!ft_snq_time(np.value, &np.ms)) {
			q->invalid++;
			free(np.field);
			free(np.value);
			return;
		}
		np.is_time = true;
	}
	q->parts = xreallocarray(q->parts, q->nparts + 1, sizeof(*q->parts));
	q->parts[q->nparts++] = np;
}

void
ft_snq_parse(const char *query, ft_snq_known_fn known, ft_snq_t *q)
{
	const char *p = query;

	memset(q, 0, sizeof(*q));
	if (query == NULL)
		return;
	while (*p != '\0') {
		const char *end = strchr(p, '^');
		size_t len = end ? (size_t)(end - p) : strlen(p);

		/* "^OR" and "^NQ" joins are beyond this fake: such parts are invalid. */
		if (len > 0)
			ft_snq_part(q, known, p, len);
		p = end ? end + 1 : p + len;
	}
}

void
ft_snq_free(ft_snq_t *q)
{
	for (size_t i = 0; i < q->nparts; i++) {
		free(q->parts[i].field);
		free(q->parts[i].value);
	}
	for (size_t i = 0; i < q->norder; i++)
		free(q->order[i].field);
	free(q->parts);
	free(q->order);
	memset(q, 0, sizeof(*q));
}

static bool
ft_snq_numeric(const char *s, double *out)
{
	char *end;

	if (*s == '\0')
		return false;
	*out = strtod(s, &end);
	return *end == '\0';
}

static int
ft_snq_cmp_values(const char *a, const char *b, bool is_time)
{
	double x, y;
	int64_t ta, tb;

	if (is_time) {
		bool ha = ft_time_parse(a, &ta), hb = ft_time_parse(b, &tb);
		if (ha && hb)
			return ta < tb ? -1 : ta > tb;
		return ha - hb;
	}
	if (ft_snq_numeric(a, &x) && ft_snq_numeric(b, &y))
		return x < y ? -1 : x > y;
	return strcmp(a, b);
}

static bool
ft_snq_part_match(const ft_snq_part_t *p, const char *v)
{
	int c;

	switch (p->op) {
	case FT_SNQ_NOTEMPTY: return v[0] != '\0';
	case FT_SNQ_EMPTY: return v[0] == '\0';
	case FT_SNQ_LIKE: return strstr(v, p->value) != NULL;
	case FT_SNQ_STARTSWITH: return strncmp(v, p->value, strlen(p->value)) == 0;
	case FT_SNQ_IN: {
		const char *s = p->value;
		size_t vl = strlen(v);
		while (*s != '\0') {
			const char *e = strchr(s, ',');
			size_t l = e ? (size_t)(e - s) : strlen(s);
			if (l == vl && strncmp(s, v, l) == 0)
				return true;
			s = e ? e + 1 : s + l;
		}
		return false;
	}
	default:
		break;
	}
	if (p->is_time) {
		int64_t t;
		if (!ft_time_parse(v, &t))
			return p->op == FT_SNQ_NE;
		c = t < p->ms ? -1 : t > p->ms;
	} else if (p->op == FT_SNQ_EQ || p->op == FT_SNQ_NE) {
		c = strcmp(v, p->value);
	} else {
		/* Ordering against an empty value matches nothing. */
		if (v[0] == '\0')
			return false;
		c = ft_snq_cmp_values(v, p->value, false);
	}
	switch (p->op) {
	case FT_SNQ_EQ: return c == 0;
	case FT_SNQ_NE: return c != 0;
	case FT_SNQ_GE: return c >= 0;
	case FT_SNQ_GT: return c > 0;
	case FT_SNQ_LE: return c <= 0;
	case FT_SNQ_LT: return c < 0;
	default: return false;
	}
}

bool
ft_snq_match(const ft_snq_t *q, ft_snq_get_fn get, const void *rec)
{
	for (size_t i = 0; i < q->nparts; i++)
		if (!ft_snq_part_match(&q->parts[i], get(rec, q->parts[i].field)))
			return false;
	return true;
}

int
ft_snq_compare(const ft_snq_t *q, ft_snq_get_fn get, const void *a, const void *b)
{
	for (size_t i = 0; i < q->norder; i++) {
		const char *f = q->order[i].field;
		bool is_time = strstr(f, "_on") != NULL || strstr(f, "_at") != NULL;
		int c = ft_snq_cmp_values(get(a, f), get(b, f), is_time);

		if (c != 0)
			return q->order[i].desc ? -c : c;
	}
	return 0;
}
