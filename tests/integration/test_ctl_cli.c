/*
 * ticketsyncctl's command line, run as a user would: --version, --help, every
 * command's --help and `help COMMAND`, usage errors (exit 2), configuration errors
 * from a file or the environment (exit 2, before any connection), and -c given before
 * or after the command. No server is needed: where a command gets past its
 * configuration it meets an unreachable MongoDB and fails (exit 1).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tsproc.h"
#include "tsrun.h"

static const char *const commands[] = { "init", "import-tickets", "backfill", "create-tickets",
	"status", "audit", "replay-parked", NULL };

/* Nothing listens on port 1; the short timeout makes "unreachable" quick. */
#define DEAD_URI "mongodb://127.0.0.1:1/?replicaSet=rs0&serverSelectionTimeoutMS=200"

static void
run(tsrun_result_t *r, const char *const *env, const char *const *args)
{
	if (tsrun_ctlv(r, &(tsrun_opts_t){ .env = env, .timeout_ms = 30000 }, args) != 0)
		fail_msg("ticketsyncctl: %s", r->err);
}

#define RUN(r, ...) run((r), NULL, (const char *const[]){ __VA_ARGS__, NULL })

static void
assert_contains(const char *haystack, const char *needle)
{
	if (strstr(haystack, needle) == NULL)
		fail_msg("output does not contain \"%s\":\n%s", needle, haystack);
}

static void
test_version_and_help(void **state)
{
	tsrun_result_t r;

	(void)state;
	RUN(&r, "--version");
	assert_int_equal(r.exit_code, 0);
	assert_string_equal(r.out, "ticketsyncctl " TICKETSYNC_VERSION "\n");
	tsrun_free(&r);

	RUN(&r, "--help");
	assert_int_equal(r.exit_code, 0);
	assert_string_equal(r.err, "");
	for (const char *const *c = commands; *c; c++) {
		char line[64];
		snprintf(line, sizeof(line), "  %s ", *c);
		assert_contains(r.out, line);
	}
	assert_contains(r.out, "-c, --config FILE");
	assert_contains(r.out, "TICKETSYNC_<SECTION>_<KEY>");
	assert_contains(r.out, "2 on a\nusage or configuration error");
	tsrun_free(&r);

	/* No command: the usage, on stderr, exit 2. */
	RUN(&r, "-c", "x.ini");
	assert_int_equal(r.exit_code, 2);
	assert_contains(r.err, "usage: ticketsyncctl");
	assert_string_equal(r.out, "");
	tsrun_free(&r);
}

static void
test_every_command_has_help(void **state)
{
	(void)state;
	for (const char *const *c = commands; *c; c++) {
		tsrun_result_t a, b;
		char want[128];

		RUN(&a, *c, "--help");
		assert_int_equal(a.exit_code, 0);
		snprintf(want, sizeof(want), "usage: ticketsyncctl %s", *c);
		assert_true(strncmp(a.out, want, strlen(want)) == 0);
		assert_contains(a.out, "-c, --config FILE");
		assert_contains(a.out, "-h, --help");
		/* `help COMMAND` says the same. */
		RUN(&b, "help", *c);
		assert_int_equal(b.exit_code, 0);
		assert_string_equal(a.out, b.out);
		tsrun_free(&b);
		/* And -h. */
		RUN(&b, *c, "-h");
		assert_int_equal(b.exit_code, 0);
		assert_string_equal(a.out, b.out);
		tsrun_free(&b);
		tsrun_free(&a);
	}
}

static void
test_usage_errors_exit_2(void **state)
{
	tsrun_result_t r;

	(void)state;
	RUN(&r, "frobnicate");
	assert_int_equal(r.exit_code, 2);
	assert_contains(r.err, "unknown command \"frobnicate\"");
	tsrun_free(&r);
	RUN(&r, "help", "frobnicate");
	assert_int_equal(r.exit_code, 2);
	tsrun_free(&r);
	RUN(&r, "--frobnicate");
	assert_int_equal(r.exit_code, 2);
	assert_contains(r.err, "unknown option --frobnicate");
	tsrun_free(&r);
	for (const char *const *c = commands; *c; c++) {
		char want[128];

		RUN(&r, *c, "--frobnicate");
		assert_int_equal(r.exit_code, 2);
		snprintf(want, sizeof(want), "ticketsyncctl %s: unknown option --frobnicate", *c);
		assert_contains(r.err, want);
		snprintf(want, sizeof(want), "Try 'ticketsyncctl %s --help'.", *c);
		assert_contains(r.err, want);
		assert_string_equal(r.out, "");
		tsrun_free(&r);
	}
	RUN(&r, "status", "--config");
	assert_int_equal(r.exit_code, 2);
	assert_contains(r.err, "option --config needs a value");
	tsrun_free(&r);
	RUN(&r, "status", "extra");
	assert_int_equal(r.exit_code, 2);
	assert_contains(r.err, "unexpected argument \"extra\"");
	tsrun_free(&r);
	RUN(&r, "audit", "--limit", "-1");
	assert_int_equal(r.exit_code, 2);
	tsrun_free(&r);
	RUN(&r, "import-tickets", "a.csv", "b.csv");
	assert_int_equal(r.exit_code, 2);
	tsrun_free(&r);
}

static char *
write_ini(const char *text)
{
	char *path = strdup("/tmp/ticketsyncctl-test-XXXXXX");
	int fd = mkstemp(path);
	FILE *f;

	if (fd < 0)
		fail_msg("mkstemp");
	f = fdopen(fd, "w");
	fputs(text, f);
	fclose(f);
	return path;
}

static void
test_configuration_errors_exit_2(void **state)
{
	char *bad = write_ini("[mongodb]\nuri = " DEAD_URI "\ndatabse = x\n");
	char *good = write_ini("[mongodb]\nuri = " DEAD_URI "\ndatabase = ctlcli\n");
	const char *bad_env[] = { "TICKETSYNC_PUSH_CONCURRENCY=lots", NULL };
	tsrun_result_t r;

	(void)state;
	for (const char *const *c = commands; *c; c++) {
		const char *arg = strcmp(*c, "import-tickets") == 0 ? "-" : NULL;
		char want[256];

		/* A bad key in the file: named with its line, exit 2. */
		run(&r, NULL, (const char *const[]){ *c, "-c", bad, arg, NULL });
		assert_int_equal(r.exit_code, 2);
		snprintf(want, sizeof(want), "ticketsyncctl %s: configuration error: ", *c);
		assert_contains(r.err, want);
		assert_contains(r.err, "databse");
		assert_contains(r.err, "line 3");
		tsrun_free(&r);
		/* A bad value in the environment. */
		run(&r, bad_env, (const char *const[]){ *c, arg, NULL });
		assert_int_equal(r.exit_code, 2);
		assert_contains(r.err, "TICKETSYNC_PUSH_CONCURRENCY");
		tsrun_free(&r);
	}
	RUN(&r, "status", "-c", "/nonexistent/ticketsync.ini");
	assert_int_equal(r.exit_code, 2);
	assert_contains(r.err, "/nonexistent/ticketsync.ini");
	tsrun_free(&r);

	/* -c before the command reads the same file as -c after it. */
	RUN(&r, "-c", bad, "status");
	assert_int_equal(r.exit_code, 2);
	assert_contains(r.err, "databse");
	tsrun_free(&r);
	/* A good file gets past the configuration: then MongoDB is unreachable (exit 1). */
	RUN(&r, "-c", good, "status");
	assert_int_equal(r.exit_code, 1);
	assert_contains(r.err, "ticketsyncctl status: ");
	tsrun_free(&r);
	RUN(&r, "status", "--config", good, "--json");
	assert_int_equal(r.exit_code, 1);
	assert_string_equal(r.out, "");
	tsrun_free(&r);
	unlink(bad);
	unlink(good);
	free(bad);
	free(good);
}

/* MongoDB unreachable, the URI without a timeout of its own: a failure in seconds that
 * names the host, not libmongoc's 30 s of silence. */
static void
test_unreachable_mongodb_fails_fast(void **state)
{
	const char *env[] = { "TICKETSYNC_MONGODB_URI=mongodb://127.0.0.1:1/?replicaSet=rs0", NULL };
	tsrun_result_t r;

	(void)state;
	run(&r, env, (const char *const[]){ "status", NULL });
	assert_int_equal(r.exit_code, 1);
	assert_contains(r.err, "127.0.0.1:1");
	if (r.seconds > 15.0)
		fail_msg("took %.1f s", r.seconds);
	tsrun_free(&r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_version_and_help),
		cmocka_unit_test(test_every_command_has_help),
		cmocka_unit_test(test_usage_errors_exit_2),
		cmocka_unit_test(test_configuration_errors_exit_2),
		cmocka_unit_test(test_unreachable_mongodb_fails_fast),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
