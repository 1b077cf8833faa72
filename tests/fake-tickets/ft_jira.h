/*
 * ft_jira: Jira Cloud and Data Center REST v2 as the fake serves them (README.md):
 * create with strict validation, get, search (Cloud /rest/api/3/search/jql with page
 * tokens, DC /rest/api/2/search with startAt) lagging behind writes by the index delay,
 * comments and /myself. Also what the control API needs: the issue rendering, the
 * transition, and the jira:issue_updated webhook.
 */
#ifndef FT_JIRA_H
#define FT_JIRA_H

#include <bson/bson.h>

#include "ft_routes.h"

/* The issue as GET /rest/api/2/issue/{key} shows it (out initialised by the caller). */
void ft_jira_render(ft_ctx_t *ctx, const ft_ticket_t *t, bson_t *out);
/* Record t's current state for search (call after every write). */
void ft_jira_snapshot(ft_ctx_t *ctx, ft_ticket_t *t);
/* The assignee as a plain string (accountId on Cloud, name on DC) or NULL. */
const char *ft_jira_assignee(const ft_ticket_t *t);
const char *ft_jira_priority(const ft_ticket_t *t);

/*
 * Control API transition: body {"status", "status_category", "resolution",
 * "assignee"} (all optional; null resolution/assignee clears). Changes t, moves updated,
 * fills changelog items (an array document) and returns 0, or -1 with a message.
 */
int ft_jira_transition(ft_ctx_t *ctx, ft_ticket_t *t, const bson_t *body, bson_t *items,
    char *err, size_t errlen);
/* The webhook body for t (jira:issue_updated with changelog items). */
void ft_jira_webhook_body(ft_ctx_t *ctx, const ft_ticket_t *t, const bson_t *items,
    bson_t *out);

#endif
