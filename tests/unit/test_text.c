/*
 * text: the UTF-8 sanitizer as tables (input bytes, dstlen, max_chars, flags ->
 * output), in the three combinations the program uses (store: TEXT_ELLIPSIS; the
 * ExtraHop client: TEXT_CONTROLS_TO_SPACE; report: all three) and others; and
 * text_utf8_seq against bson_utf8_validate, exhaustively over short sequences.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include <bson/bson.h>

#include "ticketsync/text.h"

#define C TEXT_CONTROLS_TO_SPACE
#define E TEXT_ELLIPSIS
#define R TEXT_ELLIPSIS_RESERVED
#define STORE E
#define EH C
#define REPORT (C | E | R)

/* An input of explicit length: embedded NULs count. */
#define B(s) (s), sizeof(s) - 1
/* A NUL-terminated input. */
#define S(s) (s), TEXT_STRLEN

#define BUF 80
#define NOTHING NULL /* want: dst left untouched (dstlen 0) */

typedef struct text_row {
	const char *name;
	const char *in;
	size_t inlen;
	size_t dstlen;
	size_t max_chars;
	unsigned flags;
	const char *want;
} text_row_t;

static const text_row_t rows[] = {
	/* Empty and missing input. */
	{ "empty", S(""), 16, 0, 0, "" },
	{ "empty, report", S(""), 4, 0, REPORT, "" },
	{ "empty, explicit length", B(""), 16, 0, EH, "" },
	{ "NULL", NULL, TEXT_STRLEN, 16, 0, STORE, "" },
	{ "NULL ignores srclen", NULL, 5, 16, 0, EH, "" },

	/* Controls and DEL: kept unless TEXT_CONTROLS_TO_SPACE. */
	{ "controls kept", S("a\tb\nc\rd\x1b[0m\x7f"), 32, 0, STORE, "a\tb\nc\rd\x1b[0m\x7f" },
	{ "controls to space", S("a\tb\nc\rd\x1b[0m\x7f"), 32, 0, EH, "a b c d [0m " },
	{ "0x1f and DEL, not 0x20 or ~", S("\x1f \x7e\x7f"), 16, 0, C, "  ~ " },
	{ "C1 control U+0085 is not touched", S("\xc2\x85"), 16, 0, C, "\xc2\x85" },
	/* NUL within srclen never ends the output early. */
	{ "NUL to space", B("a\0b"), 16, 0, EH, "a b" },
	{ "NUL to ?", B("a\0b"), 16, 0, STORE, "a?b" },
	{ "TEXT_STRLEN stops at NUL", S("a\0b"), 16, 0, EH, "a" },

	/* Invalid bytes: one '?' each. */
	{ "0xff", S("a\xff" "b"), 16, 0, 0, "a?b" },
	{ "0xfe", S("\xfe"), 16, 0, 0, "?" },
	{ "lone continuation", S("\x80\xbf"), 16, 0, 0, "??" },
	{ "5-byte form", S("\xf8\x88\x80\x80\x80"), 16, 0, 0, "?????" },
	{ "bad continuation", S("\xc3(d"), 16, 0, 0, "?(d" },
	{ "3-byte missing its last", S("\xe2\x82" "A"), 16, 0, 0, "??A" },
	{ "2-byte cut by srclen", "\xc3\xa9", 1, 16, 0, 0, "?" },
	{ "3-byte cut by srclen", "\xe2\x82\xac", 2, 16, 0, 0, "??" },
	{ "4-byte cut by srclen", "\xf0\x9f\x98\x80", 3, 16, 0, 0, "???" },
	/* Overlongs. */
	{ "overlong NUL", S("\xc0\x80"), 16, 0, 0, "??" },
	{ "overlong /", S("\xc0\xaf"), 16, 0, 0, "??" },
	{ "overlong U+007F", S("\xc1\xbf"), 16, 0, 0, "??" },
	{ "overlong 3-byte /", S("\xe0\x80\xaf"), 16, 0, 0, "???" },
	{ "overlong 3-byte U+07FF", S("\xe0\x9f\xbf"), 16, 0, 0, "???" },
	{ "overlong 4-byte /", S("\xf0\x80\x80\xaf"), 16, 0, 0, "????" },
	{ "overlong 4-byte U+FFFF", S("\xf0\x8f\xbf\xbf"), 16, 0, 0, "????" },
	{ "shortest U+0080, U+0800, U+10000", S("\xc2\x80\xe0\xa0\x80\xf0\x90\x80\x80"), 16, 0, 0,
	    "\xc2\x80\xe0\xa0\x80\xf0\x90\x80\x80" },
	/* Surrogates. */
	{ "surrogate D800", S("\xed\xa0\x80"), 16, 0, 0, "???" },
	{ "surrogate DFFF", S("\xed\xbf\xbf"), 16, 0, 0, "???" },
	{ "around surrogates: U+D7FF, U+E000", S("\xed\x9f\xbf\xee\x80\x80"), 16, 0, 0,
	    "\xed\x9f\xbf\xee\x80\x80" },
	/* Past U+10FFFF. */
	{ "U+110000", S("\xf4\x90\x80\x80"), 16, 0, 0, "????" },
	{ "lead f5", S("\xf5\x80\x80\x80"), 16, 0, 0, "????" },
	{ "lead f7", S("\xf7\xbf\xbf\xbf"), 16, 0, 0, "????" },
	{ "U+10FFFF", S("\xf4\x8f\xbf\xbf"), 16, 0, 0, "\xf4\x8f\xbf\xbf" },

	/* Byte bound without an ellipsis: every cut inside a character drops all of it. */
	{ "2-byte, room 1 of 2", S("a\xc3\xa9"), 3, 0, EH, "a" },
	{ "2-byte fits", S("a\xc3\xa9"), 4, 0, EH, "a\xc3\xa9" },
	{ "3-byte, room 1 of 3", S("a\xe2\x82\xac"), 3, 0, EH, "a" },
	{ "3-byte, room 2 of 3", S("a\xe2\x82\xac"), 4, 0, EH, "a" },
	{ "3-byte fits", S("a\xe2\x82\xac"), 5, 0, EH, "a\xe2\x82\xac" },
	{ "4-byte, room 1 of 4", S("a\xf0\x9f\x98\x80"), 3, 0, EH, "a" },
	{ "4-byte, room 2 of 4", S("a\xf0\x9f\x98\x80"), 4, 0, EH, "a" },
	{ "4-byte, room 3 of 4", S("a\xf0\x9f\x98\x80"), 5, 0, EH, "a" },
	{ "4-byte fits", S("a\xf0\x9f\x98\x80"), 6, 0, EH, "a\xf0\x9f\x98\x80" },
	{ "controls cut like text", S("ab\ncd"), 4, 0, EH, "ab " },

	/* Byte bound with an ellipsis: the prefix gets dstlen - 4 bytes. */
	{ "... after 2-byte, room 1", S("a\xc3\xa9" "bcdefgh"), 5, 0, STORE, "a..." },
	{ "... after 2-byte, room 2", S("a\xc3\xa9" "bcdefgh"), 6, 0, STORE, "a..." },
	{ "... after 2-byte, room 3", S("a\xc3\xa9" "bcdefgh"), 7, 0, STORE, "a\xc3\xa9..." },
	{ "... after 3-byte, room 2", S("a\xe2\x82\xac" "bcdefgh"), 6, 0, STORE, "a..." },
	{ "... after 3-byte, room 3", S("a\xe2\x82\xac" "bcdefgh"), 7, 0, STORE, "a..." },
	{ "... after 3-byte, room 4", S("a\xe2\x82\xac" "bcdefgh"), 8, 0, STORE, "a\xe2\x82\xac..." },
	{ "... after 4-byte, room 2", S("a\xf0\x9f\x98\x80" "bcdefgh"), 6, 0, STORE, "a..." },
	{ "... after 4-byte, room 3", S("a\xf0\x9f\x98\x80" "bcdefgh"), 7, 0, STORE, "a..." },
	{ "... after 4-byte, room 4", S("a\xf0\x9f\x98\x80" "bcdefgh"), 8, 0, STORE, "a..." },
	{ "... after 4-byte, room 5", S("a\xf0\x9f\x98\x80" "bcdefgh"), 9, 0, STORE,
	    "a\xf0\x9f\x98\x80..." },
	{ "... alone", S("abcd"), 4, 0, STORE, "..." },
	{ "fits dstlen - 1: no ...", S("abc"), 4, 0, STORE, "abc" },
	{ "... counts replaced bytes", S("\xff\xff\xff\xff\xff\xff\xff\xff"), 7, 0, STORE, "???..." },
	/* The room for "..." when the text would fit whole: kept only with R. */
	{ "fits whole", S("0123456"), 8, 0, E, "0123456" },
	{ "reserved room", S("0123456"), 8, 0, E | R, "0123..." },
	{ "reserved, fits dstlen - 4", S("0123"), 8, 0, E | R, "0123" },
	{ "reserved, anything in dstlen 4", S("abc"), 4, 0, REPORT, "..." },
	{ "cut either way", S("0123456789"), 8, 0, E, "0123..." },
	{ "R without E is no ellipsis", S("0123456789"), 8, 0, R, "0123456" },
	/* Buffers too small for the mark: empty, even when the text would fit. */
	{ "dstlen 0", S("ab"), 0, 0, EH, NOTHING },
	{ "dstlen 0, ellipsis", S("ab"), 0, 0, REPORT, NOTHING },
	{ "dstlen 1", S("ab"), 1, 0, EH, "" },
	{ "dstlen 1, ellipsis", S("ab"), 1, 0, STORE, "" },
	{ "dstlen 2", S("ab"), 2, 0, EH, "a" },
	{ "dstlen 3, fits", S("ab"), 3, 0, EH, "ab" },
	{ "dstlen 3, fits but no room for ...", S("ab"), 3, 0, STORE, "" },
	{ "dstlen 3, report", S("ab"), 3, 0, REPORT, "" },

	/* Character bound (each '?' one character). */
	{ "chars, no ellipsis", S("\xc3\x85\xc3\x85\xc3\x85\xc3\x85"), 32, 2, EH, "\xc3\x85\xc3\x85" },
	{ "chars, exactly max", S("\xc3\x85\xc3\x85\xc3\x85\xc3\x85"), 32, 4, EH,
	    "\xc3\x85\xc3\x85\xc3\x85\xc3\x85" },
	{ "chars, ... counts", S("abcdefgh"), 32, 7, REPORT, "abcd..." },
	{ "chars, ... counts, store", S("abcdefgh"), 32, 5, STORE, "ab..." },
	{ "chars, max 4", S("abcdefgh"), 32, 4, REPORT, "a..." },
	{ "chars, max 3: ... exceeds", S("abcdefgh"), 32, 3, REPORT, "abc..." },
	{ "chars, max 1: ... exceeds", S("abcdefgh"), 32, 1, REPORT, "a..." },
	{ "chars of ?", S("\xff\xff\xff\xff\xff"), 32, 4, REPORT, "?..." },
	{ "chars, max 0 is no cap", S("abcdefgh"), 32, 0, REPORT, "abcdefgh" },
	{ "bytes cut alone: ... not counted in max", S("abcdefghi"), 10, 10, REPORT, "abcdef..." },
	{ "chars and bytes: the tighter wins", S("abcdefghij"), 8, 8, REPORT, "abcd..." },

	/* From report's tests (terminal cells). */
	{ "report: plain", S("plain"), 64, 0, REPORT, "plain" },
	{ "report: controls, escape, invalid", S("a\nb\033[31mc\xff\xc3(d"), 64, 0, REPORT,
	    "a b [31mc?" "?(d" },
	{ "report: multibyte stays", S("Zo\xc3\xab \xc3\x85ngstr\xc3\xb6m"), 64, 0, REPORT,
	    "Zo\xc3\xab \xc3\x85ngstr\xc3\xb6m" },
	{ "report: by characters",
	    S("\xc3\x85\xc3\x85\xc3\x85\xc3\x85\xc3\x85\xc3\x85\xc3\x85\xc3\x85\xc3\x85\xc3\x85"), 64,
	    6, REPORT, "\xc3\x85\xc3\x85\xc3\x85..." },
	{ "report: exactly max", S("exactly6"), 64, 8, REPORT, "exactly6" },
	{ "report: small buffer", S("0123456789"), 8, 0, REPORT, "0123..." },
	/* From the store's tests (audit messages, 16-byte buffer). */
	{ "store: plain", S("plain"), 16, 0, STORE, "plain" },
	{ "store: invalid, continuation, overlong", S("a\xff" "b\x80" "c\xc0\xaf" "d"), 16, 0, STORE,
	    "a?b?c??d" },
	{ "store: surrogate", S("\xed\xa0\x80"), 16, 0, STORE, "???" },
	{ "store: fits exactly", S("123456789012345"), 16, 0, STORE, "123456789012345" },
	{ "store: one over", S("1234567890123456"), 16, 0, STORE, "123456789012..." },
	{ "store: 2-byte across the cut", S("12345678901\xc3\xa9" "4567"), 16, 0, STORE,
	    "12345678901..." },
	{ "store: 2-byte before the cut", S("1234567890\xc3\xa9" "34567"), 16, 0, STORE,
	    "1234567890\xc3\xa9..." },
	{ "store: 4-byte that does not fit", S("12345678901234\xf0\x9f\x98\x80"), 16, 0, STORE,
	    "123456789012..." },
};

static void
test_sanitize_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const text_row_t *r = &rows[i];
		char buf[BUF];
		size_t n;

		assert_true(r->dstlen < BUF);
		memset(buf, 'G', sizeof(buf));
		n = text_sanitize(buf, r->dstlen, r->in, r->inlen, r->max_chars, r->flags);
		if (r->want == NOTHING) {
			if (n != 0 || buf[0] != 'G')
				fail_msg("%s: wrote into a 0-byte buffer", r->name);
			continue;
		}
		if (memchr(buf, '\0', r->dstlen) == NULL)
			fail_msg("%s: not terminated within %zu bytes", r->name, r->dstlen);
		if (strcmp(buf, r->want) != 0)
			fail_msg("%s: got \"%s\", want \"%s\"", r->name, buf, r->want);
		if (n != strlen(buf))
			fail_msg("%s: returned %zu for %zu bytes", r->name, n, strlen(buf));
		if (!bson_utf8_validate(buf, n, false))
			fail_msg("%s: output is not valid UTF-8", r->name);
		for (size_t k = r->dstlen; k < sizeof(buf); k++)
			if (buf[k] != 'G')
				fail_msg("%s: wrote byte %zu of a %zu-byte buffer", r->name, k, r->dstlen);
	}
}

static void
test_utf8_seq_table(void **state)
{
	static const struct {
		const char *s;
		size_t left;
		size_t want;
	} cases[] = {
		{ "", 0, 0 },
		{ "A", 0, 0 },
		{ "\0", 1, 1 },
		{ "A", 1, 1 },
		{ "\x7f", 1, 1 },
		{ "\xc3\xa9", 2, 2 },
		{ "\xc3\xa9", 1, 0 },
		{ "\xe2\x82\xac", 3, 3 },
		{ "\xe2\x82\xac", 2, 0 },
		{ "\xf0\x9f\x98\x80", 4, 4 },
		{ "\xf0\x9f\x98\x80", 3, 0 },
		{ "\xf0\x9f\x98\x80" "A", 5, 4 },
		{ "\xc3" "A", 2, 0 },
		{ "\xe2\x82" "A", 3, 0 },
		{ "\x80", 1, 0 },
		{ "\xc0\x80", 2, 0 },
		{ "\xed\xa0\x80", 3, 0 },
		{ "\xf4\x90\x80\x80", 4, 0 },
		{ "\xf8\x88\x80\x80", 4, 0 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (text_utf8_seq((const unsigned char *)cases[i].s, cases[i].left) != cases[i].want)
			fail_msg("case %zu: got %zu, want %zu", i,
			    text_utf8_seq((const unsigned char *)cases[i].s, cases[i].left), cases[i].want);
}

/* The rules are libbson's: a sequence is valid exactly when bson_utf8_validate takes
 * it (leaving NUL aside, which it refuses without allow_null). */
static void
check_seq(const unsigned char *s, size_t len)
{
	bool bson = bson_utf8_validate((const char *)s, len, false);
	bool ours = text_utf8_seq(s, len) == len;

	if (bson != ours)
		fail_msg("%02x %02x %02x %02x (%zu bytes): libbson %d, text_utf8_seq %zu", s[0],
		    len > 1 ? s[1] : 0, len > 2 ? s[2] : 0, len > 3 ? s[3] : 0, len, bson,
		    text_utf8_seq(s, len));
}

static void
test_utf8_seq_matches_libbson(void **state)
{
	unsigned char s[4];

	(void)state;
	/* Each lead byte with the length it announces (NUL left out): every 1-, 2- and
	 * 3-byte string. */
	for (unsigned a = 1; a < 0x100; a++) {
		s[0] = (unsigned char)a;
		check_seq(s, 1);
		if (a < 0xc0 || a > 0xef)
			continue;
		for (unsigned b = 1; b < 0x100; b++) {
			s[1] = (unsigned char)b;
			if (a < 0xe0) {
				check_seq(s, 2);
				continue;
			}
			for (unsigned c = 1; c < 0x100; c++) {
				s[2] = (unsigned char)c;
				check_seq(s, 3);
			}
		}
	}
	/* Every 4-byte lead with every continuation triple. */
	for (unsigned a = 0xf0; a < 0xf8; a++)
		for (unsigned b = 0x80; b < 0xc0; b++)
			for (unsigned c = 0x80; c < 0xc0; c++)
				for (unsigned d = 0x80; d < 0xc0; d++) {
					s[0] = (unsigned char)a;
					s[1] = (unsigned char)b;
					s[2] = (unsigned char)c;
					s[3] = (unsigned char)d;
					check_seq(s, 4);
				}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sanitize_table),
		cmocka_unit_test(test_utf8_seq_table),
		cmocka_unit_test(test_utf8_seq_matches_libbson),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
