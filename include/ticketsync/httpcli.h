/*
 * httpcli: one HTTP client on the caller's libevent loop for the ticket systems (Jira,
 * ServiceNow, a generic endpoint): a request is a method, a path under the base URL,
 * an optional JSON body and extra header lines; the reply is its status, its body
 * (the first HTTPCLI_BODY_MAX bytes), the wait it asks for (Retry-After, else
 * X-RateLimit-Reset) and how it ended on the wire. What a reply means is the
 * caller's (ticketapi, pushplan); this is the network. Sent through its own curlev.
 *
 * Loop thread only; never blocks. Security as for ExtraHop: TLS verification always
 * on, redirects not followed, http and https only, credentials never logged (Basic
 * user:password, or a Bearer token).
 *
 * Ownership: the client copies its options; a request's body and headers are copied
 * at submission; the reply is valid only during the callback.
 */
#ifndef TICKETSYNC_HTTPCLI_H
#define TICKETSYNC_HTTPCLI_H

#include <bson/bson.h>
#include <curl/curl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ticketsync/error.h"

struct event_base;
typedef struct httpcli httpcli_t;

#define HTTPCLI_BODY_MAX (256 * 1024)

enum httpcli_error {
	HTTPCLI_ERR_CONFIG = ERROR_BASE_HTTPCLI, /* unusable options (URL, credentials) */
	HTTPCLI_ERR_RESOURCE, /* a libcurl or libevent object cannot be created */
	HTTPCLI_ERR_CLOSING,  /* destroyed or cancelled: nothing more is accepted */
};

enum httpcli_auth {
	HTTPCLI_AUTH_NONE = 0,
	HTTPCLI_AUTH_BASIC,  /* user + password */
	HTTPCLI_AUTH_BEARER, /* token */
	/* OAuth 2 password grant (ServiceNow's /oauth_token.do): client id and secret plus
	 * user and password get a Bearer token, fetched once for all requests waiting and
	 * again before it expires, or after a 401. */
	HTTPCLI_AUTH_OAUTH_PASSWORD,
};

typedef struct httpcli_opts {
	const char *what;          /* in messages: "Jira", "ServiceNow", ... */
	const char *base_url;      /* absolute http(s) URL; paths are appended */
	enum httpcli_auth auth;
	const char *user;          /* BASIC */
	const char *password;      /* BASIC */
	const char *token;         /* BEARER */
	const char *token_url;     /* OAUTH_PASSWORD (with user, password) */
	const char *client_id;     /* OAUTH_PASSWORD */
	const char *client_secret; /* OAUTH_PASSWORD */
	const char *ca_file, *ca_path;
	const char *instance;      /* in the User-Agent */
	long connect_timeout_ms;   /* default 10000 */
	long request_timeout_ms;   /* default 30000 */
	long max_connections;      /* default 4 */
} httpcli_opts_t;

typedef struct httpcli_reply {
	int curl_code;          /* CURLcode; CURLE_ABORTED_BY_CALLBACK when cancelled */
	long status;            /* 0 when no response */
	const char *body;       /* NUL-terminated, maybe "" */
	size_t body_len;
	int64_t retry_after_ms; /* Retry-After, else X-RateLimit-Reset; -1 when neither */
	int64_t elapsed_ms;
	const char *error;      /* libcurl's words when curl_code != CURLE_OK */
	bool left;              /* it went on the wire (the gate passed it): a request
	                         * cancelled after this may still have been acted on */
} httpcli_reply_t;

typedef void (*httpcli_done_fn)(const httpcli_reply_t *reply, void *arg);

httpcli_t *httpcli_new(struct event_base *base, const httpcli_opts_t *opts, bson_error_t *err);

/* httpcli_request's flags. */
#define HTTPCLI_UNGATED 0x1u /* a read that changes nothing: not held by the gate */
/* A request that must never be sent twice (a create): on a new connection. libcurl
 * silently sends a request again when the kept-alive connection it reused dies before
 * any reply, and a server may have acted on the first copy (a second ticket). */
#define HTTPCLI_ONCE 0x2u

/* Start a request; done runs exactly once, later, on the loop. headers: NULL-terminated
 * extra "Name: value" lines or NULL. 0, or -1 with err (nothing will run). */
int httpcli_request(httpcli_t *c, const char *method, const char *path, const char *body,
    size_t body_len, const char *const *headers, unsigned flags, httpcli_done_fn done,
    void *arg, bson_error_t *err);

/* Asked right before each request goes on the wire (CURLOPT_PREREQFUNCTION); when it
 * says no, the request completes as cancelled without being sent. NULL: always. */
void httpcli_set_gate(httpcli_t *c, bool (*gate)(const void *arg), const void *arg);

size_t httpcli_in_flight(const httpcli_t *c);
/* Complete every request in flight now as cancelled (synchronously). */
void httpcli_cancel_all(httpcli_t *c);
/* Cancels what is in flight, wipes the credentials, frees. NULL-safe; not from a callback. */
void httpcli_destroy(httpcli_t *c);

#endif
