/* tslogfmt: see tslogfmt.h. */
#include "tslogfmt.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

static int
bad(char *why, size_t whylen, const char *line, const char *at, const char *what)
{
	snprintf(why, whylen, "%s at byte %td of: %s", what, at - line, line);
	return -1;
}

int
tslogfmt_parse(const char *line, tslogfmt_t *out, char *why, size_t whylen)
{
	const char *p = line;

	memset(out, 0, sizeof(*out));
	out->priority = -1;
	if (*p == '<') {
		if (!isdigit((unsigned char)p[1]) || p[2] != '>')
			return bad(why, whylen, line, p, "bad priority prefix");
		out->priority = p[1] - '0';
		p += 3;
	}
	while (*p != '\0' && *p != '\n') {
		size_t k = 0, v = 0;

		if (out->n == TSLOGFMT_MAX_PAIRS)
			return bad(why, whylen, line, p, "too many pairs");
		while (isalnum((unsigned char)*p) || *p == '_') {
			if (k + 1 >= sizeof(out->key[0]))
				return bad(why, whylen, line, p, "key too long");
			out->key[out->n][k++] = *p++;
		}
		if (k == 0 || *p != '=')
			return bad(why, whylen, line, p, "expected key=");
		p++;
		if (*p == '"') {
			for (p++; *p != '"'; p++) {
				if (*p == '\0' || *p == '\n')
					return bad(why, whylen, line, p, "unterminated quote");
				if (*p == '\\') {
					p++;
					if (*p != '"' && *p != '\\')
						return bad(why, whylen, line, p, "bad escape");
				}
				if (v + 1 >= sizeof(out->value[0]))
					return bad(why, whylen, line, p, "value too long");
				out->value[out->n][v++] = *p;
			}
			p++;
		} else {
			while (*p != '\0' && *p != '\n' && *p != ' ') {
				if (*p == '"' || *p == '=')
					return bad(why, whylen, line, p, "'\"' or '=' in a bare value");
				if (v + 1 >= sizeof(out->value[0]))
					return bad(why, whylen, line, p, "value too long");
				out->value[out->n][v++] = *p++;
			}
		}
		out->n++;
		if (*p == ' ') {
			p++;
			if (*p == ' ' || *p == '\0' || *p == '\n')
				return bad(why, whylen, line, p, "stray space");
		} else if (*p != '\0' && *p != '\n') {
			return bad(why, whylen, line, p, "expected a space after a value");
		}
	}
	if (out->n == 0)
		return bad(why, whylen, line, p, "no pairs");
	return 0;
}

const char *
tslogfmt_get(const tslogfmt_t *l, const char *key)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->key[i], key) == 0)
			return l->value[i];
	return NULL;
}
