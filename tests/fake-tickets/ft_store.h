/*
 * ft_store: the fake's tickets (Jira issues or ServiceNow records), in creation order,
 * with what each system keeps beside the fields: status, resolution, times, comments and
 * journal entries, and (Jira) the versions the search index has seen, so search can lag
 * behind writes. Pure data; the flavours render and validate.
 */
#ifndef FT_STORE_H
#define FT_STORE_H

#include <bson/bson.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct ft_store ft_store_t;

/* A Jira comment or a ServiceNow journal entry. */
typedef struct ft_entry {
	int64_t id;
	char *body;
	int64_t created_ms;
} ft_entry_t;

/* What search sees of an issue: a snapshot taken at a write (monotonic at_ms). */
typedef struct ft_version {
	int64_t at_ms;
	bson_t *issue;      /* the issue as GET renders it, at that write */
	int64_t created_ms, updated_ms;
} ft_version_t;

typedef struct ft_ticket {
	int64_t id;         /* Jira: 10001, 10002...; ServiceNow: 1, 2... */
	char key[48];       /* "SEC-1" / "INC0010001" */
	char sys_id[33];    /* ServiceNow */
	char project[48];   /* Jira project key / ServiceNow table */
	bson_t *fields;     /* Jira: fields as sent; ServiceNow: stored fields (strings) */
	char *status;       /* Jira status name */
	char *status_category; /* Jira statusCategory key: new, indeterminate, done */
	char *resolution;   /* Jira resolution name; NULL: null */
	int64_t created_ms, updated_ms;
	int64_t mod_count;
	ft_entry_t *comments;   /* Jira comments; ServiceNow "comments" journal */
	size_t ncomments;
	ft_entry_t *work_notes; /* ServiceNow "work_notes" journal */
	size_t nwork_notes;
	ft_version_t *versions; /* oldest first */
	size_t nversions;
	char *idempotency_key;  /* http flavour: the key that created it */
	int64_t replays;        /* http flavour: repeats answered from the key */
} ft_ticket_t;

ft_store_t *ft_store_new(void);
void ft_store_destroy(ft_store_t *s);
void ft_store_clear(ft_store_t *s);
size_t ft_store_count(const ft_store_t *s);
/* i-th ticket in creation order. */
ft_ticket_t *ft_store_at(ft_store_t *s, size_t i);
/* A new empty ticket (fields {}) with the next id. */
ft_ticket_t *ft_store_add(ft_store_t *s);
/* By key or number, by id ("10001"), or by sys_id; NULL if none. */
ft_ticket_t *ft_store_find(ft_store_t *s, const char *ref);
/* The ticket an idempotency key created (http flavour); NULL if none. */
ft_ticket_t *ft_store_find_idempotency(ft_store_t *s, const char *key);
/* Next number within a project or table (1, 2, ...). */
int64_t ft_store_next_number(ft_store_t *s, const char *scope);

/* Append a comment or journal entry; returns it. ids count per store from 10000. */
ft_entry_t *ft_store_add_entry(ft_store_t *s, ft_entry_t **arr, size_t *n, const char *body,
    int64_t created_ms);

/* Set fields[key] to v (NULL: JSON null), keeping the other keys in order. */
void ft_ticket_set_field(ft_ticket_t *t, const char *key, const bson_value_t *v);
void ft_ticket_set_str(char **slot, const char *v);

/* Record what search will see of t once the index catches up; takes issue. */
void ft_ticket_snapshot(ft_ticket_t *t, bson_t *issue, int64_t now_mono_ms);
/* The newest version written at least delay_ms ago (older ones are dropped), or NULL
 * when even the first write is not indexed yet. */
const ft_version_t *ft_ticket_visible(ft_ticket_t *t, int64_t now_mono_ms, int64_t delay_ms);

#endif
