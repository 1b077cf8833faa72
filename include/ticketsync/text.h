/*
 * text: the one sanitizer for text that came from elsewhere (a remote server's reply,
 * a webhook sender's bytes, a database string) before it goes into a log line, a BSON
 * document or a terminal: the result is always valid UTF-8 (what bson_utf8_validate
 * accepts), NUL-terminated, bounded in bytes and optionally in characters, and never
 * cut inside a character. Any layer may call it. Pure: no I/O, no allocation, no
 * global state.
 *
 * Each caller states its rules with flags; what they do:
 *
 * - Always: a byte that does not start a valid sequence (text_utf8_seq) becomes '?'
 *   (one byte for one), so output bytes never outnumber input bytes.
 * - TEXT_CONTROLS_TO_SPACE: C0 controls and DEL become ' ' (logs, terminals). Without
 *   it they are kept, except NUL, which becomes '?': it would end the C string.
 * - TEXT_ELLIPSIS: a text that does not fit ends in "..." after the longest prefix
 *   of whole characters leaving room for it (at most dstlen - 4 bytes). Text that
 *   fits (dstlen - 1 bytes) is not touched. A buffer with no room for the mark
 *   (dstlen < 4) gets "" whatever the text: a cut is never silent.
 * - TEXT_ELLIPSIS_RESERVED (with TEXT_ELLIPSIS): the room for "..." is kept even when
 *   the text would fit whole: text longer than dstlen - 4 bytes is cut. (report's
 *   terminal cells have always behaved so.)
 *
 * max_chars (0 = no cap) bounds the characters (code points, each '?' one):
 * without TEXT_ELLIPSIS the first max_chars are kept; with it, text of more than
 * max_chars characters keeps max_chars - 3 and "...", or, when max_chars < 4,
 * max_chars and "..." (a mark longer than the cap beats losing all of the text).
 * A cut for bytes alone does not count the ellipsis against max_chars.
 */
#ifndef TICKETSYNC_TEXT_H
#define TICKETSYNC_TEXT_H

#include <stddef.h>
#include <stdint.h>

#define TEXT_CONTROLS_TO_SPACE 0x1u
#define TEXT_ELLIPSIS 0x2u
#define TEXT_ELLIPSIS_RESERVED 0x4u

/* srclen for a NUL-terminated src. */
#define TEXT_STRLEN SIZE_MAX

/* Length (1..4) of the valid UTF-8 sequence at s, of which left bytes may be read;
 * 0 when there is none (left 0, a bad lead or continuation byte, a sequence cut by
 * left, an overlong form such as C0 80, a surrogate, a code point past U+10FFFF):
 * bson_utf8_validate's rules, except that the byte 0 counts as a sequence of 1. */
size_t text_utf8_seq(const unsigned char *s, size_t left);

/* src's srclen bytes (TEXT_STRLEN: up to its NUL; src NULL reads as "") into dst
 * under the rules above. Writes nothing when dstlen is 0; otherwise always
 * NUL-terminates. Returns the bytes written before the NUL (strlen(dst)). */
size_t text_sanitize(char *dst, size_t dstlen, const char *src, size_t srclen, size_t max_chars,
    unsigned flags);

#endif
