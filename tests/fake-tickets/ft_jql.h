/*
 * ft_jql: the subset of JQL the fake understands, parsed strictly (anything else is an
 * error, as a real Jira answers 400 to what it cannot parse):
 *   labels = "x" | labels = x | labels in (a, b)
 *   project = SEC | project in (A, B)        (keys compared case-insensitively)
 *   key = SEC-1 | issuekey in (SEC-1, SEC-2)
 *   updated|created  >= | > | <= | < | =  "yyyy-MM-dd[ HH:mm[:ss]]" (UTC)
 * joined by AND, then optional ORDER BY updated|created|key [ASC|DESC][, ...].
 * Keywords and field names are case-insensitive. Pure logic.
 */
#ifndef FT_JQL_H
#define FT_JQL_H

#include <bson/bson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum ft_jql_field { FT_JQL_LABELS, FT_JQL_PROJECT, FT_JQL_KEY, FT_JQL_UPDATED, FT_JQL_CREATED };
enum ft_jql_op { FT_JQL_EQ, FT_JQL_IN, FT_JQL_GE, FT_JQL_GT, FT_JQL_LE, FT_JQL_LT };

typedef struct ft_jql_clause {
	enum ft_jql_field field;
	enum ft_jql_op op;
	char **values;
	size_t nvalues;
	int64_t ms;       /* updated/created: the bound */
	int64_t ms_end;   /* "=" on a date: the end of the named minute/day (exclusive) */
} ft_jql_clause_t;

typedef struct ft_jql_order {
	enum ft_jql_field field;
	bool desc;
} ft_jql_order_t;

typedef struct ft_jql {
	ft_jql_clause_t *clauses;
	size_t nclauses;
	ft_jql_order_t order[4];
	size_t norder;
} ft_jql_t;

/* 0, or -1 with a message (without the "Error in the JQL Query: " prefix). */
int ft_jql_parse(const char *jql, ft_jql_t *q, char *err, size_t errlen);
void ft_jql_free(ft_jql_t *q);

/* An issue as search sees it: the rendered issue (key, fields.labels,
 * fields.project.key) and its times. */
typedef struct ft_jql_issue {
	const bson_t *issue;
	int64_t created_ms, updated_ms;
	int64_t id;
} ft_jql_issue_t;

bool ft_jql_match(const ft_jql_t *q, const ft_jql_issue_t *i);
/* Order of two issues under q's ORDER BY (then key descending, Jira's default). */
int ft_jql_compare(const ft_jql_t *q, const ft_jql_issue_t *a, const ft_jql_issue_t *b);

#endif
