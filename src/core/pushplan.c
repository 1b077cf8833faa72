/* pushplan: the push decision for every destination; see pushplan.h. */
#include "ticketsync/pushplan.h"

#include <string.h>

/* Only curl's result numbers: the mapping is pure. */
#include <curl/curl.h>

static const char *const pushplan_state_names[] = {
	[PUSHPLAN_STATE_PENDING] = "pending",
	[PUSHPLAN_STATE_IN_FLIGHT] = "in_flight",
	[PUSHPLAN_STATE_SYNCED] = "synced",
	[PUSHPLAN_STATE_PARKED] = "parked",
};

const char *
pushplan_state_name(enum pushplan_state s)
{
	if ((unsigned)s >= sizeof(pushplan_state_names) / sizeof(pushplan_state_names[0]))
		return "unknown";
	return pushplan_state_names[s];
}

bool
pushplan_state_parse(const char *name, enum pushplan_state *out)
{
	*out = PUSHPLAN_STATE_PENDING;
	for (size_t i = 0; name != NULL &&
	     i < sizeof(pushplan_state_names) / sizeof(pushplan_state_names[0]); i++) {
		if (strcmp(name, pushplan_state_names[i]) == 0) {
			*out = (enum pushplan_state)i;
			return true;
		}
	}
	return false;
}

/* ---- 1. record ---- */

void
pushplan_record(const pushplan_current_t *cur, pushplan_record_t *out)
{
	memset(out, 0, sizeof(*out));
	if (!cur->exists) {
		if (cur->equals_shown)
			return; /* the destination already shows it: nothing to remember */
		out->write = PUSHPLAN_WRITE_INSERT;
		out->change = PUSHPLAN_INSERTED;
		out->state = PUSHPLAN_STATE_PENDING;
		out->version = 1;
		return;
	}
	out->state = cur->state;
	out->version = cur->version;
	if (cur->equals_stored)
		return; /* replays and duplicate events end here without a write */
	if (cur->state == PUSHPLAN_STATE_IN_FLIGHT)
		out->state = PUSHPLAN_STATE_IN_FLIGHT; /* one request per item in flight */
	else if (cur->equals_shown)
		out->state = PUSHPLAN_STATE_SYNCED;
	else
		out->state = PUSHPLAN_STATE_PENDING;
	/* pending_since marks the oldest change not yet acknowledged, for the age figure. */
	out->set_pending_since = out->state != PUSHPLAN_STATE_SYNCED && !cur->has_pending_since;
	out->write = PUSHPLAN_WRITE_UPDATE;
	out->change = cur->state == PUSHPLAN_STATE_PARKED ? PUSHPLAN_UNPARKED : PUSHPLAN_UPDATED;
	out->version = cur->version + 1;
}

/* ---- 2. mask ---- */

unsigned
pushplan_mask(const fields_t *desired, const fields_t *shown)
{
	return fields_diff(desired, shown) | FIELDS_TICKET_ID;
}

unsigned
pushplan_claim_mask(const fields_t *desired, const fields_t *pushed, const fields_t *baseline,
    bool force_full)
{
	if (force_full)
		return FIELDS_ALL; /* a recheck re-sends every field */
	if (pushed != NULL)
		return pushplan_mask(desired, pushed);
	if (baseline != NULL)
		return pushplan_mask(desired, baseline);
	return FIELDS_ALL;
}

/* ---- 3. outcome ---- */

enum pushplan_class
pushplan_classify(long http_status, bool transport_ok)
{
	if (!transport_ok)
		return PUSHPLAN_RETRY;
	if (http_status >= 200 && http_status <= 299)
		return PUSHPLAN_OK;
	if (http_status == 401 || http_status == 403)
		return PUSHPLAN_AUTH;
	if (http_status == 408 || http_status == 425 || http_status == 429)
		return PUSHPLAN_RETRY;
	if (http_status >= 400 && http_status <= 499)
		return PUSHPLAN_REJECTED;
	/* 5xx, and what we never asked for (1xx, 3xx: redirects are not followed, other
	 * numbers): nothing proves the item is at fault, so keep it for later. */
	return PUSHPLAN_RETRY;
}

const char *
pushplan_class_name(enum pushplan_class c)
{
	switch (c) {
	case PUSHPLAN_OK: return "ok";
	case PUSHPLAN_RETRY: return "retry";
	case PUSHPLAN_REJECTED: return "rejected";
	case PUSHPLAN_AUTH: return "auth";
	}
	return "unknown";
}

enum pushplan_transport
pushplan_transport_from_curl(int curl_code)
{
	switch (curl_code) {
	case CURLE_OK:
		return PUSHPLAN_REPLIED;
	case CURLE_ABORTED_BY_CALLBACK:
		return PUSHPLAN_CANCELLED;
	/* Never reached the server: nothing can be applied later. */
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_CONNECT:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
		return PUSHPLAN_NOT_SENT;
	default:
		/* Whatever else went wrong may have happened after the request left. */
		return PUSHPLAN_LOST;
	}
}

bool
pushplan_ambiguous(long http_status, enum pushplan_transport t)
{
	if (http_status == 502 || http_status == 504)
		return true;
	if (http_status > 0)
		return false;
	return t == PUSHPLAN_LOST;
}

const char *
pushplan_outcome_name(enum pushplan_outcome o)
{
	switch (o) {
	case PUSHPLAN_PUSHED: return "pushed";
	case PUSHPLAN_RETRIED: return "retry";
	case PUSHPLAN_PARKED: return "parked";
	case PUSHPLAN_RELEASED: return "released";
	}
	return "unknown";
}

void
pushplan_outcome(const pushplan_policy_t *policy, const pushplan_reply_t *reply,
    const pushplan_attempt_t *attempt, pushplan_verdict_t *out)
{
	enum pushplan_transport t = pushplan_transport_from_curl(reply->curl_code);
	backoff_policy_t backoff = {
		.base_ms = policy->retry_base_ms,
		.max_ms = policy->retry_max_ms,
		.jitter = BACKOFF_JITTER_EQUAL,
	};

	memset(out, 0, sizeof(*out));
	switch (reply->outcome) {
	case PUSHPLAN_OK:
		out->outcome = PUSHPLAN_PUSHED;
		if (policy->settle_on_ack)
			return;
		/* A recheck is due after this push if an earlier attempt was ambiguous, or a
		 * crashed holder's may still land. */
		out->recheck_at_ms = attempt->recheck_at_ms;
		if (policy->recheck_ms > 0 && attempt->reclaimed_until_ms > 0 &&
		    attempt->reclaimed_until_ms + policy->recheck_ms > out->recheck_at_ms)
			out->recheck_at_ms = attempt->reclaimed_until_ms + policy->recheck_ms;
		return;
	case PUSHPLAN_REJECTED:
		out->outcome = PUSHPLAN_PARKED;
		return;
	case PUSHPLAN_AUTH:
		/* The operator's problem, not the item's: everything stays pending. */
		out->outcome = PUSHPLAN_RELEASED;
		out->next_attempt_ms = attempt->now_ms;
		out->stop = true;
		out->recheck_at_ms = reply->recheck_at_ms;
		return;
	case PUSHPLAN_RETRY:
		break;
	}
	if (t == PUSHPLAN_CANCELLED) {
		/* Shutdown or lease lost: not this item's failure. */
		out->outcome = PUSHPLAN_RELEASED;
		out->next_attempt_ms = attempt->now_ms;
		out->cancelled = true;
		/* The destination's word that it had left already: it may still land. */
		out->recheck_at_ms = reply->recheck_at_ms;
		return;
	}
	out->outcome = PUSHPLAN_RETRIED;
	out->ambiguous = pushplan_ambiguous(reply->http_status, t);
	if (policy->recheck_ms > 0 && out->ambiguous)
		out->recheck_at_ms = attempt->now_ms + policy->recheck_ms;
	if (reply->recheck_at_ms > out->recheck_at_ms)
		out->recheck_at_ms = reply->recheck_at_ms;
	out->next_attempt_ms = attempt->now_ms +
	    backoff_delay_ms(&backoff, (uint32_t)attempt->attempts + 1, reply->retry_after_ms,
	        attempt->rnd);
}

enum pushplan_reach_evidence
pushplan_reach_evidence(long http_status, int curl_code)
{
	if (http_status > 0)
		return PUSHPLAN_REACH_YES;
	switch (curl_code) {
	case CURLE_OK:                 /* no request made (a destination's own verdict) */
	case CURLE_ABORTED_BY_CALLBACK:
	case CURLE_FAILED_INIT:
	case CURLE_OUT_OF_MEMORY:
	case CURLE_BAD_FUNCTION_ARGUMENT:
		return PUSHPLAN_REACH_UNKNOWN;
	default:
		return PUSHPLAN_REACH_NO;
	}
}

enum pushplan_reach_event
pushplan_reach_note(pushplan_reach_t *r, bool replied, int64_t now_ms, int64_t warn_after_ms)
{
	bool warned = r->warned_at_ms != 0;

	if (replied) {
		*r = (pushplan_reach_t){ 0 };
		return warned ? PUSHPLAN_REACH_RECOVERED : PUSHPLAN_REACH_QUIET;
	}
	if (r->down_since_ms == 0)
		r->down_since_ms = now_ms > 0 ? now_ms : 1;
	if (now_ms - r->down_since_ms < warn_after_ms)
		return PUSHPLAN_REACH_QUIET;
	if (warned && now_ms - r->warned_at_ms < warn_after_ms)
		return PUSHPLAN_REACH_QUIET;
	r->warned_at_ms = now_ms > 0 ? now_ms : 1;
	return PUSHPLAN_REACH_WARN;
}

bool
pushplan_reach_down_for(const pushplan_reach_t *r, int64_t now_ms, int64_t after_ms)
{
	return r->down_since_ms != 0 && now_ms - r->down_since_ms >= after_ms;
}
