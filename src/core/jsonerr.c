/* jsonerr: see jsonerr.h. */
#include "ticketsync/jsonerr.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ticketsync/text.h"

/* jsonsl's error names, as libbson reports them. */
static const struct {
	const char *code;
	const char *words;
} jsonerr_words[] = {
	{ "SPECIAL_EXPECTED", "expected a value (a string in double quotes, a number, an object, "
	    "an array, true, false or null)" },
	{ "SPECIAL_INCOMPLETE", "an unfinished true, false or null" },
	{ "TRAILING_COMMA", "a comma with no member after it" },
	{ "CANT_INSERT", "expected ':' after a member's name, or ',' between members" },
	{ "MISSING_TOKEN", "expected ':' after a member's name, or ',' between members" },
	{ "STRAY_TOKEN", "an unexpected character" },
	{ "BRACKET_MISMATCH", "a closing bracket that does not match the open one" },
	{ "INVALID_NUMBER", "a malformed number" },
	{ "ESCAPE_INVALID", "an invalid escape in a string (\\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX)" },
	{ "UESCAPE_TOOSHORT", "a \\u escape without four hex digits" },
	{ "LEVELS_EXCEEDED", "nested too deep" },
	{ "HKEY_EXPECTED", "expected a member's name in double quotes" },
	{ "GARBAGE_TRAILING", "more text after the JSON value" },
};

void
jsonerr_explain(const char *json, size_t len, const char *libbson_msg, char *out, size_t outlen)
{
	static const char prefix[] = "Got parse error at \"";
	const char *msg = libbson_msg != NULL ? libbson_msg : "";
	const char *p, *q, *words = NULL;
	char code[48] = "", near[64] = "";
	size_t pos, line = 1, col = 1, from;
	char *end;

	if (outlen == 0)
		return;
	if (strcmp(msg, "Incomplete JSON") == 0) {
		snprintf(out, outlen, "the JSON ends early (an unclosed string, object or array)");
		return;
	}
	/* Got parse error at "<c>", position <n>: "<CODE>" ("<c>" may be any byte). */
	if (strncmp(msg, prefix, sizeof(prefix) - 1) != 0 ||
	    (p = strstr(msg + sizeof(prefix), "\", position ")) == NULL) {
		text_sanitize(out, outlen, msg, TEXT_STRLEN, 0, TEXT_CONTROLS_TO_SPACE | TEXT_ELLIPSIS);
		return;
	}
	p += strlen("\", position ");
	pos = strtoul(p, &end, 10);
	if (end == p || strncmp(end, ": \"", 3) != 0 || (q = strchr(end + 3, '"')) == NULL ||
	    (size_t)(q - end - 3) >= sizeof(code)) {
		text_sanitize(out, outlen, msg, TEXT_STRLEN, 0, TEXT_CONTROLS_TO_SPACE | TEXT_ELLIPSIS);
		return;
	}
	memcpy(code, end + 3, (size_t)(q - end - 3));
	code[q - end - 3] = '\0';
	for (size_t i = 0; i < sizeof(jsonerr_words) / sizeof(jsonerr_words[0]); i++) {
		if (jsonerr_words[i].words != NULL && strcmp(code, jsonerr_words[i].code) == 0) {
			words = jsonerr_words[i].words;
			break;
		}
	}
	if (pos > len)
		pos = len;
	for (size_t i = 0; i < pos; i++) {
		if (json[i] == '\n') {
			line++;
			col = 1;
		} else if (((unsigned char)json[i] & 0xC0) != 0x80) {
			col++; /* characters, not bytes */
		}
	}
	from = pos > 20 ? pos - 20 : 0;
	while (from > 0 && ((unsigned char)json[from] & 0xC0) == 0x80)
		from--;
	text_sanitize(near, sizeof(near), json + from, len - from, 40,
	    TEXT_CONTROLS_TO_SPACE | TEXT_ELLIPSIS);
	snprintf(out, outlen, "line %zu, column %zu: %s%s%s near \"%s%s\"", line, col,
	    words != NULL ? words : "", words != NULL ? "" : "parse error ", words != NULL ? "" : code,
	    from > 0 ? "..." : "", near);
}
