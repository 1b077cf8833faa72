/* metrics: counters, gauges and the histogram render as valid Prometheus text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "ticketsync/metrics.h"
#include "tsfile.h"

static char *
render(int64_t now_ms)
{
	struct evbuffer *buf = evbuffer_new();
	size_t n;
	char *s;

	metrics_render(buf, now_ms);
	n = evbuffer_get_length(buf);
	s = malloc(n + 1);
	evbuffer_remove(buf, s, n);
	s[n] = '\0';
	evbuffer_free(buf);
	return s;
}

static void
test_render(void **state)
{
	char *s;

	(void)state;
	metrics_reset();
	metrics_inc(METRICS_PUSH_OK, 3);
	metrics_inc(METRICS_PUSH_RETRY, 1);
	metrics_set(METRICS_PENDING, 42);
	metrics_set(METRICS_CHECKPOINT_SAVED_MS, 10000);
	metrics_observe_push_ms(3);
	metrics_observe_push_ms(70);
	metrics_observe_push_ms(100000);
	s = render(12500);
	assert_non_null(strstr(s, "ticketsync_pushes_total{outcome=\"pushed\"} 3\n"));
	assert_non_null(strstr(s, "ticketsync_pushes_total{outcome=\"retry\"} 1\n"));
	assert_non_null(strstr(s, "ticketsync_pending 42\n"));
	assert_non_null(strstr(s, "ticketsync_checkpoint_age_seconds 2.500\n"));
	/* cumulative buckets: 3 ms in le=0.005, 70 ms first in le=0.1, 100 s only in +Inf */
	assert_non_null(strstr(s, "ticketsync_push_latency_seconds_bucket{le=\"0.005\"} 1\n"));
	assert_non_null(strstr(s, "ticketsync_push_latency_seconds_bucket{le=\"0.05\"} 1\n"));
	assert_non_null(strstr(s, "ticketsync_push_latency_seconds_bucket{le=\"0.1\"} 2\n"));
	assert_non_null(strstr(s, "ticketsync_push_latency_seconds_bucket{le=\"30\"} 2\n"));
	assert_non_null(strstr(s, "ticketsync_push_latency_seconds_bucket{le=\"+Inf\"} 3\n"));
	assert_non_null(strstr(s, "ticketsync_push_latency_seconds_count 3\n"));
	/* one TYPE line per metric family */
	assert_non_null(strstr(s, "# TYPE ticketsync_pushes_total counter\n"));
	assert_null(strstr(strstr(s, "# TYPE ticketsync_pushes_total counter\n") + 1,
	    "# TYPE ticketsync_pushes_total"));
	free(s);

	metrics_set(METRICS_CHECKPOINT_SAVED_MS, 0);
	s = render(12500);
	assert_non_null(strstr(s, "ticketsync_checkpoint_age_seconds -1.000\n"));
	free(s);
}

/* docs/OPERATIONS.md's metrics table names every metric /metrics exports (the name,
 * without labels, in backquotes at the start of a table row). */
static void
test_docs_name_every_metric(void **state)
{
	char *doc = tsfile_read_source("docs/OPERATIONS.md", NULL);
	char *s = render(1000);
	char *save = NULL;

	(void)state;
	assert_non_null(doc);
	for (char *line = strtok_r(s, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		char name[128], want[160];
		size_t n = strcspn(line, "{ ");

		if (line[0] == '#' || n == 0 || n >= sizeof(name))
			continue;
		memcpy(name, line, n);
		name[n] = '\0';
		/* A histogram's series belong to its one entry. */
		static const char *const suffixes[] = { "_bucket", "_sum", "_count" };
		for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
			size_t nl = strlen(name), sl = strlen(suffixes[i]);
			if (nl > sl && strcmp(name + nl - sl, suffixes[i]) == 0)
				name[nl - sl] = '\0';
		}
		snprintf(want, sizeof(want), "| `%s", name);
		if (strstr(doc, want) == NULL)
			fail_msg("docs/OPERATIONS.md's metrics table lacks %s", name);
	}
	free(s);
	free(doc);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_render),
		cmocka_unit_test(test_docs_name_every_metric),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
