/*
 * ticketsync-demo: the end-to-end demo behind scripts/demo.sh. Starts the MongoDB
 * test server, the fake ExtraHop API (HTTPS, throw-away CA), a fake Jira Data Center
 * and ticketsyncd with its defaults (ticket creation on), then plays ExtraHop's
 * documented example: the trigger writes detections, tickets arrive, a ticket changes,
 * one has a status nobody mapped, ExtraHop has a hiccup; then the whole loop: a new
 * detection gets a Jira issue, ExtraHop shows it, the issue is done in Jira (webhook)
 * and ExtraHop shows it closed; and one creation that survives a Jira outage. It
 * prints what ExtraHop and Jira received and what the audit trail says, then stops
 * everything. Wiring only: the service's logic is in the daemon it runs.
 *
 * usage: ticketsync-demo SOURCE_DIR BIN_DIR
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <mongoc/mongoc.h>

#include "ticketsync/clock.h"
#include "ticketsync/xalloc.h"

#define DEMO_KEY "demo-api-key"
#define DEMO_DB "extrahop"
#define DEMO_PAT "demo-jira-pat"
#define DEMO_WEBHOOK_SECRET "demo-webhook-secret-0123456789abcdef"

typedef struct demo_proc {
	const char *name;
	pid_t pid;
	char ready[1024];
} demo_proc_t;

static demo_proc_t procs[4];
static int nprocs;
static char workdir[256];

static void
sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static void
stop_all(void)
{
	for (int i = nprocs - 1; i >= 0; i--) {
		if (procs[i].pid <= 0)
			continue;
		kill(procs[i].pid, SIGTERM);
		for (int t = 0; t < 150 && waitpid(procs[i].pid, NULL, WNOHANG) == 0; t++)
			sleep_ms(100);
		kill(procs[i].pid, SIGKILL);
		waitpid(procs[i].pid, NULL, 0);
		procs[i].pid = -1;
	}
}

/* Start argv with extra env; wait for its READY line; its stderr goes to logfile. */
static demo_proc_t *
start(const char *name, char *const argv[], char *const env[], const char *logfile)
{
	demo_proc_t *p = &procs[nprocs++];
	int fds[2];
	char buf[2048];
	size_t used = 0;
	int64_t deadline = clock_mono_ms() + 30000;

	p->name = name;
	if (pipe(fds) != 0)
		return NULL;
	p->pid = fork();
	if (p->pid == 0) {
		int fd = open(logfile, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		dup2(fds[1], STDOUT_FILENO);
		if (fd >= 0)
			dup2(fd, STDERR_FILENO);
		close(fds[0]);
		for (size_t i = 0; env != NULL && env[i] != NULL; i++)
			putenv(env[i]);
		execvp(argv[0], argv);
		fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(fds[1]);
	while (clock_mono_ms() < deadline) {
		struct pollfd pfd = { fds[0], POLLIN, 0 };
		char *nl;
		ssize_t n;

		if (poll(&pfd, 1, 200) <= 0)
			continue;
		n = read(fds[0], buf + used, sizeof(buf) - 1 - used);
		if (n <= 0)
			break;
		used += (size_t)n;
		buf[used] = '\0';
		if ((nl = strstr(buf, "READY")) != NULL && strchr(nl, '\n') != NULL) {
			*strchr(nl, '\n') = '\0';
			snprintf(p->ready, sizeof(p->ready), "%s", nl);
			/* Keep the pipe open (never read again): the servers print nothing more. */
			return p;
		}
	}
	fprintf(stderr, "demo: %s did not start; see %s\n", name, logfile);
	return NULL;
}

static bool
field(const demo_proc_t *p, const char *key, char *out, size_t len)
{
	char pat[64];
	const char *s;

	snprintf(pat, sizeof(pat), " %s=", key);
	s = strstr(p->ready, pat);
	if (s == NULL)
		return false;
	s += strlen(pat);
	snprintf(out, len, "%.*s", (int)strcspn(s, " "), s);
	return true;
}

typedef struct buf {
	char *data;
	size_t len;
} buf_t;

static size_t
on_body(char *ptr, size_t size, size_t n, void *arg)
{
	buf_t *b = arg;
	char *d = xreallocarray(b->data, b->len + size * n + 1, 1);

	memcpy(d + b->len, ptr, size * n);
	b->len += size * n;
	d[b->len] = '\0';
	b->data = d;
	return size * n;
}

/* HTTP call to the fake's control API (plain HTTP, loopback); JSON reply parsed. */
static bool
control(const char *method, const char *url, const char *body, bson_t *reply)
{
	CURL *c = curl_easy_init();
	buf_t b = { 0 };
	bson_error_t err;
	bool ok;

	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	if (body != NULL)
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	ok = curl_easy_perform(c) == CURLE_OK;
	curl_easy_cleanup(c);
	bson_init(reply);
	if (ok && b.data != NULL) {
		bson_destroy(reply);
		ok = bson_init_from_json(reply, b.data, -1, &err);
		if (!ok)
			bson_init(reply);
	}
	free(b.data);
	return ok;
}

static void
put(mongoc_client_t *client, const char *coll_name, const char *json)
{
	mongoc_collection_t *coll = mongoc_client_get_collection(client, DEMO_DB, coll_name);
	bson_error_t err;
	bson_t *doc = bson_new_from_json((const uint8_t *)json, -1, &err);
	bson_t filter = BSON_INITIALIZER;
	bson_t *opts = BCON_NEW("upsert", BCON_BOOL(true));
	bson_iter_t it;

	if (doc == NULL || !bson_iter_init_find(&it, doc, "_id")) {
		fprintf(stderr, "demo: bad document %s\n", json);
		exit(1);
	}
	bson_append_iter(&filter, "_id", 3, &it);
	if (strcmp(coll_name, "detections") == 0) {
		/* As the trigger writes: $set with upsert, so the _id stays as stored (the
		 * sweep may have written it first, as an int64). */
		bson_t update = BSON_INITIALIZER, set;

		BSON_APPEND_DOCUMENT_BEGIN(&update, "$set", &set);
		bson_copy_to_excluding_noinit(doc, &set, "_id", NULL);
		bson_append_document_end(&update, &set);
		if (!mongoc_collection_update_one(coll, &filter, &update, opts, NULL, &err))
			fprintf(stderr, "demo: write failed: %s\n", err.message);
		bson_destroy(&update);
	} else if (!mongoc_collection_replace_one(coll, &filter, doc, opts, NULL, &err)) {
		fprintf(stderr, "demo: write failed: %s\n", err.message);
	}
	bson_destroy(&filter);
	bson_destroy(opts);
	bson_destroy(doc);
	mongoc_collection_destroy(coll);
}

/* Print the PATCH requests the fake received after seq *since; returns how many. */
static int
show_requests(const char *control_url, int64_t *since)
{
	char url[512];
	bson_t reply;
	bson_iter_t it, arr;
	int n = 0;

	snprintf(url, sizeof(url), "%s/requests?since=%lld", control_url, (long long)*since);
	if (!control("GET", url, NULL, &reply))
		return 0;
	if (bson_iter_init_find(&it, &reply, "requests") && bson_iter_recurse(&it, &arr)) {
		while (bson_iter_next(&arr)) {
			bson_iter_t r, f;
			const char *method = "", *path = "";
			char *body = NULL;
			int64_t status = 0;

			bson_iter_recurse(&arr, &r);
			while (bson_iter_next(&r)) {
				const char *k = bson_iter_key(&r);
				if (strcmp(k, "seq") == 0)
					*since = bson_iter_as_int64(&r);
				else if (strcmp(k, "method") == 0 && BSON_ITER_HOLDS_UTF8(&r))
					method = bson_iter_utf8(&r, NULL);
				else if (strcmp(k, "path") == 0 && BSON_ITER_HOLDS_UTF8(&r))
					path = bson_iter_utf8(&r, NULL);
				else if (strcmp(k, "status") == 0)
					status = bson_iter_as_int64(&r);
				else if (strcmp(k, "body") == 0 && BSON_ITER_HOLDS_DOCUMENT(&r)) {
					const uint8_t *data;
					uint32_t len;
					bson_t b;
					bson_iter_document(&r, &len, &data);
					bson_init_static(&b, data, len);
					body = bson_as_relaxed_extended_json(&b, NULL);
				}
			}
			(void)f;
			/* A Jira issue's body is long: its start says enough. */
			printf("     %s %-28s %-70.140s%s -> %lld\n", method, path, body ? body : "",
			    body != NULL && strlen(body) > 140 ? "..." : "", (long long)status);
			bson_free(body);
			n++;
		}
	}
	bson_destroy(&reply);
	return n;
}

static int64_t
patch_accepted(const char *control_url)
{
	char url[512];
	bson_t reply;
	bson_iter_t it;
	int64_t n = -1;

	snprintf(url, sizeof(url), "%s/stats", control_url);
	if (control("GET", url, NULL, &reply) && bson_iter_init_find(&it, &reply, "patch_accepted"))
		n = bson_iter_as_int64(&it);
	bson_destroy(&reply);
	return n;
}

static bool
wait_accepted(const char *control_url, int64_t n, int timeout_ms)
{
	int64_t deadline = clock_mono_ms() + timeout_ms;

	while (clock_mono_ms() < deadline) {
		if (patch_accepted(control_url) >= n)
			return true;
		sleep_ms(50);
	}
	return false;
}

static void
show_audit(mongoc_client_t *client)
{
	mongoc_collection_t *coll = mongoc_client_get_collection(client, DEMO_DB, "ticketsync_audit");
	bson_t filter = BSON_INITIALIZER;
	bson_t *opts = BCON_NEW("sort", "{", "at", BCON_INT32(1), "}");
	mongoc_cursor_t *cur = mongoc_collection_find_with_opts(coll, &filter, opts, NULL);
	const bson_t *doc;

	printf("     %-16s %-9s %-10s %-5s %s\n", "event", "detection", "ticket", "http", "message");
	while (mongoc_cursor_next(cur, &doc)) {
		bson_iter_t it;
		const char *event = "", *ticket = "", *msg = "";
		char det[24] = "", http[8] = "";

		if (bson_iter_init_find(&it, doc, "event"))
			event = bson_iter_utf8(&it, NULL);
		if (bson_iter_init_find(&it, doc, "detection_id"))
			snprintf(det, sizeof(det), "%lld", (long long)bson_iter_as_int64(&it));
		if (bson_iter_init_find(&it, doc, "ticket_id") && BSON_ITER_HOLDS_UTF8(&it))
			ticket = bson_iter_utf8(&it, NULL);
		if (bson_iter_init_find(&it, doc, "http_status"))
			snprintf(http, sizeof(http), "%lld", (long long)bson_iter_as_int64(&it));
		if (bson_iter_init_find(&it, doc, "message") && BSON_ITER_HOLDS_UTF8(&it))
			msg = bson_iter_utf8(&it, NULL);
		printf("     %-16s %-9s %-10s %-5s %.90s\n", event, det, ticket, http, msg);
	}
	mongoc_cursor_destroy(cur);
	bson_destroy(opts);
	bson_destroy(&filter);
	mongoc_collection_destroy(coll);
}

static void
on_signal(int sig)
{
	(void)sig;
	stop_all();
	_exit(1);
}

/* Wait until count(coll, filter) >= n. */
static bool
wait_doc(mongoc_client_t *client, const char *coll_name, const char *json, int64_t n,
    int timeout_ms)
{
	mongoc_collection_t *coll = mongoc_client_get_collection(client, DEMO_DB, coll_name);
	bson_t *filter = bson_new_from_json((const uint8_t *)json, -1, NULL);
	int64_t deadline = clock_mono_ms() + timeout_ms, got = -1;

	while (filter != NULL && clock_mono_ms() < deadline) {
		got = mongoc_collection_count_documents(coll, filter, NULL, NULL, NULL, NULL);
		if (got >= n)
			break;
		sleep_ms(50);
	}
	bson_destroy(filter);
	mongoc_collection_destroy(coll);
	return got >= n;
}

/* A detection the trigger writes as ExtraHop first sees it (now). */
static void
put_new_detection(mongoc_client_t *client, int id, const char *title, int risk)
{
	char json[1024];
	long long now = (long long)clock_wall_ms();

	snprintf(json, sizeof(json), "{\"_id\": %d, \"title\": \"%s\", \"description\": \"A "
	    "device sent credentials in clear text.\", \"type\": \"cleartext_auth\", "
	    "\"categories\": [\"sec.attack\"], \"risk_score\": %d, \"start_time\": %lld, "
	    "\"update_time\": %lld, \"status\": null, \"assignee\": null, \"ticket_id\": null, "
	    "\"resolution\": null, \"participants\": [{\"role\": \"offender\", \"hostname\": "
	    "\"ws-12\"}]}", id, title, risk, now, now);
	put(client, "detections", json);
}

int
main(int argc, char **argv)
{
	char server_js[512], fake_bin[512], jira_bin[512], daemon_bin[512], tls_dir[300],
	    log_mongo[300], log_fake[300], log_jira[300], log_daemon[300];
	char uri[512], https_url[256], ca_file[512], control_url[256], http_port[16];
	char jira_url[256], jira_control[256];
	char env_uri[600], env_url[300], env_ca[600], env_listen[64], env_jira[300];
	demo_proc_t *mongo, *fake, *jira, *daemon;
	mongoc_client_t *client = NULL;
	int64_t since = 0, jira_since = 0, t0;
	int rc = 1;

	if (argc != 3) {
		fprintf(stderr, "usage: ticketsync-demo SOURCE_DIR BIN_DIR\n");
		return 2;
	}
	snprintf(workdir, sizeof(workdir), "/tmp/ticketsync-demo.XXXXXX");
	if (mkdtemp(workdir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	mongoc_init();
	snprintf(server_js, sizeof(server_js), "%s/tests/mongo-test-server/server.js", argv[1]);
	snprintf(fake_bin, sizeof(fake_bin), "%s/fake_extrahop", argv[2]);
	snprintf(daemon_bin, sizeof(daemon_bin), "%s/ticketsyncd", argv[2]);
	snprintf(jira_bin, sizeof(jira_bin), "%s/fake_tickets", argv[2]);
	snprintf(log_jira, sizeof(log_jira), "%s/fake-jira.log", workdir);
	snprintf(tls_dir, sizeof(tls_dir), "%s/tls", workdir);
	snprintf(log_mongo, sizeof(log_mongo), "%s/mongo-test-server.log", workdir);
	snprintf(log_fake, sizeof(log_fake), "%s/fake-extrahop.log", workdir);
	snprintf(log_daemon, sizeof(log_daemon), "%s/ticketsyncd.log", workdir);

	printf("ticketsync demo (logs in %s)\n\n", workdir);
	{
		char *a[] = { "node", server_js, "--port", "0", NULL };
		if ((mongo = start("MongoDB test server", a, NULL, log_mongo)) == NULL ||
		    !field(mongo, "uri", uri, sizeof(uri)))
			goto done;
	}
	{
		char *a[] = { fake_bin, "--tls-dir", tls_dir, "--api-key", DEMO_KEY,
			"--detections-count", "5", NULL };
		if ((fake = start("fake ExtraHop", a, NULL, log_fake)) == NULL ||
		    !field(fake, "https_base_url", https_url, sizeof(https_url)) ||
		    !field(fake, "ca_file", ca_file, sizeof(ca_file)) ||
		    !field(fake, "control_url", control_url, sizeof(control_url)))
			goto done;
	}
	{
		char *a[] = { jira_bin, "--flavour", "jira-dc", "--pat", DEMO_PAT, "--project", "SEC",
			NULL };
		if ((jira = start("fake Jira", a, NULL, log_jira)) == NULL ||
		    !field(jira, "base_url", jira_url, sizeof(jira_url)) ||
		    !field(jira, "control_url", jira_control, sizeof(jira_control)))
			goto done;
	}
	printf("  MongoDB test server  %s\n", uri);
	printf("  fake ExtraHop        %s (HTTPS, throw-away CA, detections 1-5)\n", https_url);
	printf("  fake Jira            %s (Data Center, project SEC)\n", jira_url);
	{
		/* ticketsyncd with its defaults; only where things are differs, and ticket
		 * creation turned on against the fake Jira (its retries demo-sized). */
		char *a[] = { daemon_bin, "--print-ready", NULL };
		char env_key[] = "TICKETSYNC_EXTRAHOP_API_KEY=" DEMO_KEY;
		char env_create[] = "TICKETSYNC_CREATE_ENABLED=true";
		char env_flavour[] = "TICKETSYNC_JIRA_FLAVOUR=datacenter";
		char env_pat[] = "TICKETSYNC_JIRA_PAT=" DEMO_PAT;
		char env_project[] = "TICKETSYNC_JIRA_PROJECT=SEC";
		char env_retry[] = "TICKETSYNC_CREATE_RETRY_BASE_MS=500";
		char env_hook[] = "TICKETSYNC_WEBHOOKS_JIRA_SECRET=" DEMO_WEBHOOK_SECRET;
		char *env[] = { env_uri, env_url, env_ca, env_key, env_listen, env_create, env_jira,
			env_flavour, env_pat, env_project, env_retry, env_hook, NULL };
		snprintf(env_jira, sizeof(env_jira), "TICKETSYNC_JIRA_URL=%s", jira_url);
		snprintf(env_uri, sizeof(env_uri), "TICKETSYNC_MONGODB_URI=%s", uri);
		snprintf(env_url, sizeof(env_url), "TICKETSYNC_EXTRAHOP_URL=%s", https_url);
		snprintf(env_ca, sizeof(env_ca), "TICKETSYNC_EXTRAHOP_CA_FILE=%s", ca_file);
		snprintf(env_listen, sizeof(env_listen), "TICKETSYNC_HTTP_LISTEN=127.0.0.1:0");
		if ((daemon = start("ticketsyncd", a, env, log_daemon)) == NULL)
			goto done;
		field(daemon, "http_port", http_port, sizeof(http_port));
	}
	printf("  ticketsyncd          pushing every 1000 ms (the default); creating Jira issues; "
	    "metrics on http://127.0.0.1:%s/metrics\n\n", http_port);
	{
		/* Jira announces its changes to ticketsync's webhook, signed. */
		char url[300], body[600];
		bson_t reply;
		snprintf(url, sizeof(url), "%s/settings", jira_control);
		snprintf(body, sizeof(body), "{\"webhook_url\": \"http://127.0.0.1:%s/webhooks/jira\", "
		    "\"webhook_secret\": \"%s\"}", http_port, DEMO_WEBHOOK_SECRET);
		control("PUT", url, body, &reply);
		bson_destroy(&reply);
	}
	client = mongoc_client_new(uri);
	sleep_ms(500);

	printf("1. The ExtraHop trigger writes detections 1, 2 and 3 into %s.detections.\n", DEMO_DB);
	put(client, "detections", "{\"_id\": 1, \"title\": \"Network Port Scan\", \"type\": \"port_scan\", \"categories\": [\"sec.attack\"], \"risk_score\": 30, \"status\": null, \"assignee\": null, \"ticket_id\": null, \"resolution\": null, \"update_time\": 1764300000000}");
	put(client, "detections", "{\"_id\": 2, \"title\": \"SSH Brute Force\", \"type\": \"ssh_brute_force\", \"categories\": [\"sec.attack\"], \"risk_score\": 61, \"status\": null, \"assignee\": null, \"ticket_id\": null, \"resolution\": null, \"update_time\": 1764300000000}");
	put(client, "detections", "{\"_id\": 3, \"title\": \"Data Exfiltration\", \"type\": \"data_exfil\", \"categories\": [\"sec.exfil\"], \"risk_score\": 88, \"status\": null, \"assignee\": null, \"ticket_id\": null, \"resolution\": null, \"update_time\": 1764300000000}");

	printf("2. Tickets arrive (ExtraHop's documented example): TK-16982 new/sally, TK-2078 jim, TK-3452 alex.\n");
	t0 = clock_mono_ms();
	put(client, "tickets", "{\"_id\": \"TK-16982\", \"detection_ids\": [1], \"status\": \"new\", \"assignee\": \"sally\", \"resolution\": null, \"updated_at\": {\"$date\": \"2026-11-28T09:00:00Z\"}, \"source\": \"demo\"}");
	put(client, "tickets", "{\"_id\": \"TK-2078\", \"detection_ids\": [2], \"status\": null, \"assignee\": \"jim\", \"resolution\": null, \"updated_at\": {\"$date\": \"2026-11-28T09:00:00Z\"}, \"source\": \"demo\"}");
	put(client, "tickets", "{\"_id\": \"TK-3452\", \"detection_ids\": [3], \"status\": null, \"assignee\": \"alex\", \"resolution\": null, \"updated_at\": {\"$date\": \"2026-11-28T09:00:00Z\"}, \"source\": \"demo\"}");
	if (!wait_accepted(control_url, 3, 15000)) {
		fprintf(stderr, "demo: ExtraHop did not receive the three PATCHes; see %s\n", log_daemon);
		goto done;
	}
	printf("   ExtraHop received, %lld ms after the tickets were written:\n",
	    (long long)(clock_mono_ms() - t0));
	show_requests(control_url, &since);

	printf("3. In Jira, TK-16982 is done (resolution Fixed).\n");
	t0 = clock_mono_ms();
	put(client, "tickets", "{\"_id\": \"TK-16982\", \"detection_ids\": [1], \"status\": \"Done\", \"assignee\": \"sally\", \"resolution\": \"Fixed\", \"updated_at\": {\"$date\": \"2026-11-28T10:00:00Z\"}, \"source\": \"demo\"}");
	if (!wait_accepted(control_url, 4, 15000))
		goto done;
	printf("   ExtraHop received, %lld ms later:\n", (long long)(clock_mono_ms() - t0));
	show_requests(control_url, &since);

	printf("4. TK-2078 moves to \"Waiting for vendor\", a status nobody mapped: nothing is pushed, the audit says why.\n");
	put(client, "tickets", "{\"_id\": \"TK-2078\", \"detection_ids\": [2], \"status\": \"Waiting for vendor\", \"assignee\": \"jim\", \"resolution\": null, \"updated_at\": {\"$date\": \"2026-11-28T10:05:00Z\"}, \"source\": \"demo\"}");
	sleep_ms(2500);
	if (show_requests(control_url, &since) == 0)
		printf("     (no request)\n");

	printf("5. ExtraHop has a hiccup (two 503s) while TK-3452 goes In Progress: ticketsync retries.\n");
	{
		char url[300];
		bson_t reply;
		snprintf(url, sizeof(url), "%s/faults", control_url);
		control("POST", url, "{\"kind\": \"status\", \"status\": 503, \"count\": 2, \"method\": \"PATCH\"}", &reply);
		bson_destroy(&reply);
	}
	put(client, "tickets", "{\"_id\": \"TK-3452\", \"detection_ids\": [3], \"status\": \"In Progress\", \"assignee\": \"alex\", \"resolution\": null, \"updated_at\": {\"$date\": \"2026-11-28T10:10:00Z\"}, \"source\": \"demo\"}");
	if (!wait_accepted(control_url, 5, 20000))
		goto done;
	show_requests(control_url, &since);

	printf("6. The trigger writes detection 4, new (first seen now, risk 72): ticketsync opens a Jira issue.\n");
	t0 = clock_mono_ms();
	put_new_detection(client, 4, "Cleartext Credentials", 72);
	if (!wait_doc(client, "tickets", "{\"_id\": \"SEC-1\", \"detection_ids\": 4}", 1, 15000) ||
	    !wait_accepted(control_url, 6, 15000)) {
		fprintf(stderr, "demo: detection 4 got no ticket; see %s\n", log_daemon);
		goto done;
	}
	printf("   Jira received, %lld ms after the detection was written:\n",
	    (long long)(clock_mono_ms() - t0));
	show_requests(jira_control, &jira_since);
	printf("   then ExtraHop (the ticket, its status and assignee on the detection):\n");
	show_requests(control_url, &since);

	printf("7. In Jira, SEC-1 is done: Jira's webhook tells ticketsync, ExtraHop shows it closed.\n");
	t0 = clock_mono_ms();
	{
		char url[300];
		bson_t reply;
		snprintf(url, sizeof(url), "%s/tickets/SEC-1/transition", jira_control);
		control("POST", url, "{\"status\": \"Done\", \"resolution\": \"Done\"}", &reply);
		bson_destroy(&reply);
	}
	if (!wait_accepted(control_url, 7, 15000)) {
		fprintf(stderr, "demo: the webhook did not reach ExtraHop; see %s\n", log_daemon);
		goto done;
	}
	printf("   ExtraHop received, %lld ms after the transition:\n",
	    (long long)(clock_mono_ms() - t0));
	show_requests(control_url, &since);

	printf("8. Jira is down (three 503s) when detection 5 appears: the creation waits, retries, "
	    "and opens exactly one issue.\n");
	{
		char url[300];
		bson_t reply;
		snprintf(url, sizeof(url), "%s/faults", jira_control);
		control("POST", url, "{\"kind\": \"status\", \"status\": 503, \"count\": 3, "
		    "\"retry_after\": 1, \"method\": \"POST\", \"path_prefix\": \"/rest/api/2/issue\"}",
		    &reply);
		bson_destroy(&reply);
	}
	t0 = clock_mono_ms();
	put_new_detection(client, 5, "Suspicious Remote Execution", 91);
	if (!wait_doc(client, "tickets", "{\"_id\": \"SEC-2\", \"detection_ids\": 5}", 1, 30000) ||
	    !wait_accepted(control_url, 8, 15000)) {
		fprintf(stderr, "demo: detection 5 got no ticket; see %s\n", log_daemon);
		goto done;
	}
	printf("   Jira received, over %lld ms:\n", (long long)(clock_mono_ms() - t0));
	show_requests(jira_control, &jira_since);
	printf("   then ExtraHop:\n");
	show_requests(control_url, &since);

	sleep_ms(300);
	printf("\nThe audit trail (db.ticketsync_audit.find().sort({at: 1})):\n");
	show_audit(client);

	printf("\nStopping ticketsyncd with SIGTERM: ");
	fflush(stdout);
	kill(daemon->pid, SIGTERM);
	{
		int st = 0;
		waitpid(daemon->pid, &st, 0);
		daemon->pid = -1;
		printf("exit status %d (clean shutdown, checkpoint saved).\n",
		    WIFEXITED(st) ? WEXITSTATUS(st) : -1);
		rc = WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : 1;
	}
done:
	if (client != NULL)
		mongoc_client_destroy(client);
	stop_all();
	mongoc_cleanup();
	curl_global_cleanup();
	if (rc != 0)
		fprintf(stderr, "demo: failed; logs are in %s\n", workdir);
	return rc;
}
