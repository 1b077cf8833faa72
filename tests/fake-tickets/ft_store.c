/* ft_store: tickets in creation order, with comments, journals and index versions. */
#include "ft_store.h"

#include "ticketsync/xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ft_scope {
	char *name;
	int64_t next;
};

struct ft_store {
	ft_ticket_t **items;
	size_t n, cap;
	int64_t next_id;
	int64_t next_entry;
	struct ft_scope *scopes;
	size_t nscopes;
};

ft_store_t *
ft_store_new(void)
{
	ft_store_t *s = xcalloc(1, sizeof(*s));

	s->next_entry = 10000;
	return s;
}

static void
ft_entries_free(ft_entry_t *e, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(e[i].body);
	free(e);
}

static void
ft_ticket_free(ft_ticket_t *t)
{
	if (t == NULL)
		return;
	bson_destroy(t->fields);
	free(t->status);
	free(t->status_category);
	free(t->resolution);
	ft_entries_free(t->comments, t->ncomments);
	ft_entries_free(t->work_notes, t->nwork_notes);
	for (size_t i = 0; i < t->nversions; i++)
		bson_destroy(t->versions[i].issue);
	free(t->versions);
	free(t->idempotency_key);
	free(t);
}

void
ft_store_clear(ft_store_t *s)
{
	for (size_t i = 0; i < s->n; i++)
		ft_ticket_free(s->items[i]);
	s->n = 0;
	/* Numbers keep counting: a cleared store never reuses SEC-1 or INC0010001. */
}

void
ft_store_destroy(ft_store_t *s)
{
	if (s == NULL)
		return;
	ft_store_clear(s);
	free(s->items);
	for (size_t i = 0; i < s->nscopes; i++)
		free(s->scopes[i].name);
	free(s->scopes);
	free(s);
}

size_t
ft_store_count(const ft_store_t *s)
{
	return s->n;
}

ft_ticket_t *
ft_store_at(ft_store_t *s, size_t i)
{
	return i < s->n ? s->items[i] : NULL;
}

ft_ticket_t *
ft_store_add(ft_store_t *s)
{
	ft_ticket_t *t = xcalloc(1, sizeof(*t));

	t->id = ++s->next_id;
	t->fields = bson_new();
	xgrow((void **)&s->items, &s->cap, s->n + 1, sizeof(*s->items));
	s->items[s->n++] = t;
	return t;
}

ft_ticket_t *
ft_store_find(ft_store_t *s, const char *ref)
{
	for (size_t i = 0; i < s->n; i++) {
		ft_ticket_t *t = s->items[i];
		char id[24];

		snprintf(id, sizeof(id), "%lld", (long long)t->id);
		if (strcmp(t->key, ref) == 0 || strcmp(id, ref) == 0 ||
		    (t->sys_id[0] != '\0' && strcmp(t->sys_id, ref) == 0))
			return t;
	}
	return NULL;
}

ft_ticket_t *
ft_store_find_idempotency(ft_store_t *s, const char *key)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->items[i]->idempotency_key != NULL &&
		    strcmp(s->items[i]->idempotency_key, key) == 0)
			return s->items[i];
	return NULL;
}

int64_t
ft_store_next_number(ft_store_t *s, const char *scope)
{
	for (size_t i = 0; i < s->nscopes; i++)
		if (strcmp(s->scopes[i].name, scope) == 0)
			return ++s->scopes[i].next;
	s->scopes = xreallocarray(s->scopes, s->nscopes + 1, sizeof(*s->scopes));
	s->scopes[s->nscopes].name = xstrdup(scope);
	s->scopes[s->nscopes].next = 1;
	return s->scopes[s->nscopes++].next;
}

ft_entry_t *
ft_store_add_entry(ft_store_t *s, ft_entry_t **arr, size_t *n, const char *body,
    int64_t created_ms)
{
	ft_entry_t *e;

	*arr = xreallocarray(*arr, *n + 1, sizeof(**arr));
	e = &(*arr)[(*n)++];
	e->id = ++s->next_entry;
	e->body = xstrdup(body);
	e->created_ms = created_ms;
	return e;
}

void
ft_ticket_set_field(ft_ticket_t *t, const char *key, const bson_value_t *v)
{
	bson_t *n = bson_new();
	bson_iter_t it;
	bool done = false;

	if (bson_iter_init(&it, t->fields)) {
		while (bson_iter_next(&it)) {
			if (strcmp(bson_iter_key(&it), key) != 0) {
				bson_append_iter(n, bson_iter_key(&it), -1, &it);
				continue;
			}
			if (v != NULL)
				bson_append_value(n, key, -1, v);
			else
				bson_append_null(n, key, -1);
			done = true;
		}
	}
	if (!done) {
		if (v != NULL)
			bson_append_value(n, key, -1, v);
		else
			bson_append_null(n, key, -1);
	}
	bson_destroy(t->fields);
	t->fields = n;
}

void
ft_ticket_set_str(char **slot, const char *v)
{
	free(*slot);
	*slot = v ? xstrdup(v) : NULL;
}

void
ft_ticket_snapshot(ft_ticket_t *t, bson_t *issue, int64_t now_mono_ms)
{
	ft_version_t *v;

	t->versions = xreallocarray(t->versions, t->nversions + 1, sizeof(*t->versions));
	v = &t->versions[t->nversions++];
	v->at_ms = now_mono_ms;
	v->issue = issue;
	v->created_ms = t->created_ms;
	v->updated_ms = t->updated_ms;
}

const ft_version_t *
ft_ticket_visible(ft_ticket_t *t, int64_t now_mono_ms, int64_t delay_ms)
{
	size_t best = SIZE_MAX;

	for (size_t i = 0; i < t->nversions; i++)
		if (t->versions[i].at_ms + delay_ms <= now_mono_ms)
			best = i;
	if (best == SIZE_MAX)
		return NULL;
	/* What the index has caught up with replaces everything before it. */
	if (best > 0) {
		for (size_t i = 0; i < best; i++)
			bson_destroy(t->versions[i].issue);
		memmove(t->versions, t->versions + best, (t->nversions - best) * sizeof(*t->versions));
		t->nversions -= best;
	}
	return &t->versions[0];
}
