/*
 * ft_snq: the subset of ServiceNow's encoded query (sysparm_query) the fake serves:
 * parts joined by '^', each `field=value`, `field!=value`, `field>=value`, `field>value`,
 * `field<=value`, `field<value`, `fieldISNOTEMPTY`, `fieldISEMPTY`, `fieldLIKEvalue`,
 * `fieldSTARTSWITHvalue`, `fieldINa,b`, and `ORDERBYfield` / `ORDERBYDESCfield`.
 * Date fields (sys_updated_on, sys_created_on, opened_at, ...) compare as UTC times
 * ("yyyy-MM-dd HH:mm:ss", or javascript:gs.dateGenerate('yyyy-MM-dd','HH:mm:ss')).
 *
 * A part naming an unknown field, or one the fake cannot parse, is *invalid*: like a
 * real instance, it is silently ignored (so it can match every row) unless the
 * glide.invalid_query.returns_no_rows setting is on, when the query matches nothing.
 * Pure logic.
 */
#ifndef FT_SNQ_H
#define FT_SNQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum ft_snq_op { FT_SNQ_EQ, FT_SNQ_NE, FT_SNQ_GE, FT_SNQ_GT, FT_SNQ_LE, FT_SNQ_LT,
	FT_SNQ_NOTEMPTY, FT_SNQ_EMPTY, FT_SNQ_LIKE, FT_SNQ_STARTSWITH, FT_SNQ_IN };

typedef struct ft_snq_part {
	char *field;
	enum ft_snq_op op;
	char *value;
	bool is_time;
	int64_t ms;
} ft_snq_part_t;

typedef struct ft_snq_order {
	char *field;
	bool desc;
} ft_snq_order_t;

typedef struct ft_snq {
	ft_snq_part_t *parts;
	size_t nparts;
	ft_snq_order_t *order;
	size_t norder;
	size_t invalid;   /* parts ignored */
} ft_snq_t;

/* Field name -> true if the table knows it; is_time says it holds a date-time. */
typedef bool (*ft_snq_known_fn)(const char *field, bool *is_time);

/* Never fails: what cannot be used is counted in q->invalid. */
void ft_snq_parse(const char *query, ft_snq_known_fn known, ft_snq_t *q);
void ft_snq_free(ft_snq_t *q);

/* Field value of a record ("" when empty), for matching and ordering. */
typedef const char *(*ft_snq_get_fn)(const void *rec, const char *field);

bool ft_snq_match(const ft_snq_t *q, ft_snq_get_fn get, const void *rec);
int ft_snq_compare(const ft_snq_t *q, ft_snq_get_fn get, const void *a, const void *b);

#endif
