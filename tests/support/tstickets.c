/* tstickets: the fake ticket systems for integration tests, started and driven. */
#include "tstickets.h"

#include <curl/curl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TSTICKETS_MAX_ARGS 64

int
tstickets_start(tstickets_t *t, const tstickets_opts_t *opts, char *err, size_t errlen)
{
	static const tstickets_opts_t defaults = { 0 };
	char *argv[TSTICKETS_MAX_ARGS];
	char nums[4][32], bin[PATH_MAX], port[16];
	size_t argc = 0, nn = 0;

	memset(t, 0, sizeof(*t));
	t->proc.pid = -1;
	t->proc.stdout_fd = -1;
	if (opts == NULL)
		opts = &defaults;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	snprintf(bin, sizeof(bin), "%s/fake_tickets", tsproc_bin_dir());
	argv[argc++] = bin;
#define ARG(s) (argv[argc++] = (char *)(s))
#define OPT(flag, v)              \
	do {                      \
		if ((v) != NULL) { \
			ARG(flag); \
			ARG(v);    \
		}                  \
	} while (0)
#define NUM(flag, v)                                                  \
	do {                                                          \
		snprintf(nums[nn], sizeof(nums[nn]), "%lu", (unsigned long)(v)); \
		ARG(flag);                                            \
		ARG(nums[nn++]);                                      \
	} while (0)
	ARG("--flavour");
	ARG(opts->flavour ? opts->flavour : "jira-cloud");
	OPT("--email", opts->email);
	OPT("--api-token", opts->api_token);
	OPT("--pat", opts->pat);
	OPT("--user", opts->user);
	OPT("--password", opts->password);
	if (opts->allow_password_basic)
		ARG("--allow-password-basic");
	OPT("--client-id", opts->client_id);
	OPT("--client-secret", opts->client_secret);
	OPT("--project", opts->projects);
	OPT("--issue-types", opts->issue_types);
	OPT("--table", opts->table);
	if (opts->index_delay_ms > 0)
		NUM("--index-delay-ms", opts->index_delay_ms);
	if (opts->rate_limit > 0)
		NUM("--rate-limit", opts->rate_limit);
	OPT("--webhook-url", opts->webhook_url);
	OPT("--webhook-secret", opts->webhook_secret);
	OPT("--http-path", opts->http_path);
	OPT("--token", opts->token);
	OPT("--hmac-secret", opts->hmac_secret);
	OPT("--signature-header", opts->signature_header);
	OPT("--idempotency-header", opts->idempotency_header);
	OPT("--id-path", opts->id_path);
	if (opts->seed != 0)
		NUM("--seed", opts->seed);
	if (opts->log_requests)
		ARG("--log-requests");
	for (size_t i = 0; opts->extra_args != NULL && opts->extra_args[i] != NULL; i++) {
		if (argc + 2 >= TSTICKETS_MAX_ARGS) {
			snprintf(err, errlen, "too many extra_args");
			return -1;
		}
		ARG(opts->extra_args[i]);
	}
#undef ARG
#undef OPT
#undef NUM
	argv[argc] = NULL;
	if (tsproc_start(&t->proc, argv, NULL, opts->stderr_path, 15000, err, errlen) != 0)
		return -1;
	if (!tsproc_field(&t->proc, "port", port, sizeof(port)) || (t->port = atoi(port)) <= 0 ||
	    !tsproc_field(&t->proc, "base_url", t->base_url, sizeof(t->base_url)) ||
	    !tsproc_field(&t->proc, "control_url", t->control_url, sizeof(t->control_url)) ||
	    !tsproc_field(&t->proc, "flavour", t->flavour, sizeof(t->flavour))) {
		snprintf(err, errlen, "unexpected READY line: %s", t->proc.ready_line);
		tsproc_kill(&t->proc);
		return -1;
	}
	return 0;
}

int
tstickets_stop(tstickets_t *t)
{
	return tsproc_stop(&t->proc, 10000);
}

int
tstickets_http(tstickets_t *t, const char *method, const char *url,
    const char *const *headers, const char *body, tstickets_response_t *resp)
{
	return tsextrahop_http_at(t->base_url, NULL, t->error, sizeof(t->error), method, url,
	    headers, body, resp);
}

static int
tstickets_control(tstickets_t *t, const char *method, const char *path, const char *body,
    long want, bson_t *out)
{
	return tsextrahop_control_at(t->control_url, t->error, sizeof(t->error), method, path, body,
	    want, out);
}

int
tstickets_tickets(tstickets_t *t, bson_t *out)
{
	return tstickets_control(t, "GET", "/tickets", NULL, 200, out);
}

int
tstickets_ticket(tstickets_t *t, const char *ref, bson_t *out)
{
	char path[256];

	snprintf(path, sizeof(path), "/tickets/%s", ref);
	return tstickets_control(t, "GET", path, NULL, 200, out);
}

int
tstickets_transition(tstickets_t *t, const char *ref, const char *json, bson_t *out)
{
	char path[256];

	snprintf(path, sizeof(path), "/tickets/%s/transition", ref);
	return tstickets_control(t, "POST", path, json, 200, out);
}

int64_t
tstickets_set_fault(tstickets_t *t, const char *json)
{
	bson_t reply;
	int64_t id = -1;

	if (tstickets_control(t, "POST", "/faults", json, 200, &reply) == 0)
		id = tsextrahop_int(&reply, "id", -1);
	bson_destroy(&reply);
	return id;
}

int
tstickets_clear_faults(tstickets_t *t)
{
	return tstickets_control(t, "DELETE", "/faults", NULL, 204, NULL);
}

int
tstickets_settings(tstickets_t *t, const char *json)
{
	return tstickets_control(t, "PUT", "/settings", json, 200, NULL);
}

int
tstickets_stats(tstickets_t *t, bson_t *out)
{
	return tstickets_control(t, "GET", "/stats", NULL, 200, out);
}

int
tstickets_requests(tstickets_t *t, int64_t since, bson_t *out)
{
	char path[64];

	snprintf(path, sizeof(path), "/requests?since=%lld", (long long)since);
	return tstickets_control(t, "GET", path, NULL, 200, out);
}

int
tstickets_webhooks(tstickets_t *t, bson_t *out)
{
	return tstickets_control(t, "GET", "/webhooks", NULL, 200, out);
}

int
tstickets_reset(tstickets_t *t)
{
	return tstickets_control(t, "POST", "/reset", NULL, 204, NULL);
}
