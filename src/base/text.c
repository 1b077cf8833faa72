/* text: the UTF-8 sanitizer every module uses; see text.h. */
#include "ticketsync/text.h"

#include <stdbool.h>
#include <string.h>

size_t
text_utf8_seq(const unsigned char *s, size_t left)
{
	size_t len;
	uint32_t cp;

	if (left == 0)
		return 0;
	if (s[0] < 0x80)
		return 1;
	if ((s[0] & 0xe0) == 0xc0) {
		len = 2;
		cp = s[0] & 0x1f;
	} else if ((s[0] & 0xf0) == 0xe0) {
		len = 3;
		cp = s[0] & 0x0f;
	} else if ((s[0] & 0xf8) == 0xf0) {
		len = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	if (left < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

/* Bytes of src one output character stands for: a valid sequence, or one bad byte. */
static size_t
text_unit(const unsigned char *s, size_t left)
{
	size_t n = text_utf8_seq(s, left);

	return n ? n : 1;
}

/* Whether src holds more than max characters; stops counting past max. */
static bool
text_over_chars(const unsigned char *s, size_t len, size_t max)
{
	size_t chars = 0;

	for (size_t i = 0; i < len; i += text_unit(s + i, len - i))
		if (++chars > max)
			return true;
	return false;
}

size_t
text_sanitize(char *dst, size_t dstlen, const char *src, size_t srclen, size_t max_chars,
    unsigned flags)
{
	const unsigned char *s = (const unsigned char *)src;
	bool ellipsis = (flags & TEXT_ELLIPSIS) != 0;
	bool over_chars, cut;
	size_t fit, byte_cap, char_cap, used = 0, chars = 0;

	if (dstlen == 0)
		return 0;
	if (s == NULL)
		srclen = 0;
	else if (srclen == TEXT_STRLEN)
		srclen = strlen(src);
	if (ellipsis && dstlen < 4) {
		dst[0] = '\0';
		return 0;
	}
	/* Every replacement is one byte for one, so output bytes are srclen: whether the
	 * whole fits is known before copying. */
	fit = ellipsis && (flags & TEXT_ELLIPSIS_RESERVED) ? dstlen - 4 : dstlen - 1;
	over_chars = max_chars > 0 && text_over_chars(s, srclen, max_chars);
	cut = srclen > fit || over_chars;
	byte_cap = cut && ellipsis ? dstlen - 4 : dstlen - 1;
	char_cap = over_chars ? max_chars : 0;
	if (over_chars && ellipsis && max_chars >= 4)
		char_cap -= 3;
	for (size_t i = 0; i < srclen;) {
		size_t n = text_utf8_seq(s + i, srclen - i);
		size_t take = n ? n : 1;

		if (used + take > byte_cap || (char_cap > 0 && chars == char_cap))
			break;
		if (n == 0 || (s[i] == 0 && !(flags & TEXT_CONTROLS_TO_SPACE)))
			dst[used] = '?';
		else if (n == 1 && (s[i] < 0x20 || s[i] == 0x7f) && (flags & TEXT_CONTROLS_TO_SPACE))
			dst[used] = ' ';
		else
			memcpy(dst + used, s + i, n);
		used += take;
		i += take;
		chars++;
	}
	if (cut && ellipsis) {
		memcpy(dst + used, "...", 3);
		used += 3;
	}
	dst[used] = '\0';
	return used;
}
