/*
 * fx_control: the fake's own endpoints under /_fake/ (no auth, never recorded, never
 * faulted; not part of ExtraHop's API). See README.md for the list.
 */
#ifndef FX_CONTROL_H
#define FX_CONTROL_H

#include "fx_routes.h"

#include <event2/buffer.h>

int fx_control_handle(fx_ctx_t *ctx, struct evhttp_request *req, const char *method,
    const char *path, const char *query, const char *body, size_t len,
    struct evbuffer *out);

#endif
