/*
 * fuzz_remote: what a remote server's bytes reach before they are trusted or stored:
 * the OAuth2 token reply (extrahop_api_token_parse: the token goes into a header line),
 * ExtraHop's error bodies (extrahop_api_error_message: quoted into audit records), and
 * text_sanitize as the store calls it (every audit message passes through it), on the
 * same input.
 *
 * Checks: an accepted token is non-empty visible ASCII with a sane lifetime and
 * refresh time; error text and sanitized text are valid UTF-8, NUL-terminated inside
 * the buffer for every buffer size, and never write past it.
 */
#include "fuzz_common.h"
#include "ticketsync/extrahop.h"
#include "ticketsync/extrahop_api.h"
#include "ticketsync/text.h"

#define GUARD 8

static void
check_token(const uint8_t *data, size_t size)
{
	extrahop_api_token_t tok;
	bson_error_t err;
	size_t len;

	memset(&err, 0, sizeof(err));
	if (!extrahop_api_token_parse((const char *)data, size, &tok, &err)) {
		FUZZ_CHECK(tok.access_token == NULL, "refused but a token was kept");
		FUZZ_CHECK(err.message[0] != '\0', "refused without a message");
		return;
	}
	FUZZ_CHECK(tok.access_token != NULL, "accepted without a token");
	len = strlen(tok.access_token);
	FUZZ_CHECK(len > 0, "empty token accepted");
	for (size_t i = 0; i < len; i++)
		FUZZ_CHECK(tok.access_token[i] > 0x20 && tok.access_token[i] < 0x7f,
		    "token byte 0x%02x would go into a header", (unsigned char)tok.access_token[i]);
	FUZZ_CHECK(tok.expires_in_s == -1 || tok.expires_in_s > 0, "expires_in %lld",
	    (long long)tok.expires_in_s);
	if (tok.expires_in_s > 0) {
		int64_t r = extrahop_api_token_refresh_after_ms(tok.expires_in_s);
		FUZZ_CHECK(r > 0 && r <= tok.expires_in_s * 1000, "refresh after %lld ms of %lld s",
		    (long long)r, (long long)tok.expires_in_s);
	} else {
		FUZZ_CHECK(extrahop_api_token_refresh_after_ms(tok.expires_in_s) == -1, "refresh of an unknown expiry");
	}
	extrahop_api_token_clear(&tok);
	FUZZ_CHECK(tok.access_token == NULL, "extrahop_api_token_clear kept the token");
}

/* out[0..outlen) holds a valid UTF-8 C string; the guard bytes after it are intact. */
static void
check_text(const char *what, const char *buf, size_t outlen)
{
	const char *nul = memchr(buf, '\0', outlen);

	FUZZ_CHECK(nul != NULL, "%s not terminated within %zu bytes", what, outlen);
	FUZZ_CHECK(fuzz_utf8(buf, (size_t)(nul - buf)), "%s is not valid UTF-8", what);
	for (size_t i = 0; i < GUARD; i++)
		FUZZ_CHECK(buf[outlen + i] == 'G', "%s wrote past %zu bytes", what, outlen);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t sizes[] = { 1, 2, 3, 4, 5, 7, 16, 64, 257 };
	char *text = fuzz_strdup(data, size);
	char buf[257 + GUARD];

	check_token(data, size);
	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		size_t n = sizes[k];
		bool found;

		memset(buf, 'G', sizeof(buf));
		found = extrahop_api_error_message((const char *)data, size, buf, n);
		check_text("error message", buf, n);
		if (found && n > 1)
			for (const char *p = buf; *p; p++)
				FUZZ_CHECK((unsigned char)*p >= 0x20 && *p != 0x7f,
				    "control character 0x%02x in an error message", (unsigned char)*p);
		if (n >= 4) {
			memset(buf, 'G', sizeof(buf));
			text_sanitize(buf, n, text, TEXT_STRLEN, 0, TEXT_ELLIPSIS);
			check_text("sanitized text", buf, n);
			if (strlen(text) < n)
				FUZZ_CHECK(strlen(buf) == strlen(text), "short text changed length");
		}
	}
	free(text);
	return 0;
}
