/* ft_routes: auth, rate limit and dispatch of the fake ticket systems. */
#include "ft_routes.h"

#include "fc_json.h"
#include "ft_control.h"
#include "ticketsync/clock.h"

#include <event2/keyvalq_struct.h>
#include <stdio.h>
#include <string.h>

int
ft_jira_error(struct evbuffer *out, int status, const char *msg)
{
	bson_t doc = BSON_INITIALIZER, arr, errs;

	bson_append_array_begin(&doc, "errorMessages", -1, &arr);
	BSON_APPEND_UTF8(&arr, "0", msg);
	bson_append_array_end(&doc, &arr);
	bson_append_document_begin(&doc, "errors", -1, &errs);
	bson_append_document_end(&doc, &errs);
	fc_json_add(out, &doc);
	bson_destroy(&doc);
	return status;
}

int
ft_snow_error(struct evbuffer *out, int status, const char *msg, const char *detail)
{
	bson_t doc = BSON_INITIALIZER, err;

	bson_append_document_begin(&doc, "error", -1, &err);
	BSON_APPEND_UTF8(&err, "message", msg);
	if (detail != NULL)
		BSON_APPEND_UTF8(&err, "detail", detail);
	else
		BSON_APPEND_NULL(&err, "detail");
	bson_append_document_end(&doc, &err);
	BSON_APPEND_UTF8(&doc, "status", "failure");
	fc_json_add(out, &doc);
	bson_destroy(&doc);
	return status;
}

int
ft_routes_bad_method(ft_ctx_t *ctx, struct evhttp_request *req, struct evbuffer *out,
    const char *allow)
{
	evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", allow);
	if (ctx->flavour == FT_HTTP)
		return ft_http_error(out, 405, "method not allowed");
	if (FT_IS_JIRA(ctx->flavour))
		return ft_jira_error(out, 405, "Method Not Allowed");
	return ft_snow_error(out, 405, "Method not Supported",
	    "The method is not supported by this resource");
}

bool
ft_routes_write_allowed(ft_ctx_t *ctx, struct evhttp_request *req, struct evbuffer *out,
    int *status)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	int64_t retry = 1, now = clock_wall_ms();
	char ra[24], lim[24], reset[40];

	if (ft_rate_take(&ctx->rate, clock_mono_ms(), &retry))
		return true;
	ctx->rate_limited++;
	snprintf(ra, sizeof(ra), "%lld", (long long)retry);
	snprintf(lim, sizeof(lim), "%lld", (long long)ctx->rate.limit);
	evhttp_add_header(h, "Retry-After", ra);
	evhttp_add_header(h, "X-RateLimit-Limit", lim);
	if (FT_IS_JIRA(ctx->flavour)) {
		ft_time_iso(now + retry * 1000, reset, sizeof(reset));
		evhttp_add_header(h, "X-RateLimit-Reset", reset);
		evhttp_add_header(h, "X-RateLimit-Remaining", "0");
		evhttp_add_header(h, "RateLimit-Reason", "jira-burst-based");
		*status = ft_jira_error(out, 429, "Rate limit exceeded.");
	} else if (ctx->flavour == FT_HTTP) {
		/* Retry-After is all a generic endpoint promises. */
		*status = ft_http_error(out, 429, "rate limit exceeded");
	} else {
		snprintf(reset, sizeof(reset), "%lld", (long long)(now / 1000 + retry));
		evhttp_add_header(h, "X-RateLimit-Reset", reset);
		evhttp_add_header(h, "X-RateLimit-Rule", "fake_tickets write rule");
		*status = ft_snow_error(out, 429, "Rate limit exceeded",
		    "Too many requests for the rate limit rule \"fake_tickets write rule\"");
	}
	return false;
}

static void
ft_routes_error_body(void *app, int status, const char *msg, struct evbuffer *out)
{
	ft_ctx_t *ctx = app;

	if (ctx->flavour == FT_HTTP)
		ft_http_error(out, status, msg);
	else if (FT_IS_JIRA(ctx->flavour))
		ft_jira_error(out, status, msg);
	else
		ft_snow_error(out, status, msg, NULL);
}

static int
ft_routes_api(void *app, struct evhttp_request *req, const char *method, const char *path,
    const char *query, const char *body, size_t len, struct evbuffer *out)
{
	ft_ctx_t *ctx = app;
	struct evkeyvalq *in = evhttp_request_get_input_headers(req);
	const char *why = "";
	int status;

	if (ctx->flavour == FT_HTTP)
		return ft_http_handle(ctx, req, method, path, query, body, len, out);
	if (ctx->flavour == FT_SERVICENOW && strcmp(path, "/oauth_token.do") == 0) {
		bson_t reply = BSON_INITIALIZER;

		if (!ft_auth_oauth_enabled(ctx->auth))
			status = ft_snow_error(out, 404, "Requested URI does not represent any "
			    "resource", "OAuth is not configured on this fake (--client-id)");
		else if (strcmp(method, "POST") != 0)
			status = ft_routes_bad_method(ctx, req, out, "POST");
		else {
			status = ft_auth_token(ctx->auth, body, len, clock_mono_ms(), &reply);
			evhttp_add_header(evhttp_request_get_output_headers(req), "Cache-Control",
			    "no-store");
			fc_json_add(out, &reply);
		}
		bson_destroy(&reply);
		return status;
	}
	if (!ft_auth_check(ctx->auth, evhttp_find_header(in, "Authorization"), clock_mono_ms(),
	    &why)) {
		if (FT_IS_JIRA(ctx->flavour))
			return ft_jira_error(out, 401, "You are not authenticated. Authentication "
			    "required to perform this operation.");
		evhttp_add_header(evhttp_request_get_output_headers(req), "WWW-Authenticate",
		    "BASIC realm=\"Service-now\"");
		return ft_snow_error(out, 401, "User Not Authenticated",
		    "Required to provide Auth information");
	}
	if (FT_IS_JIRA(ctx->flavour))
		return ft_jira_handle(ctx, req, method, path, query, body, len, out);
	return ft_snow_handle(ctx, req, method, path, query, body, len, out);
}

static int
ft_routes_control(void *app, struct evhttp_request *req, const char *method,
    const char *path, const char *query, const char *body, size_t len,
    struct evbuffer *out)
{
	return ft_control_handle(app, req, method, path, query, body, len, out);
}

static const fc_routes_ops_t ft_routes_ops = {
	.name = "fake ticket system",
	.control = ft_routes_control,
	.api = ft_routes_api,
	.error_body = ft_routes_error_body,
};

void
ft_routes_init(ft_ctx_t *ctx)
{
	ctx->routes.base = ctx->base;
	ctx->routes.rec = ctx->rec;
	ctx->routes.faults = ctx->faults;
	ctx->routes.ops = &ft_routes_ops;
	ctx->routes.app = ctx;
}
