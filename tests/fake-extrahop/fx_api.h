/*
 * fx_api: the ExtraHop REST endpoints the fake serves (see README.md): /oauth2/token,
 * /api/v1/extrahop/version, /api/v1/detections/{id} (GET, PATCH), .../{id}/notes,
 * /api/v1/detections/tickets (PATCH), /api/v1/detections/search (POST). Auth is checked
 * here, after fault injection. Returns the HTTP status and fills out with the JSON body
 * (empty for 204); extra reply headers go on req.
 */
#ifndef FX_API_H
#define FX_API_H

#include "fx_routes.h"

#include <event2/buffer.h>

int fx_api_handle(fx_ctx_t *ctx, struct evhttp_request *req, const char *method,
    const char *path, const char *body, size_t len, struct evbuffer *out);

/* "123" -> 1 and *id; digits too long to be an id -> 0 (unknown); anything else -> -1. */
int fx_api_parse_id(const char *s, size_t n, int64_t *id);

#endif
