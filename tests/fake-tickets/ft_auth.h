/*
 * ft_auth: who may call the fake, per flavour (see README.md):
 *  - jira-cloud: HTTP Basic base64(email:api_token), nothing else;
 *  - jira-dc: "Authorization: Bearer <PAT>"; Basic user:password only when password
 *    Basic is allowed (Jira 11 disables it by default); Basic with the PAT fails;
 *  - servicenow: Basic user:password, and with a client id the OAuth password and
 *    refresh_token grants of POST /oauth_token.do, whose bearer tokens then work.
 * Nothing configured for the flavour: open, every request is accepted. Times are
 * monotonic milliseconds supplied by the caller (pure logic).
 */
#ifndef FT_AUTH_H
#define FT_AUTH_H

#include <bson/bson.h>
#include <stdbool.h>
#include <stdint.h>

#include "ft_util.h"

typedef struct ft_auth_opts {
	enum ft_flavour flavour;
	const char *email, *api_token;    /* jira-cloud */
	const char *pat;                  /* jira-dc */
	const char *user, *password;      /* servicenow; jira-dc with allow_password_basic */
	bool allow_password_basic;
	const char *client_id, *client_secret; /* servicenow OAuth */
} ft_auth_opts_t;

typedef struct ft_auth ft_auth_t;

ft_auth_t *ft_auth_new(const ft_auth_opts_t *o);
void ft_auth_destroy(ft_auth_t *a);

bool ft_auth_open(const ft_auth_t *a);
bool ft_auth_oauth_enabled(const ft_auth_t *a);
/* Names of the accepted schemes ("basic", "bearer-pat", "oauth", "open"). */
const char *ft_auth_describe(const ft_auth_t *a);

/* true if the Authorization header (NULL if absent) is accepted; else *why says why. */
bool ft_auth_check(ft_auth_t *a, const char *authorization, int64_t now_ms, const char **why);

/* POST /oauth_token.do with a form body: returns the status and fills reply (always
 * initialised by the caller) with the token or ServiceNow's OAuth error. */
int ft_auth_token(ft_auth_t *a, const char *body, size_t len, int64_t now_ms, bson_t *reply);

size_t ft_auth_revoke_all(ft_auth_t *a, int64_t now_ms);
size_t ft_auth_live_tokens(ft_auth_t *a, int64_t now_ms);

#endif
