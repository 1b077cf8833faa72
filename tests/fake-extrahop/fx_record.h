/*
 * fx_record: what the fake was asked and what it answered, in arrival order, so tests
 * can check exact requests (auth header included). Entries live in a ring of at most
 * `limit` (oldest dropped first); limit 0 records counters only. Counters are exact
 * whatever the limit. Sequence numbers start at 1 and never restart, not even on reset.
 */
#ifndef FX_RECORD_H
#define FX_RECORD_H

#include <bson/bson.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct fx_record fx_record_t;

/* How a request ended, for the counters. */
enum fx_record_fault {
	FX_RECORD_FAULT_NONE = 0,
	FX_RECORD_FAULT_STATUS, /* an injected error status */
	FX_RECORD_FAULT_CLOSE,  /* connection closed without a reply */
};

typedef struct fx_record_req {
	const char *method;
	const char *path;
	const char *query;         /* NULL: none */
	const char *authorization; /* NULL: header absent */
	const char *content_type;  /* NULL: header absent */
	const char *user_agent;    /* NULL: header absent (tells instances apart) */
	const char *body;
	size_t body_len;
	int64_t time_ms;           /* arrival, epoch ms */
} fx_record_req_t;

fx_record_t *fx_record_new(size_t limit);
void fx_record_destroy(fx_record_t *rec);

/* Count and (limit permitting) keep a request; returns its sequence number. */
uint64_t fx_record_begin(fx_record_t *rec, const fx_record_req_t *req);
/* The reply: status 0 for a closed connection; delayed when a latency applied. */
void fx_record_finish(fx_record_t *rec, uint64_t seq, const char *method, int status,
    enum fx_record_fault fault, bool delayed, int64_t done_ms);

/* Forget kept requests and zero the counters (the sequence continues). */
void fx_record_reset(fx_record_t *rec);

/* Append "requests": [...] (seq > since, at most max, 0 = all), "last_seq",
 * "dropped" to out. */
void fx_record_requests(const fx_record_t *rec, uint64_t since, size_t max, bson_t *out);
/* Append the counters to out. */
void fx_record_stats(const fx_record_t *rec, bson_t *out);

#endif
