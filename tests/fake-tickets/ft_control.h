/*
 * ft_control: the fake ticket system's own endpoints under /_fake/ (no auth, never
 * recorded, never faulted; not part of any ticket system's API). See README.md.
 */
#ifndef FT_CONTROL_H
#define FT_CONTROL_H

#include <event2/buffer.h>
#include <event2/http.h>

struct ft_ctx;

int ft_control_handle(struct ft_ctx *ctx, struct evhttp_request *req, const char *method,
    const char *path, const char *query, const char *body, size_t len,
    struct evbuffer *out);

#endif
