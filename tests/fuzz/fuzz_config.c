/*
 * fuzz_config: config_parse_string on arbitrary INI text, with one of a few fixed
 * environments (chosen by the input's length, so the text itself stays free).
 * Checks: a refusal always has a message; an accepted config keeps every integer in
 * its key's range and its invariants (one auth method, a listen host when enabled,
 * a status map); and no message or warning ever shows a secret that came from the
 * environment. (libFuzzer learns strings from strstr calls, so an input may come to
 * hold the secret itself; only sightings an input without it explains are leaks.)
 */
#include <mongoc/mongoc.h>

#include "fuzz_common.h"
#include "ticketsync/config.h"

#define SECRET "s3cr3t-from-env-Zq8"

static char *env_none[] = { "PATH=/usr/bin", NULL };
static char *env_key[] = {
	"TICKETSYNC_EXTRAHOP_URL=https://eh.example.com",
	"TICKETSYNC_EXTRAHOP_API_KEY=" SECRET,
	"TICKETSYNC_TEST_IGNORED=1",
	NULL,
};
static char *env_oauth[] = {
	"TICKETSYNC_EXTRAHOP_OAUTH_CLIENT_ID=client",
	"TICKETSYNC_EXTRAHOP_OAUTH_CLIENT_SECRET=" SECRET,
	"TICKETSYNC_PUSH_BATCH_SIZE=50",
	NULL,
};
static char *const *const envs[] = { env_none, env_key, env_oauth };

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	mongoc_init();
	/* libmongoc logs URI warnings itself; they are noise here. */
	mongoc_log_set_handler(NULL, NULL);
	return 0;
}

static bool input_has_secret;

static bool
mentions_secret(const char *s)
{
	return !input_has_secret && s != NULL && strstr(s, SECRET) != NULL;
}

static void
check_config(const config_t *cfg)
{
	for (size_t i = 0; i < config_key_count(); i++) {
		const config_key_t *k = config_key_at(i);
		const void *field = (const char *)cfg + k->offset;

		if (k->kind == CONFIG_KIND_INT) {
			int64_t v = *(const int64_t *)field;
			FUZZ_CHECK(v >= k->min && v <= k->max, "[%s] %s = %lld outside %lld..%lld", k->section,
			    k->name, (long long)v, (long long)k->min, (long long)k->max);
		}
	}
	FUZZ_CHECK(cfg->mongodb.uri != NULL && cfg->mongodb.database != NULL, "no MongoDB settings");
	FUZZ_CHECK(cfg->statusmap.map != NULL, "no status map");
	FUZZ_CHECK(!cfg->http.enabled || cfg->http.host != NULL, "listener enabled without a host");
	FUZZ_CHECK(cfg->http.port >= 0 && cfg->http.port <= 65535, "port %d", cfg->http.port);
	FUZZ_CHECK(cfg->push.retry_base_ms <= cfg->push.retry_max_ms, "push retry order");
	FUZZ_CHECK(cfg->watch.retry_base_ms <= cfg->watch.retry_max_ms, "watch retry order");
	FUZZ_CHECK(cfg->extrahop.request_timeout_ms < cfg->push.claim_timeout_ms, "claim timeout");
	switch (cfg->extrahop.auth) {
	case CONFIG_AUTH_NONE:
		FUZZ_CHECK(cfg->extrahop.url == NULL, "a URL without authentication");
		break;
	case CONFIG_AUTH_API_KEY:
		FUZZ_CHECK(cfg->extrahop.api_key != NULL && cfg->extrahop.oauth_client_id == NULL,
		    "API key auth without a key, or with OAuth2 too");
		break;
	case CONFIG_AUTH_OAUTH:
		FUZZ_CHECK(cfg->extrahop.oauth_client_id != NULL && cfg->extrahop.oauth_client_secret != NULL &&
		               cfg->extrahop.api_key == NULL,
		    "OAuth2 without id and secret, or with an API key too");
		break;
	}
	if (cfg->extrahop.url != NULL) {
		size_t n = strlen(cfg->extrahop.url);
		FUZZ_CHECK(n > 0 && cfg->extrahop.url[n - 1] != '/', "url keeps a trailing slash");
	}
	for (size_t i = 0; i < cfg->nwarnings; i++)
		FUZZ_CHECK(!mentions_secret(cfg->warnings[i]), "warning shows the secret: %s",
		    cfg->warnings[i]);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text;
	config_t *cfg = NULL;
	bson_error_t err;
	int rc;

	/* The INI file limit is 1 MiB; nothing interesting needs more than this. */
	if (size > 64 * 1024)
		return 0;
	text = fuzz_strdup(data, size);
	input_has_secret = memmem(data, size, SECRET, strlen(SECRET)) != NULL;
	memset(&err, 0, sizeof(err));
	rc = config_parse_string(&cfg, text, envs[size % 3], &err);
	FUZZ_CHECK(rc == 0 || rc == -1, "rc %d", rc);
	if (rc == 0) {
		FUZZ_CHECK(cfg != NULL, "accepted without a config");
		check_config(cfg);
	} else {
		FUZZ_CHECK(cfg == NULL, "refused but a config was returned");
		FUZZ_CHECK(err.message[0] != '\0', "refused without a message");
		FUZZ_CHECK(!mentions_secret(err.message), "message shows the secret: %s", err.message);
	}
	config_destroy(cfg);
	free(text);
	return 0;
}
