/* ft_jql: a strict JQL subset: tokenizer, parser and matcher. */
#include "ft_jql.h"

#include "ft_util.h"
#include "ticketsync/xalloc.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum ft_tok_kind { T_END, T_WORD, T_STRING, T_OP, T_LPAREN, T_RPAREN, T_COMMA };

typedef struct ft_tok {
	enum ft_tok_kind kind;
	char text[256];
	size_t pos; /* 1-based character position, for messages */
} ft_tok_t;

typedef struct ft_lex {
	const char *s;
	size_t i;
	ft_tok_t cur;
	char *err;
	size_t errlen;
	bool failed;
} ft_lex_t;

static void ft_lex_fail(ft_lex_t *l, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
ft_lex_fail(ft_lex_t *l, const char *fmt, ...)
{
	char msg[300];
	va_list ap;

	if (l->failed)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(l->err, l->errlen, "%s (line 1, character %zu)", msg, l->cur.pos);
	l->failed = true;
}

static bool
ft_lex_wordc(int c)
{
	return isalnum(c) || c == '-' || c == '_' || c == '.' || c == ':' || c == '/' || c == '@';
}

static void
ft_lex_next(ft_lex_t *l)
{
	const char *s = l->s;
	size_t n = 0;
	ft_tok_t *t = &l->cur;

	while (isspace((unsigned char)s[l->i]))
		l->i++;
	t->pos = l->i + 1;
	t->text[0] = '\0';
	if (s[l->i] == '\0') {
		t->kind = T_END;
		return;
	}
	switch (s[l->i]) {
	case '(': t->kind = T_LPAREN; l->i++; strcpy(t->text, "("); return;
	case ')': t->kind = T_RPAREN; l->i++; strcpy(t->text, ")"); return;
	case ',': t->kind = T_COMMA; l->i++; strcpy(t->text, ","); return;
	case '"':
	case '\'': {
		char q = s[l->i++];
		while (s[l->i] != '\0' && s[l->i] != q) {
			if (s[l->i] == '\\' && s[l->i + 1] != '\0')
				l->i++;
			if (n + 1 < sizeof(t->text))
				t->text[n++] = s[l->i];
			l->i++;
		}
		t->text[n] = '\0';
		if (s[l->i] != q) {
			t->kind = T_END;
			ft_lex_fail(l, "The quoted string has not been completed");
			return;
		}
		l->i++;
		t->kind = T_STRING;
		return;
	}
	case '=': case '!': case '>': case '<': case '~':
		t->text[n++] = s[l->i++];
		if (s[l->i] == '=' || (t->text[0] == '!' && s[l->i] == '~'))
			t->text[n++] = s[l->i++];
		t->text[n] = '\0';
		t->kind = T_OP;
		return;
	}
	if (!ft_lex_wordc((unsigned char)s[l->i])) {
		char c[2] = { s[l->i], '\0' };
		t->kind = T_END;
		ft_lex_fail(l, "The character '%s' is a reserved JQL character", c);
		return;
	}
	while (ft_lex_wordc((unsigned char)s[l->i])) {
		if (n + 1 < sizeof(t->text))
			t->text[n++] = s[l->i];
		l->i++;
	}
	t->text[n] = '\0';
	t->kind = T_WORD;
}

static bool
ft_lex_kw(const ft_lex_t *l, const char *kw)
{
	return l->cur.kind == T_WORD && strcasecmp(l->cur.text, kw) == 0;
}

static bool
ft_jql_field_name(const char *w, enum ft_jql_field *f)
{
	if (strcasecmp(w, "labels") == 0)
		*f = FT_JQL_LABELS;
	else if (strcasecmp(w, "project") == 0)
		*f = FT_JQL_PROJECT;
	else if (strcasecmp(w, "key") == 0 || strcasecmp(w, "issuekey") == 0 ||
	    strcasecmp(w, "issue") == 0 || strcasecmp(w, "id") == 0)
		*f = FT_JQL_KEY;
	else if (strcasecmp(w, "updated") == 0 || strcasecmp(w, "updatedDate") == 0)
		*f = FT_JQL_UPDATED;
	else if (strcasecmp(w, "created") == 0 || strcasecmp(w, "createdDate") == 0)
		*f = FT_JQL_CREATED;
	else
		return false;
	return true;
}

static bool
ft_jql_reserved(const char *w)
{
	static const char *const kws[] = { "and", "or", "not", "in", "is", "order", "by",
		"asc", "desc", "empty", "null", "was", "changed", NULL };

	for (size_t i = 0; kws[i] != NULL; i++)
		if (strcasecmp(w, kws[i]) == 0)
			return true;
	return false;
}

static void
ft_jql_add_value(ft_jql_clause_t *c, const char *v)
{
	c->values = xreallocarray(c->values, c->nvalues + 1, sizeof(*c->values));
	c->values[c->nvalues++] = xstrdup(v);
}

/* A value token: a string or a word that is not a keyword. */
static bool
ft_jql_value(ft_lex_t *l, char *out, size_t len)
{
	if (l->cur.kind == T_STRING || (l->cur.kind == T_WORD && !ft_jql_reserved(l->cur.text))) {
		snprintf(out, len, "%s", l->cur.text);
		ft_lex_next(l);
		return true;
	}
	ft_lex_fail(l, "Expecting either a value, list or function but got '%s'",
	    l->cur.kind == T_END ? "<end of query>" : l->cur.text);
	return false;
}

static bool
ft_jql_key_ok(const char *v)
{
	const char *dash = strrchr(v, '-');

	if (dash == NULL || dash == v || dash[1] == '\0')
		return false;
	for (const char *p = dash + 1; *p; p++)
		if (!isdigit((unsigned char)*p))
			return false;
	return true;
}

static bool
ft_jql_clause(ft_lex_t *l, ft_jql_clause_t *c)
{
	enum ft_jql_field f;
	char v[256], op[4];

	memset(c, 0, sizeof(*c));
	if (l->cur.kind != T_WORD || !ft_jql_field_name(l->cur.text, &f)) {
		if (l->cur.kind == T_WORD && !ft_jql_reserved(l->cur.text))
			ft_lex_fail(l, "Field '%s' is not supported by this fake (labels, project, "
			    "key, updated, created)", l->cur.text);
		else
			ft_lex_fail(l, "Expecting a field name but got '%s'",
			    l->cur.kind == T_END ? "<end of query>" : l->cur.text);
		return false;
	}
	c->field = f;
	ft_lex_next(l);
	if (ft_lex_kw(l, "in")) {
		if (f == FT_JQL_UPDATED || f == FT_JQL_CREATED) {
			ft_lex_fail(l, "The operator 'in' is not supported by the '%s' field",
			    f == FT_JQL_UPDATED ? "updated" : "created");
			return false;
		}
		c->op = FT_JQL_IN;
		ft_lex_next(l);
		if (l->cur.kind != T_LPAREN) {
			ft_lex_fail(l, "Expecting '(' but got '%s'", l->cur.text);
			return false;
		}
		ft_lex_next(l);
		for (;;) {
			if (!ft_jql_value(l, v, sizeof(v)))
				return false;
			ft_jql_add_value(c, v);
			if (l->cur.kind == T_COMMA) {
				ft_lex_next(l);
				continue;
			}
			if (l->cur.kind == T_RPAREN) {
				ft_lex_next(l);
				break;
			}
			ft_lex_fail(l, "Expecting ',' or ')' but got '%s'",
			    l->cur.kind == T_END ? "<end of query>" : l->cur.text);
			return false;
		}
	} else if (l->cur.kind == T_OP) {
		bson_strncpy(op, l->cur.text, sizeof(op));
		if (strcmp(op, "=") == 0)
			c->op = FT_JQL_EQ;
		else if ((f == FT_JQL_UPDATED || f == FT_JQL_CREATED) && strcmp(op, ">=") == 0)
			c->op = FT_JQL_GE;
		else if ((f == FT_JQL_UPDATED || f == FT_JQL_CREATED) && strcmp(op, ">") == 0)
			c->op = FT_JQL_GT;
		else if ((f == FT_JQL_UPDATED || f == FT_JQL_CREATED) && strcmp(op, "<=") == 0)
			c->op = FT_JQL_LE;
		else if ((f == FT_JQL_UPDATED || f == FT_JQL_CREATED) && strcmp(op, "<") == 0)
			c->op = FT_JQL_LT;
		else {
			ft_lex_fail(l, "The operator '%s' is not supported here by this fake", op);
			return false;
		}
		ft_lex_next(l);
		if (!ft_jql_value(l, v, sizeof(v)))
			return false;
		ft_jql_add_value(c, v);
	} else {
		ft_lex_fail(l, "Expecting operator but got '%s'",
		    l->cur.kind == T_END ? "<end of query>" : l->cur.text);
		return false;
	}
	for (size_t i = 0; i < c->nvalues; i++) {
		if ((f == FT_JQL_UPDATED || f == FT_JQL_CREATED)) {
			size_t n = strlen(c->values[i]);
			if (!ft_time_parse(c->values[i], &c->ms)) {
				ft_lex_fail(l, "Date value '%s' is invalid. Valid formats include: "
				    "'yyyy/MM/dd HH:mm', 'yyyy-MM-dd HH:mm', 'yyyy/MM/dd', 'yyyy-MM-dd'",
				    c->values[i]);
				return false;
			}
			c->ms_end = c->ms + (n == 10 ? 86400000 : n == 16 ? 60000 : 1000);
		} else if (f == FT_JQL_KEY && !ft_jql_key_ok(c->values[i])) {
			ft_lex_fail(l, "The issue key '%s' for field 'key' is invalid", c->values[i]);
			return false;
		} else if (f == FT_JQL_LABELS && strchr(c->values[i], ' ') != NULL) {
			/* A label cannot contain a space, so no label matches: Jira accepts it. */
			continue;
		}
	}
	return true;
}

static bool
ft_jql_order(ft_lex_t *l, ft_jql_t *q)
{
	ft_lex_next(l);
	if (!ft_lex_kw(l, "by")) {
		ft_lex_fail(l, "Expecting 'by' but got '%s'", l->cur.text);
		return false;
	}
	ft_lex_next(l);
	for (;;) {
		enum ft_jql_field f;

		if (l->cur.kind != T_WORD || !ft_jql_field_name(l->cur.text, &f) ||
		    f == FT_JQL_LABELS || f == FT_JQL_PROJECT) {
			ft_lex_fail(l, "Cannot order by '%s' here (updated, created, key)",
			    l->cur.kind == T_END ? "<end of query>" : l->cur.text);
			return false;
		}
		if (q->norder == sizeof(q->order) / sizeof(q->order[0])) {
			ft_lex_fail(l, "Too many ORDER BY fields");
			return false;
		}
		q->order[q->norder].field = f;
		q->order[q->norder].desc = false;
		ft_lex_next(l);
		if (ft_lex_kw(l, "asc")) {
			ft_lex_next(l);
		} else if (ft_lex_kw(l, "desc")) {
			q->order[q->norder].desc = true;
			ft_lex_next(l);
		}
		q->norder++;
		if (l->cur.kind == T_COMMA) {
			ft_lex_next(l);
			continue;
		}
		if (l->cur.kind != T_END) {
			ft_lex_fail(l, "Expecting ',' or the end of the query but got '%s'",
			    l->cur.text);
			return false;
		}
		return true;
	}
}

int
ft_jql_parse(const char *jql, ft_jql_t *q, char *err, size_t errlen)
{
	ft_lex_t l = { .s = jql, .err = err, .errlen = errlen };

	memset(q, 0, sizeof(*q));
	ft_lex_next(&l);
	while (!l.failed && l.cur.kind != T_END && !ft_lex_kw(&l, "order")) {
		ft_jql_clause_t c;
		bool ok = ft_jql_clause(&l, &c);

		q->clauses = xreallocarray(q->clauses, q->nclauses + 1, sizeof(*q->clauses));
		q->clauses[q->nclauses++] = c;
		if (!ok)
			break;
		if (ft_lex_kw(&l, "and")) {
			ft_lex_next(&l);
			if (l.cur.kind == T_END || ft_lex_kw(&l, "order"))
				ft_lex_fail(&l, "Expecting a field name but got '%s'",
				    l.cur.kind == T_END ? "<end of query>" : l.cur.text);
			continue;
		}
		if (ft_lex_kw(&l, "or") || ft_lex_kw(&l, "not"))
			ft_lex_fail(&l, "The keyword '%s' is not supported by this fake (AND only)",
			    l.cur.text);
		else if (l.cur.kind != T_END && !ft_lex_kw(&l, "order"))
			ft_lex_fail(&l, "Expecting either 'OR' or 'AND' but got '%s'", l.cur.text);
	}
	if (!l.failed && ft_lex_kw(&l, "order"))
		ft_jql_order(&l, q);
	if (l.failed) {
		ft_jql_free(q);
		return -1;
	}
	return 0;
}

void
ft_jql_free(ft_jql_t *q)
{
	for (size_t i = 0; i < q->nclauses; i++)
		ft_list_free(q->clauses[i].values, q->clauses[i].nvalues);
	free(q->clauses);
	memset(q, 0, sizeof(*q));
}

static const char *
ft_jql_str(const bson_t *doc, const char *dotted)
{
	bson_iter_t it, f;

	if (bson_iter_init(&it, doc) && bson_iter_find_descendant(&it, dotted, &f) &&
	    BSON_ITER_HOLDS_UTF8(&f))
		return bson_iter_utf8(&f, NULL);
	return "";
}

static bool
ft_jql_has_label(const bson_t *issue, const char *label)
{
	bson_iter_t it, f, child;

	if (!bson_iter_init(&it, issue) || !bson_iter_find_descendant(&it, "fields.labels", &f) ||
	    !BSON_ITER_HOLDS_ARRAY(&f) || !bson_iter_recurse(&f, &child))
		return false;
	while (bson_iter_next(&child))
		/* Jira labels match exactly (they are case-sensitive). */
		if (BSON_ITER_HOLDS_UTF8(&child) && strcmp(bson_iter_utf8(&child, NULL), label) == 0)
			return true;
	return false;
}

static bool
ft_jql_clause_match(const ft_jql_clause_t *c, const ft_jql_issue_t *i)
{
	int64_t t = c->field == FT_JQL_UPDATED ? i->updated_ms : i->created_ms;

	switch (c->field) {
	case FT_JQL_LABELS:
		for (size_t k = 0; k < c->nvalues; k++)
			if (ft_jql_has_label(i->issue, c->values[k]))
				return true;
		return false;
	case FT_JQL_PROJECT:
		for (size_t k = 0; k < c->nvalues; k++)
			if (strcasecmp(ft_jql_str(i->issue, "fields.project.key"), c->values[k]) == 0)
				return true;
		return false;
	case FT_JQL_KEY:
		for (size_t k = 0; k < c->nvalues; k++)
			if (strcasecmp(ft_jql_str(i->issue, "key"), c->values[k]) == 0)
				return true;
		return false;
	case FT_JQL_UPDATED:
	case FT_JQL_CREATED:
		switch (c->op) {
		case FT_JQL_GE: return t >= c->ms;
		case FT_JQL_GT: return t > c->ms;
		case FT_JQL_LE: return t <= c->ms;
		case FT_JQL_LT: return t < c->ms;
		case FT_JQL_EQ: return t >= c->ms && t < c->ms_end;
		case FT_JQL_IN: return false;
		}
	}
	return false;
}

bool
ft_jql_match(const ft_jql_t *q, const ft_jql_issue_t *i)
{
	for (size_t k = 0; k < q->nclauses; k++)
		if (!ft_jql_clause_match(&q->clauses[k], i))
			return false;
	return true;
}

static int
ft_jql_cmp64(int64_t a, int64_t b)
{
	return a < b ? -1 : a > b ? 1 : 0;
}

/* Keys order by project, then number: SEC-2 before SEC-10. */
static int
ft_jql_key_cmp(const ft_jql_issue_t *a, const ft_jql_issue_t *b)
{
	const char *ka = ft_jql_str(a->issue, "key"), *kb = ft_jql_str(b->issue, "key");
	const char *da = strrchr(ka, '-'), *db = strrchr(kb, '-');
	size_t pa = da ? (size_t)(da - ka) : strlen(ka), pb = db ? (size_t)(db - kb) : strlen(kb);
	int c = strncmp(ka, kb, pa < pb ? pa : pb);

	if (c != 0 || pa != pb)
		return c != 0 ? c : (pa < pb ? -1 : 1);
	return ft_jql_cmp64(da ? atoll(da + 1) : 0, db ? atoll(db + 1) : 0);
}

int
ft_jql_compare(const ft_jql_t *q, const ft_jql_issue_t *a, const ft_jql_issue_t *b)
{
	for (size_t k = 0; k < q->norder; k++) {
		int c = 0;

		switch (q->order[k].field) {
		case FT_JQL_UPDATED: c = ft_jql_cmp64(a->updated_ms, b->updated_ms); break;
		case FT_JQL_CREATED: c = ft_jql_cmp64(a->created_ms, b->created_ms); break;
		case FT_JQL_KEY: c = ft_jql_key_cmp(a, b); break;
		default: break;
		}
		if (c != 0)
			return q->order[k].desc ? -c : c;
	}
	return -ft_jql_key_cmp(a, b);
}
