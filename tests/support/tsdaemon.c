/* tsdaemon: ticketsyncd under test; see tsdaemon.h. */
#include "tsdaemon.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "tshttp.h"

void
tsdaemon_init(tsdaemon_t *d, const char *mongodb_uri, const char *database,
    const char *extrahop_url, const char *api_key)
{
	static int seq;

	memset(d, 0, sizeof(*d));
	d->proc.pid = -1;
	d->proc.stdout_fd = -1;
	snprintf(d->stderr_path, sizeof(d->stderr_path), "%s/../tsdaemon_%ld_%d.log",
	    tsproc_bin_dir(), (long)getpid(), seq++);
	remove(d->stderr_path);
	tsdaemon_setenv(d, "TICKETSYNC_MONGODB_URI", mongodb_uri);
	tsdaemon_setenv(d, "TICKETSYNC_MONGODB_DATABASE", database);
	tsdaemon_setenv(d, "TICKETSYNC_EXTRAHOP_URL", extrahop_url);
	if (api_key != NULL)
		tsdaemon_setenv(d, "TICKETSYNC_EXTRAHOP_API_KEY", api_key);
	tsdaemon_setenv(d, "TICKETSYNC_HTTP_LISTEN", "127.0.0.1:0");
	tsdaemon_setenv(d, "TICKETSYNC_PUSH_INTERVAL_MS", "200");
	tsdaemon_setenv(d, "TICKETSYNC_PUSH_RETRY_BASE_MS", "100");
	tsdaemon_setenv(d, "TICKETSYNC_PUSH_RETRY_MAX_MS", "2000");
	tsdaemon_setenv(d, "TICKETSYNC_WATCH_MAX_AWAIT_MS", "300");
	tsdaemon_setenv(d, "TICKETSYNC_SERVICE_SHUTDOWN_TIMEOUT_MS", "5000");
	/* Ambiguous attempts (timeouts, resets) are re-pushed in full soon after. */
	tsdaemon_setenv(d, "TICKETSYNC_PUSH_RECHECK_MS", "3000");
	/* A killed daemon's lease expires quickly, so its restart takes over soon. */
	tsdaemon_setenv(d, "TICKETSYNC_LEASE_PERIOD_MS", "2000");
	tsdaemon_setenv(d, "TICKETSYNC_LEASE_RENEW_MS", "400");
}

void
tsdaemon_setenv(tsdaemon_t *d, const char *name, const char *value)
{
	size_t nlen = strlen(name);

	for (int i = 0; i < d->nenv; i++) {
		if (strncmp(d->env[i], name, nlen) == 0 && d->env[i][nlen] == '=') {
			free(d->env[i]);
			if (asprintf(&d->env[i], "%s=%s", name, value) < 0)
				abort();
			return;
		}
	}
	if (d->nenv == TSDAEMON_MAX_ENV)
		abort();
	if (asprintf(&d->env[d->nenv++], "%s=%s", name, value) < 0)
		abort();
	d->env[d->nenv] = NULL;
}

int
tsdaemon_start(tsdaemon_t *d, char *err, size_t errlen)
{
	char bin[512];
	char port[16];
	char *argv[48];
	char *wrapper = NULL;
	const char *w = getenv("TICKETSYNC_TEST_WRAPPER");
	int argc = 0, rc;

	/* TICKETSYNC_TEST_WRAPPER="valgrind --error-exitcode=99 ..." runs the daemon under
	 * a tool; its exit status is checked like the daemon's own. */
	if (w != NULL && *w != '\0') {
		wrapper = strdup(w);
		for (char *tok = strtok(wrapper, " "); tok != NULL && argc < 44; tok = strtok(NULL, " "))
			argv[argc++] = tok;
	}
	snprintf(bin, sizeof(bin), "%s/ticketsyncd", tsproc_bin_dir());
	argv[argc++] = bin;
	argv[argc++] = "--print-ready";
	argv[argc] = NULL;
	rc = tsproc_start(&d->proc, argv, d->env, d->stderr_path, wrapper ? 120000 : 20000, err,
	    errlen);
	free(wrapper);
	if (rc != 0)
		return -1;
	if (!tsproc_field(&d->proc, "http_port", port, sizeof(port))) {
		snprintf(err, errlen, "ticketsyncd READY line without http_port: %s",
		    d->proc.ready_line);
		tsproc_kill(&d->proc);
		return -1;
	}
	d->http_port = atoi(port);
	return 0;
}

int
tsdaemon_stop(tsdaemon_t *d, int timeout_ms)
{
	return tsproc_stop(&d->proc, timeout_ms);
}

void
tsdaemon_kill(tsdaemon_t *d)
{
	tsproc_kill(&d->proc);
}

void
tsdaemon_free(tsdaemon_t *d)
{
	tsproc_kill(&d->proc);
	for (int i = 0; i < d->nenv; i++)
		free(d->env[i]);
	d->nenv = 0;
}

long
tsdaemon_get(const tsdaemon_t *d, const char *path, char **body)
{
	CURL *c = curl_easy_init();
	tshttp_body_t b = { 0 };
	char url[256];
	long status = 0;

	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", d->http_port, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, tshttp_collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(c);
	if (body != NULL)
		*body = b.data ? b.data : strdup("");
	else
		free(b.data);
	return status;
}

double
tsdaemon_metric(const tsdaemon_t *d, const char *name)
{
	char *body = NULL;
	double v = -1;
	size_t nlen = strlen(name);

	if (tsdaemon_get(d, "/metrics", &body) == 200) {
		for (char *line = body; line != NULL && *line; ) {
			char *nl = strchr(line, '\n');
			if (strncmp(line, name, nlen) == 0 && line[nlen] == ' ') {
				v = strtod(line + nlen + 1, NULL);
				break;
			}
			line = nl ? nl + 1 : NULL;
		}
	}
	free(body);
	return v;
}

bool
tsdaemon_log_contains(const tsdaemon_t *d, const char *needle)
{
	FILE *f = fopen(d->stderr_path, "r");
	char line[4096];
	bool found = false;

	if (f == NULL)
		return false;
	while (!found && fgets(line, sizeof(line), f) != NULL)
		found = strstr(line, needle) != NULL;
	fclose(f);
	return found;
}
