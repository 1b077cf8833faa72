/*
 * fx_auth: the two ways ExtraHop authenticates REST calls.
 *  - "Authorization: ExtraHop apikey=KEY" (self-managed sensors and consoles);
 *  - RevealX 360: POST /oauth2/token (grant_type=client_credentials, client id/secret in
 *    HTTP Basic or as form fields) issues a bearer token valid for ttl seconds, then
 *    "Authorization: Bearer TOKEN".
 * With neither configured the fake is open: every request is accepted. With both, either
 * works. Times are milliseconds on a monotonic clock supplied by the caller (pure logic).
 */
#ifndef FX_AUTH_H
#define FX_AUTH_H

#include <bson/bson.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct fx_auth fx_auth_t;

/* Any argument may be NULL; OAuth2 is on when client_id is given. */
fx_auth_t *fx_auth_new(const char *api_key, const char *client_id,
    const char *client_secret, int64_t token_ttl_s);
void fx_auth_destroy(fx_auth_t *a);

bool fx_auth_oauth_enabled(const fx_auth_t *a);

/* true if the Authorization header (NULL if absent) is accepted; else *why says why. */
bool fx_auth_check(fx_auth_t *a, const char *authorization, int64_t now_ms,
    const char **why);

/*
 * Handle a token request: authorization header and the form body. Returns the HTTP
 * status; on 200 reply holds {access_token, token_type, expires_in}, otherwise
 * {error_message} (and "error" as OAuth2 names it).
 */
int fx_auth_token(fx_auth_t *a, const char *authorization, const char *body, size_t len,
    int64_t now_ms, bson_t *reply);

/* Forget every issued token; returns how many were live. */
size_t fx_auth_revoke_all(fx_auth_t *a, int64_t now_ms);
size_t fx_auth_live_tokens(fx_auth_t *a, int64_t now_ms);

#endif
