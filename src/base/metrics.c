/* metrics: atomics in, Prometheus text out; see metrics.h. */
#include "ticketsync/metrics.h"

#include <stdatomic.h>
#include <inttypes.h>

#include <event2/buffer.h>

static const struct {
	const char *name;
	const char *help;
} metrics_counter_info[METRICS_COUNTER_COUNT] = {
	[METRICS_EVENTS_SEEN] = { "ticketsync_change_events_total", "Change stream events read" },
	[METRICS_RECONCILES] = { "ticketsync_reconciles_total", "Detections reconciled" },
	[METRICS_QUEUED] = { "ticketsync_queued_total", "Reconciles that queued a push" },
	[METRICS_UNMAPPED] = { "ticketsync_unmapped_status_total", "Tickets with an unmapped status" },
	[METRICS_REJECTED_INPUT] = { "ticketsync_rejected_input_total", "Malformed detections or tickets" },
	[METRICS_RESCANS] = { "ticketsync_rescans_total", "Full rescans" },
	[METRICS_STREAM_ERRORS] = { "ticketsync_stream_errors_total", "Change stream errors" },
	[METRICS_CHECKPOINTS] = { "ticketsync_checkpoints_total", "Resume tokens saved" },
	[METRICS_PUSH_OK] = { "ticketsync_pushes_total{outcome=\"pushed\"}", NULL },
	[METRICS_PUSH_RETRY] = { "ticketsync_pushes_total{outcome=\"retry\"}", NULL },
	[METRICS_PUSH_PARKED] = { "ticketsync_pushes_total{outcome=\"parked\"}", NULL },
	[METRICS_PUSH_AUTH_ERROR] = { "ticketsync_pushes_total{outcome=\"auth_error\"}", NULL },
	[METRICS_DB_ERRORS] = { "ticketsync_db_errors_total", "Failed database operations (retried)" },
	[METRICS_CREATE_QUEUED] = { "ticketsync_create_queued_total", "Detections queued for a ticket" },
	[METRICS_CREATE_OK] = { "ticketsync_ticket_creates_total{outcome=\"created\"}", NULL },
	[METRICS_CREATE_RETRY] = { "ticketsync_ticket_creates_total{outcome=\"retry\"}", NULL },
	[METRICS_CREATE_PARKED] = { "ticketsync_ticket_creates_total{outcome=\"parked\"}", NULL },
	[METRICS_CREATE_AUTH_ERROR] = { "ticketsync_ticket_creates_total{outcome=\"auth_error\"}", NULL },
	[METRICS_CREATE_CEILING] = { "ticketsync_create_ceiling_total",
	    "Ticket creations held back by [create] max_per_hour" },
	[METRICS_SWEEP_READ] = { "ticketsync_sweep_detections_total",
	    "Detections the sweep read from ExtraHop's search" },
	[METRICS_SWEEP_REPAIRED] = { "ticketsync_sweep_repaired_total",
	    "Detections the sweep wrote into MongoDB (missing or older there)" },
	[METRICS_SWEEP_DRIFT] = { "ticketsync_sweep_drift_total",
	    "Detections whose ticket fields ExtraHop shows otherwise (edited in its UI)" },
	[METRICS_SWEEP_CORRECTED] = { "ticketsync_sweep_drift_corrected_total",
	    "Drifted detections whose ticket values were pushed again" },
	[METRICS_SWEEP_REJECTED] = { "ticketsync_sweep_rejected_total",
	    "Unusable records in ExtraHop's search replies (skipped, audited)" },
	[METRICS_SWEEP_PAGES] = { "ticketsync_sweep_pages_total", "Search pages read by the sweep" },
};

static const struct {
	const char *name;
	const char *help;
} metrics_gauge_info[METRICS_GAUGE_COUNT] = {
	[METRICS_PENDING] = { "ticketsync_pending", "Detections waiting to be pushed" },
	[METRICS_PARKED] = { "ticketsync_parked", "Detections parked after a rejected push" },
	[METRICS_IN_FLIGHT] = { "ticketsync_in_flight", "PATCH requests in flight" },
	[METRICS_CHECKPOINT_SAVED_MS] = { NULL, NULL }, /* rendered as an age */
	[METRICS_SWEEP_CURSOR_MS] = { NULL, NULL },     /* rendered as the sweep's lag */
	[METRICS_PUSH_BLOCKED] = { "ticketsync_push_blocked", "1 while pushes are stopped by an auth error" },
	[METRICS_LEADER] = { "ticketsync_leader", "1 while this instance holds the lease (active)" },
	[METRICS_CREATE_PENDING] = { "ticketsync_create_pending", "Detections waiting for their ticket" },
	[METRICS_CREATE_PARKED_NOW] = { "ticketsync_create_parked",
	    "Ticket creations parked after a rejection" },
	[METRICS_CREATE_IN_FLIGHT] = { "ticketsync_create_in_flight", "Ticket system requests in flight" },
	[METRICS_CREATE_BLOCKED] = { "ticketsync_create_blocked",
	    "1 while ticket creation is stopped by an auth error" },
	[METRICS_CREATE_READY] = { "ticketsync_create_ready",
	    "1 once the ticket system accepted our credentials" },
	[METRICS_CREATE_ENABLED] = { "ticketsync_create_enabled",
	    "1 when ticket creation ([create]) is on; the creation gauges read 0 otherwise" },
	[METRICS_EXTRAHOP_UP] = { "ticketsync_extrahop_up",
	    "0 while ExtraHop's API gives no HTTP reply at all (refused, timeout), else 1" },
	[METRICS_EXTRAHOP_LAST_SUCCESS] = { "ticketsync_extrahop_last_success_timestamp_seconds",
	    "When ExtraHop last acknowledged a PATCH (Unix time; 0: not since start)" },
	[METRICS_TICKETS_UP] = { "ticketsync_ticket_system_up",
	    "0 while the ticket system gives no HTTP reply at all (refused, timeout), else 1" },
	[METRICS_TICKETS_LAST_SUCCESS] = { "ticketsync_ticket_system_last_success_timestamp_seconds",
	    "When the ticket system last acknowledged a creation (Unix time; 0: not since start)" },
};

/* Upper bounds in ms of the push latency histogram buckets. */
static const double metrics_bounds[] = { 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000 };
#define METRICS_NBOUNDS (sizeof(metrics_bounds) / sizeof(metrics_bounds[0]))

static const char *const metrics_webhook_sources[METRICS_WEBHOOK_SOURCE_COUNT] = {
	[METRICS_WEBHOOK_JIRA] = "jira",
	[METRICS_WEBHOOK_SERVICENOW] = "servicenow",
	[METRICS_WEBHOOK_GENERIC] = "generic",
};

static const char *const metrics_webhook_outcomes[METRICS_WEBHOOK_OUTCOME_COUNT] = {
	[METRICS_WEBHOOK_ACCEPTED] = "accepted",
	[METRICS_WEBHOOK_STALE] = "stale",
	[METRICS_WEBHOOK_IGNORED] = "ignored",
	[METRICS_WEBHOOK_REJECTED] = "rejected",
	[METRICS_WEBHOOK_UNAUTHORIZED] = "unauthorized",
	[METRICS_WEBHOOK_DISABLED] = "disabled",
	[METRICS_WEBHOOK_FAILED] = "failed",
};

static atomic_uint_fast64_t metrics_counters[METRICS_COUNTER_COUNT];
static atomic_uint_fast64_t
    metrics_webhooks[METRICS_WEBHOOK_SOURCE_COUNT][METRICS_WEBHOOK_OUTCOME_COUNT];
static atomic_int_fast64_t metrics_gauges[METRICS_GAUGE_COUNT];
static atomic_uint_fast64_t metrics_buckets[METRICS_NBOUNDS + 1];
static atomic_uint_fast64_t metrics_sum_us;

void
metrics_inc(enum metrics_counter c, uint64_t n)
{
	atomic_fetch_add(&metrics_counters[c], n);
}

void
metrics_webhook_inc(enum metrics_webhook_source s, enum metrics_webhook_outcome o)
{
	if ((unsigned)s < METRICS_WEBHOOK_SOURCE_COUNT && (unsigned)o < METRICS_WEBHOOK_OUTCOME_COUNT)
		atomic_fetch_add(&metrics_webhooks[s][o], 1);
}

uint64_t
metrics_get(enum metrics_counter c)
{
	return atomic_load(&metrics_counters[c]);
}

void
metrics_set(enum metrics_gauge g, int64_t v)
{
	atomic_store(&metrics_gauges[g], v);
}

int64_t
metrics_gauge(enum metrics_gauge g)
{
	return atomic_load(&metrics_gauges[g]);
}

void
metrics_observe_push_ms(double ms)
{
	size_t i = 0;

	while (i < METRICS_NBOUNDS && ms > metrics_bounds[i])
		i++;
	atomic_fetch_add(&metrics_buckets[i], 1);
	atomic_fetch_add(&metrics_sum_us, (uint64_t)(ms * 1000.0));
}

void
metrics_render(struct evbuffer *buf, int64_t now_ms)
{
	uint64_t cum = 0;
	int64_t saved;

	for (int i = 0; i < METRICS_COUNTER_COUNT; i++) {
		if (metrics_counter_info[i].help != NULL)
			evbuffer_add_printf(buf, "# HELP %s %s\n# TYPE %s counter\n",
			    metrics_counter_info[i].name, metrics_counter_info[i].help,
			    metrics_counter_info[i].name);
		else if (i == METRICS_PUSH_OK)
			evbuffer_add_printf(buf,
			    "# HELP ticketsync_pushes_total PATCH attempts by outcome\n"
			    "# TYPE ticketsync_pushes_total counter\n");
		else if (i == METRICS_CREATE_OK)
			evbuffer_add_printf(buf,
			    "# HELP ticketsync_ticket_creates_total Ticket creation attempts by outcome\n"
			    "# TYPE ticketsync_ticket_creates_total counter\n");
		evbuffer_add_printf(buf, "%s %" PRIuFAST64 "\n", metrics_counter_info[i].name,
		    atomic_load(&metrics_counters[i]));
	}
	for (int i = 0; i < METRICS_GAUGE_COUNT; i++) {
		if (metrics_gauge_info[i].name == NULL)
			continue;
		evbuffer_add_printf(buf, "# HELP %s %s\n# TYPE %s gauge\n%s %" PRIdFAST64 "\n",
		    metrics_gauge_info[i].name, metrics_gauge_info[i].help,
		    metrics_gauge_info[i].name, metrics_gauge_info[i].name,
		    atomic_load(&metrics_gauges[i]));
	}
	evbuffer_add_printf(buf,
	    "# HELP ticketsync_webhooks_total Webhook deliveries by source and outcome\n"
	    "# TYPE ticketsync_webhooks_total counter\n");
	for (int s = 0; s < METRICS_WEBHOOK_SOURCE_COUNT; s++)
		for (int o = 0; o < METRICS_WEBHOOK_OUTCOME_COUNT; o++)
			evbuffer_add_printf(buf,
			    "ticketsync_webhooks_total{source=\"%s\",outcome=\"%s\"} %" PRIuFAST64 "\n",
			    metrics_webhook_sources[s], metrics_webhook_outcomes[o],
			    atomic_load(&metrics_webhooks[s][o]));
	saved = atomic_load(&metrics_gauges[METRICS_CHECKPOINT_SAVED_MS]);
	evbuffer_add_printf(buf,
	    "# HELP ticketsync_checkpoint_age_seconds Seconds since the resume token was saved (-1: never)\n"
	    "# TYPE ticketsync_checkpoint_age_seconds gauge\n"
	    "ticketsync_checkpoint_age_seconds %.3f\n",
	    saved > 0 ? (double)(now_ms - saved) / 1000.0 : -1.0);
	saved = atomic_load(&metrics_gauges[METRICS_SWEEP_CURSOR_MS]);
	evbuffer_add_printf(buf,
	    "# HELP ticketsync_sweep_lag_seconds Seconds between now and the sweep's cursor (-1: no sweep yet)\n"
	    "# TYPE ticketsync_sweep_lag_seconds gauge\n"
	    "ticketsync_sweep_lag_seconds %.3f\n",
	    saved > 0 ? (double)(now_ms - saved) / 1000.0 : -1.0);
	evbuffer_add_printf(buf,
	    "# HELP ticketsync_push_latency_seconds PATCH round-trip time\n"
	    "# TYPE ticketsync_push_latency_seconds histogram\n");
	for (size_t i = 0; i <= METRICS_NBOUNDS; i++) {
		cum += atomic_load(&metrics_buckets[i]);
		if (i < METRICS_NBOUNDS)
			evbuffer_add_printf(buf,
			    "ticketsync_push_latency_seconds_bucket{le=\"%g\"} %" PRIu64 "\n",
			    metrics_bounds[i] / 1000.0, cum);
		else
			evbuffer_add_printf(buf,
			    "ticketsync_push_latency_seconds_bucket{le=\"+Inf\"} %" PRIu64 "\n", cum);
	}
	evbuffer_add_printf(buf, "ticketsync_push_latency_seconds_sum %.6f\n"
	    "ticketsync_push_latency_seconds_count %" PRIu64 "\n",
	    (double)atomic_load(&metrics_sum_us) / 1e6, cum);
}

void
metrics_reset(void)
{
	for (int i = 0; i < METRICS_COUNTER_COUNT; i++)
		atomic_store(&metrics_counters[i], 0);
	for (int i = 0; i < METRICS_GAUGE_COUNT; i++)
		atomic_store(&metrics_gauges[i], 0);
	for (size_t i = 0; i <= METRICS_NBOUNDS; i++)
		atomic_store(&metrics_buckets[i], 0);
	for (int s = 0; s < METRICS_WEBHOOK_SOURCE_COUNT; s++)
		for (int o = 0; o < METRICS_WEBHOOK_OUTCOME_COUNT; o++)
			atomic_store(&metrics_webhooks[s][o], 0);
	atomic_store(&metrics_sum_us, 0);
}
