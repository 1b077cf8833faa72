/* fx_auth: API key and OAuth2 client-credentials checks for the fake. */
#include "fx_auth.h"

#include <event2/http.h>
#include <sys/queue.h>
#include <event2/keyvalq_struct.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* A client fetching a token per request must not make lookups slow or memory grow. */
#define FX_AUTH_MAX_TOKENS 4096

struct fx_auth_token {
	char value[48];
	int64_t expires_ms;
};

struct fx_auth {
	char *api_key;
	char *client_id;
	char *client_secret;
	int64_t ttl_s;
	struct fx_auth_token *tokens;
	size_t ntokens;
	uint64_t counter;
};

fx_auth_t *
fx_auth_new(const char *api_key, const char *client_id, const char *client_secret,
    int64_t token_ttl_s)
{
	fx_auth_t *a = calloc(1, sizeof(*a));

	if (a == NULL)
		return NULL;
	a->api_key = api_key ? strdup(api_key) : NULL;
	a->client_id = client_id ? strdup(client_id) : NULL;
	a->client_secret = strdup(client_secret ? client_secret : "");
	a->ttl_s = token_ttl_s > 0 ? token_ttl_s : 3600;
	a->tokens = calloc(FX_AUTH_MAX_TOKENS, sizeof(*a->tokens));
	if ((api_key && !a->api_key) || (client_id && !a->client_id) || !a->client_secret ||
	    !a->tokens) {
		fx_auth_destroy(a);
		return NULL;
	}
	return a;
}

void
fx_auth_destroy(fx_auth_t *a)
{
	if (a == NULL)
		return;
	free(a->api_key);
	free(a->client_id);
	free(a->client_secret);
	free(a->tokens);
	free(a);
}

bool
fx_auth_oauth_enabled(const fx_auth_t *a)
{
	return a->client_id != NULL;
}

static void
fx_auth_prune(fx_auth_t *a, int64_t now_ms)
{
	size_t j = 0;

	for (size_t i = 0; i < a->ntokens; i++)
		if (a->tokens[i].expires_ms > now_ms)
			a->tokens[j++] = a->tokens[i];
	a->ntokens = j;
}

/* Constant-time compare, so the fake does not teach clients sloppy habits by example. */
static bool
fx_auth_equal(const char *a, const char *b, size_t blen)
{
	return strlen(a) == blen && CRYPTO_memcmp(a, b, blen) == 0;
}

bool
fx_auth_check(fx_auth_t *a, const char *authorization, int64_t now_ms, const char **why)
{
	const char *v;

	if (a->api_key == NULL && a->client_id == NULL)
		return true;
	if (authorization == NULL || authorization[0] == '\0') {
		*why = "missing Authorization header";
		return false;
	}
	if (strncasecmp(authorization, "ExtraHop ", 9) == 0) {
		v = authorization + 9;
		while (*v == ' ')
			v++;
		if (strncmp(v, "apikey=", 7) != 0) {
			*why = "malformed ExtraHop authorization (expected apikey=KEY)";
			return false;
		}
		v += 7;
		if (a->api_key != NULL && fx_auth_equal(a->api_key, v, strlen(v)))
			return true;
		*why = "invalid API key";
		return false;
	}
	if (strncasecmp(authorization, "Bearer ", 7) == 0) {
		v = authorization + 7;
		while (*v == ' ')
			v++;
		for (size_t i = 0; i < a->ntokens; i++) {
			if (strcmp(a->tokens[i].value, v) != 0)
				continue;
			if (a->tokens[i].expires_ms > now_ms)
				return true;
			*why = "access token expired";
			return false;
		}
		*why = "invalid or revoked access token";
		return false;
	}
	*why = "unsupported authorization scheme";
	return false;
}

static int
fx_auth_fail(bson_t *reply, int status, const char *oauth_error, const char *msg)
{
	BSON_APPEND_UTF8(reply, "error", oauth_error);
	BSON_APPEND_UTF8(reply, "error_message", msg);
	return status;
}

/* Basic base64(id:secret) -> id and secret (malloc'd). */
static bool
fx_auth_basic(const char *authorization, char **id, char **secret)
{
	const char *b64 = authorization + 6;
	size_t len;
	unsigned char *out;
	int n;
	char *colon;

	while (*b64 == ' ')
		b64++;
	len = strlen(b64);
	if (len == 0 || len % 4 != 0 || len > 4096)
		return false;
	out = malloc(len / 4 * 3 + 1);
	if (out == NULL)
		return false;
	n = EVP_DecodeBlock(out, (const unsigned char *)b64, (int)len);
	if (n < 0) {
		free(out);
		return false;
	}
	/* EVP_DecodeBlock counts padding bytes as output: take them back off. */
	if (len >= 1 && b64[len - 1] == '=')
		n--;
	if (len >= 2 && b64[len - 2] == '=')
		n--;
	out[n] = '\0';
	colon = memchr(out, ':', (size_t)n);
	if (colon == NULL || memchr(out, '\0', (size_t)n) != NULL) {
		free(out);
		return false;
	}
	*colon = '\0';
	*id = strdup((char *)out);
	*secret = strdup(colon + 1);
	free(out);
	return *id != NULL && *secret != NULL;
}

int
fx_auth_token(fx_auth_t *a, const char *authorization, const char *body, size_t len,
    int64_t now_ms, bson_t *reply)
{
	struct evkeyvalq form;
	char *copy = NULL, *id = NULL, *secret = NULL;
	const char *grant, *fid, *fsecret;
	unsigned char rnd[16];
	struct fx_auth_token *t;
	int status;

	TAILQ_INIT(&form);
	if (a->client_id == NULL) {
		status = fx_auth_fail(reply, 404, "not_found",
		    "OAuth2 is not enabled on this fake (start it with --client-id)");
		goto cleanup;
	}
	copy = malloc(len + 1);
	if (copy == NULL) {
		status = fx_auth_fail(reply, 500, "server_error", "out of memory");
		goto cleanup;
	}
	memcpy(copy, body, len);
	copy[len] = '\0';
	if (memchr(body, '\0', len) != NULL || evhttp_parse_query_str(copy, &form) != 0) {
		status = fx_auth_fail(reply, 400, "invalid_request",
		    "body must be application/x-www-form-urlencoded");
		goto cleanup;
	}
	grant = evhttp_find_header(&form, "grant_type");
	if (grant == NULL || strcmp(grant, "client_credentials") != 0) {
		status = fx_auth_fail(reply, 400, "unsupported_grant_type",
		    "grant_type must be client_credentials");
		goto cleanup;
	}
	if (authorization != NULL && strncasecmp(authorization, "Basic ", 6) == 0) {
		if (!fx_auth_basic(authorization, &id, &secret)) {
			status = fx_auth_fail(reply, 401, "invalid_client",
			    "malformed Basic authorization");
			goto cleanup;
		}
	} else {
		fid = evhttp_find_header(&form, "client_id");
		fsecret = evhttp_find_header(&form, "client_secret");
		if (fid == NULL || fsecret == NULL) {
			status = fx_auth_fail(reply, 401, "invalid_client",
			    "client credentials missing (HTTP Basic or client_id/client_secret)");
			goto cleanup;
		}
		id = strdup(fid);
		secret = strdup(fsecret);
	}
	if (id == NULL || secret == NULL || !fx_auth_equal(a->client_id, id, strlen(id)) ||
	    !fx_auth_equal(a->client_secret, secret, strlen(secret))) {
		status = fx_auth_fail(reply, 401, "invalid_client", "invalid client credentials");
		goto cleanup;
	}
	fx_auth_prune(a, now_ms);
	if (a->ntokens == FX_AUTH_MAX_TOKENS) {
		/* Oldest first out: tokens were appended in issue order. */
		memmove(a->tokens, a->tokens + 1, (a->ntokens - 1) * sizeof(*a->tokens));
		a->ntokens--;
	}
	t = &a->tokens[a->ntokens++];
	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		memset(rnd, 0, sizeof(rnd));
	a->counter++;
	/* The counter keeps tokens distinct even if RAND_bytes failed. */
	snprintf(t->value, sizeof(t->value), "fx%06llx", (unsigned long long)(a->counter & 0xffffff));
	for (size_t i = 0; i < sizeof(rnd); i++)
		snprintf(t->value + 8 + 2 * i, 3, "%02x", rnd[i]);
	t->expires_ms = now_ms + a->ttl_s * 1000;
	BSON_APPEND_UTF8(reply, "access_token", t->value);
	BSON_APPEND_UTF8(reply, "token_type", "Bearer");
	BSON_APPEND_INT64(reply, "expires_in", a->ttl_s);
	status = 200;
cleanup:
	evhttp_clear_headers(&form);
	free(copy);
	free(id);
	free(secret);
	return status;
}

size_t
fx_auth_revoke_all(fx_auth_t *a, int64_t now_ms)
{
	size_t live = fx_auth_live_tokens(a, now_ms);

	a->ntokens = 0;
	return live;
}

size_t
fx_auth_live_tokens(fx_auth_t *a, int64_t now_ms)
{
	fx_auth_prune(a, now_ms);
	return a->ntokens;
}
