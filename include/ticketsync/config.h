/*
 * config: one immutable struct built once at start-up from an optional INI file plus
 * environment overrides (TICKETSYNC_<SECTION>_<KEY>, upper case; env wins over the
 * file, the file over the defaults). Every key lives in one table (config_key_at), so
 * code, docs/CONFIGURATION.md and deploy/ticketsync.ini.example agree; a unit test
 * checks that.
 *
 * The only I/O: reading the INI file and the secret files it names (api_key_file,
 * oauth_client_secret_file, [webhooks] *_secret_file). Nothing is logged here: warnings are returned in
 * cfg->warnings for the caller to log, and never contain secrets.
 *
 * Every error is one message naming the key and where its value came from:
 *   [push] interval_ms: expected an integer from 10 to 3600000, got "abc" (ticketsync.ini line 12)
 *   TICKETSYNC_PUSH_INTERVAL_MS: expected an integer from 10 to 3600000, got "abc"
 * Unknown sections and keys are errors (typos are caught); environment variables are
 * only checked when they start with TICKETSYNC_ plus a known section name.
 */
#ifndef TICKETSYNC_CONFIG_H
#define TICKETSYNC_CONFIG_H

#include <bson/bson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ticketsync/error.h"
#include "ticketsync/log.h"
#include "ticketsync/statusmap.h"

/* Codes of the errors config_load, config_parse_string and config_require_extrahop
 * raise (domain ERROR_DOMAIN). */
enum config_error {
	CONFIG_ERR_FILE = ERROR_BASE_CONFIG, /* the config file or a secret file cannot be read,
	                                      * or is not a text file of the allowed size */
	CONFIG_ERR_SYNTAX,   /* not INI, or an unknown section, key or environment variable */
	CONFIG_ERR_VALUE,    /* a value (or a secret file's content) is refused */
	CONFIG_ERR_CONFLICT, /* settings that contradict each other, or one given twice */
	CONFIG_ERR_MISSING,  /* a setting the caller needs is not set */
};

enum config_auth {
	CONFIG_AUTH_NONE = 0, /* only when [extrahop] url is unset too */
	CONFIG_AUTH_API_KEY,
	CONFIG_AUTH_OAUTH,
};

typedef struct config {
	struct {
		char *uri;      /* validated by libmongoc's URI parser */
		char *database; /* a valid MongoDB database name */
		int64_t pool_max;
	} mongodb;
	struct {
		char *url; /* http(s)://host[:port][/prefix], no trailing '/'; NULL = unset */
		enum config_auth auth;
		char *api_key;                  /* secret; from api_key or api_key_file */
		char *api_key_file;             /* NULL unless given */
		char *oauth_client_id;
		char *oauth_client_secret;      /* secret; from the key or its file */
		char *oauth_client_secret_file; /* NULL unless given */
		char *oauth_token_url;          /* default <url>/oauth2/token (NULL without url) */
		char *ca_file;                  /* NULL = system default */
		char *ca_path;
		int64_t connect_timeout_ms;
		int64_t request_timeout_ms;
	} extrahop;
	struct {
		int64_t interval_ms;
		int64_t batch_size;
		int64_t concurrency;
		int64_t rate_limit; /* requests per second, 0 = no ceiling */
		int64_t retry_base_ms;
		int64_t retry_max_ms;
		int64_t claim_timeout_ms;
		int64_t recheck_ms; /* after an ambiguous attempt, re-send the whole value this
		                     * long later (0 = never) */
		int64_t unreachable_warn_ms; /* no HTTP reply this long: warn, not ready */
	} push;
	struct {
		int64_t max_await_ms;
		int64_t retry_base_ms;
		int64_t retry_max_ms;
		int64_t rescan_batch;
	} watch;
	struct {
		bool enabled;   /* false for listen = "" or "off" */
		char *listen;   /* as configured */
		char *host;     /* "127.0.0.1", "::1" (no brackets), "localhost"; NULL if disabled */
		int port;       /* 0 = let the kernel pick */
	} http;
	struct {
		enum log_level level;
	} log;
	struct {
		char *instance_id; /* NULL = unset: the caller uses the host name */
		int64_t shutdown_timeout_ms;
	} service;
	struct {
		int64_t period_ms; /* how long a taken or renewed lease lasts */
		int64_t renew_ms;  /* renewal (active) and takeover poll (standby) interval */
	} lease;
	struct {
		/* Shared secrets per source (from the key or its file); NULL = the source's
		 * endpoint is disabled. */
		char *jira_secret;
		char *jira_secret_file;
		char *servicenow_secret;
		char *servicenow_secret_file;
		char *generic_secret;
		char *generic_secret_file;
		char *jira_detection_field;       /* "summary", "labels" or an issue field name */
		char *jira_label_prefix;          /* for "labels" */
		char *servicenow_detection_field; /* an incident field name */
		int64_t max_body_bytes;
	} webhooks;
	struct {
		bool enabled;
		char *target;            /* "jira", "servicenow" or "http" */
		int64_t risk_score_min;
		char *categories;        /* comma lists */
		char *types_include;
		char *types_exclude;
		char *user_created;      /* "any", "only" or "none" */
		char *since;             /* ISO 8601; NULL = when creation was first enabled */
		int64_t since_ms;        /* since, parsed (0 = unset) */
		int64_t max_per_hour;
		char *summary, *description, *labels, *priority_bands, *assignee, *extra_fields;
		int64_t concurrency;
		int64_t rate_limit;
		int64_t retry_base_ms;
		int64_t retry_max_ms;
		int64_t lookup_delay_ms; /* how long a search may miss a just-created ticket */
		int64_t request_timeout_ms;
		struct ticketspec *spec; /* built from the above when enabled; owned */
	} create;
	struct {
		char *url;
		char *flavour;           /* "cloud" or "datacenter" */
		bool cloud;
		char *email;
		char *api_token, *api_token_file; /* Cloud: Basic email:api_token */
		char *pat, *pat_file;             /* Data Center: Bearer */
		char *project, *issue_type;
		char *ca_file;
	} jira;
	struct {
		char *url;
		char *user;
		char *password, *password_file;
		char *oauth_client_id;      /* OAuth password grant instead of Basic */
		char *oauth_client_secret, *oauth_client_secret_file;
		char *oauth_token_url;      /* default <url>/oauth_token.do (with OAuth) */
		char *table;
		char *assignment_group, *caller;
		char *urgency_bands, *impact_bands;
		char *ca_file;
	} servicenow;
	struct {
		char *url;
		char *token, *token_file;   /* Authorization: Bearer */
		char *secret, *secret_file; /* HMAC-SHA256 of the body */
		char *signature_header;
		char *idempotency_header;
		char *ticket_id_path;
		char *ca_file;
	} create_http;
	struct {
		bool enabled;
		int64_t interval_ms;  /* between sweeps */
		int64_t page_size;    /* search limit */
		int64_t overlap_ms;   /* each sweep starts this far before the cursor */
		char *on_drift;       /* "reassert" or "report" */
		bool reassert;        /* on_drift == "reassert" */
	} sweep;
	struct {
		bool defaults;      /* whether the shipped defaults apply under the entries */
		statusmap_t *map;   /* owned by the config */
		size_t user_entries;
	} statusmap;
	char *path;      /* the INI file read, NULL if none */
	char **warnings; /* nwarnings messages for the caller to log (never secrets) */
	size_t nwarnings;
} config_t;

/* Read path (NULL: no file, defaults + environment only). envp is an environ-style,
 * NULL-terminated array ("NAME=value"); NULL means no environment. */
int config_load(config_t **out, const char *path, char *const *envp, bson_error_t *err);
/* The same with the INI text in memory (named "<string>" in messages). */
int config_parse_string(config_t **out, const char *ini_text, char *const *envp,
                        bson_error_t *err);
/* Frees everything; secrets are wiped first. NULL-safe. */
void config_destroy(config_t *cfg);

/* What the daemon needs on top of a loadable config: [extrahop] url and one auth
 * method. ticketsyncctl commands that never talk to ExtraHop skip this. */
int config_require_extrahop(const config_t *cfg, bson_error_t *err);

/* The key table, for docs, `ticketsyncctl config` and the tests. */
enum config_key_kind {
	CONFIG_KIND_INT,
	CONFIG_KIND_BOOL,
	CONFIG_KIND_STRING,
	CONFIG_KIND_SECRET,
	CONFIG_KIND_SECRET_FILE,
	CONFIG_KIND_URL,
	CONFIG_KIND_MONGODB_URI,
	CONFIG_KIND_DATABASE,
	CONFIG_KIND_LISTEN,
	CONFIG_KIND_LOG_LEVEL,
};

typedef struct config_key {
	const char *section;
	const char *name;
	enum config_key_kind kind;
	const char *default_value; /* as written in the INI file; NULL = unset */
	int64_t min, max;          /* CONFIG_KIND_INT only */
	size_t offset;             /* of the value in config_t */
} config_key_t;

size_t config_key_count(void);
const config_key_t *config_key_at(size_t i);
/* "TICKETSYNC_PUSH_INTERVAL_MS" for (push, interval_ms); buf of at least 64 bytes. */
void config_key_env_name(const config_key_t *k, char *buf, size_t buflen);

#endif
