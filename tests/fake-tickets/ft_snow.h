/*
 * ft_snow: the ServiceNow Table API as the fake serves it (README.md): POST, GET (list
 * with sysparm_query / sysparm_fields / sysparm_limit / sysparm_offset and X-Total-Count,
 * or one record), PATCH/PUT and DELETE of /api/now/table/{table}[/{sys_id}] for the
 * configured tables. Values are strings, as the Table API returns them; work_notes and
 * comments are journals (each write appends an entry). Also the control API's
 * rendering and transition.
 */
#ifndef FT_SNOW_H
#define FT_SNOW_H

#include <bson/bson.h>

#include "ft_routes.h"

/* The record as the Table API shows it (every field; journals as ""). */
void ft_snow_render(const ft_ticket_t *t, bson_t *out);
/* A stored field's value, "" if unset. */
const char *ft_snow_get(const ft_ticket_t *t, const char *field);
/* Control API: set fields (strings or numbers; work_notes/comments append); "state" also
 * sets incident_state. Moves sys_updated_on. 0, or -1 with a message. */
int ft_snow_transition(ft_ctx_t *ctx, ft_ticket_t *t, const bson_t *body, char *err,
    size_t errlen);

#endif
