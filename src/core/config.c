/* config: INI file + environment -> one immutable config_t; see config.h. */
#include "ticketsync/config.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <mongoc/mongoc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ticketsync/ticketspec.h"
#include "ticketsync/timefmt.h"
#include "ticketsync/xalloc.h"

#define CONFIG_OFF(field) offsetof(config_t, field)
#define CONFIG_FILE_MAX (1024 * 1024)
#define CONFIG_SECRET_FILE_MAX (64 * 1024)
#define CONFIG_STRING_MAX 4096
#define CONFIG_ENV_PREFIX "TICKETSYNC_"
/* What stands for a long line's value in the line inih sees (a control character, which
 * no accepted value holds). */
#define CONFIG_LONG_MARK "\x1d"

/* The one table of keys: docs/CONFIGURATION.md and deploy/ticketsync.ini.example
 * follow it, and tests/unit/test_config.c checks that they do. */
static const config_key_t config_keys[] = {
	{ "mongodb", "uri", CONFIG_KIND_MONGODB_URI, "mongodb://127.0.0.1:27017/?replicaSet=rs0", 0, 0,
	    CONFIG_OFF(mongodb.uri) },
	{ "mongodb", "database", CONFIG_KIND_DATABASE, "extrahop", 0, 0, CONFIG_OFF(mongodb.database) },
	{ "mongodb", "pool_max", CONFIG_KIND_INT, "16", 1, 1000, CONFIG_OFF(mongodb.pool_max) },
	{ "extrahop", "url", CONFIG_KIND_URL, NULL, 0, 0, CONFIG_OFF(extrahop.url) },
	{ "extrahop", "api_key", CONFIG_KIND_SECRET, NULL, 0, 0, CONFIG_OFF(extrahop.api_key) },
	{ "extrahop", "api_key_file", CONFIG_KIND_SECRET_FILE, NULL, 0, 0,
	    CONFIG_OFF(extrahop.api_key_file) },
	{ "extrahop", "oauth_client_id", CONFIG_KIND_STRING, NULL, 0, 0,
	    CONFIG_OFF(extrahop.oauth_client_id) },
	{ "extrahop", "oauth_client_secret", CONFIG_KIND_SECRET, NULL, 0, 0,
	    CONFIG_OFF(extrahop.oauth_client_secret) },
	{ "extrahop", "oauth_client_secret_file", CONFIG_KIND_SECRET_FILE, NULL, 0, 0,
	    CONFIG_OFF(extrahop.oauth_client_secret_file) },
	{ "extrahop", "oauth_token_url", CONFIG_KIND_URL, NULL, 0, 0,
	    CONFIG_OFF(extrahop.oauth_token_url) },
	{ "extrahop", "ca_file", CONFIG_KIND_STRING, NULL, 0, 0, CONFIG_OFF(extrahop.ca_file) },
	{ "extrahop", "ca_path", CONFIG_KIND_STRING, NULL, 0, 0, CONFIG_OFF(extrahop.ca_path) },
	{ "extrahop", "connect_timeout_ms", CONFIG_KIND_INT, "5000", 1, 600000,
	    CONFIG_OFF(extrahop.connect_timeout_ms) },
	{ "extrahop", "request_timeout_ms", CONFIG_KIND_INT, "10000", 1, 3600000,
	    CONFIG_OFF(extrahop.request_timeout_ms) },
	{ "push", "interval_ms", CONFIG_KIND_INT, "1000", 10, 3600000, CONFIG_OFF(push.interval_ms) },
	{ "push", "batch_size", CONFIG_KIND_INT, "200", 1, 100000, CONFIG_OFF(push.batch_size) },
	{ "push", "concurrency", CONFIG_KIND_INT, "16", 1, 1024, CONFIG_OFF(push.concurrency) },
	{ "push", "rate_limit", CONFIG_KIND_INT, "0", 0, 100000, CONFIG_OFF(push.rate_limit) },
	{ "push", "retry_base_ms", CONFIG_KIND_INT, "1000", 1, 3600000, CONFIG_OFF(push.retry_base_ms) },
	{ "push", "retry_max_ms", CONFIG_KIND_INT, "300000", 1, 86400000, CONFIG_OFF(push.retry_max_ms) },
	{ "push", "claim_timeout_ms", CONFIG_KIND_INT, "30000", 1000, 86400000,
	    CONFIG_OFF(push.claim_timeout_ms) },
	{ "push", "recheck_ms", CONFIG_KIND_INT, "60000", 0, 86400000,
	    CONFIG_OFF(push.recheck_ms) },
	{ "push", "unreachable_warn_ms", CONFIG_KIND_INT, "30000", 100, 86400000,
	    CONFIG_OFF(push.unreachable_warn_ms) },
	{ "watch", "max_await_ms", CONFIG_KIND_INT, "1000", 1, 60000, CONFIG_OFF(watch.max_await_ms) },
	{ "watch", "retry_base_ms", CONFIG_KIND_INT, "500", 1, 3600000, CONFIG_OFF(watch.retry_base_ms) },
	{ "watch", "retry_max_ms", CONFIG_KIND_INT, "30000", 1, 86400000, CONFIG_OFF(watch.retry_max_ms) },
	{ "watch", "rescan_batch", CONFIG_KIND_INT, "1000", 1, 1000000, CONFIG_OFF(watch.rescan_batch) },
	{ "http", "listen", CONFIG_KIND_LISTEN, "127.0.0.1:9464", 0, 0, CONFIG_OFF(http.listen) },
	{ "log", "level", CONFIG_KIND_LOG_LEVEL, "info", 0, 0, CONFIG_OFF(log.level) },
	{ "service", "instance_id", CONFIG_KIND_STRING, NULL, 0, 0, CONFIG_OFF(service.instance_id) },
	{ "service", "shutdown_timeout_ms", CONFIG_KIND_INT, "10000", 0, 3600000,
	    CONFIG_OFF(service.shutdown_timeout_ms) },
	{ "lease", "period_ms", CONFIG_KIND_INT, "15000", 500, 3600000, CONFIG_OFF(lease.period_ms) },
	{ "lease", "renew_ms", CONFIG_KIND_INT, "5000", 100, 3600000, CONFIG_OFF(lease.renew_ms) },
	{ "webhooks", "jira_secret", CONFIG_KIND_SECRET, NULL, 0, 0, CONFIG_OFF(webhooks.jira_secret) },
	{ "webhooks", "jira_secret_file", CONFIG_KIND_SECRET_FILE, NULL, 0, 0,
	    CONFIG_OFF(webhooks.jira_secret_file) },
	{ "webhooks", "servicenow_secret", CONFIG_KIND_SECRET, NULL, 0, 0,
	    CONFIG_OFF(webhooks.servicenow_secret) },
	{ "webhooks", "servicenow_secret_file", CONFIG_KIND_SECRET_FILE, NULL, 0, 0,
	    CONFIG_OFF(webhooks.servicenow_secret_file) },
	{ "webhooks", "generic_secret", CONFIG_KIND_SECRET, NULL, 0, 0,
	    CONFIG_OFF(webhooks.generic_secret) },
	{ "webhooks", "generic_secret_file", CONFIG_KIND_SECRET_FILE, NULL, 0, 0,
	    CONFIG_OFF(webhooks.generic_secret_file) },
	{ "webhooks", "jira_detection_field", CONFIG_KIND_STRING, "summary", 0, 0,
	    CONFIG_OFF(webhooks.jira_detection_field) },
	{ "webhooks", "jira_label_prefix", CONFIG_KIND_STRING, "extrahop-detection-", 0, 0,
	    CONFIG_OFF(webhooks.jira_label_prefix) },
	{ "webhooks", "servicenow_detection_field", CONFIG_KIND_STRING, "correlation_id", 0, 0,
	    CONFIG_OFF(webhooks.servicenow_detection_field) },
	{ "webhooks", "max_body_bytes", CONFIG_KIND_INT, "1048576", 1024, 67108864,
	    CONFIG_OFF(webhooks.max_body_bytes) },
	{ "statusmap", "defaults", CONFIG_KIND_BOOL, "true", 0, 0, CONFIG_OFF(statusmap.defaults) },
	{ "create", "enabled", CONFIG_KIND_BOOL, "false", 0, 0, CONFIG_OFF(create.enabled) },
	{ "create", "target", CONFIG_KIND_STRING, "jira", 0, 0, CONFIG_OFF(create.target) },
	{ "create", "risk_score_min", CONFIG_KIND_INT, "0", 0, 99, CONFIG_OFF(create.risk_score_min) },
	{ "create", "categories", CONFIG_KIND_STRING, NULL, 0, 0, CONFIG_OFF(create.categories) },
	{ "create", "types_include", CONFIG_KIND_STRING, NULL, 0, 0, CONFIG_OFF(create.types_include) },
	{ "create", "types_exclude", CONFIG_KIND_STRING, NULL, 0, 0, CONFIG_OFF(create.types_exclude) },
	{ "create", "user_created", CONFIG_KIND_STRING, "any", 0, 0, CONFIG_OFF(create.user_created) },
	{ "create", "since", CONFIG_KIND_STRING, NULL, 0, 0, CONFIG_OFF(create.since) },
	{ "create", "max_per_hour", CONFIG_KIND_INT, "500", 0, 1000000, CONFIG_OFF(create.max_per_hour) },
	{ "create", "summary", CONFIG_KIND_STRING, TICKETSPEC_DEFAULT_SUMMARY, 0, 0,
	    CONFIG_OFF(create.summary) },
	{ "create", "description", CONFIG_KIND_STRING, NULL, 0, 0, CONFIG_OFF(create.description) },
	{ "create", "labels", CONFIG_KIND_STRING, TICKETSPEC_DEFAULT_LABELS, 0, 0,
	    CONFIG_OFF(create.labels) },
	{ "create", "priority_bands", CONFIG_KIND_STRING, TICKETSPEC_DEFAULT_PRIORITY_BANDS, 0, 0,
	    CONFIG_OFF(create.priority_bands) },
	{ "create", "assignee", CONFIG_KIND_STRING, "escalations_team", 0, 0,
	    CONFIG_OFF(create.assignee) },
	{ "create", "extra_fields", CONFIG_KIND_STRING, NULL, 0, 0, CONFIG_OFF(create.extra_fields) },
	{ "create", "concurrency", CONFIG_KIND_INT, "2", 1, 64, CONFIG_OFF(create.concurrency) },
	{ "create", "rate_limit", CONFIG_KIND_INT, "5", 0, 10000, CONFIG_OFF(create.rate_limit) },
	{ "create", "retry_base_ms", CONFIG_KIND_INT, "2000", 1, 3600000, CONFIG_OFF(create.retry_base_ms) },
	{ "create", "retry_max_ms", CONFIG_KIND_INT, "600000", 1, 86400000,
	    CONFIG_OFF(create.retry_max_ms) },
	{ "create", "lookup_delay_ms", CONFIG_KIND_INT, "30000", 0, 3600000,
	    CONFIG_OFF(create.lookup_delay_ms) },
	{ "create", "request_timeout_ms", CONFIG_KIND_INT, "30000", 1, 3600000,
	    CONFIG_OFF(create.request_timeout_ms) },
	{ "jira", "url", CONFIG_KIND_URL, NULL, 0, 0, CONFIG_OFF(jira.url) },
	{ "jira", "flavour", CONFIG_KIND_STRING, "cloud", 0, 0, CONFIG_OFF(jira.flavour) },
	{ "jira", "email", CONFIG_KIND_STRING, NULL, 0, 0, CONFIG_OFF(jira.email) },
	{ "jira", "api_token", CONFIG_KIND_SECRET, NULL, 0, 0, CONFIG_OFF(jira.api_token) },
	{ "jira", "api_token_file", CONFIG_KIND_SECRET_FILE, NULL, 0, 0, CONFIG_OFF(jira.api_token_file) },
	{ "jira", "pat", CONFIG_KIND_SECRET, NULL, 0, 0, CONFIG_OFF(jira.pat) },
	{ "jira", "pat_file", CONFIG_KIND_SECRET_FILE, NULL, 0, 0, CONFIG_OFF(jira.pat_file) },
	{ "jira", "project", CONFIG_KIND_STRING, NULL, 0, 0, CONFIG_OFF(jira.project) },
	{ "jira", "issue_type", CONFIG_KIND_STRING, "Task", 0, 0, CONFIG_OFF(jira.issue_type) },
	{ "jira", "ca_file", CONFIG_KIND_STRING, NULL, 0, 0, CONFIG_OFF(jira.ca_file) },
	{ "servicenow", "url", CONFIG_KIND_URL, NULL, 0, 0, CONFIG_OFF(servicenow.url) },
	{ "servicenow", "user", CONFIG_KIND_STRING, NULL, 0, 0, CONFIG_OFF(servicenow.user) },
	{ "servicenow", "password", CONFIG_KIND_SECRET, NULL, 0, 0, CONFIG_OFF(servicenow.password) },
	{ "servicenow", "password_file", CONFIG_KIND_SECRET_FILE, NULL, 0, 0,
	    CONFIG_OFF(servicenow.password_file) },
	{ "servicenow", "oauth_client_id", CONFIG_KIND_STRING, NULL, 0, 0,
	    CONFIG_OFF(servicenow.oauth_client_id) },
	{ "servicenow", "oauth_client_secret", CONFIG_KIND_SECRET, NULL, 0, 0,
	    CONFIG_OFF(servicenow.oauth_client_secret) },
	{ "servicenow", "oauth_client_secret_file", CONFIG_KIND_SECRET_FILE, NULL, 0, 0,
	    CONFIG_OFF(servicenow.oauth_client_secret_file) },
	{ "servicenow", "oauth_token_url", CONFIG_KIND_URL, NULL, 0, 0,
	    CONFIG_OFF(servicenow.oauth_token_url) },
	{ "servicenow", "table", CONFIG_KIND_STRING, "incident", 0, 0, CONFIG_OFF(servicenow.table) },
	{ "servicenow", "assignment_group", CONFIG_KIND_STRING, NULL, 0, 0,
	    CONFIG_OFF(servicenow.assignment_group) },
	{ "servicenow", "caller", CONFIG_KIND_STRING, NULL, 0, 0, CONFIG_OFF(servicenow.caller) },
	{ "servicenow", "urgency_bands", CONFIG_KIND_STRING, TICKETSPEC_DEFAULT_SN_BANDS, 0, 0,
	    CONFIG_OFF(servicenow.urgency_bands) },
	{ "servicenow", "impact_bands", CONFIG_KIND_STRING, TICKETSPEC_DEFAULT_SN_BANDS, 0, 0,
	    CONFIG_OFF(servicenow.impact_bands) },
	{ "servicenow", "ca_file", CONFIG_KIND_STRING, NULL, 0, 0, CONFIG_OFF(servicenow.ca_file) },
	{ "create_http", "url", CONFIG_KIND_URL, NULL, 0, 0, CONFIG_OFF(create_http.url) },
	{ "create_http", "token", CONFIG_KIND_SECRET, NULL, 0, 0, CONFIG_OFF(create_http.token) },
	{ "create_http", "token_file", CONFIG_KIND_SECRET_FILE, NULL, 0, 0,
	    CONFIG_OFF(create_http.token_file) },
	{ "create_http", "secret", CONFIG_KIND_SECRET, NULL, 0, 0, CONFIG_OFF(create_http.secret) },
	{ "create_http", "secret_file", CONFIG_KIND_SECRET_FILE, NULL, 0, 0,
	    CONFIG_OFF(create_http.secret_file) },
	{ "create_http", "signature_header", CONFIG_KIND_STRING, "X-Ticketsync-Signature", 0, 0,
	    CONFIG_OFF(create_http.signature_header) },
	{ "create_http", "idempotency_header", CONFIG_KIND_STRING, "Idempotency-Key", 0, 0,
	    CONFIG_OFF(create_http.idempotency_header) },
	{ "create_http", "ticket_id_path", CONFIG_KIND_STRING, "id", 0, 0,
	    CONFIG_OFF(create_http.ticket_id_path) },
	{ "create_http", "ca_file", CONFIG_KIND_STRING, NULL, 0, 0, CONFIG_OFF(create_http.ca_file) },
	{ "sweep", "enabled", CONFIG_KIND_BOOL, "true", 0, 0, CONFIG_OFF(sweep.enabled) },
	{ "sweep", "interval_ms", CONFIG_KIND_INT, "300000", 1000, 86400000,
	    CONFIG_OFF(sweep.interval_ms) },
	{ "sweep", "page_size", CONFIG_KIND_INT, "1000", 1, 20000, CONFIG_OFF(sweep.page_size) },
	{ "sweep", "overlap_ms", CONFIG_KIND_INT, "60000", 0, 86400000, CONFIG_OFF(sweep.overlap_ms) },
	{ "sweep", "on_drift", CONFIG_KIND_STRING, "reassert", 0, 0, CONFIG_OFF(sweep.on_drift) },
};

#define CONFIG_NKEYS (sizeof(config_keys) / sizeof(config_keys[0]))

static const char *const config_sections[] = {
	"mongodb", "extrahop", "push", "watch", "http", "log", "service", "lease", "webhooks",
	"statusmap", "create", "jira", "servicenow", "create_http", "sweep",
};
#define CONFIG_NSECTIONS (sizeof(config_sections) / sizeof(config_sections[0]))

enum config_origin_kind { CONFIG_FROM_DEFAULT = 0, CONFIG_FROM_FILE, CONFIG_FROM_ENV };

struct config_origin {
	enum config_origin_kind kind;
	int line;        /* FROM_FILE */
	char env[128];   /* FROM_ENV: the variable's name */
};

struct config_entry { /* one [statusmap] entry, applied after the environment */
	char *key, *value;
	int line;
};

struct config_ctx {
	config_t *cfg;
	const char *source; /* file name for messages */
	bson_error_t *err;
	bool failed;
	int fail_line; /* the file line the error is about (0 = not a file line) */
	struct config_origin origin[CONFIG_NKEYS];
	struct config_entry *entries;
	size_t nentries, capentries;
	/* the line reader feeding inih */
	const char *p, *end;
	int lineno;
	char line[256]; /* the line inih is handling, as read (leading blanks dropped) */
	char *long_value; /* that line's value, when the line is longer than inih takes */
};

size_t
config_key_count(void)
{
	return CONFIG_NKEYS;
}

const config_key_t *
config_key_at(size_t i)
{
	return i < CONFIG_NKEYS ? &config_keys[i] : NULL;
}

void
config_key_env_name(const config_key_t *k, char *buf, size_t buflen)
{
	size_t n;

	snprintf(buf, buflen, CONFIG_ENV_PREFIX "%s_%s", k->section, k->name);
	n = strlen(buf);
	for (size_t i = 0; i < n; i++) {
		if (buf[i] >= 'a' && buf[i] <= 'z')
			buf[i] = (char)(buf[i] - 'a' + 'A');
	}
}

static void *
config_field(config_t *cfg, const config_key_t *k)
{
	return (char *)cfg + k->offset;
}

/* " (ticketsync.ini line 12)" / "" for the environment (its name leads the message). */
static void
config_where(const struct config_ctx *ctx, const struct config_origin *o, char *buf, size_t len)
{
	if (o->kind == CONFIG_FROM_FILE)
		snprintf(buf, len, " (%s line %d)", ctx->source, o->line);
	else if (o->kind == CONFIG_FROM_DEFAULT)
		snprintf(buf, len, " (default)");
	else
		buf[0] = '\0';
}

/* "[push] interval_ms" or "TICKETSYNC_PUSH_INTERVAL_MS", by where the value came from. */
static void
config_name(const config_key_t *k, const struct config_origin *o, char *buf, size_t len)
{
	if (o->kind == CONFIG_FROM_ENV)
		snprintf(buf, len, "%s", o->env);
	else
		snprintf(buf, len, "[%s] %s", k->section, k->name);
}

/* Record the first error only: it is the one the operator must fix first. code is an
 * enum config_error. */
static int
config_fail(struct config_ctx *ctx, int code, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int
config_fail(struct config_ctx *ctx, int code, int line, const char *fmt, ...)
{
	va_list ap;

	if (ctx->failed)
		return -1;
	ctx->failed = true;
	ctx->fail_line = line;
	va_start(ap, fmt);
	if (ctx->err != NULL) {
		vsnprintf(ctx->err->message, sizeof(ctx->err->message), fmt, ap);
		ctx->err->domain = ERROR_DOMAIN;
		ctx->err->code = (uint32_t)code;
	}
	va_end(ap);
	return -1;
}

/* An error about key ki's value: "<name>: <why><where>". */
static int
config_key_fail(struct config_ctx *ctx, int code, size_t ki, const struct config_origin *o,
                const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static int
config_key_fail(struct config_ctx *ctx, int code, size_t ki, const struct config_origin *o,
                const char *fmt, ...)
{
	char name[160], where[300], why[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	config_name(&config_keys[ki], o, name, sizeof(name));
	config_where(ctx, o, where, sizeof(where));
	return config_fail(ctx, code,
	    o->kind == CONFIG_FROM_FILE ? o->line : 0, "%s: %s%s", name, why,
	    where);
}

static void
config_warn(struct config_ctx *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
config_warn(struct config_ctx *ctx, const char *fmt, ...)
{
	config_t *cfg = ctx->cfg;
	va_list ap;
	int len;

	/* Measured, then written: vasprintf would allocate outside xalloc's policy. */
	va_start(ap, fmt);
	len = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (len < 0) /* an encoding error; our formats have none */
		return;
	cfg->warnings = xreallocarray(cfg->warnings, cfg->nwarnings + 1, sizeof(char *));
	cfg->warnings[cfg->nwarnings] = xmalloc((size_t)len + 1);
	va_start(ap, fmt);
	vsnprintf(cfg->warnings[cfg->nwarnings], (size_t)len + 1, fmt, ap);
	va_end(ap);
	cfg->nwarnings++;
}

/* Free a string that may hold a secret, wiping it first. */
static void
config_free_string(char **s)
{
	if (*s == NULL)
		return;
	explicit_bzero(*s, strlen(*s));
	free(*s);
	*s = NULL;
}

static bool
config_has_control(const char *s)
{
	for (; *s; s++) {
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	}
	return false;
}

/* Strict integer: optional '-', digits, nothing else; no overflow. */
static bool
config_parse_int(const char *s, int64_t *out)
{
	const char *p = s;
	char *end;
	long long v;

	if (*p == '-')
		p++;
	if (*p < '0' || *p > '9')
		return false;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0')
		return false;
	*out = v;
	return true;
}

static bool
config_parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = { "true", "yes", "1" }, *const no[] = { "false", "no", "0" };

	for (size_t i = 0; i < 3; i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = true;
			return true;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = false;
			return true;
		}
	}
	return false;
}

/* MongoDB database name rules (the stricter, cross-platform set). */
static bool
config_valid_database(const char *s, char *why, size_t len)
{
	size_t n = strlen(s);

	if (n == 0 || n >= 64) {
		snprintf(why, len, "a MongoDB database name must be 1 to 63 bytes");
		return false;
	}
	if (strpbrk(s, "/\\. \"$*<>:|?") != NULL || config_has_control(s)) {
		snprintf(why, len, "a MongoDB database name cannot contain any of /\\. \"$*<>:|? "
		                   "or control characters");
		return false;
	}
	if (!bson_utf8_validate(s, n, false)) {
		snprintf(why, len, "not valid UTF-8");
		return false;
	}
	return true;
}

/* An http(s) base URL: scheme, host, optional port and path prefix; no credentials,
 * query or fragment. Parsed by libcurl, the same parser that will use it. */
static bool
config_valid_url(const char *s, char *why, size_t len)
{
	CURLU *u = curl_url();
	CURLUcode rc;
	char *scheme = NULL, *part = NULL;
	bool ok = false;

	if (u == NULL) {
		snprintf(why, len, "cannot create a libcurl URL handle to check it");
		return false;
	}
	rc = curl_url_set(u, CURLUPART_URL, s, 0);
	if (rc != CURLUE_OK) {
		snprintf(why, len, "expected an http:// or https:// URL, got \"%s\" (%s)", s,
		    curl_url_strerror(rc));
		goto cleanup;
	}
	if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    (strcmp(scheme, "https") != 0 && strcmp(scheme, "http") != 0)) {
		snprintf(why, len, "expected an http:// or https:// URL, got \"%s\"", s);
		goto cleanup;
	}
	if (curl_url_get(u, CURLUPART_USER, &part, 0) == CURLUE_OK) {
		snprintf(why, len, "must not contain credentials (use api_key or oauth_client_*)");
		goto cleanup;
	}
	if (curl_url_get(u, CURLUPART_QUERY, &part, 0) == CURLUE_OK ||
	    curl_url_get(u, CURLUPART_FRAGMENT, &part, 0) == CURLUE_OK) {
		snprintf(why, len, "must not have a query or fragment, got \"%s\"", s);
		goto cleanup;
	}
	ok = true;
cleanup:
	curl_free(scheme);
	curl_free(part);
	curl_url_cleanup(u);
	return ok;
}

/* Loopback hosts, where plain http exposes nothing on the network. */
static bool
config_url_is_loopback(const char *url)
{
	CURLU *u = curl_url();
	char *host = NULL;
	bool lo = false;

	if (u != NULL && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK)
		lo = strcmp(host, "localhost") == 0 || strncmp(host, "127.", 4) == 0 ||
		     strcmp(host, "[::1]") == 0;
	curl_free(host);
	curl_url_cleanup(u);
	return lo;
}

/* host:port, [v6]:port; port 0..65535 (0 = pick one). */
static bool
config_parse_listen(const char *s, char **host, int *port)
{
	const char *colon, *h, *hend;
	int64_t p;
	struct in6_addr a6;
	char buf[256];

	if (s[0] == '[') {
		hend = strchr(s, ']');
		if (hend == NULL || hend[1] != ':')
			return false;
		h = s + 1;
		colon = hend + 1;
		if ((size_t)(hend - h) >= sizeof(buf))
			return false;
		memcpy(buf, h, (size_t)(hend - h));
		buf[hend - h] = '\0';
		if (inet_pton(AF_INET6, buf, &a6) != 1)
			return false;
	} else {
		colon = strrchr(s, ':');
		if (colon == NULL || colon == s || (size_t)(colon - s) >= sizeof(buf))
			return false;
		h = s;
		hend = colon;
		for (const char *c = h; c < hend; c++) {
			if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
			        (*c >= '0' && *c <= '9') || *c == '-' || *c == '.'))
				return false;
		}
		memcpy(buf, h, (size_t)(hend - h));
		buf[hend - h] = '\0';
	}
	if (colon[1] == '\0' || strlen(colon + 1) > 5 || colon[1] == '-' ||
	    !config_parse_int(colon + 1, &p) || p < 0 || p > 65535)
		return false;
	*host = xstrdup(buf);
	*port = (int)p;
	return true;
}

/* Validate value for key ki and store it; o says where it came from. */
static int
config_apply(struct config_ctx *ctx, size_t ki, const char *value, const struct config_origin *o)
{
	const config_key_t *k = &config_keys[ki];
	config_t *cfg = ctx->cfg;
	void *field = config_field(cfg, k);
	char why[512];
	size_t n = strlen(value);
	int64_t iv;
	bool bv;
	enum log_level lv;
	char *copy = NULL;

	if (n > CONFIG_STRING_MAX)
		return config_key_fail(ctx, CONFIG_ERR_VALUE, ki, o,
		    "longer than %d bytes", CONFIG_STRING_MAX);
	switch (k->kind) {
	case CONFIG_KIND_INT:
		if (!config_parse_int(value, &iv) || iv < k->min || iv > k->max)
			return config_key_fail(ctx, CONFIG_ERR_VALUE, ki, o,
			    "expected an integer from %" PRId64 " to %" PRId64 ", got \"%.64s\"", k->min, k->max,
			    value);
		*(int64_t *)field = iv;
		break;
	case CONFIG_KIND_BOOL:
		if (!config_parse_bool(value, &bv))
			return config_key_fail(ctx, CONFIG_ERR_VALUE, ki, o,
			    "expected true or false (or yes/no, 1/0), got \"%.64s\"", value);
		*(bool *)field = bv;
		break;
	case CONFIG_KIND_LOG_LEVEL:
		if (log_level_parse(value, &lv) != 0)
			return config_key_fail(ctx, CONFIG_ERR_VALUE, ki, o,
			    "expected debug, info, warn or error, got \"%.64s\"", value);
		*(enum log_level *)field = lv;
		break;
	case CONFIG_KIND_SECRET:
		/* Never quote a secret, not even a malformed one. */
		if (n > 0 && (config_has_control(value) || !bson_utf8_validate(value, n, false)))
			return config_key_fail(ctx, CONFIG_ERR_VALUE, ki, o,
			    "contains control characters or invalid UTF-8 (value not shown)");
		break;
	case CONFIG_KIND_STRING:
	case CONFIG_KIND_SECRET_FILE:
		if (config_has_control(value) || !bson_utf8_validate(value, n, false))
			return config_key_fail(ctx, CONFIG_ERR_VALUE, ki, o,
			    "contains control characters or invalid UTF-8");
		break;
	case CONFIG_KIND_URL:
		if (n > 0 && !config_valid_url(value, why, sizeof(why)))
			return config_key_fail(ctx, CONFIG_ERR_VALUE, ki, o, "%s", why);
		break;
	case CONFIG_KIND_MONGODB_URI: {
		bson_error_t uerr;
		mongoc_uri_t *uri = mongoc_uri_new_with_error(value, &uerr);

		/* The URI may hold a password: quote libmongoc's reason, not the value. */
		if (uri == NULL)
			return config_key_fail(ctx, CONFIG_ERR_VALUE, ki, o,
			    "not a valid MongoDB URI: %s",
			    uerr.message);
		mongoc_uri_destroy(uri);
		break;
	}
	case CONFIG_KIND_DATABASE:
		if (!config_valid_database(value, why, sizeof(why)))
			return config_key_fail(ctx, CONFIG_ERR_VALUE, ki, o,
			    "%s, got \"%.64s\"", why, value);
		break;
	case CONFIG_KIND_LISTEN: {
		char *host = NULL;
		int port = 0;

		if (n > 0 && strcasecmp(value, "off") != 0 && !config_parse_listen(value, &host, &port))
			return config_key_fail(ctx, CONFIG_ERR_VALUE, ki, o,
			    "expected host:port (e.g. 127.0.0.1:9464 or [::1]:9464, port 0 picks one), "
			    "\"off\" or empty, got \"%.64s\"", value);
		free(cfg->http.host);
		cfg->http.host = host;
		cfg->http.port = port;
		cfg->http.enabled = host != NULL;
		break;
	}
	}

	if (k->kind != CONFIG_KIND_INT && k->kind != CONFIG_KIND_BOOL &&
	    k->kind != CONFIG_KIND_LOG_LEVEL) {
		char **sp = field;

		/* An empty value unsets an optional string (lets the environment clear a
		 * file setting); a URL loses trailing slashes so paths can be appended. */
		if (n > 0) {
			if (k->kind == CONFIG_KIND_URL) {
				while (n > 0 && value[n - 1] == '/')
					n--;
			}
			copy = xstrndup(value, n);
		}
		config_free_string(sp);
		*sp = copy;
	}
	ctx->origin[ki] = *o;
	return 0;
}

static const char *
config_find_section(const char *name)
{
	for (size_t i = 0; i < CONFIG_NSECTIONS; i++) {
		if (strcasecmp(name, config_sections[i]) == 0)
			return config_sections[i];
	}
	return NULL;
}

static ssize_t
config_find_key(const char *section, const char *name)
{
	for (size_t i = 0; i < CONFIG_NKEYS; i++) {
		if (strcmp(config_keys[i].section, section) == 0 &&
		    strcasecmp(config_keys[i].name, name) == 0)
			return (ssize_t)i;
	}
	return -1;
}

/* "interval_ms, batch_size, ..." for "unknown key" messages. */
static void
config_section_keys(const char *section, char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < CONFIG_NKEYS && used < len; i++) {
		if (strcmp(config_keys[i].section, section) != 0)
			continue;
		int w = snprintf(buf + used, len - used, "%s%s", used ? ", " : "", config_keys[i].name);
		if (w < 0)
			break;
		used += (size_t)w;
	}
}

static void
config_add_entry(struct config_ctx *ctx, const char *key, const char *value, int line)
{
	struct config_entry *e;

	if (ctx->nentries == ctx->capentries) {
		size_t cap = ctx->capentries ? ctx->capentries * 2 : 16;

		ctx->entries = xreallocarray(ctx->entries, cap, sizeof(*e));
		ctx->capentries = cap;
	}
	e = &ctx->entries[ctx->nentries];
	e->key = xstrdup(key);
	e->value = xstrdup(value);
	e->line = line;
	ctx->nentries++;
}

/*
 * A [statusmap] entry. inih splits a line at its first '=' or ':', but status keys may
 * hold a ':' ("category:done", "Blocked: vendor"): when a ':' comes before the line's
 * first '=', the key is everything before that '=' and the value what inih found after
 * it ("key: value" lines without '=' keep inih's split).
 */
static void
config_statusmap_entry(struct config_ctx *ctx, const char *name, const char *value, int line)
{
	const char *eq = strchr(ctx->line, '='), *colon = strchr(ctx->line, ':'), *v;
	char key[sizeof(ctx->line)];
	size_t klen;

	if (eq == NULL || colon == NULL || colon > eq) {
		config_add_entry(ctx, name, value, line);
		return;
	}
	klen = (size_t)(eq - ctx->line);
	while (klen > 0 && (ctx->line[klen - 1] == ' ' || ctx->line[klen - 1] == '\t'))
		klen--;
	memcpy(key, ctx->line, klen);
	key[klen] = '\0';
	v = strchr(value, '=');
	if (v == NULL) { /* cannot happen: the '=' follows inih's separator */
		config_add_entry(ctx, name, value, line);
		return;
	}
	v++;
	while (*v == ' ' || *v == '\t')
		v++;
	config_add_entry(ctx, key, v, line);
}

/* inih handler: one "key = value" line of the file. */
static int
config_ini_handler(void *user, const char *section, const char *name, const char *value)
{
	struct config_ctx *ctx = user;
	struct config_origin o = { .kind = CONFIG_FROM_FILE, .line = ctx->lineno };
	const char *sec;
	ssize_t ki;
	char keys[512];

	if (ctx->failed)
		return 0;
	if (ctx->long_value != NULL && strcmp(value, CONFIG_LONG_MARK) == 0)
		value = ctx->long_value;
	if (section[0] == '\0')
		return config_fail(ctx, CONFIG_ERR_SYNTAX, o.line,
		           "%s line %d: \"%s\" comes before any [section]", ctx->source, o.line,
		           name) == 0;
	sec = config_find_section(section);
	if (sec == NULL) {
		char names[256];
		size_t used = 0;

		for (size_t i = 0; i < CONFIG_NSECTIONS && used < sizeof(names); i++)
			used += (size_t)snprintf(names + used, sizeof(names) - used, "%s%s",
			    i == 0 ? "" : i + 1 == CONFIG_NSECTIONS ? " and " : ", ", config_sections[i]);
		return config_fail(ctx, CONFIG_ERR_SYNTAX, o.line,
		           "[%s]: unknown section (%s line %d); sections are %s", section, ctx->source,
		           o.line, names) == 0;
	}
	ki = config_find_key(sec, name);
	if (ki < 0 && strcmp(sec, "statusmap") == 0) {
		config_statusmap_entry(ctx, name, value, o.line);
		return 1;
	}
	if (ki < 0) {
		config_section_keys(sec, keys, sizeof(keys));
		return config_fail(ctx, CONFIG_ERR_SYNTAX, o.line,
		           "[%s] %s: unknown key (%s line %d); [%s] has %s", sec, name, ctx->source,
		           o.line, sec, keys) == 0;
	}
	if (ctx->origin[ki].kind == CONFIG_FROM_FILE)
		return config_fail(ctx, CONFIG_ERR_CONFLICT, o.line,
		           "[%s] %s: given twice (%s lines %d and %d)", sec, config_keys[ki].name,
		           ctx->source, ctx->origin[ki].line, o.line) == 0;
	return config_apply(ctx, (size_t)ki, value, &o) == 0;
}

/* inih reader: one line per call, so ctx->lineno is the line inih is handling.
 * Leading blanks are dropped: inih would otherwise take an indented line as the
 * continuation of the previous value, a surprise in a file of settings. */
static char *
config_ini_reader(char *str, int num, void *stream)
{
	struct config_ctx *ctx = stream;
	const char *nl, *start;
	size_t len;

	if (ctx->failed || ctx->p >= ctx->end)
		return NULL;
	nl = memchr(ctx->p, '\n', (size_t)(ctx->end - ctx->p));
	start = ctx->p;
	len = nl ? (size_t)(nl - start) : (size_t)(ctx->end - start);
	ctx->p = nl ? nl + 1 : ctx->end;
	ctx->lineno++;
	while (len > 0 && (*start == ' ' || *start == '\t')) {
		start++;
		len--;
	}
	free(ctx->long_value);
	ctx->long_value = NULL;
	if (num < 2 || len > (size_t)num - 2) {
		/* Longer than the INI parser's line (Debian's inih: 200 bytes, fixed when it
		 * was built): the parser gets "key = <mark>" and the handler the whole value. */
		const char *eq = memchr(start, '=', len);
		const char *v, *end = start + len;
		size_t klen;

		if (eq == NULL || (klen = (size_t)(eq - start)) + 4 > (size_t)num - 2 || start[0] == '[') {
			config_fail(ctx, CONFIG_ERR_SYNTAX, ctx->lineno,
			    "%s line %d: a line this long must be key = value", ctx->source, ctx->lineno);
			return NULL;
		}
		for (v = eq + 1; v < end && (*v == ' ' || *v == '\t'); v++)
			;
		/* An inline comment starts at " ;", as inih has it. */
		for (const char *c = v; c + 1 < end; c++)
			if ((c[0] == ' ' || c[0] == '\t') && c[1] == ';') {
				end = c;
				break;
			}
		while (end > v && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
			end--;
		ctx->long_value = xstrndup(v, (size_t)(end - v));
		snprintf(str, (size_t)num, "%.*s= " CONFIG_LONG_MARK "\n", (int)klen, start);
		snprintf(ctx->line, sizeof(ctx->line), "%.*s", (int)len, start);
		return str;
	}
	memcpy(str, start, len);
	snprintf(ctx->line, sizeof(ctx->line), "%.*s", (int)len, start);
	str[len] = '\n';
	str[len + 1] = '\0';
	return str;
}

static int
config_parse_ini(struct config_ctx *ctx, const char *text)
{
	int rc;

	ctx->p = text;
	ctx->end = text + strlen(text);
	ctx->lineno = 0;
	rc = ini_parse_stream(config_ini_reader, ctx, config_ini_handler, ctx);
	/* inih reports the first bad line but reads on; a syntax error there comes before
	 * any error our handler found on a later line. */
	if (rc > 0 && (!ctx->failed || (ctx->fail_line > 0 && rc < ctx->fail_line))) {
		ctx->failed = false;
		return config_fail(ctx, CONFIG_ERR_SYNTAX, rc,
		    "%s line %d: not a [section] or key = value line", ctx->source, rc);
	}
	if (ctx->failed)
		return -1;
	if (rc < 0)
		return config_fail(ctx, CONFIG_ERR_SYNTAX, 0, "%s: cannot parse (inih error %d)",
		    ctx->source, rc);
	return 0;
}

static int
config_apply_env(struct config_ctx *ctx, char *const *envp)
{
	const size_t plen = strlen(CONFIG_ENV_PREFIX);

	for (; envp != NULL && *envp != NULL; envp++) {
		const char *var = *envp, *eq = strchr(var, '='), *rest;
		struct config_origin o = { .kind = CONFIG_FROM_ENV };
		const char *sec = NULL;
		size_t nlen;
		ssize_t ki = -1;
		char keys[512];

		if (eq == NULL || strncmp(var, CONFIG_ENV_PREFIX, plen) != 0)
			continue;
		nlen = (size_t)(eq - var);
		snprintf(o.env, sizeof(o.env), "%.*s", (int)(nlen < 127 ? nlen : 127), var);
		rest = var + plen;
		/* The longest section that prefixes it: TICKETSYNC_CREATE_HTTP_URL is
		 * [create_http] url, not [create] http_url. */
		for (size_t i = 0; i < CONFIG_NSECTIONS; i++) {
			size_t sl = strlen(config_sections[i]);

			if (strncasecmp(rest, config_sections[i], sl) == 0 && rest[sl] == '_' &&
			    (sec == NULL || sl > strlen(sec)))
				sec = config_sections[i];
		}
		/* TICKETSYNC_TEST_..., TICKETSYNC_CONFIG...: not ours to judge. */
		if (sec == NULL)
			continue;
		for (size_t i = 0; i < CONFIG_NKEYS; i++) {
			char name[128];

			if (strcmp(config_keys[i].section, sec) != 0)
				continue;
			config_key_env_name(&config_keys[i], name, sizeof(name));
			if (strlen(name) == nlen && strncmp(name, var, nlen) == 0) {
				ki = (ssize_t)i;
				break;
			}
		}
		if (ki < 0 && strcmp(sec, "statusmap") == 0)
			return config_fail(ctx, CONFIG_ERR_SYNTAX, 0,
			    "%s: unknown setting; status map entries can only be given in the config "
			    "file, the environment sets only TICKETSYNC_STATUSMAP_DEFAULTS", o.env);
		if (ki < 0) {
			config_section_keys(sec, keys, sizeof(keys));
			return config_fail(ctx, CONFIG_ERR_SYNTAX, 0,
			    "%s: unknown setting (upper-case name of a [%s] key: %s)", o.env, sec,
			    keys);
		}
		/* The first definition wins, as with getenv(3). */
		if (ctx->origin[ki].kind == CONFIG_FROM_ENV)
			continue;
		if (config_apply(ctx, (size_t)ki, eq + 1, &o) != 0)
			return -1;
	}
	return 0;
}

static size_t
config_index(const char *section, const char *name)
{
	return (size_t)config_find_key(section, name);
}

/* Read a secret file: one line, trailing newline(s) stripped, not empty. */
static int
config_read_secret(struct config_ctx *ctx, size_t file_ki, char **out)
{
	const char *path = *(char **)config_field(ctx->cfg, &config_keys[file_ki]);
	const struct config_origin *o = &ctx->origin[file_ki];
	struct stat st;
	char *buf = NULL;
	ssize_t got;
	size_t len = 0;
	int fd, rc = -1;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return config_key_fail(ctx, CONFIG_ERR_FILE, file_ki, o, "cannot read \"%s\": %s",
		    path, strerror(errno));
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		config_key_fail(ctx, CONFIG_ERR_FILE, file_ki, o,
		    "\"%s\" is not a regular file", path);
		goto cleanup;
	}
	if (st.st_size > CONFIG_SECRET_FILE_MAX) {
		config_key_fail(ctx, CONFIG_ERR_FILE, file_ki, o, "\"%s\" is larger than %d bytes",
		    path, CONFIG_SECRET_FILE_MAX);
		goto cleanup;
	}
	buf = xcalloc(1, CONFIG_SECRET_FILE_MAX + 1);
	while (len < CONFIG_SECRET_FILE_MAX &&
	       (got = read(fd, buf + len, CONFIG_SECRET_FILE_MAX - len)) != 0) {
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			config_key_fail(ctx, CONFIG_ERR_FILE, file_ki, o, "cannot read \"%s\": %s",
			    path, strerror(errno));
			goto cleanup;
		}
		len += (size_t)got;
	}
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
		buf[--len] = '\0';
	if (len == 0) {
		config_key_fail(ctx, CONFIG_ERR_VALUE, file_ki, o, "\"%s\" is empty", path);
		goto cleanup;
	}
	if (strlen(buf) != len || config_has_control(buf) || !bson_utf8_validate(buf, len, false)) {
		config_key_fail(ctx, CONFIG_ERR_VALUE, file_ki, o,
		    "\"%s\" must hold the secret on one line (no control characters, valid UTF-8)", path);
		goto cleanup;
	}
	if (st.st_mode & (S_IRGRP | S_IROTH))
		config_warn(ctx, "[%s] %s: \"%s\" is readable by group or others (mode %04o); "
		                 "restrict it with chmod 600",
		    config_keys[file_ki].section, config_keys[file_ki].name, path,
		    (unsigned)(st.st_mode & 07777));
	config_free_string(out);
	*out = buf;
	buf = NULL;
	rc = 0;
cleanup:
	if (buf != NULL) {
		explicit_bzero(buf, CONFIG_SECRET_FILE_MAX + 1);
		free(buf);
	}
	close(fd);
	return rc;
}

/* "api_key (ticketsync.ini line 3)" / "api_key (TICKETSYNC_EXTRAHOP_API_KEY)". */
static void
config_describe(const struct config_ctx *ctx, size_t ki, char *buf, size_t len)
{
	const struct config_origin *o = &ctx->origin[ki];

	if (o->kind == CONFIG_FROM_ENV)
		snprintf(buf, len, "%s (%s)", config_keys[ki].name, o->env);
	else if (o->kind == CONFIG_FROM_FILE)
		snprintf(buf, len, "%s (%s line %d)", config_keys[ki].name, ctx->source, o->line);
	else
		snprintf(buf, len, "%s", config_keys[ki].name);
}

static int
config_check_auth(struct config_ctx *ctx)
{
	config_t *cfg = ctx->cfg;
	size_t k_key = config_index("extrahop", "api_key"), k_keyf = config_index("extrahop", "api_key_file"),
	       k_id = config_index("extrahop", "oauth_client_id"),
	       k_sec = config_index("extrahop", "oauth_client_secret"),
	       k_secf = config_index("extrahop", "oauth_client_secret_file"),
	       k_tok = config_index("extrahop", "oauth_token_url");
	char a[256], b[256];
	bool has_key, has_oauth;

	if (cfg->extrahop.api_key != NULL && cfg->extrahop.api_key_file != NULL) {
		config_describe(ctx, k_key, a, sizeof(a));
		config_describe(ctx, k_keyf, b, sizeof(b));
		return config_fail(ctx, CONFIG_ERR_CONFLICT, 0,
		    "[extrahop] both %s and %s are set: give the API key once", a, b);
	}
	if (cfg->extrahop.oauth_client_secret != NULL && cfg->extrahop.oauth_client_secret_file != NULL) {
		config_describe(ctx, k_sec, a, sizeof(a));
		config_describe(ctx, k_secf, b, sizeof(b));
		return config_fail(ctx, CONFIG_ERR_CONFLICT, 0,
		    "[extrahop] both %s and %s are set: give the client secret once", a, b);
	}
	has_key = cfg->extrahop.api_key != NULL || cfg->extrahop.api_key_file != NULL;
	has_oauth = cfg->extrahop.oauth_client_id != NULL || cfg->extrahop.oauth_client_secret != NULL ||
	            cfg->extrahop.oauth_client_secret_file != NULL;
	if (has_key && has_oauth) {
		config_describe(ctx, cfg->extrahop.api_key ? k_key : k_keyf, a, sizeof(a));
		config_describe(ctx,
		    cfg->extrahop.oauth_client_id ? k_id : cfg->extrahop.oauth_client_secret ? k_sec : k_secf,
		    b, sizeof(b));
		return config_fail(ctx, CONFIG_ERR_CONFLICT, 0,
		    "[extrahop] both %s and %s are set: configure exactly one authentication method, "
		    "an API key (api_key or api_key_file) or OAuth2 (oauth_client_id with "
		    "oauth_client_secret or oauth_client_secret_file)", a, b);
	}
	if (has_oauth && cfg->extrahop.oauth_client_id == NULL) {
		config_describe(ctx, cfg->extrahop.oauth_client_secret ? k_sec : k_secf, a, sizeof(a));
		return config_fail(ctx, CONFIG_ERR_MISSING, 0,
		    "[extrahop] %s is set but oauth_client_id is not: OAuth2 needs both", a);
	}
	if (has_oauth && cfg->extrahop.oauth_client_secret == NULL &&
	    cfg->extrahop.oauth_client_secret_file == NULL) {
		config_describe(ctx, k_id, a, sizeof(a));
		return config_fail(ctx, CONFIG_ERR_MISSING, 0,
		    "[extrahop] %s is set but neither oauth_client_secret nor oauth_client_secret_file: "
		    "OAuth2 needs both", a);
	}
	if (!has_key && !has_oauth && cfg->extrahop.url != NULL)
		return config_fail(ctx, CONFIG_ERR_MISSING, 0,
		    "[extrahop] no authentication: set api_key or api_key_file (API key), or "
		    "oauth_client_id with oauth_client_secret or oauth_client_secret_file (OAuth2)");

	if (cfg->extrahop.api_key_file != NULL && config_read_secret(ctx, k_keyf, &cfg->extrahop.api_key) != 0)
		return -1;
	if (cfg->extrahop.oauth_client_secret_file != NULL &&
	    config_read_secret(ctx, k_secf, &cfg->extrahop.oauth_client_secret) != 0)
		return -1;
	cfg->extrahop.auth = has_key ? CONFIG_AUTH_API_KEY : has_oauth ? CONFIG_AUTH_OAUTH : CONFIG_AUTH_NONE;

	if (cfg->extrahop.auth == CONFIG_AUTH_OAUTH && cfg->extrahop.oauth_token_url == NULL &&
	    cfg->extrahop.url != NULL) {
		size_t n = strlen(cfg->extrahop.url) + sizeof("/oauth2/token");

		cfg->extrahop.oauth_token_url = xmalloc(n);
		snprintf(cfg->extrahop.oauth_token_url, n, "%s/oauth2/token", cfg->extrahop.url);
	} else if (cfg->extrahop.auth != CONFIG_AUTH_OAUTH && cfg->extrahop.oauth_token_url != NULL) {
		config_describe(ctx, k_tok, a, sizeof(a));
		config_warn(ctx, "[extrahop] %s is ignored without OAuth2 authentication", a);
	}
	if (cfg->extrahop.url != NULL && cfg->extrahop.auth != CONFIG_AUTH_NONE &&
	    strncmp(cfg->extrahop.url, "http://", 7) == 0 && !config_url_is_loopback(cfg->extrahop.url))
		config_warn(ctx, "[extrahop] url uses plain http to a remote host: credentials travel "
		                 "unencrypted; use https");
	return 0;
}

/* Webhook secrets shorter than this are guessable enough to deserve a warning. */
#define CONFIG_WEBHOOK_SECRET_MIN 16

/* A field name of a ticket system's payload: letters, digits and '_', 1..64 bytes. */
static bool
config_valid_field_name(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (n == 0 || n > 64)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		        c == '_'))
			return false;
	}
	return true;
}

/* [webhooks]: each source's secret given at most once (inline or from its file, which
 * is read here), and detection id fields that can name something. */
static int
config_check_webhooks(struct config_ctx *ctx)
{
	static const char *const sources[] = { "jira", "servicenow", "generic" };
	config_t *cfg = ctx->cfg;
	char **secrets[] = { &cfg->webhooks.jira_secret, &cfg->webhooks.servicenow_secret,
		&cfg->webhooks.generic_secret };
	size_t ki;

	for (size_t i = 0; i < sizeof(sources) / sizeof(sources[0]); i++) {
		char name[64], a[256], b[256];
		size_t ks, kf;
		const char *file;

		snprintf(name, sizeof(name), "%s_secret", sources[i]);
		ks = config_index("webhooks", name);
		snprintf(name, sizeof(name), "%s_secret_file", sources[i]);
		kf = config_index("webhooks", name);
		file = *(char **)config_field(cfg, &config_keys[kf]);
		if (*secrets[i] != NULL && file != NULL) {
			config_describe(ctx, ks, a, sizeof(a));
			config_describe(ctx, kf, b, sizeof(b));
			return config_fail(ctx, CONFIG_ERR_CONFLICT, 0,
			    "[webhooks] both %s and %s are set: give the %s secret once", a, b,
			    sources[i]);
		}
		if (file != NULL && config_read_secret(ctx, kf, secrets[i]) != 0)
			return -1;
		if (*secrets[i] != NULL && strlen(*secrets[i]) < CONFIG_WEBHOOK_SECRET_MIN) {
			config_describe(ctx, file != NULL ? kf : ks, a, sizeof(a));
			config_warn(ctx, "[webhooks] %s: the secret is shorter than %d bytes; use a long "
			                 "random one (e.g. openssl rand -hex 32)", a, CONFIG_WEBHOOK_SECRET_MIN);
		}
	}
	ki = config_index("webhooks", "jira_detection_field");
	if (!config_valid_field_name(cfg->webhooks.jira_detection_field))
		return config_key_fail(ctx, CONFIG_ERR_VALUE, ki, &ctx->origin[ki],
		    "expected summary, labels or an issue field name such as customfield_12345 "
		    "(letters, digits, '_'), got \"%.64s\"",
		    cfg->webhooks.jira_detection_field ? cfg->webhooks.jira_detection_field : "");
	ki = config_index("webhooks", "jira_label_prefix");
	if (strcmp(cfg->webhooks.jira_detection_field, "labels") == 0 &&
	    (cfg->webhooks.jira_label_prefix == NULL ||
	        strpbrk(cfg->webhooks.jira_label_prefix, " \t") != NULL))
		return config_key_fail(ctx, CONFIG_ERR_VALUE, ki, &ctx->origin[ki],
		    "jira_detection_field = labels needs a label prefix without blanks (Jira labels "
		    "cannot hold them), got \"%.64s\"",
		    cfg->webhooks.jira_label_prefix ? cfg->webhooks.jira_label_prefix : "");
	ki = config_index("webhooks", "servicenow_detection_field");
	if (!config_valid_field_name(cfg->webhooks.servicenow_detection_field))
		return config_key_fail(ctx, CONFIG_ERR_VALUE, ki, &ctx->origin[ki],
		    "expected an incident field name such as correlation_id or u_extrahop_detection_id "
		    "(letters, digits, '_'), got \"%.64s\"",
		    cfg->webhooks.servicenow_detection_field ? cfg->webhooks.servicenow_detection_field
		                                             : "");
	return 0;
}

/* Pairs of keys where the first must not exceed (or, strict, must stay below) the second. */
static int
config_check_order(struct config_ctx *ctx, const char *sa, const char *ka, const char *sb,
                   const char *kb, bool strict, const char *reason)
{
	size_t ia = config_index(sa, ka), ib = config_index(sb, kb);
	int64_t va = *(int64_t *)config_field(ctx->cfg, &config_keys[ia]);
	int64_t vb = *(int64_t *)config_field(ctx->cfg, &config_keys[ib]);
	char a[256], b[256];

	if (strict ? va < vb : va <= vb)
		return 0;
	config_describe(ctx, ia, a, sizeof(a));
	config_describe(ctx, ib, b, sizeof(b));
	return config_fail(ctx, CONFIG_ERR_CONFLICT, 0,
	    "[%s] %s = %" PRId64 " must be %s [%s] %s = %" PRId64 ": %s", sa, a, va,
	    strict ? "less than" : "at most", sb, b, vb, reason);
}

/* A secret given inline or by its file, at most once; the file is read here. */
static int
config_secret_once(struct config_ctx *ctx, const char *section, const char *name, char **value)
{
	char file_name[64], a[256], b[256];
	size_t ks = config_index(section, name), kf;
	const char *file;

	snprintf(file_name, sizeof(file_name), "%s_file", name);
	kf = config_index(section, file_name);
	file = *(char **)config_field(ctx->cfg, &config_keys[kf]);
	if (*value != NULL && file != NULL) {
		config_describe(ctx, ks, a, sizeof(a));
		config_describe(ctx, kf, b, sizeof(b));
		return config_fail(ctx, CONFIG_ERR_CONFLICT, 0, "[%s] both %s and %s are set: give it once",
		    section, a, b);
	}
	return file != NULL ? config_read_secret(ctx, kf, value) : 0;
}

static int
config_need(struct config_ctx *ctx, const char *section, const char *name, const char *value,
    const char *why)
{
	if (value != NULL && value[0] != '\0')
		return 0;
	return config_fail(ctx, CONFIG_ERR_MISSING, 0, "[%s] %s is required %s", section, name, why);
}

/* [sweep] on_drift: the one word that is not a number or a boolean. */
static int
config_check_sweep(struct config_ctx *ctx)
{
	config_t *cfg = ctx->cfg;
	size_t ki = config_index("sweep", "on_drift");

	if (strcmp(cfg->sweep.on_drift, "reassert") != 0 && strcmp(cfg->sweep.on_drift, "report") != 0)
		return config_key_fail(ctx, CONFIG_ERR_VALUE, ki, &ctx->origin[ki],
		    "expected reassert or report, got \"%.64s\"", cfg->sweep.on_drift);
	cfg->sweep.reassert = strcmp(cfg->sweep.on_drift, "reassert") == 0;
	return 0;
}

/* [create] and its target's section: read the secrets, check that creation can be
 * configured as asked, and build the ticket spec (its errors name their keys). */
static int
config_check_create(struct config_ctx *ctx)
{
	config_t *cfg = ctx->cfg;
	ticketspec_opts_t so = { 0 };
	size_t ki;
	bson_error_t e;
	const char *t = cfg->create.target;
	const char *why;

	if (config_secret_once(ctx, "jira", "api_token", &cfg->jira.api_token) != 0 ||
	    config_secret_once(ctx, "jira", "pat", &cfg->jira.pat) != 0 ||
	    config_secret_once(ctx, "servicenow", "password", &cfg->servicenow.password) != 0 ||
	    config_secret_once(ctx, "servicenow", "oauth_client_secret",
	        &cfg->servicenow.oauth_client_secret) != 0 ||
	    config_secret_once(ctx, "create_http", "token", &cfg->create_http.token) != 0 ||
	    config_secret_once(ctx, "create_http", "secret", &cfg->create_http.secret) != 0)
		return -1;
	ki = config_index("jira", "flavour");
	if (strcmp(cfg->jira.flavour, "cloud") != 0 && strcmp(cfg->jira.flavour, "datacenter") != 0)
		return config_key_fail(ctx, CONFIG_ERR_VALUE, ki, &ctx->origin[ki],
		    "expected cloud or datacenter, got \"%.64s\"", cfg->jira.flavour);
	cfg->jira.cloud = strcmp(cfg->jira.flavour, "cloud") == 0;
	ki = config_index("create", "target");
	if (strcmp(t, "jira") == 0)
		so.target = TICKETSPEC_JIRA;
	else if (strcmp(t, "servicenow") == 0)
		so.target = TICKETSPEC_SERVICENOW;
	else if (strcmp(t, "http") == 0)
		so.target = TICKETSPEC_HTTP;
	else
		return config_key_fail(ctx, CONFIG_ERR_VALUE, ki, &ctx->origin[ki],
		    "expected jira, servicenow or http, got \"%.64s\"", t);
	ki = config_index("create", "user_created");
	if (strcmp(cfg->create.user_created, "any") == 0)
		so.user_created = TICKETSPEC_USER_ANY;
	else if (strcmp(cfg->create.user_created, "only") == 0)
		so.user_created = TICKETSPEC_USER_ONLY;
	else if (strcmp(cfg->create.user_created, "none") == 0)
		so.user_created = TICKETSPEC_USER_NONE;
	else
		return config_key_fail(ctx, CONFIG_ERR_VALUE, ki, &ctx->origin[ki],
		    "expected any, only or none, got \"%.64s\"", cfg->create.user_created);
	ki = config_index("create", "since");
	if (cfg->create.since != NULL && !timefmt_parse_iso8601(cfg->create.since, &cfg->create.since_ms))
		return config_key_fail(ctx, CONFIG_ERR_VALUE, ki, &ctx->origin[ki],
		    "expected an ISO 8601 time such as 2026-12-01T00:00:00Z, got \"%.64s\"",
		    cfg->create.since);
	if (config_check_order(ctx, "create", "retry_base_ms", "create", "retry_max_ms", false,
	        "the first retry cannot wait longer than the longest") != 0)
		return -1;
	if (!cfg->create.enabled)
		return 0;
	why = "when [create] target names it";
	switch (so.target) {
	case TICKETSPEC_JIRA:
		if (config_need(ctx, "jira", "url", cfg->jira.url, why) != 0 ||
		    config_need(ctx, "jira", "project", cfg->jira.project, why) != 0)
			return -1;
		if (cfg->jira.cloud && (cfg->jira.email == NULL || cfg->jira.api_token == NULL))
			return config_fail(ctx, CONFIG_ERR_MISSING, 0,
			    "[jira] flavour = cloud needs email and api_token (or api_token_file): Jira "
			    "Cloud takes Basic email:api_token");
		if (!cfg->jira.cloud && cfg->jira.pat == NULL)
			return config_fail(ctx, CONFIG_ERR_MISSING, 0,
			    "[jira] flavour = datacenter needs pat (or pat_file): Jira Data Center takes a "
			    "personal access token as Bearer");
		break;
	case TICKETSPEC_SERVICENOW:
		if (config_need(ctx, "servicenow", "url", cfg->servicenow.url, why) != 0 ||
		    config_need(ctx, "servicenow", "user", cfg->servicenow.user, why) != 0 ||
		    config_need(ctx, "servicenow", "password", cfg->servicenow.password,
		        "(or password_file) when [create] target = servicenow") != 0)
			return -1;
		if ((cfg->servicenow.oauth_client_id != NULL) != (cfg->servicenow.oauth_client_secret != NULL))
			return config_fail(ctx, CONFIG_ERR_MISSING, 0,
			    "[servicenow] OAuth needs both oauth_client_id and oauth_client_secret (or "
			    "oauth_client_secret_file), with user and password (the password grant)");
		if (cfg->servicenow.oauth_client_id != NULL && cfg->servicenow.oauth_token_url == NULL) {
			size_t n = strlen(cfg->servicenow.url) + sizeof("/oauth_token.do");

			cfg->servicenow.oauth_token_url = xmalloc(n);
			snprintf(cfg->servicenow.oauth_token_url, n, "%s/oauth_token.do",
			    cfg->servicenow.url);
		}
		break;
	case TICKETSPEC_HTTP:
		if (config_need(ctx, "create_http", "url", cfg->create_http.url, why) != 0)
			return -1;
		break;
	}
	so.jira_cloud = cfg->jira.cloud;
	so.risk_score_min = cfg->create.risk_score_min;
	so.categories = cfg->create.categories;
	so.types_include = cfg->create.types_include;
	so.types_exclude = cfg->create.types_exclude;
	so.summary = cfg->create.summary;
	so.description = cfg->create.description;
	so.labels = cfg->create.labels;
	so.priority_bands = cfg->create.priority_bands;
	so.assignee = cfg->create.assignee;
	so.extra_fields = cfg->create.extra_fields;
	so.jira_project = cfg->jira.project;
	so.jira_issue_type = cfg->jira.issue_type;
	so.sn_assignment_group = cfg->servicenow.assignment_group;
	so.sn_caller = cfg->servicenow.caller;
	so.sn_urgency_bands = cfg->servicenow.urgency_bands;
	so.sn_impact_bands = cfg->servicenow.impact_bands;
	so.extrahop_url = cfg->extrahop.url;
	cfg->create.spec = ticketspec_new(&so, &e);
	if (cfg->create.spec == NULL)
		return config_fail(ctx, CONFIG_ERR_VALUE, 0, "%s", e.message);
	return 0;
}

static int
config_build_statusmap(struct config_ctx *ctx)
{
	config_t *cfg = ctx->cfg;
	bson_error_t e;

	cfg->statusmap.map = statusmap_new(cfg->statusmap.defaults);
	for (size_t i = 0; i < ctx->nentries; i++) {
		int code;

		if (statusmap_add(cfg->statusmap.map, ctx->entries[i].key, ctx->entries[i].value, &e) == 0)
			continue;
		/* A key given twice conflicts, as a key of another section given twice does. */
		code = e.code == STATUSMAP_ERR_DUPLICATE ? CONFIG_ERR_CONFLICT : CONFIG_ERR_VALUE;
		return config_fail(ctx, code, ctx->entries[i].line, "[statusmap] %s (%s line %d)",
		    e.message, ctx->source, ctx->entries[i].line);
	}
	cfg->statusmap.user_entries = ctx->nentries;
	return 0;
}

/* Inline secrets in a file others can read deserve a warning (file_mode < 0: no file). */
static void
config_check_file_mode(struct config_ctx *ctx, int file_mode)
{
	static const char *const secrets[][2] = {
		{ "extrahop", "api_key" },
		{ "extrahop", "oauth_client_secret" },
		{ "mongodb", "uri" },
		{ "webhooks", "jira_secret" },
		{ "webhooks", "servicenow_secret" },
		{ "webhooks", "generic_secret" },
		{ "jira", "api_token" },
		{ "jira", "pat" },
		{ "servicenow", "password" },
		{ "servicenow", "oauth_client_secret" },
		{ "create_http", "token" },
		{ "create_http", "secret" },
	};

	if (file_mode < 0 || !(file_mode & (S_IRGRP | S_IROTH)))
		return;
	for (size_t i = 0; i < sizeof(secrets) / sizeof(secrets[0]); i++) {
		size_t ki = config_index(secrets[i][0], secrets[i][1]);
		const char *v = *(char **)config_field(ctx->cfg, &config_keys[ki]);

		if (ctx->origin[ki].kind != CONFIG_FROM_FILE || v == NULL)
			continue;
		/* A MongoDB URI holds a secret only with credentials ("user:pass@"). */
		if (strcmp(secrets[i][1], "uri") == 0 && strchr(v, '@') == NULL)
			continue;
		config_warn(ctx,
		    "[%s] %s: %s is readable by group or others (mode %04o) and holds this secret; "
		    "chmod 600 it%s",
		    secrets[i][0], secrets[i][1], ctx->source, (unsigned)(file_mode & 07777),
		    strcmp(secrets[i][1], "uri") == 0 ? "" : " or use the matching _file key");
	}
}

static int
config_build(config_t **out, const char *text, const char *source, const char *path,
             int file_mode, char *const *envp, bson_error_t *err)
{
	struct config_ctx ctx = { 0 };
	struct config_origin def = { .kind = CONFIG_FROM_DEFAULT };
	int rc = -1;

	*out = NULL;
	ctx.err = err;
	ctx.source = source;
	ctx.cfg = xcalloc(1, sizeof(config_t));
	if (path != NULL)
		ctx.cfg->path = xstrdup(path);
	for (size_t i = 0; i < CONFIG_NKEYS; i++) {
		if (config_keys[i].default_value != NULL &&
		    config_apply(&ctx, i, config_keys[i].default_value, &def) != 0)
			goto cleanup;
	}
	if (text != NULL && config_parse_ini(&ctx, text) != 0)
		goto cleanup;
	if (config_apply_env(&ctx, envp) != 0)
		goto cleanup;
	if (config_check_auth(&ctx) != 0 || config_check_webhooks(&ctx) != 0)
		goto cleanup;
	if (config_check_order(&ctx, "push", "retry_base_ms", "push", "retry_max_ms", false,
	        "the first retry cannot wait longer than the longest") != 0 ||
	    config_check_order(&ctx, "watch", "retry_base_ms", "watch", "retry_max_ms", false,
	        "the first retry cannot wait longer than the longest") != 0 ||
	    config_check_order(&ctx, "extrahop", "request_timeout_ms", "push", "claim_timeout_ms", true,
	        "a claim must outlive the request it protects") != 0 ||
	    config_check_order(&ctx, "lease", "renew_ms", "lease", "period_ms", true,
	        "the lease must be renewed before it expires") != 0)
		goto cleanup;
	if (config_build_statusmap(&ctx) != 0 || config_check_create(&ctx) != 0 ||
	    config_check_sweep(&ctx) != 0)
		goto cleanup;
	config_check_file_mode(&ctx, file_mode);
	*out = ctx.cfg;
	ctx.cfg = NULL;
	rc = 0;
cleanup:
	for (size_t i = 0; i < ctx.nentries; i++) {
		free(ctx.entries[i].key);
		free(ctx.entries[i].value);
	}
	free(ctx.entries);
	free(ctx.long_value);
	config_destroy(ctx.cfg);
	return rc;
}

int
config_parse_string(config_t **out, const char *ini_text, char *const *envp, bson_error_t *err)
{
	return config_build(out, ini_text, "<string>", NULL, -1, envp, err);
}

int
config_load(config_t **out, const char *path, char *const *envp, bson_error_t *err)
{
	FILE *f;
	char *text = NULL;
	size_t len;
	struct stat st;
	int rc = -1;

	*out = NULL;
	if (path == NULL)
		return config_build(out, NULL, "<none>", NULL, -1, envp, err);
	f = fopen(path, "re");
	if (f == NULL) {
		bson_set_error(err, ERROR_DOMAIN, CONFIG_ERR_FILE,
		    "cannot read config file \"%s\": %s", path, strerror(errno));
		return -1;
	}
	text = xmalloc(CONFIG_FILE_MAX + 1);
	len = fread(text, 1, CONFIG_FILE_MAX + 1, f);
	if (ferror(f)) {
		bson_set_error(err, ERROR_DOMAIN, CONFIG_ERR_FILE,
		    "cannot read config file \"%s\": %s", path, strerror(errno));
		goto cleanup;
	}
	if (len > CONFIG_FILE_MAX) {
		bson_set_error(err, ERROR_DOMAIN, CONFIG_ERR_FILE,
		    "config file \"%s\" is larger than %d bytes", path, CONFIG_FILE_MAX);
		goto cleanup;
	}
	text[len] = '\0';
	if (strlen(text) != len) {
		bson_set_error(err, ERROR_DOMAIN, CONFIG_ERR_FILE,
		    "config file \"%s\" contains a NUL byte", path);
		goto cleanup;
	}
	rc = config_build(out, text, path, path,
	    fstat(fileno(f), &st) == 0 ? (int)(st.st_mode & 07777) : -1, envp, err);
cleanup:
	if (text != NULL) {
		explicit_bzero(text, CONFIG_FILE_MAX + 1);
		free(text);
	}
	fclose(f);
	return rc;
}

int
config_require_extrahop(const config_t *cfg, bson_error_t *err)
{
	if (cfg->extrahop.url == NULL) {
		bson_set_error(err, ERROR_DOMAIN, CONFIG_ERR_MISSING,
		    "[extrahop] url is required (set it in the config file or TICKETSYNC_EXTRAHOP_URL)");
		return -1;
	}
	if (cfg->extrahop.auth == CONFIG_AUTH_NONE) {
		bson_set_error(err, ERROR_DOMAIN, CONFIG_ERR_MISSING,
		    "[extrahop] no authentication: set api_key or api_key_file (API key), or "
		    "oauth_client_id with oauth_client_secret or oauth_client_secret_file (OAuth2)");
		return -1;
	}
	return 0;
}

void
config_destroy(config_t *cfg)
{
	if (cfg == NULL)
		return;
	for (size_t i = 0; i < CONFIG_NKEYS; i++) {
		enum config_key_kind k = config_keys[i].kind;

		if (k != CONFIG_KIND_INT && k != CONFIG_KIND_BOOL && k != CONFIG_KIND_LOG_LEVEL)
			config_free_string(config_field(cfg, &config_keys[i]));
	}
	free(cfg->http.host);
	for (size_t i = 0; i < cfg->nwarnings; i++)
		free(cfg->warnings[i]);
	free(cfg->warnings);
	free(cfg->path);
	statusmap_destroy(cfg->statusmap.map);
	ticketspec_destroy(cfg->create.spec);
	free(cfg);
}
