/*
 * fc_control: what every fake's control API (/_fake/...) serves alike: the recorded
 * requests (GET /_fake/requests?since=SEQ&limit=N) and the fault rules (GET, POST one
 * rule or an array, all validated before any is added; DELETE all or /{id}). Also the
 * reply helpers: control errors are {"error_message": ...} in every fake.
 */
#ifndef FC_CONTROL_H
#define FC_CONTROL_H

#include <bson/bson.h>
#include <event2/buffer.h>
#include <stdbool.h>
#include <stdint.h>

#include "fc_fault.h"
#include "fc_record.h"

/* Write doc / {"error_message": msg} to out and return status. */
int fc_control_reply(struct evbuffer *out, const bson_t *doc, int status);
int fc_control_bad(struct evbuffer *out, int status, const char *msg);

/* Integer query parameter key (>= 0) or dflt; *ok becomes false if malformed. */
int64_t fc_control_query_int(const char *query, const char *key, int64_t dflt, bool *ok);

int fc_control_requests(fc_record_t *rec, const char *method, const char *query,
    struct evbuffer *out);
/* rest: "" for /_fake/faults, else the part after /_fake/faults/. */
int fc_control_faults(fc_faults_t *faults, const char *method, const char *rest,
    const char *body, size_t len, struct evbuffer *out);

#endif
