/*
 * fc_fault: injected misbehaviour for API requests (never for /_fake/ control calls).
 *
 * A rule: {"kind": "latency"|"status"|"close"|"commit_close", ...}
 *   latency: "latency_ms" N, optional "latency_max_ms" M (uniform random in [N, M])
 *   status:  "status" 400..599, optional "retry_after" seconds (429 defaults to 1;
 *            null means no header), optional "error_message"
 *   close:   the connection is closed without any reply
 *   commit_close: the request is applied (the write commits) and then the connection is
 *            closed without any reply; only where the fake enables it
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
#ifndef FC_FAULT_H
#define FC_FAULT_H

#include <bson/bson.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct fc_faults fc_faults_t;

enum fc_fault_kind {
	FC_FAULT_NONE = 0,
	FC_FAULT_LATENCY,
	FC_FAULT_STATUS,
	FC_FAULT_CLOSE,
	FC_FAULT_COMMIT_CLOSE,
};

typedef struct fc_fault_outcome {
	int64_t delay_ms;         /* sum of firing latency rules */
	enum fc_fault_kind kind;  /* NONE, STATUS, CLOSE or COMMIT_CLOSE */
	int status;
	int retry_after;          /* seconds, -1: no header */
	char error_message[160];
	int64_t rule_id;          /* the deciding rule, 0 if none */
} fc_fault_outcome_t;

/* name starts default error messages ("fake ExtraHop: injected status 503");
 * commit_close says whether rules of that kind are accepted. */
fc_faults_t *fc_faults_new(uint64_t seed, const char *name, bool commit_close);
/* An empty set with f's name and accepted kinds (to validate rules before adding). */
fc_faults_t *fc_faults_new_like(const fc_faults_t *f);
void fc_faults_destroy(fc_faults_t *f);

/* Validate and add one rule; *id receives its id (1, 2, ...). -1 with a message. */
int fc_faults_add(fc_faults_t *f, const bson_t *rule, int64_t *id, bson_error_t *error);
/* false if no such rule. */
bool fc_faults_remove(fc_faults_t *f, int64_t id);
void fc_faults_clear(fc_faults_t *f);
size_t fc_faults_count(const fc_faults_t *f);

void fc_faults_eval(fc_faults_t *f, const char *method, const char *path,
    fc_fault_outcome_t *out);

/* Append "faults": [{id, kind, ..., remaining, matched, fired}] to out. */
void fc_faults_list(const fc_faults_t *f, bson_t *out);

#endif
