/*
 * fc_main: the start-up chores every fake's main shares: integer options, the host part
 * of the URLs in the READY line, and an event base with a precise timer.
 */
#ifndef FC_MAIN_H
#define FC_MAIN_H

#include <event2/event.h>
#include <stddef.h>
#include <stdint.h>

/* v as a decimal integer in min..max into *out; else a message on stderr naming
 * prog and --name, and -1. */
int fc_main_parse_int(const char *prog, const char *name, const char *v, int64_t min,
    int64_t max, int64_t *out);

/* The host part of URLs we print: a wildcard bind is reached via loopback, an IPv6
 * literal gets brackets. */
void fc_main_url_host(const char *listen, char *out, size_t len);

/*
 * Precise timer: libevent otherwise reads CLOCK_MONOTONIC_COARSE (one 4 ms tick here),
 * and a 2 ms latency became 2-6 ms (4.4 ms on average) per request. NULL on failure.
 */
struct event_base *fc_main_base_new(void);

#endif
