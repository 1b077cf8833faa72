/* ft_auth: Basic, PAT and OAuth checks of the fake ticket systems. */
#include "ft_auth.h"

#include "ticketsync/xalloc.h"

#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>

/* A client fetching a token per request must not make lookups slow or memory grow. */
#define FT_AUTH_MAX_TOKENS 4096
#define FT_AUTH_ACCESS_TTL_S 1799
#define FT_AUTH_REFRESH_TTL_S (100 * 86400)

struct ft_token {
	char value[48];
	int64_t expires_ms;
};

struct ft_auth {
	enum ft_flavour flavour;
	char *basic;     /* the accepted "user:secret" of Basic, or NULL */
	char *pat;       /* jira-dc */
	char *user, *password, *client_id, *client_secret;
	struct ft_token *access, *refresh;
	size_t naccess, nrefresh;
};

ft_auth_t *
ft_auth_new(const ft_auth_opts_t *o)
{
	ft_auth_t *a = xcalloc(1, sizeof(*a));
	char buf[1024];

	a->flavour = o->flavour;
	if (o->flavour == FT_JIRA_CLOUD && o->email != NULL) {
		snprintf(buf, sizeof(buf), "%s:%s", o->email, o->api_token ? o->api_token : "");
		a->basic = xstrdup(buf);
	}
	if (o->flavour == FT_JIRA_DC && o->pat != NULL)
		a->pat = xstrdup(o->pat);
	if (o->user != NULL && (o->flavour == FT_SERVICENOW ||
	    (o->flavour == FT_JIRA_DC && o->allow_password_basic))) {
		snprintf(buf, sizeof(buf), "%s:%s", o->user, o->password ? o->password : "");
		a->basic = xstrdup(buf);
	}
	if (o->flavour == FT_SERVICENOW) {
		a->user = o->user ? xstrdup(o->user) : NULL;
		a->password = xstrdup(o->password ? o->password : "");
		if (o->client_id != NULL) {
			a->client_id = xstrdup(o->client_id);
			a->client_secret = xstrdup(o->client_secret ? o->client_secret : "");
			a->access = xcalloc(FT_AUTH_MAX_TOKENS, sizeof(*a->access));
			a->refresh = xcalloc(FT_AUTH_MAX_TOKENS, sizeof(*a->refresh));
		}
	}
	/* A DC given only --user/--password without --allow-password-basic accepts nothing:
	 * that is Jira 11's default, not an open server. */
	if (o->flavour == FT_JIRA_DC && o->pat == NULL && o->user != NULL && a->basic == NULL)
		a->pat = xstrdup("");
	return a;
}

void
ft_auth_destroy(ft_auth_t *a)
{
	if (a == NULL)
		return;
	free(a->basic);
	free(a->pat);
	free(a->user);
	free(a->password);
	free(a->client_id);
	free(a->client_secret);
	free(a->access);
	free(a->refresh);
	free(a);
}

bool
ft_auth_open(const ft_auth_t *a)
{
	return a->basic == NULL && a->pat == NULL && a->client_id == NULL;
}

bool
ft_auth_oauth_enabled(const ft_auth_t *a)
{
	return a->client_id != NULL;
}

const char *
ft_auth_describe(const ft_auth_t *a)
{
	if (ft_auth_open(a))
		return "open";
	if (a->flavour == FT_JIRA_CLOUD)
		return "basic(email:api_token)";
	if (a->flavour == FT_JIRA_DC)
		return a->basic ? "bearer-pat+basic(password)" : "bearer-pat";
	return a->client_id ? (a->basic ? "basic+oauth" : "oauth") : "basic";
}

static bool
ft_auth_equal(const char *want, const char *got, size_t glen)
{
	return strlen(want) == glen && CRYPTO_memcmp(want, got, glen) == 0;
}

/* "Basic <b64>" -> decoded bytes (malloc'd, NUL-terminated) and length. */
static char *
ft_auth_basic_decode(const char *b64, size_t *outlen)
{
	size_t len = strlen(b64), pad = 0;
	unsigned char *out;
	int n;

	while (len > 0 && b64[len - 1] == ' ')
		len--;
	if (len == 0 || len % 4 != 0)
		return NULL;
	if (b64[len - 1] == '=')
		pad++;
	if (len > 1 && b64[len - 2] == '=')
		pad++;
	out = xmalloc(len / 4 * 3 + 1);
	n = EVP_DecodeBlock(out, (const unsigned char *)b64, (int)len);
	if (n < 0 || (size_t)n < pad) {
		free(out);
		return NULL;
	}
	*outlen = (size_t)n - pad;
	out[*outlen] = '\0';
	return (char *)out;
}

static void
ft_auth_prune(struct ft_token *t, size_t *n, int64_t now_ms)
{
	size_t j = 0;

	for (size_t i = 0; i < *n; i++)
		if (t[i].expires_ms > now_ms)
			t[j++] = t[i];
	*n = j;
}

static int
ft_auth_find(struct ft_token *t, size_t n, const char *v, int64_t now_ms)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(t[i].value, v) == 0)
			return t[i].expires_ms > now_ms ? 1 : -1;
	return 0;
}

bool
ft_auth_check(ft_auth_t *a, const char *authorization, int64_t now_ms, const char **why)
{
	const char *v;

	if (ft_auth_open(a))
		return true;
	if (authorization == NULL || authorization[0] == '\0') {
		*why = "missing Authorization header";
		return false;
	}
	if (strncasecmp(authorization, "Basic ", 6) == 0) {
		size_t len = 0;
		char *dec;
		bool ok;

		v = authorization + 6;
		while (*v == ' ')
			v++;
		if (a->basic == NULL) {
			*why = a->flavour == FT_JIRA_DC
			    ? "Basic authentication is disabled: use a personal access token (Bearer)"
			    : "Basic authentication is not accepted here";
			return false;
		}
		if ((dec = ft_auth_basic_decode(v, &len)) == NULL) {
			*why = "malformed Basic credentials";
			return false;
		}
		ok = ft_auth_equal(a->basic, dec, len);
		free(dec);
		if (!ok)
			*why = "wrong user name or password / API token";
		return ok;
	}
	if (strncasecmp(authorization, "Bearer ", 7) == 0) {
		v = authorization + 7;
		while (*v == ' ')
			v++;
		if (a->pat != NULL && a->pat[0] != '\0') {
			if (ft_auth_equal(a->pat, v, strlen(v)))
				return true;
			*why = "invalid personal access token";
			return false;
		}
		if (a->client_id != NULL) {
			int r = ft_auth_find(a->access, a->naccess, v, now_ms);
			if (r > 0)
				return true;
			*why = r < 0 ? "access token expired" : "invalid or revoked access token";
			return false;
		}
		*why = "Bearer tokens are not accepted here";
		return false;
	}
	*why = "unsupported authorization scheme";
	return false;
}

static void
ft_auth_new_token(struct ft_token *t, size_t *n, int64_t now_ms, int64_t ttl_s, char *out)
{
	unsigned char raw[20];
	static const char digits[] = "0123456789abcdef";
	struct ft_token *slot;

	ft_auth_prune(t, n, now_ms);
	if (*n == FT_AUTH_MAX_TOKENS) {
		memmove(t, t + 1, (*n - 1) * sizeof(*t));
		(*n)--;
	}
	if (RAND_bytes(raw, sizeof(raw)) != 1)
		memset(raw, 0x5a, sizeof(raw));
	slot = &t[(*n)++];
	for (size_t i = 0; i < sizeof(raw); i++) {
		slot->value[2 * i] = digits[raw[i] >> 4];
		slot->value[2 * i + 1] = digits[raw[i] & 15];
	}
	slot->value[2 * sizeof(raw)] = '\0';
	slot->expires_ms = now_ms + ttl_s * 1000;
	strcpy(out, slot->value);
}

static int
ft_auth_denied(bson_t *reply)
{
	/* What a ServiceNow instance answers to bad OAuth credentials. */
	BSON_APPEND_UTF8(reply, "error_description", "access_denied");
	BSON_APPEND_UTF8(reply, "error", "server_error");
	return 401;
}

int
ft_auth_token(ft_auth_t *a, const char *body, size_t len, int64_t now_ms, bson_t *reply)
{
	struct evkeyvalq q;
	char *copy = xstrndup(body, len);
	const char *grant, *cid, *csec;
	char access[48], refresh[48];
	int status;

	TAILQ_INIT(&q);
	if (evhttp_parse_query_str(copy, &q) != 0) {
		BSON_APPEND_UTF8(reply, "error_description", "malformed form body");
		BSON_APPEND_UTF8(reply, "error", "invalid_request");
		status = 400;
		goto cleanup;
	}
	grant = evhttp_find_header(&q, "grant_type");
	cid = evhttp_find_header(&q, "client_id");
	csec = evhttp_find_header(&q, "client_secret");
	if (grant == NULL || (strcmp(grant, "password") != 0 && strcmp(grant, "refresh_token") != 0)) {
		BSON_APPEND_UTF8(reply, "error_description",
		    "grant_type must be password or refresh_token");
		BSON_APPEND_UTF8(reply, "error", "unsupported_grant_type");
		status = 400;
		goto cleanup;
	}
	if (cid == NULL || csec == NULL || !ft_auth_equal(a->client_id, cid, strlen(cid)) ||
	    !ft_auth_equal(a->client_secret, csec, strlen(csec))) {
		status = ft_auth_denied(reply);
		goto cleanup;
	}
	if (strcmp(grant, "password") == 0) {
		const char *u = evhttp_find_header(&q, "username");
		const char *p = evhttp_find_header(&q, "password");

		if (a->user == NULL || u == NULL || p == NULL ||
		    !ft_auth_equal(a->user, u, strlen(u)) ||
		    !ft_auth_equal(a->password, p, strlen(p))) {
			status = ft_auth_denied(reply);
			goto cleanup;
		}
	} else {
		const char *r = evhttp_find_header(&q, "refresh_token");
		size_t i;

		ft_auth_prune(a->refresh, &a->nrefresh, now_ms);
		for (i = 0; r != NULL && i < a->nrefresh; i++)
			if (strcmp(a->refresh[i].value, r) == 0)
				break;
		if (r == NULL || i == a->nrefresh) {
			status = ft_auth_denied(reply);
			goto cleanup;
		}
	}
	ft_auth_new_token(a->access, &a->naccess, now_ms, FT_AUTH_ACCESS_TTL_S, access);
	ft_auth_new_token(a->refresh, &a->nrefresh, now_ms, FT_AUTH_REFRESH_TTL_S, refresh);
	BSON_APPEND_UTF8(reply, "access_token", access);
	BSON_APPEND_UTF8(reply, "refresh_token", refresh);
	BSON_APPEND_UTF8(reply, "scope", "useraccount");
	BSON_APPEND_UTF8(reply, "token_type", "Bearer");
	BSON_APPEND_INT32(reply, "expires_in", FT_AUTH_ACCESS_TTL_S);
	status = 200;
cleanup:
	evhttp_clear_headers(&q);
	free(copy);
	return status;
}

size_t
ft_auth_revoke_all(ft_auth_t *a, int64_t now_ms)
{
	size_t n;

	if (a->access == NULL)
		return 0;
	ft_auth_prune(a->access, &a->naccess, now_ms);
	n = a->naccess;
	a->naccess = 0;
	a->nrefresh = 0;
	return n;
}

size_t
ft_auth_live_tokens(ft_auth_t *a, int64_t now_ms)
{
	if (a->access == NULL)
		return 0;
	ft_auth_prune(a->access, &a->naccess, now_ms);
	return a->naccess;
}
