/* fx_routes: the fake ExtraHop's handlers for the shared pipeline. */
#include "fx_routes.h"

#include "fx_api.h"
#include "fx_control.h"

static int
fx_routes_api(void *app, struct evhttp_request *req, const char *method, const char *path,
    const char *query, const char *body, size_t len, struct evbuffer *out)
{
	(void)query;
	return fx_api_handle(app, req, method, path, body, len, out);
}

static int
fx_routes_control(void *app, struct evhttp_request *req, const char *method,
    const char *path, const char *query, const char *body, size_t len,
    struct evbuffer *out)
{
	return fx_control_handle(app, req, method, path, query, body, len, out);
}

/* Injected errors use ExtraHop's {"error_message": ...} (the default shape). */
static const fc_routes_ops_t fx_routes_ops = {
	.name = "fake ExtraHop",
	.control = fx_routes_control,
	.api = fx_routes_api,
	.error_body = NULL,
};

void
fx_routes_init(fx_ctx_t *ctx)
{
	ctx->routes.base = ctx->base;
	ctx->routes.rec = ctx->rec;
	ctx->routes.faults = ctx->faults;
	ctx->routes.ops = &fx_routes_ops;
	ctx->routes.app = ctx;
}
