/* creator: ticket creation assembled for the daemon; see creator.h. */
#include "ticketsync/creator.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ticketsync/audit.h"
#include "ticketsync/createq.h"
#include "ticketsync/log.h"
#include "ticketsync/metrics.h"
#include "ticketsync/store.h"
#include "ticketsync/ticketspec.h"
#include "ticketsync/xalloc.h"

#define CREATOR_RECHECK_MS 30000

struct creator {
	const config_t *cfg;
	dest_ticket_t *dest;
	pusher_t *pusher;
	struct event *recheck;
	bool checked, check_ok, checking;
	char check_msg[512];
};

/* Creation's audit events and metrics. */
static const pusher_report_t creator_report = {
	.pushed = AUDIT_TICKET_CREATED,
	.retry = AUDIT_CREATE_RETRY,
	.parked = AUDIT_CREATE_PARKED,
	.released = AUDIT_CREATE_RELEASED,
	.auth_error = AUDIT_CREATE_AUTH_ERROR,
	.queued = METRICS_CREATE_QUEUED,
	.ok = METRICS_CREATE_OK,
	.retried = METRICS_CREATE_RETRY,
	.parked_total = METRICS_CREATE_PARKED,
	.auth_total = METRICS_CREATE_AUTH_ERROR,
	.in_flight = METRICS_CREATE_IN_FLIGHT,
	.blocked = METRICS_CREATE_BLOCKED,
	.pending = METRICS_CREATE_PENDING,
	.up = METRICS_TICKETS_UP,
	.last_success = METRICS_TICKETS_LAST_SUCCESS,
	.latency = false,
};

void
creator_pusher_opts(const config_t *cfg, const char *owner, pusher_opts_t *out)
{
	*out = (pusher_opts_t){
		.database = cfg->mongodb.database,
		.collection = STORE_COLL_CREATE_STATE,
		.owner = owner,
		.interval_ms = (int)cfg->push.interval_ms,
		.batch_size = (size_t)(cfg->create.concurrency * 8),
		.concurrency = (size_t)cfg->create.concurrency,
		.rate_limit = (double)cfg->create.rate_limit,
		/* A claim covers a lookup and then a create: one request more than a PATCH. */
		.claim_timeout_ms = cfg->push.claim_timeout_ms + cfg->create.request_timeout_ms,
		.retry_base_ms = cfg->create.retry_base_ms,
		.retry_max_ms = cfg->create.retry_max_ms,
		.auth_probe_ms = 30000,
		/* After an ambiguous create, look the ticket up no earlier than this. */
		.recheck_ms = cfg->create.lookup_delay_ms > 0 ? cfg->create.lookup_delay_ms : 1,
		.unreachable_warn_ms = cfg->push.unreachable_warn_ms,
		.settle_on_ack = true,
		.report = &creator_report,
		.before_complete = createq_record,
	};
}

void
creator_dest_opts(const config_t *cfg, const char *instance, dest_ticket_opts_t *out)
{
	enum ticketspec_target t = ticketspec_target(cfg->create.spec);

	memset(out, 0, sizeof(*out));
	out->target.kind = t;
	out->target.jira_cloud = cfg->jira.cloud;
	out->target.table = cfg->servicenow.table;
	out->target.id_path = cfg->create_http.ticket_id_path;
	out->lag_ms = cfg->create.lookup_delay_ms;
	out->max_per_hour = cfg->create.max_per_hour;
	out->http.instance = instance;
	out->http.request_timeout_ms = (long)cfg->create.request_timeout_ms;
	out->http.max_connections = (long)cfg->create.concurrency;
	switch (t) {
	case TICKETSPEC_JIRA:
		out->http.what = cfg->jira.cloud ? "Jira Cloud" : "Jira Data Center";
		out->http.base_url = cfg->jira.url;
		out->http.ca_file = cfg->jira.ca_file;
		if (cfg->jira.cloud) {
			out->http.auth = HTTPCLI_AUTH_BASIC;
			out->http.user = cfg->jira.email;
			out->http.password = cfg->jira.api_token;
		} else {
			out->http.auth = HTTPCLI_AUTH_BEARER;
			out->http.token = cfg->jira.pat;
		}
		break;
	case TICKETSPEC_SERVICENOW:
		out->http.what = "ServiceNow";
		out->http.base_url = cfg->servicenow.url;
		out->http.ca_file = cfg->servicenow.ca_file;
		out->http.auth = cfg->servicenow.oauth_client_id != NULL ? HTTPCLI_AUTH_OAUTH_PASSWORD
		                                                         : HTTPCLI_AUTH_BASIC;
		out->http.user = cfg->servicenow.user;
		out->http.password = cfg->servicenow.password;
		out->http.token_url = cfg->servicenow.oauth_token_url;
		out->http.client_id = cfg->servicenow.oauth_client_id;
		out->http.client_secret = cfg->servicenow.oauth_client_secret;
		break;
	case TICKETSPEC_HTTP:
		out->http.what = "the ticket endpoint";
		out->http.base_url = cfg->create_http.url;
		out->http.ca_file = cfg->create_http.ca_file;
		out->http.auth = cfg->create_http.token ? HTTPCLI_AUTH_BEARER : HTTPCLI_AUTH_NONE;
		out->http.token = cfg->create_http.token;
		out->hmac_secret = cfg->create_http.secret;
		out->signature_header = cfg->create_http.signature_header;
		out->idempotency_header = cfg->create_http.idempotency_header;
		break;
	}
}

static void creator_on_recheck(evutil_socket_t fd, short what, void *arg);

creator_t *
creator_new(struct event_base *base, struct dbworker *db, struct dbworker *record_db,
    const config_t *cfg, const char *instance, bson_error_t *err)
{
	creator_t *c = xcalloc(1, sizeof(*c));
	dest_ticket_opts_t dopts;
	pusher_opts_t po;
	dest_t dest;

	c->cfg = cfg;
	creator_dest_opts(cfg, instance, &dopts);
	c->dest = dest_ticket_new(base, &dopts, err);
	if (c->dest == NULL)
		goto fail;
	dest = (dest_t){ &dest_ticket_ops, c->dest };
	creator_pusher_opts(cfg, instance, &po);
	c->pusher = pusher_new(base, db, record_db, &dest, &po, err);
	if (c->pusher == NULL)
		goto fail;
	c->recheck = event_new(base, -1, 0, creator_on_recheck, c);
	if (c->recheck == NULL) {
		bson_set_error(err, ERROR_DOMAIN, DEST_TICKET_ERR_CONFIG, "creator: cannot create a timer");
		goto fail;
	}
	snprintf(c->check_msg, sizeof(c->check_msg), "credential check pending");
	metrics_set(METRICS_CREATE_ENABLED, 1);
	return c;
fail:
	creator_free(c);
	return NULL;
}

pusher_t *
creator_pusher(creator_t *c)
{
	return c->pusher;
}

void
creator_seed_window(creator_t *c, const int64_t *wall_ms, size_t n, int64_t now_ms)
{
	dest_ticket_seed_window(c->dest, wall_ms, n, now_ms);
}

static void creator_check(creator_t *c);

static void
creator_on_check(bool ok, const char *message, void *arg)
{
	creator_t *c = arg;
	const char *target = ticketspec_target_name(ticketspec_target(c->cfg->create.spec));
	struct timeval tv = { CREATOR_RECHECK_MS / 1000, 0 };

	c->checking = false;
	if (ok != c->check_ok || !c->checked) {
		/* One line says whether creation can work. */
		if (ok)
			log_info("create: ticket creation in %s can work: %s", target, message);
		else
			log_errorx("create: ticket creation in %s cannot work: %s; detections stay queued "
			    "(checking again every %d s)", target, message, CREATOR_RECHECK_MS / 1000);
	}
	c->checked = true;
	c->check_ok = ok;
	metrics_set(METRICS_CREATE_READY, ok ? 1 : 0);
	snprintf(c->check_msg, sizeof(c->check_msg), "%s", message);
	if (!ok)
		event_add(c->recheck, &tv);
}

static void
creator_on_recheck(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	creator_check(arg);
}

static void
creator_check(creator_t *c)
{
	if (c->checking)
		return;
	c->checking = true;
	dest_ticket_check(c->dest, creator_on_check, c);
}

void
creator_start(creator_t *c)
{
	creator_check(c);
}

bool
creator_ready(const creator_t *c, char *why, size_t len)
{
	pusher_stats_t ps;

	if (!c->checked || !c->check_ok) {
		snprintf(why, len, "ticket creation cannot work yet: %s", c->check_msg);
		return false;
	}
	pusher_get_stats(c->pusher, &ps);
	if (ps.blocked) {
		snprintf(why, len, "ticket creation stopped: %s", ps.blocked_reason);
		return false;
	}
	if (ps.unreachable_ms > 0) {
		snprintf(why, len, "ticket system unreachable for %lld s: %s",
		    (long long)(ps.unreachable_ms / 1000), ps.unreachable_reason);
		return false;
	}
	snprintf(why, len, "ticket creation ready");
	return true;
}

void
creator_free(creator_t *c)
{
	if (c == NULL)
		return;
	/* Requests in flight complete into the pusher while it exists; a check still in
	 * flight completes at the destroy, while the timer it may arm exists. */
	if (c->pusher != NULL)
		pusher_suspend(c->pusher);
	pusher_free(c->pusher);
	dest_ticket_destroy(c->dest);
	if (c->recheck != NULL)
		event_free(c->recheck);
	free(c);
}
