/*
 * fx_fault: injected misbehaviour for API requests (never for /_fake/ control calls).
 *
 * A rule: {"kind": "latency"|"status"|"close", ...}
 *   latency: "latency_ms" N, optional "latency_max_ms" M (uniform random in [N, M])
 *   status:  "status" 400..599, optional "retry_after" seconds (429 defaults to 1;
 *            null means no header), optional "error_message"
 *   close:   the connection is closed without any reply
 * and for any kind: "count" N (fires for the next N matching requests, then expires),
 * "fraction" F in [0, 1] (each matching request fires with probability F; default 1),
 * "method" (e.g. "PATCH") and "path_prefix" (e.g. "/api/v1/detections/") to match.
 *
 * Evaluation, per request, in the order rules were added: a rule matches on method and
 * path prefix and must have count left; then the fraction is drawn; if it fires its count
 * drops by one. A firing latency rule adds its delay and evaluation goes on; the first
 * firing status or close rule decides the outcome and evaluation stops there (later
 * rules are not consulted, so their counts are not spent). Pure logic, no I/O.
 */
#ifndef FX_FAULT_H
#define FX_FAULT_H

#include <bson/bson.h>
#include <stdint.h>

typedef struct fx_faults fx_faults_t;

enum fx_fault_kind {
	FX_FAULT_NONE = 0,
	FX_FAULT_LATENCY,
	FX_FAULT_STATUS,
	FX_FAULT_CLOSE,
};

typedef struct fx_fault_outcome {
	int64_t delay_ms;         /* sum of firing latency rules */
	enum fx_fault_kind kind;  /* NONE, STATUS or CLOSE */
	int status;
	int retry_after;          /* seconds, -1: no header */
	char error_message[160];
	int64_t rule_id;          /* the deciding rule, 0 if none */
} fx_fault_outcome_t;

fx_faults_t *fx_faults_new(uint64_t seed);
void fx_faults_destroy(fx_faults_t *f);

/* Validate and add one rule; *id receives its id (1, 2, ...). -1 with a message. */
int fx_faults_add(fx_faults_t *f, const bson_t *rule, int64_t *id, bson_error_t *error);
/* false if no such rule. */
bool fx_faults_remove(fx_faults_t *f, int64_t id);
void fx_faults_clear(fx_faults_t *f);
size_t fx_faults_count(const fx_faults_t *f);

void fx_faults_eval(fx_faults_t *f, const char *method, const char *path,
    fx_fault_outcome_t *out);

/* Append "faults": [{id, kind, ..., remaining, matched, fired}] to out. */
void fx_faults_list(const fx_faults_t *f, bson_t *out);

#endif
