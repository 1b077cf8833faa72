/* tsscene: MongoDB database + fake ExtraHop + ticketsyncd for one test; see tsscene.h. */
#include "tsscene.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

static int tsscene_seq;

void
ts_sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

tsscene_t *
tsscene_new(tsmongo_t *mongo, const char *tag)
{
	tsscene_t *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	s->mongo = mongo;
	s->d.proc.pid = -1;
	s->d.proc.stdout_fd = -1;
	tsmongo_dbname(mongo, tag, tsscene_seq++, s->db, sizeof(s->db));
	s->client = tsmongo_client(mongo);
	return s;
}

int
tsscene_begin(tsscene_t *s, const tsextrahop_opts_t *fxo, const char *api_key)
{
	tsextrahop_opts_t def = { .api_key = TSSCENE_API_KEY, .detections_count = 20 };

	if (tsextrahop_start(&s->fx, fxo ? fxo : &def, s->error, sizeof(s->error)) != 0)
		return -1;
	s->fx_started = true;
	tsdaemon_free(&s->d);
	tsdaemon_init(&s->d, tsmongo_uri(s->mongo), s->db, s->fx.base_url, api_key);
	/* The fake's own detections are not the ones a test puts into MongoDB: a sweep would
	 * write them back over the test's data. Tests of the sweep turn it on. */
	tsdaemon_setenv(&s->d, "TICKETSYNC_SWEEP_ENABLED", "false");
	if (s->fx.ca_file[0] != '\0')
		tsdaemon_setenv(&s->d, "TICKETSYNC_EXTRAHOP_CA_FILE", s->fx.ca_file);
	return 0;
}

int
tsscene_begin_tickets(tsscene_t *s, const char *flavour, int index_delay_ms, int rate_limit)
{
	tstickets_opts_t to = { .flavour = flavour, .index_delay_ms = index_delay_ms,
		.rate_limit = rate_limit };
	tsdaemon_t *d = &s->d;
	bool oauth = strcmp(flavour, "servicenow-oauth") == 0;
	bool sn = oauth || strcmp(flavour, "servicenow") == 0, dc = strcmp(flavour, "jira-dc") == 0;
	bool http = strcmp(flavour, "http") == 0;
	char url[256];

	if (http) {
		to.token = TSSCENE_HTTP_TOKEN;
		to.hmac_secret = TSSCENE_HTTP_SECRET;
		to.id_path = "result.id";
		to.index_delay_ms = 0;
	} else if (sn) {
		to.flavour = "servicenow";
		to.user = TSSCENE_SN_USER;
		to.password = TSSCENE_SN_PASSWORD;
		if (oauth) {
			to.client_id = TSSCENE_SN_CLIENT_ID;
			to.client_secret = TSSCENE_SN_CLIENT_SECRET;
		}
	} else if (dc) {
		to.pat = TSSCENE_JIRA_PAT;
	} else {
		to.email = TSSCENE_JIRA_EMAIL;
		to.api_token = TSSCENE_JIRA_TOKEN;
	}
	if (tstickets_start(&s->tk, &to, s->error, sizeof(s->error)) != 0)
		return -1;
	s->tk_started = true;
	tsdaemon_setenv(d, "TICKETSYNC_CREATE_ENABLED", "true");
	tsdaemon_setenv(d, "TICKETSYNC_CREATE_RETRY_BASE_MS", "100");
	tsdaemon_setenv(d, "TICKETSYNC_CREATE_RETRY_MAX_MS", "1000");
	tsdaemon_setenv(d, "TICKETSYNC_CREATE_RATE_LIMIT", "0");
	tsdaemon_setenv(d, "TICKETSYNC_CREATE_CONCURRENCY", "4");
	tsdaemon_setenv(d, "TICKETSYNC_CREATE_LOOKUP_DELAY_MS", "1500");
	tsdaemon_setenv(d, "TICKETSYNC_CREATE_REQUEST_TIMEOUT_MS", "2000");
	tsdaemon_setenv(d, "TICKETSYNC_CREATE_MAX_PER_HOUR", "0");
	if (http) {
		snprintf(url, sizeof(url), "%s/tickets", s->tk.base_url);
		tsdaemon_setenv(d, "TICKETSYNC_CREATE_TARGET", "http");
		tsdaemon_setenv(d, "TICKETSYNC_CREATE_HTTP_URL", url);
		tsdaemon_setenv(d, "TICKETSYNC_CREATE_HTTP_TOKEN", TSSCENE_HTTP_TOKEN);
		tsdaemon_setenv(d, "TICKETSYNC_CREATE_HTTP_SECRET", TSSCENE_HTTP_SECRET);
		tsdaemon_setenv(d, "TICKETSYNC_CREATE_HTTP_TICKET_ID_PATH", "result.id");
		return 0;
	}
	if (sn) {
		tsdaemon_setenv(d, "TICKETSYNC_CREATE_TARGET", "servicenow");
		tsdaemon_setenv(d, "TICKETSYNC_SERVICENOW_URL", s->tk.base_url);
		tsdaemon_setenv(d, "TICKETSYNC_SERVICENOW_USER", TSSCENE_SN_USER);
		tsdaemon_setenv(d, "TICKETSYNC_SERVICENOW_PASSWORD", TSSCENE_SN_PASSWORD);
		tsdaemon_setenv(d, "TICKETSYNC_SERVICENOW_ASSIGNMENT_GROUP", "SOC");
		if (oauth) {
			tsdaemon_setenv(d, "TICKETSYNC_SERVICENOW_OAUTH_CLIENT_ID", TSSCENE_SN_CLIENT_ID);
			tsdaemon_setenv(d, "TICKETSYNC_SERVICENOW_OAUTH_CLIENT_SECRET",
			    TSSCENE_SN_CLIENT_SECRET);
		}
		return 0;
	}
	tsdaemon_setenv(d, "TICKETSYNC_JIRA_URL", s->tk.base_url);
	tsdaemon_setenv(d, "TICKETSYNC_JIRA_PROJECT", "SEC");
	if (dc) {
		tsdaemon_setenv(d, "TICKETSYNC_JIRA_FLAVOUR", "datacenter");
		tsdaemon_setenv(d, "TICKETSYNC_JIRA_PAT", TSSCENE_JIRA_PAT);
	} else {
		tsdaemon_setenv(d, "TICKETSYNC_JIRA_EMAIL", TSSCENE_JIRA_EMAIL);
		tsdaemon_setenv(d, "TICKETSYNC_JIRA_API_TOKEN", TSSCENE_JIRA_TOKEN);
		tsdaemon_setenv(d, "TICKETSYNC_CREATE_ASSIGNEE", TSSCENE_JIRA_ACCOUNT);
	}
	return 0;
}

int
tsscene_start_daemon(tsscene_t *s)
{
	int64_t start = clock_mono_ms();

	if (tsdaemon_start(&s->d, s->error, sizeof(s->error)) != 0)
		return -1;
	s->d_started = true;
	/* Alone on its database it takes the lease; ready means active and streaming. */
	for (;;) {
		char *body = NULL;
		long st = tsdaemon_get(&s->d, "/readyz", &body);
		bool active = st == 200 && body != NULL && strstr(body, "ready: active") != NULL;

		free(body);
		if (active)
			return 0;
		if (clock_mono_ms() - start > 20000) {
			snprintf(s->error, sizeof(s->error), "ticketsyncd never became active and ready");
			return -1;
		}
		ts_sleep_ms(20);
	}
}

int
tsscene_stop_daemon(tsscene_t *s)
{
	if (!s->d_started)
		return -1;
	s->d_started = false;
	return tsdaemon_stop(&s->d, 20000);
}

void
tsscene_free(tsscene_t *s)
{
	if (s == NULL)
		return;
	if (s->d_started)
		tsdaemon_stop(&s->d, 20000);
	tsdaemon_free(&s->d);
	if (s->fx_started)
		tsextrahop_stop(&s->fx);
	if (s->tk_started)
		tstickets_stop(&s->tk);
	tsmongo_drop_db(s->client, s->db);
	mongoc_client_destroy(s->client);
	free(s);
}

int
tsscene_group_setup(void **state)
{
	/* Before tsgroup's server, as the programs did: cmocka runs the group teardown
	 * even when this setup fails, and that teardown balances it. */
	curl_global_init(CURL_GLOBAL_DEFAULT);
	return tsgroup_setup(state);
}

int
tsscene_group_teardown(void **state)
{
	int rc = tsgroup_teardown(state);

	curl_global_cleanup();
	return rc;
}

int
tsscene_setup(void **state, const char *tag)
{
	*state = tsscene_new(tsgroup_mongo(), tag);
	return *state != NULL ? 0 : -1;
}

int
tsscene_teardown(void **state)
{
	tsscene_free(*state);
	tsmongo_tmp_free();
	return 0;
}

int
tsscene_ctl(tsscene_t *s, tsrun_result_t *res, const tsrun_opts_t *opts, bool quiet,
    const char *const *args)
{
	tsrun_opts_t o = opts ? *opts : (tsrun_opts_t){ 0 };
	char uri[1200], db[160];
	const char **env;
	size_t n = 0;
	int rc;

	while (o.env != NULL && o.env[n] != NULL)
		n++;
	env = calloc(n + 3, sizeof(*env));
	if (env == NULL)
		abort(); /* test equipment: out of memory is fatal */
	for (size_t i = 0; i < n; i++)
		env[i] = o.env[i];
	snprintf(uri, sizeof(uri), "TICKETSYNC_MONGODB_URI=%s", tsmongo_uri(s->mongo));
	snprintf(db, sizeof(db), "TICKETSYNC_MONGODB_DATABASE=%s", s->db);
	env[n] = uri;
	env[n + 1] = db;
	o.env = env;
	rc = tsrun_ctlv(res, &o, args);
	free(env);
	/* Its output is part of the test log: what a user would have seen. */
	if (rc == 0 && !quiet)
		fprintf(stderr, "--- ticketsyncctl %s (exit %d)\n%s%s", args[0], res->exit_code,
		    res->out, res->err);
	return rc;
}

bool
tsscene_put(tsscene_t *s, const char *coll_name, const char *json)
{
	mongoc_collection_t *coll = mongoc_client_get_collection(s->client, s->db, coll_name);
	bson_t *doc = tsmongo_json(json);
	bson_t filter = BSON_INITIALIZER;
	bson_t *opts = BCON_NEW("upsert", BCON_BOOL(true));
	bson_iter_t it;
	bson_error_t err;
	bool ok = false;

	if (doc == NULL || !bson_iter_init_find(&it, doc, "_id")) {
		snprintf(s->error, sizeof(s->error), "put: bad document %s", json);
		goto cleanup;
	}
	bson_append_iter(&filter, "_id", 3, &it);
	ok = mongoc_collection_replace_one(coll, &filter, doc, opts, NULL, &err);
	if (!ok)
		snprintf(s->error, sizeof(s->error), "put %s: %s", json, err.message);
cleanup:
	bson_destroy(&filter);
	bson_destroy(opts);
	mongoc_collection_destroy(coll);
	return ok;
}

int
tsscene_patches(tsscene_t *s, int64_t id, bson_t *out_last_body, bson_t *all)
{
	bson_t reply;
	bson_iter_t it, arr;
	int n = 0;
	char path[64];

	snprintf(path, sizeof(path), "/api/v1/detections/%lld", (long long)id);
	if (tsextrahop_requests(&s->fx, 0, &reply) != 0) {
		bson_destroy(&reply);
		return -1;
	}
	if (all != NULL)
		bson_copy_to(&reply, all);
	if (bson_iter_init_find(&it, &reply, "requests") && bson_iter_recurse(&it, &arr)) {
		while (bson_iter_next(&arr)) {
			bson_t req, body;
			bson_iter_t b;
			const uint8_t *data;
			uint32_t len;
			const char *method, *p;

			bson_iter_document(&arr, &len, &data);
			bson_init_static(&req, data, len);
			method = tsextrahop_str(&req, "method");
			p = tsextrahop_str(&req, "path");
			if (method == NULL || strcmp(method, "PATCH") != 0 || p == NULL)
				continue;
			if (id >= 0 && strcmp(p, path) != 0)
				continue;
			n++;
			if (out_last_body == NULL)
				continue;
			bson_reinit(out_last_body);
			if (bson_iter_init_find(&b, &req, "body") && BSON_ITER_HOLDS_DOCUMENT(&b)) {
				bson_iter_document(&b, &len, &data);
				bson_init_static(&body, data, len);
				bson_concat(out_last_body, &body);
			}
		}
	}
	bson_destroy(&reply);
	return n;
}

int64_t
tsscene_wait_patches(tsscene_t *s, int64_t id, int n, int timeout_ms)
{
	int64_t start = clock_mono_ms();

	while (clock_mono_ms() - start < timeout_ms) {
		if (tsscene_patches(s, id, NULL, NULL) >= n)
			return clock_mono_ms() - start;
		ts_sleep_ms(25);
	}
	return -1;
}

int64_t
tsscene_count(tsscene_t *s, const char *coll_name, const char *json_filter)
{
	mongoc_collection_t *coll = mongoc_client_get_collection(s->client, s->db, coll_name);
	int64_t n = tsmongo_count(coll, json_filter);

	mongoc_collection_destroy(coll);
	return n;
}

bool
tsscene_wait_count(tsscene_t *s, const char *coll_name, const char *json_filter, int64_t n,
    int timeout_ms)
{
	int64_t start = clock_mono_ms();

	while (clock_mono_ms() - start < timeout_ms) {
		if (tsscene_count(s, coll_name, json_filter) >= n)
			return true;
		ts_sleep_ms(25);
	}
	return false;
}

bool
tsscene_last_body_is(tsscene_t *s, int64_t id, const char *expected_json, char *why,
    size_t whylen)
{
	bson_t body = BSON_INITIALIZER;
	bson_t *want = tsmongo_json(expected_json);
	bool same;

	tsscene_patches(s, id, &body, NULL);
	same = want != NULL && bson_equal(&body, want);
	if (!same) {
		char *got = bson_as_relaxed_extended_json(&body, NULL);
		snprintf(why, whylen, "detection %lld: body %s, expected %s", (long long)id, got,
		    expected_json);
		bson_free(got);
	}
	bson_destroy(&body);
	return same;
}
