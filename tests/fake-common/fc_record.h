/*
 * fc_record: what the fake was asked and what it answered, in arrival order, so tests
 * can check exact requests (auth header included). Entries live in a ring of at most
 * `limit` (oldest dropped first); limit 0 records counters only. Counters are exact
 * whatever the limit. Sequence numbers start at 1 and never restart, not even on reset.
 */
#ifndef FC_RECORD_H
#define FC_RECORD_H

#include <bson/bson.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct fc_record fc_record_t;

/* How a request ended, for the counters. */
enum fc_record_fault {
	FC_RECORD_FAULT_NONE = 0,
	FC_RECORD_FAULT_STATUS, /* an injected error status */
	FC_RECORD_FAULT_CLOSE,  /* connection closed without a reply */
	FC_RECORD_FAULT_COMMIT_CLOSE, /* applied, then closed without a reply */
};

typedef struct fc_record_req {
	const char *method;
	const char *path;
	const char *query;         /* NULL: none */
	const char *authorization; /* NULL: header absent */
	const char *content_type;  /* NULL: header absent */
	const char *user_agent;    /* NULL: header absent (tells instances apart) */
	const char *body;
	size_t body_len;
	int64_t time_ms;           /* arrival, epoch ms */
} fc_record_req_t;

fc_record_t *fc_record_new(size_t limit);
void fc_record_destroy(fc_record_t *rec);

/* Count and (limit permitting) keep a request; returns its sequence number. */
uint64_t fc_record_begin(fc_record_t *rec, const fc_record_req_t *req);
/* The reply: status 0 for a closed connection; delayed when a latency applied. */
void fc_record_finish(fc_record_t *rec, uint64_t seq, const char *method, int status,
    enum fc_record_fault fault, bool delayed, int64_t done_ms);

/* Forget kept requests and zero the counters (the sequence continues). */
void fc_record_reset(fc_record_t *rec);

/* Append "requests": [...] (seq > since, at most max, 0 = all), "last_seq",
 * "dropped" to out. */
void fc_record_requests(const fc_record_t *rec, uint64_t since, size_t max, bson_t *out);
/* Append the counters to out. */
void fc_record_stats(const fc_record_t *rec, bson_t *out);

#endif
