/* config: defaults, file + environment precedence, every validation error names its
 * key and origin, authentication rules, secret files, status map entries, and the
 * docs agreeing with the key table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ticketsync/config.h"
#include "ticketsync/ticketspec.h"
#include "tsfile.h"

static char tmpdir[64];

static int
setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/ts-config-XXXXXX");
	return mkdtemp(tmpdir) == NULL;
}

static int
teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) != 0;
}

/* Write a file under tmpdir with the given mode; returns its path (static buffer). */
static const char *
write_file(const char *name, const char *content, mode_t mode)
{
	static char path[4][256];
	static int slot;
	char *p = path[slot++ % 4];
	int fd;

	snprintf(p, 256, "%s/%s", tmpdir, name);
	unlink(p);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, content, strlen(content)), (ssize_t)strlen(content));
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
	return p;
}

static config_t *
parse_ok(const char *ini, char *const *envp)
{
	config_t *cfg = NULL;
	bson_error_t err;

	memset(&err, 0, sizeof(err));
	if (config_parse_string(&cfg, ini, envp, &err) != 0)
		fail_msg("unexpected error: %s", err.message);
	assert_non_null(cfg);
	return cfg;
}

/* Parsing must fail with a message containing every non-NULL needle. */
static void
parse_err(const char *ini, char *const *envp, const char *n1, const char *n2)
{
	config_t *cfg = (config_t *)0x1;
	bson_error_t err;

	memset(&err, 0, sizeof(err));
	assert_int_equal(config_parse_string(&cfg, ini, envp, &err), -1);
	assert_null(cfg);
	if (strstr(err.message, n1) == NULL || (n2 != NULL && strstr(err.message, n2) == NULL))
		fail_msg("message \"%s\" lacks \"%s\" / \"%s\"", err.message, n1, n2 ? n2 : "");
}

static void
test_defaults(void **state)
{
	config_t *cfg = parse_ok("", NULL);
	enum fields_status st;
	enum fields_resolution res;

	(void)state;
	assert_string_equal(cfg->mongodb.uri, "mongodb://127.0.0.1:27017/?replicaSet=rs0");
	assert_string_equal(cfg->mongodb.database, "extrahop");
	assert_int_equal(cfg->mongodb.pool_max, 16);
	assert_null(cfg->extrahop.url);
	assert_int_equal(cfg->extrahop.auth, CONFIG_AUTH_NONE);
	assert_null(cfg->extrahop.api_key);
	assert_null(cfg->extrahop.oauth_token_url);
	assert_null(cfg->extrahop.ca_file);
	assert_null(cfg->extrahop.ca_path);
	assert_int_equal(cfg->extrahop.connect_timeout_ms, 5000);
	assert_int_equal(cfg->extrahop.request_timeout_ms, 10000);
	assert_int_equal(cfg->push.interval_ms, 1000);
	assert_int_equal(cfg->push.batch_size, 200);
	assert_int_equal(cfg->push.concurrency, 16);
	assert_int_equal(cfg->push.rate_limit, 0);
	assert_int_equal(cfg->push.retry_base_ms, 1000);
	assert_int_equal(cfg->push.retry_max_ms, 300000);
	assert_int_equal(cfg->push.claim_timeout_ms, 30000);
	assert_int_equal(cfg->watch.max_await_ms, 1000);
	assert_int_equal(cfg->watch.retry_base_ms, 500);
	assert_int_equal(cfg->watch.retry_max_ms, 30000);
	assert_int_equal(cfg->watch.rescan_batch, 1000);
	assert_true(cfg->http.enabled);
	assert_string_equal(cfg->http.listen, "127.0.0.1:9464");
	assert_string_equal(cfg->http.host, "127.0.0.1");
	assert_int_equal(cfg->http.port, 9464);
	assert_int_equal(cfg->log.level, LOG_LEVEL_INFO);
	assert_null(cfg->service.instance_id);
	assert_int_equal(cfg->service.shutdown_timeout_ms, 10000);
	assert_true(cfg->statusmap.defaults);
	assert_int_equal(cfg->statusmap.user_entries, 0);
	assert_int_equal(statusmap_lookup(cfg->statusmap.map, "Done", "Won't Do", &st, &res),
	    STATUSMAP_MAPPED);
	assert_int_equal(res, FIELDS_RESOLUTION_NO_ACTION_TAKEN);
	assert_int_equal(cfg->nwarnings, 0);
	assert_null(cfg->path);
	/* the daemon needs more than the defaults */
	{
		bson_error_t err;

		assert_int_equal(config_require_extrahop(cfg, &err), -1);
		assert_non_null(strstr(err.message, "[extrahop] url is required"));
		assert_non_null(strstr(err.message, "TICKETSYNC_EXTRAHOP_URL"));
	}
	config_destroy(cfg);
	config_destroy(NULL);
}

static void
test_full_file_and_env_precedence(void **state)
{
	const char *ini =
	    "; comment\n"
	    "# another comment\n"
	    "[mongodb]\n"
	    "uri = mongodb://db1:27017,db2:27017/?replicaSet=rs1\n"
	    "database = soc_tickets\n"
	    "[extrahop]\n"
	    "url = https://eh.example.com:8443/\n"
	    "api_key = abc123 ; inline comment\n"
	    "ca_file = /etc/ssl/eh.pem\n"
	    "[push]\n"
	    "interval_ms = 500\n"
	    "batch_size = 50\n"
	    "  concurrency = 4\n" /* indented: a key, not a continuation */
	    "[http]\n"
	    "listen = [::1]:0\n"
	    "[log]\n"
	    "level = debug\n"
	    "[service]\n"
	    "instance_id = node-a\n";
	char *env[] = {
		"PATH=/usr/bin",
		"TICKETSYNC_PUSH_INTERVAL_MS=700",
		"TICKETSYNC_WATCH_RESCAN_BATCH=5",
		"TICKETSYNC_PUSH_INTERVAL_MS=900", /* first definition wins, like getenv */
		"TICKETSYNC_TEST_MONGODB_URI=mongodb://elsewhere", /* not a section: ignored */
		"TICKETSYNC_CONFIG=/etc/x.ini",
		NULL,
	};
	config_t *cfg = parse_ok(ini, env);

	(void)state;
	assert_string_equal(cfg->mongodb.uri, "mongodb://db1:27017,db2:27017/?replicaSet=rs1");
	assert_string_equal(cfg->mongodb.database, "soc_tickets");
	assert_string_equal(cfg->extrahop.url, "https://eh.example.com:8443");
	assert_int_equal(cfg->extrahop.auth, CONFIG_AUTH_API_KEY);
	assert_string_equal(cfg->extrahop.api_key, "abc123");
	assert_string_equal(cfg->extrahop.ca_file, "/etc/ssl/eh.pem");
	assert_int_equal(cfg->push.interval_ms, 700);
	assert_int_equal(cfg->push.batch_size, 50);
	assert_int_equal(cfg->push.concurrency, 4);
	assert_int_equal(cfg->watch.rescan_batch, 5);
	assert_true(cfg->http.enabled);
	assert_string_equal(cfg->http.host, "::1");
	assert_int_equal(cfg->http.port, 0);
	assert_int_equal(cfg->log.level, LOG_LEVEL_DEBUG);
	assert_string_equal(cfg->service.instance_id, "node-a");
	{
		bson_error_t err;

		assert_int_equal(config_require_extrahop(cfg, &err), 0);
	}
	config_destroy(cfg);
}

static void
test_env_only_and_case(void **state)
{
	char *env[] = {
		"TICKETSYNC_EXTRAHOP_URL=http://127.0.0.1:8080",
		"TICKETSYNC_EXTRAHOP_OAUTH_CLIENT_ID=client",
		"TICKETSYNC_EXTRAHOP_OAUTH_CLIENT_SECRET=s3cret",
		"TICKETSYNC_HTTP_LISTEN=off",
		"TICKETSYNC_LOG_LEVEL=warn",
		NULL,
	};
	config_t *cfg = parse_ok("[PUSH]\nInterval_MS = 20\n", env);

	(void)state;
	assert_int_equal(cfg->push.interval_ms, 20);
	assert_int_equal(cfg->extrahop.auth, CONFIG_AUTH_OAUTH);
	assert_string_equal(cfg->extrahop.oauth_client_id, "client");
	assert_string_equal(cfg->extrahop.oauth_client_secret, "s3cret");
	assert_string_equal(cfg->extrahop.oauth_token_url, "http://127.0.0.1:8080/oauth2/token");
	assert_false(cfg->http.enabled);
	assert_null(cfg->http.host);
	assert_int_equal(cfg->log.level, LOG_LEVEL_WARN);
	assert_int_equal(cfg->nwarnings, 0); /* loopback http: no warning */
	config_destroy(cfg);
}

static void
test_env_empty_clears_file_value(void **state)
{
	const char *ini = "[extrahop]\nurl = https://eh\napi_key = inline\n";
	const char *keyfile = write_file("key", "from-file\n", 0600);
	char var[300];
	char *env[] = { "TICKETSYNC_EXTRAHOP_API_KEY=", var, "TICKETSYNC_HTTP_LISTEN=", NULL };
	config_t *cfg;

	(void)state;
	snprintf(var, sizeof(var), "TICKETSYNC_EXTRAHOP_API_KEY_FILE=%s", keyfile);
	cfg = parse_ok(ini, env);
	assert_string_equal(cfg->extrahop.api_key, "from-file");
	assert_string_equal(cfg->extrahop.api_key_file, keyfile);
	assert_false(cfg->http.enabled);
	assert_null(cfg->http.listen);
	config_destroy(cfg);
}

static void
test_int_errors_name_key(void **state)
{
	(void)state;
	for (size_t i = 0; i < config_key_count(); i++) {
		const config_key_t *k = config_key_at(i);
		char ini[256], want[256], env_name[64], env_var[128], range[96];
		char *env[] = { env_var, NULL };
		const char *bad[] = { "abc", "", "12x", "1.5", " ", "0x10", "99999999999999999999999" };

		if (k->kind != CONFIG_KIND_INT)
			continue;
		config_key_env_name(k, env_name, sizeof(env_name));
		snprintf(range, sizeof(range), "expected an integer from %" PRId64 " to %" PRId64, k->min,
		    k->max);
		for (size_t b = 0; b < sizeof(bad) / sizeof(bad[0]); b++) {
			/* in the file: "[sec] key: ... (<string> line 2)" */
			snprintf(ini, sizeof(ini), "[%s]\n%s = %s\n", k->section, k->name, bad[b]);
			snprintf(want, sizeof(want), "[%s] %s: %s", k->section, k->name, range);
			parse_err(ini, NULL, want, "(<string> line 2)");
			/* in the environment: "TICKETSYNC_SEC_KEY: ..." */
			snprintf(env_var, sizeof(env_var), "%s=%s", env_name, bad[b]);
			snprintf(want, sizeof(want), "%s: %s", env_name, range);
			parse_err("", env, want, NULL);
		}
		/* just outside the range, and the bounds themselves */
		snprintf(ini, sizeof(ini), "[%s]\n%s = %" PRId64 "\n", k->section, k->name, k->min - 1);
		parse_err(ini, NULL, range, "line 2");
		snprintf(ini, sizeof(ini), "[%s]\n%s = %" PRId64 "\n", k->section, k->name, k->max + 1);
		parse_err(ini, NULL, range, "line 2");
	}
	parse_err("[push]\ninterval_ms = abc\n", NULL,
	    "[push] interval_ms: expected an integer from 10 to 3600000, got \"abc\" (<string> line 2)",
	    NULL);
}

static void
test_int_bounds_accepted(void **state)
{
	config_t *cfg = parse_ok("[push]\ninterval_ms = 10\nrate_limit = 100000\nretry_base_ms = 1\n"
	                         "[service]\nshutdown_timeout_ms = 0\n[mongodb]\npool_max = 1000\n",
	    NULL);

	(void)state;
	assert_int_equal(cfg->push.interval_ms, 10);
	assert_int_equal(cfg->push.rate_limit, 100000);
	assert_int_equal(cfg->push.retry_base_ms, 1);
	assert_int_equal(cfg->service.shutdown_timeout_ms, 0);
	assert_int_equal(cfg->mongodb.pool_max, 1000);
	config_destroy(cfg);
}

static void
test_other_value_errors(void **state)
{
	char *env[2] = { NULL, NULL };

	(void)state;
	parse_err("[statusmap]\ndefaults = maybe\n", NULL,
	    "[statusmap] defaults: expected true or false (or yes/no, 1/0), got \"maybe\" (<string> line 2)",
	    NULL);
	parse_err("[log]\nlevel = verbose\n", NULL,
	    "[log] level: expected debug, info, warn or error, got \"verbose\" (<string> line 2)", NULL);
	parse_err("[mongodb]\nuri = postgres://x\n", NULL, "[mongodb] uri: not a valid MongoDB URI",
	    "line 2");
	parse_err("[mongodb]\nuri =\n", NULL, "[mongodb] uri: not a valid MongoDB URI", NULL);
	parse_err("[mongodb]\ndatabase = my.db\n", NULL, "[mongodb] database: a MongoDB database name",
	    "\"my.db\"");
	parse_err("[mongodb]\ndatabase = a/b\n", NULL, "[mongodb] database", NULL);
	parse_err("[mongodb]\ndatabase = a$b\n", NULL, "[mongodb] database", NULL);
	parse_err("[mongodb]\ndatabase = \n", NULL, "[mongodb] database", "1 to 63 bytes");
	parse_err("[mongodb]\ndatabase = "
	          "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n",
	    NULL, "[mongodb] database", "1 to 63 bytes");
	/* URLs */
	parse_err("[extrahop]\nurl = ftp://eh.example.com\napi_key = k\n", NULL,
	    "[extrahop] url: expected an http:// or https:// URL", "line 2");
	parse_err("[extrahop]\nurl = eh.example.com\napi_key = k\n", NULL,
	    "[extrahop] url: expected an http:// or https:// URL", "\"eh.example.com\"");
	parse_err("[extrahop]\nurl = https://user:pw@eh.example.com\n", NULL, "[extrahop] url",
	    "must not contain credentials");
	parse_err("[extrahop]\nurl = https://eh.example.com/?a=b\n", NULL, "[extrahop] url",
	    "query or fragment");
	parse_err("[extrahop]\nurl = https://eh.example.com:99999\n", NULL, "[extrahop] url", NULL);
	parse_err("[extrahop]\nurl = https://\n", NULL, "[extrahop] url", NULL);
	parse_err("[extrahop]\noauth_token_url = gopher://x\n", NULL, "[extrahop] oauth_token_url", NULL);
	/* listen */
	parse_err("[http]\nlisten = 9464\n", NULL, "[http] listen: expected host:port", "\"9464\"");
	parse_err("[http]\nlisten = 127.0.0.1:65536\n", NULL, "[http] listen", NULL);
	parse_err("[http]\nlisten = 127.0.0.1:-1\n", NULL, "[http] listen", NULL);
	parse_err("[http]\nlisten = :9464\n", NULL, "[http] listen", NULL);
	parse_err("[http]\nlisten = ::1:9464\n", NULL, "[http] listen", NULL);
	parse_err("[http]\nlisten = [zz::1]:9464\n", NULL, "[http] listen", NULL);
	parse_err("[http]\nlisten = [::1]9464\n", NULL, "[http] listen", NULL);
	parse_err("[http]\nlisten = host name:80\n", NULL, "[http] listen", NULL);
	/* control characters and invalid UTF-8 */
	env[0] = "TICKETSYNC_SERVICE_INSTANCE_ID=a\tb";
	parse_err("", env, "TICKETSYNC_SERVICE_INSTANCE_ID: contains control characters", NULL);
	parse_err("[extrahop]\nca_file = /etc/\xff\n", NULL, "[extrahop] ca_file", "invalid UTF-8");
	/* a bad secret is never quoted */
	env[0] = "TICKETSYNC_EXTRAHOP_API_KEY=topsecret\x01";
	parse_err("", env, "TICKETSYNC_EXTRAHOP_API_KEY: contains control characters", "value not shown");
	{
		config_t *cfg = NULL;
		bson_error_t err;

		assert_int_equal(config_parse_string(&cfg, "", env, &err), -1);
		assert_null(strstr(err.message, "topsecret"));
	}
	/* the environment names itself */
	env[0] = "TICKETSYNC_HTTP_LISTEN=nonsense";
	parse_err("", env, "TICKETSYNC_HTTP_LISTEN: expected host:port", NULL);
}

static void
test_listen_forms(void **state)
{
	config_t *cfg = parse_ok("[http]\nlisten = localhost:8080\n", NULL);

	(void)state;
	assert_string_equal(cfg->http.host, "localhost");
	assert_int_equal(cfg->http.port, 8080);
	config_destroy(cfg);
	cfg = parse_ok("[http]\nlisten = 0.0.0.0:65535\n", NULL);
	assert_string_equal(cfg->http.host, "0.0.0.0");
	assert_int_equal(cfg->http.port, 65535);
	config_destroy(cfg);
	cfg = parse_ok("[http]\nlisten = OFF\n", NULL);
	assert_false(cfg->http.enabled);
	config_destroy(cfg);
	cfg = parse_ok("[http]\nlisten =\n", NULL);
	assert_false(cfg->http.enabled);
	config_destroy(cfg);
}

static void
test_booleans(void **state)
{
	const char *yes[] = { "true", "TRUE", "yes", "Yes", "1" }, *no[] = { "false", "no", "NO", "0" };
	char ini[64];

	(void)state;
	for (size_t i = 0; i < 5; i++) {
		config_t *cfg;

		snprintf(ini, sizeof(ini), "[statusmap]\ndefaults = %s\n", yes[i]);
		cfg = parse_ok(ini, NULL);
		assert_true(cfg->statusmap.defaults);
		config_destroy(cfg);
	}
	for (size_t i = 0; i < 4; i++) {
		config_t *cfg;

		snprintf(ini, sizeof(ini), "[statusmap]\ndefaults = %s\n", no[i]);
		cfg = parse_ok(ini, NULL);
		assert_false(cfg->statusmap.defaults);
		assert_int_equal(statusmap_count(cfg->statusmap.map), 0);
		config_destroy(cfg);
	}
}

static void
test_structure_errors(void **state)
{
	char *env[2] = { NULL, NULL };
	char longline[400];

	(void)state;
	parse_err("[push]\nintervalms = 5\n", NULL, "[push] intervalms: unknown key (<string> line 2)",
	    "interval_ms, batch_size");
	parse_err("[pussh]\ninterval_ms = 5\n", NULL, "[pussh]: unknown section (<string> line 2)",
	    "webhooks, statusmap, create, jira, servicenow, create_http and sweep");
	parse_err("interval_ms = 5\n", NULL, "<string> line 1: \"interval_ms\" comes before any [section]",
	    NULL);
	parse_err("[push]\ninterval_ms = 50\n\n[push]\ninterval_ms = 60\n", NULL,
	    "[push] interval_ms: given twice (<string> lines 2 and 5)", NULL);
	parse_err("[push]\ninterval_ms 50\n", NULL, "<string> line 2: not a [section] or key = value line",
	    NULL);
	parse_err("[push\n", NULL, "<string> line 1: not a [section]", NULL);
	/* the first error is reported, even when a later line is also wrong */
	parse_err("[push]\nbad line\nunknown = 1\n", NULL, "line 2", NULL);
	parse_err("[push]\nbatch_size = 0\nnope = 1\n", NULL, "[push] batch_size", "line 2");
	/* lines longer than the parser's buffer are read whole (not silently split) and the
	 * value judged as any other: here a host name longer than a URI may hold */
	memset(longline, 'a', sizeof(longline));
	memcpy(longline, "[mongodb]\nuri = mongodb://", 26);
	longline[sizeof(longline) - 2] = '\n';
	longline[sizeof(longline) - 1] = '\0';
	parse_err(longline, NULL, "[mongodb] uri: not a valid MongoDB URI", "line 2");
	/* environment: unknown key in a known section */
	env[0] = "TICKETSYNC_PUSH_INTERVALMS=5";
	parse_err("", env, "TICKETSYNC_PUSH_INTERVALMS: unknown setting", "interval_ms");
	env[0] = "TICKETSYNC_STATUSMAP_DONE=closed";
	parse_err("", env, "TICKETSYNC_STATUSMAP_DONE: unknown setting",
	    "status map entries can only be given in the config file");
}

static void
test_auth_rules(void **state)
{
	char *env[3] = { NULL, NULL, NULL };
	config_t *cfg;

	(void)state;
	parse_err("[extrahop]\nurl = https://eh\napi_key = k\noauth_client_id = c\noauth_client_secret = s\n",
	    NULL, "[extrahop] both api_key (<string> line 3) and oauth_client_id (<string> line 4)",
	    "exactly one authentication method");
	env[0] = "TICKETSYNC_EXTRAHOP_OAUTH_CLIENT_ID=c";
	parse_err("[extrahop]\napi_key = k\n", env, "api_key (<string> line 2)",
	    "oauth_client_id (TICKETSYNC_EXTRAHOP_OAUTH_CLIENT_ID)");
	parse_err("[extrahop]\nurl = https://eh\n", NULL, "[extrahop] no authentication",
	    "api_key or api_key_file");
	parse_err("[extrahop]\nurl = https://eh\noauth_client_id = c\n", NULL,
	    "[extrahop] oauth_client_id (<string> line 3) is set but neither oauth_client_secret nor "
	    "oauth_client_secret_file",
	    NULL);
	parse_err("[extrahop]\nurl = https://eh\noauth_client_secret = s\n", NULL,
	    "oauth_client_secret (<string> line 3) is set but oauth_client_id is not", NULL);
	parse_err("[extrahop]\napi_key = a\napi_key_file = /nonexistent\n", NULL,
	    "[extrahop] both api_key (<string> line 2) and api_key_file (<string> line 3)", NULL);
	parse_err("[extrahop]\noauth_client_id = c\noauth_client_secret = s\n"
	          "oauth_client_secret_file = /x\n",
	    NULL, "both oauth_client_secret", "oauth_client_secret_file");
	/* credentials without a url load (ticketsyncctl), but the daemon refuses */
	cfg = parse_ok("[extrahop]\napi_key = k\n", NULL);
	{
		bson_error_t err;

		assert_int_equal(config_require_extrahop(cfg, &err), -1);
		assert_non_null(strstr(err.message, "url is required"));
	}
	config_destroy(cfg);
	/* explicit token url kept; trailing slash dropped */
	cfg = parse_ok("[extrahop]\nurl = https://t.api.cloud.extrahop.com\noauth_client_id = c\n"
	               "oauth_client_secret = s\noauth_token_url = https://auth.example.com/token/\n",
	    NULL);
	assert_string_equal(cfg->extrahop.oauth_token_url, "https://auth.example.com/token");
	config_destroy(cfg);
	/* a token url with an API key is ignored with a warning */
	cfg = parse_ok("[extrahop]\nurl = https://eh\napi_key = k\noauth_token_url = https://a/t\n", NULL);
	assert_int_equal(cfg->nwarnings, 1);
	assert_non_null(strstr(cfg->warnings[0], "oauth_token_url"));
	config_destroy(cfg);
	/* plain http to a remote host carries credentials in clear */
	cfg = parse_ok("[extrahop]\nurl = http://eh.example.com\napi_key = k\n", NULL);
	assert_int_equal(cfg->nwarnings, 1);
	assert_non_null(strstr(cfg->warnings[0], "plain http"));
	assert_null(strstr(cfg->warnings[0], "k\n"));
	config_destroy(cfg);
}

static void
test_secret_files(void **state)
{
	char ini[512];
	const char *p;
	config_t *cfg;

	(void)state;
	/* read, trailing CR/LF stripped, owner-only: no warning */
	p = write_file("apikey", "s3cr3t-key\r\n\n", 0600);
	snprintf(ini, sizeof(ini), "[extrahop]\nurl = https://eh\napi_key_file = %s\n", p);
	cfg = parse_ok(ini, NULL);
	assert_int_equal(cfg->extrahop.auth, CONFIG_AUTH_API_KEY);
	assert_string_equal(cfg->extrahop.api_key, "s3cr3t-key");
	assert_int_equal(cfg->nwarnings, 0);
	config_destroy(cfg);

	/* group/world readable: a warning that names the file, not the secret */
	p = write_file("apikey", "s3cr3t-key\n", 0644);
	snprintf(ini, sizeof(ini), "[extrahop]\nurl = https://eh\napi_key_file = %s\n", p);
	cfg = parse_ok(ini, NULL);
	assert_int_equal(cfg->nwarnings, 1);
	assert_non_null(strstr(cfg->warnings[0], "[extrahop] api_key_file"));
	assert_non_null(strstr(cfg->warnings[0], p));
	assert_non_null(strstr(cfg->warnings[0], "0644"));
	assert_null(strstr(cfg->warnings[0], "s3cr3t"));
	config_destroy(cfg);

	/* OAuth client secret from a file */
	p = write_file("oauth", "client-secret\n", 0400);
	snprintf(ini, sizeof(ini),
	    "[extrahop]\nurl = https://t.example.com\noauth_client_id = id\noauth_client_secret_file = %s\n",
	    p);
	cfg = parse_ok(ini, NULL);
	assert_int_equal(cfg->extrahop.auth, CONFIG_AUTH_OAUTH);
	assert_string_equal(cfg->extrahop.oauth_client_secret, "client-secret");
	assert_string_equal(cfg->extrahop.oauth_token_url, "https://t.example.com/oauth2/token");
	config_destroy(cfg);

	/* empty (or only a newline) */
	p = write_file("empty", "\n", 0600);
	snprintf(ini, sizeof(ini), "[extrahop]\napi_key_file = %s\n", p);
	parse_err(ini, NULL, "[extrahop] api_key_file", "is empty (<string> line 2)");
	/* more than one line */
	p = write_file("twolines", "abc\ndef\n", 0600);
	snprintf(ini, sizeof(ini), "[extrahop]\napi_key_file = %s\n", p);
	parse_err(ini, NULL, "[extrahop] api_key_file", "on one line");
	/* missing */
	snprintf(ini, sizeof(ini), "[extrahop]\napi_key_file = %s/nope\n", tmpdir);
	parse_err(ini, NULL, "[extrahop] api_key_file: cannot read", "No such file");
	/* a directory */
	snprintf(ini, sizeof(ini), "[extrahop]\napi_key_file = %s\n", tmpdir);
	parse_err(ini, NULL, "[extrahop] api_key_file", "not a regular file");
	/* named by the environment */
	{
		char var[300];
		char *env[] = { var, NULL };

		snprintf(var, sizeof(var), "TICKETSYNC_EXTRAHOP_OAUTH_CLIENT_SECRET_FILE=%s/nope", tmpdir);
		parse_err("[extrahop]\noauth_client_id = c\n", env,
		    "TICKETSYNC_EXTRAHOP_OAUTH_CLIENT_SECRET_FILE: cannot read", NULL);
	}
}

/* [create] and its target's section: what creation needs is checked only when it is
 * on, every refusal names its key, and the spec is built from the options. */
/* Lines longer than the INI parser's own limit (200 bytes in Debian's inih): a
 * realistic 195-character replica-set URI and a 4 KB value are read whole; an inline
 * comment after them is dropped as on short lines. */
static void
test_long_lines(void **state)
{
	char uri[256], big[4200], ini[8192];
	config_t *cfg;

	(void)state;
	snprintf(uri, sizeof(uri), "mongodb://ticketsync:%s@mongo-a.soc.example.internal:27017,"
	    "mongo-b.soc.example.internal:27017,mongo-c.soc.example.internal:27017/"
	    "?replicaSet=rs0&tls=true&authSource=admin&readPreference=primary",
	    "s3cr3t-passw0rd-0123456789");
	assert_true(strlen(uri) >= 195);
	memset(big, 'x', 4000);
	memcpy(big, "{id} ", 5);
	big[4000] = '\0';
	snprintf(ini, sizeof(ini), "[mongodb]\nuri = %s   ; the SOC's set\n[create]\nsummary = %s\n",
	    uri, big);
	cfg = parse_ok(ini, NULL);
	assert_string_equal(cfg->mongodb.uri, uri);
	assert_int_equal(strlen(cfg->create.summary), 4000);
	config_destroy(cfg);
	/* A long line that is not key = value is still an error, with its line. */
	snprintf(ini, sizeof(ini), "[mongodb]\n%s\n", big);
	parse_err(ini, NULL, "<string> line 2: a line this long must be key = value", NULL);
	/* A long value keeps every check of its key. */
	snprintf(ini, sizeof(ini), "[push]\ninterval_ms = %s\n", big);
	parse_err(ini, NULL, "[push] interval_ms: expected an integer", "line 2");
}

static void
test_create_rules(void **state)
{
	config_t *cfg;
	char *env[3] = { NULL, NULL, NULL };
	const char *jira = "[create]\nenabled = true\n[jira]\nurl = https://j.example\n"
	                   "email = a@example.com\napi_token = t\nproject = SEC\n";

	(void)state;
	/* Off: nothing of it is required. */
	cfg = parse_ok("[create]\ntarget = servicenow\n", NULL);
	assert_false(cfg->create.enabled);
	assert_null(cfg->create.spec);
	config_destroy(cfg);
	cfg = parse_ok(jira, NULL);
	assert_true(cfg->create.enabled);
	assert_true(cfg->jira.cloud);
	assert_non_null(cfg->create.spec);
	assert_int_equal(ticketspec_target(cfg->create.spec), TICKETSPEC_JIRA);
	assert_string_equal(cfg->create.assignee, "escalations_team");
	config_destroy(cfg);
	parse_err("[create]\ntarget = remedy\n", NULL,
	    "[create] target: expected jira, servicenow or http, got \"remedy\"", "line 2");
	parse_err("[create]\nuser_created = maybe\n", NULL, "[create] user_created", "any, only or none");
	parse_err("[create]\nsince = yesterday\n", NULL, "[create] since: expected an ISO 8601 time", NULL);
	parse_err("[jira]\nflavour = server\n", NULL, "[jira] flavour: expected cloud or datacenter", NULL);
	parse_err("[create]\nenabled = true\n", NULL, "[jira] url is required", NULL);
	parse_err("[create]\nenabled = true\n[jira]\nurl = https://j.example\n", NULL,
	    "[jira] project is required", NULL);
	parse_err("[create]\nenabled = true\n[jira]\nurl = https://j\nproject = SEC\n", NULL,
	    "[jira] flavour = cloud needs email and api_token", NULL);
	parse_err("[create]\nenabled = true\n[jira]\nurl = https://j\nproject = SEC\n"
	          "flavour = datacenter\n", NULL, "[jira] flavour = datacenter needs pat", NULL);
	parse_err("[create]\nenabled = true\ntarget = servicenow\n[servicenow]\nurl = https://s\n"
	          "user = u\n", NULL, "[servicenow] password is required", NULL);
	parse_err("[create]\nenabled = true\ntarget = http\n", NULL, "[create_http] url is required",
	    NULL);
	parse_err("[jira]\napi_token = a\napi_token_file = /nonexistent\n", NULL,
	    "[jira] both api_token", "give it once");
	/* The spec's own refusals name their key. */
	parse_err("[create]\nenabled = true\nsummary = {id} {severity}\n[jira]\nurl = https://j\n"
	          "email = a@b\napi_token = t\nproject = SEC\n", NULL,
	    "[create] summary: unknown placeholder \"{severity}\"", NULL);
	/* From the environment, as every key. */
	env[0] = "TICKETSYNC_CREATE_RISK_SCORE_MIN=60";
	env[1] = "TICKETSYNC_JIRA_FLAVOUR=datacenter";
	cfg = parse_ok("", env);
	assert_int_equal(cfg->create.risk_score_min, 60);
	assert_false(cfg->jira.cloud);
	config_destroy(cfg);
	/* [create_http] url, not [create] http_url: the longest section wins. */
	env[0] = "TICKETSYNC_CREATE_HTTP_URL=https://t.example/tickets";
	env[1] = "TICKETSYNC_CREATE_TARGET=http";
	cfg = parse_ok("[create]\nenabled = true\n", env);
	assert_string_equal(cfg->create_http.url, "https://t.example/tickets");
	assert_int_equal(ticketspec_target(cfg->create.spec), TICKETSPEC_HTTP);
	config_destroy(cfg);
}

static void
test_cross_field_checks(void **state)
{
	char *env[] = { "TICKETSYNC_PUSH_RETRY_MAX_MS=100", NULL };

	(void)state;
	parse_err("[push]\nretry_base_ms = 5000\n", env, "retry_base_ms (<string> line 2) = 5000",
	    "retry_max_ms (TICKETSYNC_PUSH_RETRY_MAX_MS) = 100");
	parse_err("[watch]\nretry_base_ms = 60000\n", NULL, "[watch] retry_base_ms", "retry_max_ms");
	parse_err("[extrahop]\nrequest_timeout_ms = 200000\n", NULL, "request_timeout_ms",
	    "claim_timeout_ms = 30000: a claim must outlive the request it protects");
}

static void
test_statusmap_entries(void **state)
{
	const char *ini = "[statusmap]\n"
	                  "Waiting for Customer = acknowledged\n"
	                  "Done|Won't Do = closed/action_taken\n"
	                  "Resolved = closed/from_ticket\n";
	config_t *cfg = parse_ok(ini, NULL);
	enum fields_status st;
	enum fields_resolution res;
	char *env[] = { "TICKETSYNC_STATUSMAP_DEFAULTS=no", NULL };

	(void)state;
	assert_int_equal(cfg->statusmap.user_entries, 3);
	assert_int_equal(statusmap_lookup(cfg->statusmap.map, "waiting for customer", NULL, &st, &res),
	    STATUSMAP_MAPPED);
	assert_int_equal(st, FIELDS_STATUS_ACKNOWLEDGED);
	statusmap_lookup(cfg->statusmap.map, "Done", "Won't Do", &st, &res);
	assert_int_equal(res, FIELDS_RESOLUTION_ACTION_TAKEN);
	statusmap_lookup(cfg->statusmap.map, "Resolved", NULL, &st, &res);
	assert_int_equal(res, FIELDS_RESOLUTION_NULL);
	/* defaults still apply under the entries */
	assert_int_equal(statusmap_lookup(cfg->statusmap.map, "In Review", NULL, &st, &res),
	    STATUSMAP_MAPPED);
	config_destroy(cfg);

	/* defaults off (here from the environment, after the entries) */
	cfg = parse_ok(ini, env);
	assert_false(cfg->statusmap.defaults);
	assert_int_equal(statusmap_count(cfg->statusmap.map), 3);
	assert_int_equal(statusmap_lookup(cfg->statusmap.map, "In Review", NULL, &st, &res),
	    STATUSMAP_UNMAPPED);
	config_destroy(cfg);

	/* errors name the entry and its line */
	parse_err("[statusmap]\n\nDone = clsed\n", NULL, "[statusmap] \"Done\" = \"clsed\": unknown ExtraHop status",
	    "(<string> line 3)");
	parse_err("[statusmap]\nTriage = new/action_taken\n", NULL, "[statusmap] \"Triage\"",
	    "only goes with closed");
	parse_err("[statusmap]\nDone = closed\n done = new\n", NULL, "given twice", "line 3");
}

/* [webhooks]: defaults (every source disabled), secrets inline, from files and the
 * environment, each given once; detection id fields checked. */
static void
test_webhooks_section(void **state)
{
	char ini[512];
	const char *p;
	config_t *cfg;

	(void)state;
	cfg = parse_ok("", NULL);
	assert_null(cfg->webhooks.jira_secret);
	assert_null(cfg->webhooks.servicenow_secret);
	assert_null(cfg->webhooks.generic_secret);
	assert_string_equal(cfg->webhooks.jira_detection_field, "summary");
	assert_string_equal(cfg->webhooks.jira_label_prefix, "extrahop-detection-");
	assert_string_equal(cfg->webhooks.servicenow_detection_field, "correlation_id");
	assert_int_equal(cfg->webhooks.max_body_bytes, 1048576);
	config_destroy(cfg);

	/* a secret file, an inline secret and the environment, one per source */
	p = write_file("jira.secret", "jira-0123456789abcdef\n", 0600);
	snprintf(ini, sizeof(ini),
	    "[webhooks]\njira_secret_file = %s\nservicenow_secret = snow-0123456789abcdef\n"
	    "jira_detection_field = customfield_10042\nmax_body_bytes = 65536\n", p);
	{
		char *env[] = { "TICKETSYNC_WEBHOOKS_GENERIC_SECRET=generic-0123456789abcdef",
			"TICKETSYNC_WEBHOOKS_SERVICENOW_DETECTION_FIELD=u_extrahop_detection_id", NULL };

		cfg = parse_ok(ini, env);
	}
	assert_string_equal(cfg->webhooks.jira_secret, "jira-0123456789abcdef");
	assert_string_equal(cfg->webhooks.servicenow_secret, "snow-0123456789abcdef");
	assert_string_equal(cfg->webhooks.generic_secret, "generic-0123456789abcdef");
	assert_string_equal(cfg->webhooks.jira_detection_field, "customfield_10042");
	assert_string_equal(cfg->webhooks.servicenow_detection_field, "u_extrahop_detection_id");
	assert_int_equal(cfg->webhooks.max_body_bytes, 65536);
	assert_int_equal(cfg->nwarnings, 0);
	config_destroy(cfg);

	/* a short secret loads with a warning that does not quote it */
	cfg = parse_ok("[webhooks]\ngeneric_secret = hunter2\n", NULL);
	assert_int_equal(cfg->nwarnings, 1);
	assert_non_null(strstr(cfg->warnings[0], "generic_secret"));
	assert_non_null(strstr(cfg->warnings[0], "shorter than 16 bytes"));
	assert_null(strstr(cfg->warnings[0], "hunter2"));
	config_destroy(cfg);

	/* an inline secret in a file others can read is warned about, like the API key */
	p = write_file("wh.ini", "[webhooks]\njira_secret = jira-0123456789abcdef\n", 0644);
	{
		bson_error_t err;

		assert_int_equal(config_load(&cfg, p, NULL, &err), 0);
		assert_int_equal(cfg->nwarnings, 1);
		assert_non_null(strstr(cfg->warnings[0], "[webhooks] jira_secret"));
		assert_null(strstr(cfg->warnings[0], "0123456789"));
		config_destroy(cfg);
	}

	/* errors */
	p = write_file("jira.secret", "jira-0123456789abcdef\n", 0600);
	snprintf(ini, sizeof(ini), "[webhooks]\njira_secret = x\njira_secret_file = %s\n", p);
	parse_err(ini, NULL, "[webhooks] both jira_secret (<string> line 2) and jira_secret_file",
	    "give the jira secret once");
	snprintf(ini, sizeof(ini), "[webhooks]\ngeneric_secret_file = %s/nope\n", tmpdir);
	parse_err(ini, NULL, "[webhooks] generic_secret_file: cannot read", NULL);
	parse_err("[webhooks]\nservicenow_secret = a\x01b\n", NULL, "[webhooks] servicenow_secret",
	    "value not shown");
	parse_err("[webhooks]\njira_detection_field = fields.summary\n", NULL,
	    "[webhooks] jira_detection_field: expected summary, labels or an issue field name",
	    "\"fields.summary\" (<string> line 2)");
	parse_err("[webhooks]\njira_detection_field =\n", NULL, "[webhooks] jira_detection_field", NULL);
	parse_err("[webhooks]\njira_detection_field = labels\njira_label_prefix = \n", NULL,
	    "[webhooks] jira_label_prefix", "needs a label prefix");
	{
		char *env[] = { "TICKETSYNC_WEBHOOKS_SERVICENOW_DETECTION_FIELD=u-det id", NULL };

		parse_err("", env, "TICKETSYNC_WEBHOOKS_SERVICENOW_DETECTION_FIELD: expected an incident field",
		    "\"u-det id\"");
	}
	parse_err("[webhooks]\nmax_body_bytes = 100\n", NULL,
	    "[webhooks] max_body_bytes: expected an integer from 1024 to 67108864", NULL);
	parse_err("[webhooks]\njira_token = x\n", NULL, "[webhooks] jira_token: unknown key",
	    "jira_secret_file");
}

/* [statusmap] keys may hold ':' (status categories, Jira names such as "Blocked: vendor"),
 * though inih splits lines at ':' too. */
static void
test_statusmap_colon_keys(void **state)
{
	const char *ini = "[statusmap]\n"
	                  "category:done = closed/action_taken\n"
	                  "Blocked: vendor = acknowledged ; waiting on a third party\n"
	                  "Parked: closed/no_action_taken\n";
	config_t *cfg = parse_ok(ini, NULL);
	enum fields_status st;
	enum fields_resolution res;
	const char *k, *v;
	size_t found = 0;

	(void)state;
	assert_int_equal(cfg->statusmap.user_entries, 3);
	assert_int_equal(statusmap_lookup_ticket(cfg->statusmap.map, "Released", "done", "Shipped", &st,
	    &res, NULL), STATUSMAP_MAPPED);
	assert_int_equal(st, FIELDS_STATUS_CLOSED);
	assert_int_equal(res, FIELDS_RESOLUTION_ACTION_TAKEN);
	assert_int_equal(statusmap_lookup(cfg->statusmap.map, "blocked: vendor", NULL, &st, &res),
	    STATUSMAP_MAPPED);
	assert_int_equal(st, FIELDS_STATUS_ACKNOWLEDGED);
	/* "key: value" without '=' still works */
	assert_int_equal(statusmap_lookup(cfg->statusmap.map, "Parked", NULL, &st, &res), STATUSMAP_MAPPED);
	assert_int_equal(res, FIELDS_RESOLUTION_NO_ACTION_TAKEN);
	for (size_t i = 0; statusmap_entry(cfg->statusmap.map, i, &k, &v); i++) {
		if (strcmp(k, "category:done") == 0 && strcmp(v, "closed/action_taken") == 0)
			found++;
		if (strcmp(k, "Blocked: vendor") == 0 && strcmp(v, "acknowledged") == 0)
			found++;
	}
	assert_int_equal(found, 2);
	config_destroy(cfg);
	parse_err("[statusmap]\ncategory:done = clsed\n", NULL,
	    "[statusmap] \"category:done\" = \"clsed\"", "line 2");
}

static void
test_load_file(void **state)
{
	const char *p;
	config_t *cfg = NULL;
	bson_error_t err;
	char path[256];

	(void)state;
	p = write_file("ticketsync.ini", "[push]\nbatch_size = 7\n\n[watch]\nmax_await_ms = x\n", 0600);
	assert_int_equal(config_load(&cfg, p, NULL, &err), -1);
	assert_null(cfg);
	assert_non_null(strstr(err.message, "[watch] max_await_ms: expected an integer"));
	assert_non_null(strstr(err.message, "ticketsync.ini line 5)"));

	p = write_file("ticketsync.ini", "[push]\nbatch_size = 7\n", 0600);
	assert_int_equal(config_load(&cfg, p, NULL, &err), 0);
	assert_int_equal(cfg->push.batch_size, 7);
	assert_string_equal(cfg->path, p);
	assert_int_equal(cfg->nwarnings, 0);
	config_destroy(cfg);

	/* an inline secret in a file others can read */
	p = write_file("ticketsync.ini", "[extrahop]\nurl = https://eh\napi_key = inline-secret\n", 0644);
	assert_int_equal(config_load(&cfg, p, NULL, &err), 0);
	assert_int_equal(cfg->nwarnings, 1);
	assert_non_null(strstr(cfg->warnings[0], "[extrahop] api_key"));
	assert_null(strstr(cfg->warnings[0], "inline-secret"));
	config_destroy(cfg);

	snprintf(path, sizeof(path), "%s/missing.ini", tmpdir);
	assert_int_equal(config_load(&cfg, path, NULL, &err), -1);
	assert_non_null(strstr(err.message, "cannot read config file"));
	assert_non_null(strstr(err.message, "missing.ini"));

	/* no file: defaults plus environment */
	{
		char *env[] = { "TICKETSYNC_PUSH_BATCH_SIZE=3", NULL };

		assert_int_equal(config_load(&cfg, NULL, env, &err), 0);
		assert_int_equal(cfg->push.batch_size, 3);
		config_destroy(cfg);
	}
}

/* docs/CONFIGURATION.md and deploy/ticketsync.ini.example name every key of the table,
 * its environment variable (docs) and its default (example). */
static char *
slurp(const char *rel)
{
	char *buf = tsfile_read_source(rel, NULL);

	if (buf == NULL)
		fail_msg("cannot read %s", rel);
	return buf;
}

static void
test_docs_agree_with_table(void **state)
{
	char *doc = slurp("docs/CONFIGURATION.md"), *ex = slurp("deploy/ticketsync.ini.example");
	config_t *cfg = NULL;
	bson_error_t err;

	(void)state;
	for (size_t i = 0; i < config_key_count(); i++) {
		const config_key_t *k = config_key_at(i);
		char env[64], want[256];

		config_key_env_name(k, env, sizeof(env));
		if (strstr(doc, env) == NULL)
			fail_msg("docs/CONFIGURATION.md lacks %s", env);
		snprintf(want, sizeof(want), "`%s`", k->name);
		if (strstr(doc, want) == NULL)
			fail_msg("docs/CONFIGURATION.md lacks %s", want);
		/* "; key = default" commented out; keys without a default show an example */
		if (k->default_value != NULL)
			snprintf(want, sizeof(want), "\n; %s = %s\n", k->name, k->default_value);
		else
			snprintf(want, sizeof(want), "\n; %s =", k->name);
		if (strstr(ex, want) == NULL)
			fail_msg("deploy/ticketsync.ini.example lacks \"%s\"", want);
	}
	/* the example loads as it ships (everything commented out) */
	assert_int_equal(config_parse_string(&cfg, ex, NULL, &err), 0);
	config_destroy(cfg);
	free(doc);
	free(ex);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_full_file_and_env_precedence),
		cmocka_unit_test(test_env_only_and_case),
		cmocka_unit_test(test_env_empty_clears_file_value),
		cmocka_unit_test(test_int_errors_name_key),
		cmocka_unit_test(test_int_bounds_accepted),
		cmocka_unit_test(test_other_value_errors),
		cmocka_unit_test(test_listen_forms),
		cmocka_unit_test(test_booleans),
		cmocka_unit_test(test_structure_errors),
		cmocka_unit_test(test_auth_rules),
		cmocka_unit_test(test_secret_files),
		cmocka_unit_test(test_cross_field_checks),
		cmocka_unit_test(test_create_rules),
		cmocka_unit_test(test_long_lines),
		cmocka_unit_test(test_statusmap_entries),
		cmocka_unit_test(test_webhooks_section),
		cmocka_unit_test(test_statusmap_colon_keys),
		cmocka_unit_test(test_load_file),
		cmocka_unit_test(test_docs_agree_with_table),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
