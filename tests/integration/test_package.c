/*
 * The Debian package (cmake/Package.cmake, deploy/package/): built with CPack's DEB
 * generator in a scratch build directory (dpkg-buildflags' hardened flags, no tests),
 * then checked without root-level side effects on this machine:
 *
 *   - dpkg-deb -I: name, version (PROJECT_VERSION), architecture, maintainer, a
 *     Depends: naming the runtime libraries and no -dev package, the conffile and the
 *     maintainer scripts (byte for byte those of deploy/package);
 *   - dpkg-deb -c: every expected path, nothing elsewhere, root-owned, sane modes;
 *   - lintian: errors fail, warnings are printed (skipped, saying so, without lintian);
 *   - dpkg-deb -x into a scratch root: the binaries run from there (--version,
 *     --check-config on the packaged conffile), the unit names files that exist;
 *   - the maintainer scripts run against that root with DPKG_ROOT (as dpkg --root
 *     does): account, directories, the unit neither enabled nor started, purge
 *     removes /etc/ticketsync; and with no systemd tools at all (a container);
 *   - as root with TICKETSYNC_TEST_DPKG_INSTALL=1 only: a real dpkg -i / reinstall with
 *     an edited conffile / dpkg -r / dpkg -P round trip on this machine.
 *
 * Every check also runs on a broken copy (control text, file list, package, script),
 * which must be refused, so none of them can pass by accident. The package needs cmake,
 * cpack and dpkg-dev (dpkg-shlibdeps); lintian comes from Debian's lintian package.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <glob.h>
#include <limits.h>
#include <pwd.h>
#include <grp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "tsfile.h"
#include "tscmd.h"
#include "tsproc.h"

#define UNIT_REL "usr/lib/systemd/system/ticketsyncd.service"
#define CONFFILE "/etc/ticketsync/ticketsync.ini"
#define WANTS_REL "etc/systemd/system/multi-user.target.wants/ticketsyncd.service"
#define MASK_REL "etc/systemd/system/ticketsyncd.service"
#define DSH_STATE_REL "var/lib/systemd/deb-systemd-helper-enabled/ticketsyncd.service.dsh-also"

typedef tscmd_out_t cmd_out_t;

/* What the group setup built, shared by every test. */
static struct {
	char dir[1024];       /* scratch directory holding build/ */
	char deb[PATH_MAX];   /* build/ticketsync_<version>_<arch>.deb */
	char arch[64];        /* dpkg --print-architecture */
	const char *skip;     /* why no package could be built here, or NULL */
	bool installed;       /* the round trip left it installed (teardown purges) */
	bool made_user;       /* the round trip created the ticketsync account */
} pkg;

/* Run argv; fail the test with its output unless it exits 0. Returns the output. */
static char *
run_ok(char *const argv[], char *const extra_env[], const char *what)
{
	cmd_out_t r = tscmd_run(argv, extra_env, false);

	if (!tscmd_exited(&r, 0))
		fail_msg("%s failed (status %d):\n%s", what, r.status, r.text);
	return r.text;
}

static bool
have(const char *prog)
{
	char *p = tscmd_in_path(prog);
	bool found = p != NULL;

	free(p);
	return found;
}

static bool
exists(const char *root, const char *rel)
{
	char path[PATH_MAX];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	return lstat(path, &st) == 0;
}

/* Text with the first `from` replaced by `to`; the edit must apply. */
static char *
edited(const char *text, const char *from, const char *to)
{
	const char *p = strstr(text, from);
	char *out;

	if (p == NULL)
		fail_msg("no longer contains \"%s\": update this test", from);
	out = calloc(1, strlen(text) - strlen(from) + strlen(to) + 1);
	assert_non_null(out);
	memcpy(out, text, (size_t)(p - text));
	strcat(out, to);
	strcat(out, p + strlen(from));
	return out;
}

/* ---- building the package (group setup) -------------------------------------------- */

static char *
first_line(const char *text)
{
	size_t n = strcspn(text, "\n");

	return strndup(text, n);
}

/* `dpkg-buildflags --get name` with every hardening feature, or "" without dpkg-dev. */
static char *
buildflag(const char *name)
{
	char *argv[] = { "dpkg-buildflags", "--get", (char *)name, NULL };
	char *env[] = { "DEB_BUILD_MAINT_OPTIONS=hardening=+all", NULL };
	cmd_out_t r = tscmd_run(argv, env, false);
	char *v = tscmd_exited(&r, 0) ? first_line(r.text) : strdup("");

	free(r.text);
	return v;
}

static int
group_setup(void **state)
{
	static char cflags_env[4096], ldflags_env[4096];
	char build[1100], jobs[24];
	char *cflags, *cppflags, *ldflags, *env[3];
	cmd_out_t r;
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	struct timespec t0, t1;

	(void)state;
	if (!have("cmake") || !have("cpack")) {
		pkg.skip = "cmake/cpack not found (Debian package: cmake)";
		return 0;
	}
	if (!have("dpkg-deb") || !have("dpkg-shlibdeps") || !have("dpkg-buildflags")) {
		pkg.skip = "dpkg-deb/dpkg-shlibdeps not found (Debian package: dpkg-dev)";
		return 0;
	}
	{
		char *argv[] = { "dpkg", "--print-architecture", NULL };
		char *line;

		r = tscmd_run(argv, NULL, false);
		if (!tscmd_exited(&r, 0)) {
			fprintf(stderr, "dpkg --print-architecture:\n%s", r.text);
			free(r.text);
			return -1;
		}
		line = first_line(r.text);
		snprintf(pkg.arch, sizeof(pkg.arch), "%s", line);
		free(line);
		free(r.text);
	}

	/* Debian's hardened flags, as a packager would build (fortify, relro, bindnow). */
	cflags = buildflag("CFLAGS");
	cppflags = buildflag("CPPFLAGS");
	ldflags = buildflag("LDFLAGS");
	snprintf(cflags_env, sizeof(cflags_env), "CFLAGS=%s %s", cflags, cppflags);
	snprintf(ldflags_env, sizeof(ldflags_env), "LDFLAGS=%s", ldflags);
	free(cflags);
	free(cppflags);
	free(ldflags);
	env[0] = cflags_env;
	env[1] = ldflags_env;
	env[2] = NULL;

	assert_true(tscmd_scratch_dir(pkg.dir, sizeof(pkg.dir), "package"));
	snprintf(build, sizeof(build), "%s/build", pkg.dir);
	snprintf(jobs, sizeof(jobs), "%ld", n > 0 ? n : 2);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	{
		char *argv[] = { "cmake", "-S", (char *)tsproc_source_dir(), "-B", build,
			"-DCMAKE_BUILD_TYPE=RelWithDebInfo", "-DTICKETSYNC_TESTS=OFF",
			"-DTICKETSYNC_SANITIZE=OFF", NULL };

		r = tscmd_run(argv, env, false);
		if (!tscmd_exited(&r, 0)) {
			fprintf(stderr, "cmake (configure) for the package failed:\n%s", r.text);
			free(r.text);
			return -1;
		}
		free(r.text);
	}
	{
		char *argv[] = { "cmake", "--build", build, "--target", "package", "-j", jobs, NULL };

		r = tscmd_run(argv, env, false);
		if (!tscmd_exited(&r, 0)) {
			fprintf(stderr, "cmake --build --target package failed:\n%s", r.text);
			free(r.text);
			return -1;
		}
		free(r.text);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	snprintf(pkg.deb, sizeof(pkg.deb), "%s/ticketsync_%s_%s.deb", build, TICKETSYNC_VERSION,
	    pkg.arch);
	if (access(pkg.deb, R_OK) != 0) {
		fprintf(stderr, "the package target made no %s\n", pkg.deb);
		return -1;
	}
	printf("built %s in %.1f s\n", pkg.deb,
	    (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	return 0;
}

static void
purge_if_installed(void)
{
	if (pkg.installed) {
		char *argv[] = { "dpkg", "--purge", "ticketsync", NULL };
		cmd_out_t r = tscmd_run(argv, NULL, false);

		fprintf(stderr, "cleanup: dpkg --purge ticketsync: status %d\n%s", r.status, r.text);
		free(r.text);
		pkg.installed = false;
	}
	if (pkg.made_user) {
		char *argv[] = { "userdel", "ticketsync", NULL };
		cmd_out_t r = tscmd_run(argv, NULL, false);

		printf("removed the ticketsync account the round trip created (status %d)\n",
		    r.status);
		free(r.text);
		pkg.made_user = false;
	}
}

static int
group_teardown(void **state)
{
	(void)state;
	purge_if_installed();
	if (pkg.dir[0] != '\0')
		tscmd_rm_tree(pkg.dir);
	return 0;
}

#define NEED_PACKAGE()                                            \
	do {                                                      \
		if (pkg.skip != NULL) {                           \
			printf("SKIP: %s\n", pkg.skip);           \
			skip();                                   \
			return;                                   \
		}                                                 \
	} while (0)

/* ---- control information ------------------------------------------------------------ */

/* Value of " Field: value" in `dpkg-deb -I` output (first line only), or NULL. */
static char *
info_field(const char *info, const char *field)
{
	char key[64];
	size_t klen;

	klen = (size_t)snprintf(key, sizeof(key), " %s: ", field);
	for (const char *line = info; line != NULL && *line != '\0';) {
		const char *eol = strchr(line, '\n');

		if (strncmp(line, key, klen) == 0)
			return strndup(line + klen, eol ? (size_t)(eol - line) - klen : strlen(line + klen));
		line = eol ? eol + 1 : NULL;
	}
	return NULL;
}

/* Is `name` one of the alternatives in a Depends: value ("a (>= 1), b | c")? With
 * prefix, any package starting with name counts. */
static bool
depends_on(const char *depends, const char *name, bool prefix)
{
	char *copy = strdup(depends), *save = NULL, *tok;
	bool found = false;

	for (tok = strtok_r(copy, ",|", &save); tok != NULL && !found;
	    tok = strtok_r(NULL, ",|", &save)) {
		size_t n;

		tok += strspn(tok, " ");
		n = strcspn(tok, " (:");
		found = prefix ? strncmp(tok, name, strlen(name)) == 0
		               : (n == strlen(name) && strncmp(tok, name, n) == 0);
	}
	free(copy);
	return found;
}

/* A -dev package among the Depends: alternatives, or NULL. */
static char *
dev_dependency(const char *depends)
{
	char *copy = strdup(depends), *save = NULL, *tok, *found = NULL;

	for (tok = strtok_r(copy, ",|", &save); tok != NULL && found == NULL;
	    tok = strtok_r(NULL, ",|", &save)) {
		size_t n;

		tok += strspn(tok, " ");
		n = strcspn(tok, " (:");
		if (n > 4 && strncmp(tok + n - 4, "-dev", 4) == 0)
			found = strndup(tok, n);
	}
	free(copy);
	return found;
}

/* The control fields the package promises; NULL when they hold, else why not. */
static char *
control_problem(const char *info, const char *arch)
{
	static const char *const libs[] = { "libmongoc-1.0-0", "libcurl4", "libinih1",
		"libcsv3", "libsystemd0", NULL };
	static char why[512];
	char *v, *dev;

	if ((v = info_field(info, "Package")) == NULL || strcmp(v, "ticketsync") != 0) {
		snprintf(why, sizeof(why), "Package: is %s, not ticketsync", v ? v : "missing");
		free(v);
		return why;
	}
	free(v);
	if ((v = info_field(info, "Version")) == NULL || strcmp(v, TICKETSYNC_VERSION) != 0) {
		snprintf(why, sizeof(why), "Version: is %s, not %s (PROJECT_VERSION)",
		    v ? v : "missing", TICKETSYNC_VERSION);
		free(v);
		return why;
	}
	free(v);
	if ((v = info_field(info, "Architecture")) == NULL || strcmp(v, arch) != 0) {
		snprintf(why, sizeof(why), "Architecture: is %s, not %s", v ? v : "missing", arch);
		free(v);
		return why;
	}
	free(v);
	v = info_field(info, "Maintainer");
	if (v == NULL || strchr(v, '<') == NULL || strchr(v, '@') == NULL || v[strlen(v) - 1] != '>') {
		snprintf(why, sizeof(why), "Maintainer: is %s, not \"Name <address>\"",
		    v ? v : "missing");
		free(v);
		return why;
	}
	free(v);
	if ((v = info_field(info, "Depends")) == NULL) {
		snprintf(why, sizeof(why), "no Depends: (dpkg-shlibdeps did not run?)");
		return why;
	}
	for (size_t i = 0; libs[i] != NULL; i++)
		if (!depends_on(v, libs[i], false)) {
			snprintf(why, sizeof(why), "Depends: lacks %s: %s", libs[i], v);
			free(v);
			return why;
		}
	if (!depends_on(v, "libevent-", true)) {
		snprintf(why, sizeof(why), "Depends: lacks libevent: %s", v);
		free(v);
		return why;
	}
	if ((dev = dev_dependency(v)) != NULL) {
		snprintf(why, sizeof(why), "Depends: names the -dev package %s: %s", dev, v);
		free(dev);
		free(v);
		return why;
	}
	free(v);
	return NULL;
}

static void
test_control(void **state)
{
	char *argv[] = { "dpkg-deb", "-I", pkg.deb, NULL };
	char *info, *why, *depends, *broken;
	static const struct {
		const char *from, *to, *expect;
	} broken_info[] = {
		{ "libcsv3 (", "libcsv-dev (", "lacks libcsv3" },
		{ "libsystemd0", "libsystemd0, libsystemd-dev", "-dev package libsystemd-dev" },
		{ "libinih1", "libinih-dev | libinih1", "-dev package libinih-dev" },
		{ " Package: ticketsync\n", " Package: ticketsync-bin\n", "Package: is ticketsync-bin" },
		{ " Version: ", " Version: 9", "not " TICKETSYNC_VERSION },
		{ " Architecture: ", " Architecture: x", "Architecture: is x" },
	};

	(void)state;
	NEED_PACKAGE();
	info = run_ok(argv, NULL, "dpkg-deb -I");
	printf("%s", info);
	why = control_problem(info, pkg.arch);
	if (why != NULL)
		fail_msg("%s: %s", pkg.deb, why);
	/* Every library ticketsyncd loads directly is a dependency. */
	depends = info_field(info, "Depends");
	assert_true(depends_on(depends, "libbson-1.0-0", false));
	assert_true(depends_on(depends, "libssl3", false));
	free(depends);
	assert_non_null(strstr(info, " conffiles"));
	assert_non_null(strstr(info, " postinst "));
	assert_non_null(strstr(info, " prerm "));
	assert_non_null(strstr(info, " postrm "));

	/* Negative controls: each broken control text is refused for its reason. */
	for (size_t i = 0; i < sizeof(broken_info) / sizeof(broken_info[0]); i++) {
		broken = edited(info, broken_info[i].from, broken_info[i].to);
		why = control_problem(broken, pkg.arch);
		if (why == NULL || strstr(why, broken_info[i].expect) == NULL)
			fail_msg("control check with \"%s\" -> \"%s\": expected \"%s\", got %s",
			    broken_info[i].from, broken_info[i].to, broken_info[i].expect,
			    why ? why : "no complaint");
		free(broken);
	}
	free(info);
}

/* The control members: conffiles lists the INI file, the scripts are deploy/package's
 * (0755). */
static void
test_control_members(void **state)
{
	static const char *const scripts[] = { "postinst", "prerm", "postrm", NULL };
	char dir[1024], path[PATH_MAX + 32], src[PATH_MAX];
	char *conffiles, *a, *b;
	struct stat st;

	(void)state;
	NEED_PACKAGE();
	assert_true(tscmd_scratch_dir(dir, sizeof(dir), "control"));
	{
		char *argv[] = { "dpkg-deb", "-e", pkg.deb, dir, NULL };

		free(run_ok(argv, NULL, "dpkg-deb -e"));
	}
	snprintf(path, sizeof(path), "%s/conffiles", dir);
	conffiles = tsfile_read(path, NULL);
	if (conffiles == NULL)
		fail_msg("no conffiles member: %s would be overwritten on upgrade", CONFFILE);
	assert_string_equal(conffiles, CONFFILE "\n");
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0644);
	free(conffiles);
	for (size_t i = 0; scripts[i] != NULL; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, scripts[i]);
		snprintf(src, sizeof(src), "%s/deploy/package/%s", tsproc_source_dir(), scripts[i]);
		if (stat(path, &st) != 0)
			fail_msg("the package has no %s", scripts[i]);
		assert_int_equal(st.st_mode & 07777, 0755);
		a = tsfile_read(path, NULL);
		b = tsfile_read(src, NULL);
		assert_non_null(a);
		assert_non_null(b);
		if (strcmp(a, b) != 0)
			fail_msg("the package's %s differs from %s", scripts[i], src);
		free(a);
		free(b);
	}
	tscmd_rm_tree(dir);
}

/* ---- file list ---------------------------------------------------------------------- */

/* Problems with a `dpkg-deb -c` listing, appended to why (empty when none). */
static void
contents_problems(const char *listing, char *why, size_t len)
{
	static const char *const expected[] = {
		"./usr/bin/ticketsyncd",
		"./usr/bin/ticketsyncctl",
		"./" UNIT_REL,
		"./usr/lib/sysusers.d/ticketsync.conf",
		"./usr/lib/tmpfiles.d/ticketsync.conf",
		"." CONFFILE,
		"./usr/share/doc/ticketsync/ticketsync.ini.example",
		"./usr/share/doc/ticketsync/OPERATIONS.md",
		"./usr/share/doc/ticketsync/CONFIGURATION.md",
		"./usr/share/doc/ticketsync/copyright",
		"./usr/share/doc/ticketsync/changelog.gz",
		"./usr/share/ticketsync/extrahop/ticketsync-trigger.js",
		"./usr/share/ticketsync/extrahop/README.md",
		"./usr/share/ticketsync/prometheus/ticketsync-rules.yml",
		"./usr/share/ticketsync/grafana/ticketsync-dashboard.json",
		"./usr/lib/systemd/system/ticketsyncd@.service",
		NULL,
	};
	/* Where files may be (the project's own names only); directories above them are
	 * fine. */
	static const char *const allowed[] = {
		"./usr/bin/ticketsync", "./usr/lib/systemd/system/ticketsyncd",
		"./usr/lib/sysusers.d/ticketsync", "./usr/lib/tmpfiles.d/ticketsync",
		"./etc/ticketsync/", "./usr/share/doc/ticketsync/", "./usr/share/ticketsync/", NULL,
	};
	char pattern[PATH_MAX];
	glob_t g;
	size_t used = 0;

	why[0] = '\0';
#define PROBLEM(...) \
	(used += (size_t)snprintf(why + used, used < len ? len - used : 0, __VA_ARGS__), \
	 used = used < len ? used : len)
	for (size_t i = 0; expected[i] != NULL; i++) {
		char needle[PATH_MAX];

		snprintf(needle, sizeof(needle), " %s\n", expected[i]);
		if (strstr(listing, needle) == NULL)
			PROBLEM("missing %s\n", expected[i]);
	}
	/* Every schema the source tree has. */
	snprintf(pattern, sizeof(pattern), "%s/schema/*.json", tsproc_source_dir());
	if (glob(pattern, 0, NULL, &g) == 0) {
		for (size_t i = 0; i < g.gl_pathc; i++) {
			char needle[PATH_MAX];

			snprintf(needle, sizeof(needle), " ./usr/share/ticketsync/schema/%s\n",
			    strrchr(g.gl_pathv[i], '/') + 1);
			if (strstr(listing, needle) == NULL)
				PROBLEM("missing%s", needle);
		}
		globfree(&g);
	} else {
		PROBLEM("no schema/*.json in the source tree\n");
	}
	/* Each line: "<mode> <owner>/<group> <size> <date> <time> <path>[ -> target]". */
	for (const char *line = listing; line != NULL && *line != '\0';) {
		const char *eol = strchr(line, '\n');
		char *l = strndup(line, eol ? (size_t)(eol - line) : strlen(line));
		char mode[16], owner[64], path[PATH_MAX];
		bool ok = false;

		if (sscanf(l, "%15s %63s %*s %*s %*s %4095s", mode, owner, path) != 3) {
			PROBLEM("unparsed line: %s\n", l);
		} else {
			if (strcmp(owner, "root/root") != 0)
				PROBLEM("%s is owned by %s, not root/root\n", path, owner);
			if (mode[0] == 'd') {
				if (strcmp(mode, "drwxr-xr-x") != 0)
					PROBLEM("directory %s has mode %s\n", path, mode);
			} else {
				for (size_t i = 0; allowed[i] != NULL; i++)
					ok = ok || strncmp(path, allowed[i], strlen(allowed[i])) == 0;
				if (!ok)
					PROBLEM("unexpected file %s\n", path);
				if (strncmp(path, "./usr/bin/", 10) == 0 ? strcmp(mode, "-rwxr-xr-x") != 0
				                                         : strcmp(mode, "-rw-r--r--") != 0)
					PROBLEM("%s has mode %s\n", path, mode);
			}
		}
		free(l);
		line = eol ? eol + 1 : NULL;
	}
#undef PROBLEM
}

static void
test_contents(void **state)
{
	char *argv[] = { "dpkg-deb", "-c", pkg.deb, NULL };
	char *listing, *broken, why[4096];
	static const struct {
		const char *from, *to, *expect;
	} broken_list[] = {
		{ " ./etc/ticketsync/ticketsync.ini\n", " ./etc/ticketsync/ticketsync.ini.example\n",
		  "missing ./etc/ticketsync/ticketsync.ini" },
		{ " ./usr/share/ticketsync/schema/tickets.json\n", " ./usr/share/ticketsync/schema/x\n",
		  "missing ./usr/share/ticketsync/schema/tickets.json" },
		{ " ./usr/bin/ticketsyncd\n", " ./usr/local/bin/ticketsyncd\n",
		  "unexpected file ./usr/local/bin/ticketsyncd" },
		{ "root/root", "1000/1000", "owned by 1000/1000" },
		{ "-rwxr-xr-x", "-rwxrwxrwx", "has mode -rwxrwxrwx" },
	};

	(void)state;
	NEED_PACKAGE();
	listing = run_ok(argv, NULL, "dpkg-deb -c");
	contents_problems(listing, why, sizeof(why));
	if (why[0] != '\0')
		fail_msg("%s:\n%s\nlisting:\n%s", pkg.deb, why, listing);
	for (size_t i = 0; i < sizeof(broken_list) / sizeof(broken_list[0]); i++) {
		broken = edited(listing, broken_list[i].from, broken_list[i].to);
		contents_problems(broken, why, sizeof(why));
		if (strstr(why, broken_list[i].expect) == NULL)
			fail_msg("file-list check with \"%s\" -> \"%s\": expected \"%s\", got:\n%s",
			    broken_list[i].from, broken_list[i].to, broken_list[i].expect, why);
		free(broken);
	}
	free(listing);
}

/* ---- lintian ------------------------------------------------------------------------ */

/* lintian on deb: its error tags (one per line, malloc'd, "" when none); warnings are
 * printed. */
static char *
lintian_errors(const char *tool, const char *deb, bool print_warnings)
{
	char *argv[] = { (char *)tool, "--no-tag-display-limit", (char *)deb, NULL };
	cmd_out_t r = tscmd_run(argv, NULL, false);
	size_t n = 0;
	char *errors = calloc(1, strlen(r.text) + 1);

	assert_non_null(errors);
	for (const char *line = r.text; line != NULL && *line != '\0';) {
		const char *eol = strchr(line, '\n');
		size_t len = eol ? (size_t)(eol - line) + 1 : strlen(line);

		if (strncmp(line, "E: ", 3) == 0) {
			memcpy(errors + n, line, len);
			n += len;
		} else if (print_warnings && strncmp(line, "W: ", 3) == 0) {
			printf("lintian %.*s", (int)len, line);
			if (eol == NULL)
				printf("\n");
		}
		line = eol ? eol + 1 : NULL;
	}
	/* lintian exits non-zero on errors (--fail-on error, its default) or when it could
	 * not check at all: the latter must not pass as "no errors". */
	if (!tscmd_exited(&r, 0) && n == 0)
		fail_msg("lintian %s failed without error tags (status %d):\n%s", deb, r.status, r.text);
	free(r.text);
	return errors;
}

static void
test_lintian(void **state)
{
	char *tool = tscmd_in_path("lintian");
	char *errors, dir[1024], tree[PATH_MAX + 8], bad[PATH_MAX + 16], path[PATH_MAX + 64];

	(void)state;
	NEED_PACKAGE();
	if (tool == NULL) {
		printf("SKIP: lintian not found (Debian package: lintian): the package was not "
		    "linted\n");
		skip();
		return;
	}
	errors = lintian_errors(tool, pkg.deb, true);
	if (errors[0] != '\0')
		fail_msg("lintian reports errors on %s:\n%s", pkg.deb, errors);
	free(errors);

	/* Negative control: the same package without its copyright file is an error. */
	assert_true(tscmd_scratch_dir(dir, sizeof(dir), "lintian"));
	snprintf(tree, sizeof(tree), "%s/tree", dir);
	snprintf(bad, sizeof(bad), "%s/ticketsync_%s_%s.deb", dir, TICKETSYNC_VERSION, pkg.arch);
	{
		char *argv[] = { "dpkg-deb", "-R", pkg.deb, tree, NULL };

		free(run_ok(argv, NULL, "dpkg-deb -R"));
	}
	snprintf(path, sizeof(path), "%s/usr/share/doc/ticketsync/copyright", tree);
	assert_int_equal(unlink(path), 0);
	{
		char *argv[] = { "dpkg-deb", "--root-owner-group", "-b", tree, bad, NULL };

		free(run_ok(argv, NULL, "dpkg-deb -b"));
	}
	errors = lintian_errors(tool, bad, false);
	if (strstr(errors, "no-copyright-file") == NULL)
		fail_msg("lintian accepts a package without a copyright file:\n%s", errors);
	free(errors);
	tscmd_rm_tree(dir);
	free(tool);
}

/* ---- the extracted files -------------------------------------------------------------- */

static void
extract(const char *root)
{
	char *argv[] = { "dpkg-deb", "-x", pkg.deb, (char *)root, NULL };

	free(run_ok(argv, NULL, "dpkg-deb -x"));
}

static void
test_extracted_runs(void **state)
{
	char root[1024], daemon[PATH_MAX + 32], ctl[PATH_MAX + 32], conf[PATH_MAX + 32];
	char path[PATH_MAX + 64], example[PATH_MAX];
	char *unit, *exec, *a, *b;
	char *env[] = { "TICKETSYNC_MONGODB_URI=mongodb://127.0.0.1:27017/?replicaSet=rs0",
		"TICKETSYNC_EXTRAHOP_URL=https://extrahop.example.com",
		"TICKETSYNC_EXTRAHOP_API_KEY=k3y-for-the-test", NULL };
	char *env_no_url[] = { env[0], env[2], NULL };
	cmd_out_t r;
	char want[64];

	(void)state;
	NEED_PACKAGE();
	assert_true(tscmd_scratch_dir(root, sizeof(root), "debroot"));
	extract(root);
	snprintf(daemon, sizeof(daemon), "%s/usr/bin/ticketsyncd", root);
	snprintf(ctl, sizeof(ctl), "%s/usr/bin/ticketsyncctl", root);
	snprintf(conf, sizeof(conf), "%s" CONFFILE, root);

	snprintf(want, sizeof(want), "ticketsyncd %s", TICKETSYNC_VERSION);
	{
		char *argv[] = { daemon, "--version", NULL };

		r = tscmd_run(argv, NULL, false);
		if (!tscmd_exited(&r, 0) || strstr(r.text, want) == NULL)
			fail_msg("%s --version: expected \"%s\":\n%s", daemon, want, r.text);
		free(r.text);
	}
	snprintf(want, sizeof(want), "ticketsyncctl %s", TICKETSYNC_VERSION);
	{
		char *argv[] = { ctl, "--version", NULL };

		r = tscmd_run(argv, NULL, false);
		if (!tscmd_exited(&r, 0) || strstr(r.text, want) == NULL)
			fail_msg("%s --version: expected \"%s\":\n%s", ctl, want, r.text);
		free(r.text);
	}
	/* The packaged configuration is the example, and the daemon accepts it with the
	 * required settings from the environment. */
	snprintf(example, sizeof(example), "%s/deploy/ticketsync.ini.example", tsproc_source_dir());
	a = tsfile_read(conf, NULL);
	b = tsfile_read(example, NULL);
	if (a == NULL)
		fail_msg("the package has no %s", CONFFILE);
	assert_non_null(b);
	if (strcmp(a, b) != 0)
		fail_msg("%s is not deploy/ticketsync.ini.example", CONFFILE);
	free(a);
	free(b);
	{
		char *argv[] = { daemon, "--check-config", "-c", conf, NULL };

		r = tscmd_run(argv, env, true);
		if (!tscmd_exited(&r, 0) || strstr(r.text, "configuration OK") == NULL)
			fail_msg("%s --check-config -c %s:\n%s", daemon, conf, r.text);
		assert_null(strstr(r.text, "warn"));
		free(r.text);
		/* Negative control: without the ExtraHop URL it is a configuration error. */
		r = tscmd_run(argv, env_no_url, true);
		if (!tscmd_exited(&r, 2) || strstr(r.text, "TICKETSYNC_EXTRAHOP_URL") == NULL)
			fail_msg("--check-config without the ExtraHop URL: expected exit 2:\n%s", r.text);
		free(r.text);
	}
	/* The unit names files the package has. */
	snprintf(path, sizeof(path), "%s/" UNIT_REL, root);
	unit = tsfile_read(path, NULL);
	assert_non_null(unit);
	exec = tscmd_unit_value(unit, "ExecStart");
	assert_non_null(exec);
	assert_string_equal(exec, "/usr/bin/ticketsyncd -c " CONFFILE);
	free(exec);
	for (const char *p = unit; (p = strstr(p, "\nDocumentation=file:")) != NULL; p++) {
		char *doc = strndup(p + strlen("\nDocumentation=file:"),
		    strcspn(p + strlen("\nDocumentation=file:"), "\n"));

		if (!exists(root, doc + 1))
			fail_msg("the unit's Documentation=file:%s is not in the package", doc);
		free(doc);
	}
	free(unit);
	tscmd_rm_tree(root);
}

/* ---- maintainer scripts under DPKG_ROOT -------------------------------------------- */

/* Run a maintainer script of the package (from ctl) as dpkg would, against root. */
static cmd_out_t
maint(const char *ctl, const char *script, const char *root, const char *arg1,
    const char *arg2, const char *path_env)
{
	char file[PATH_MAX + 32], root_env[PATH_MAX + 16], name_env[64], path_buf[PATH_MAX + 8];
	char *env[6], *argv[5];
	int n = 0;

	snprintf(file, sizeof(file), "%s/%s", ctl, script);
	snprintf(root_env, sizeof(root_env), "DPKG_ROOT=%s", root);
	snprintf(name_env, sizeof(name_env), "DPKG_MAINTSCRIPT_NAME=%s", script);
	env[n++] = root_env;
	env[n++] = name_env;
	env[n++] = "DPKG_MAINTSCRIPT_PACKAGE=ticketsync";
	if (path_env != NULL) {
		snprintf(path_buf, sizeof(path_buf), "PATH=%s", path_env);
		env[n++] = path_buf;
	}
	env[n] = NULL;
	argv[0] = "/bin/sh";
	argv[1] = file;
	argv[2] = (char *)arg1;
	argv[3] = (char *)arg2;
	argv[4] = NULL;
	return tscmd_run(argv, env, false);
}

static void
maint_ok(const char *ctl, const char *script, const char *root, const char *arg1,
    const char *arg2)
{
	cmd_out_t r = maint(ctl, script, root, arg1, arg2, NULL);

	if (!tscmd_exited(&r, 0))
		fail_msg("%s %s %s (DPKG_ROOT=%s) failed:\n%s", script, arg1, arg2 ? arg2 : "", root,
		    r.text);
	free(r.text);
}

/* The ticketsync entry of root's /etc/group: its gid, or -1. */
static long
root_gid(const char *root)
{
	char path[PATH_MAX + 16];
	char *group, *line;
	unsigned gid;
	long v = -1;

	snprintf(path, sizeof(path), "%s/etc/group", root);
	group = tsfile_read(path, NULL);
	if (group == NULL)
		return -1;
	line = strstr(group, "ticketsync:x:");
	if (line != NULL && (line == group || line[-1] == '\n') &&
	    sscanf(line, "ticketsync:x:%u:", &gid) == 1)
		v = gid;
	free(group);
	return v;
}

/* Unpack the package into a fresh root and its control files into ctl. */
static void
fresh_root(char *root, size_t rlen, char *ctl, size_t clen, const char *tag)
{
	char tagc[64];

	assert_true(tscmd_scratch_dir(root, rlen, tag));
	extract(root);
	snprintf(tagc, sizeof(tagc), "%s-ctl", tag);
	assert_true(tscmd_scratch_dir(ctl, clen, tagc));
	{
		char *argv[] = { "dpkg-deb", "-e", pkg.deb, ctl, NULL };

		free(run_ok(argv, NULL, "dpkg-deb -e"));
	}
}

/* A call in a maintainer script that starts or enables the service, or NULL. The only
 * deb-systemd-invoke actions allowed: try-restart (postinst: an upgrade restarts a
 * running daemon) and stop (prerm); systemctl only for daemon-reload. Comments and the
 * text of echo lines do not count. */
static char *
start_call(const char *script)
{
	static char bad[256];

	for (const char *line = script; line != NULL && *line != '\0';) {
		const char *eol = strchr(line, '\n');
		char *l = strndup(line, eol ? (size_t)(eol - line) : strlen(line));
		const char *s = l + strspn(l, " \t"), *p, *act;

		bad[0] = '\0';
		if (*s != '#' && *s != '"' && strncmp(s, "echo", 4) != 0) {
			for (p = s; bad[0] == '\0' && (p = strstr(p, "deb-systemd-invoke")) != NULL;
			    p += strlen("deb-systemd-invoke")) {
				if (p - s >= 11 && strncmp(p - 11, "command -v ", 11) == 0)
					continue;
				act = p + strlen("deb-systemd-invoke");
				act += strspn(act, " ");
				if (strncmp(act, "try-restart ", 12) != 0 && strncmp(act, "stop ", 5) != 0)
					snprintf(bad, sizeof(bad), "%s", s);
			}
			for (p = s; bad[0] == '\0' && (p = strstr(p, "systemctl")) != NULL;
			    p += strlen("systemctl")) {
				act = p + strlen("systemctl");
				act += strspn(act, " ");
				if (strncmp(act, "--system ", 9) == 0)
					act += 9;
				if (strncmp(act, "daemon-reload", 13) != 0)
					snprintf(bad, sizeof(bad), "%s", s);
			}
		}
		free(l);
		if (bad[0] != '\0')
			return bad;
		line = eol ? eol + 1 : NULL;
	}
	return NULL;
}

static void
test_maintainer_scripts(void **state)
{
	static const char *const scripts[] = { "postinst", "prerm", "postrm", NULL };
	char root[1024], ctl[1024], path[PATH_MAX + 64], src[PATH_MAX];
	char *text, *bad;
	bool host_etc = access("/etc/ticketsync", F_OK) == 0;
	bool helper = have("deb-systemd-helper");
	long gid;
	struct stat st;
	cmd_out_t r;

	(void)state;
	NEED_PACKAGE();
	/* Nothing in the scripts starts or enables the daemon. */
	for (size_t i = 0; scripts[i] != NULL; i++) {
		snprintf(src, sizeof(src), "%s/deploy/package/%s", tsproc_source_dir(), scripts[i]);
		text = tsfile_read(src, NULL);
		assert_non_null(text);
		if ((bad = start_call(text)) != NULL)
			fail_msg("%s starts or enables the service: %s", scripts[i], bad);
		free(text);
	}
	{
		char *t1 = edited("\tdeb-systemd-invoke try-restart 'x' || true\n", "try-restart", "start");
		char *t2 = edited("\tsystemctl --system daemon-reload\n", "--system daemon-reload",
		    "enable --now ticketsyncd");

		assert_non_null(start_call(t1));
		assert_non_null(start_call(t2));
		free(t1);
		free(t2);
	}

	if (!have("systemd-sysusers") || !have("systemd-tmpfiles")) {
		printf("SKIP: systemd-sysusers/systemd-tmpfiles not found (Debian package: "
		    "systemd): the scripts were not run\n");
		skip();
		return;
	}
	if (geteuid() != 0) {
		printf("SKIP: not root: systemd-tmpfiles cannot give a scratch root's "
		    "/etc/ticketsync its owners\n");
		skip();
		return;
	}
	fresh_root(root, sizeof(root), ctl, sizeof(ctl), "dpkgroot");

	/* First install. */
	maint_ok(ctl, "postinst", root, "configure", NULL);
	snprintf(path, sizeof(path), "%s/etc/passwd", root);
	text = tsfile_read(path, NULL);
	if (text == NULL || strstr(text, "ticketsync:x:") == NULL)
		fail_msg("postinst created no ticketsync account in %s", path);
	assert_non_null(strstr(strstr(text, "ticketsync:x:"), ":/usr/sbin/nologin"));
	free(text);
	gid = root_gid(root);
	assert_true(gid > 0);
	snprintf(path, sizeof(path), "%s/etc/ticketsync", root);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0750);
	assert_int_equal(st.st_uid, 0);
	assert_int_equal(st.st_gid, (gid_t)gid);
	snprintf(path, sizeof(path), "%s/etc/ticketsync/credentials", root);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	if (exists(root, WANTS_REL))
		fail_msg("postinst enabled the service on a first install (%s)", WANTS_REL);
	if (helper && !exists(root, DSH_STATE_REL))
		fail_msg("postinst recorded no deb-systemd-helper state (%s): purge could not "
		    "clean up", DSH_STATE_REL);

	/* An upgrade (configure <old version>) enables nothing either. */
	maint_ok(ctl, "postinst", root, "configure", "0.0.1");
	if (exists(root, WANTS_REL))
		fail_msg("postinst enabled the service on an upgrade");

	/* The admin's files, then remove (they stay) and purge (they go). */
	snprintf(path, sizeof(path), "%s/etc/ticketsync/credentials/extrahop_api_key", root);
	assert_true(tscmd_write_file(path, "k3y\n", 0600));
	snprintf(path, sizeof(path), "%s/etc/ticketsync/ticketsync.env", root);
	assert_true(tscmd_write_file(path, "TICKETSYNC_MONGODB_URI=mongodb://u:p@db/?replicaSet=rs0\n", 0600));
	maint_ok(ctl, "prerm", root, "remove", NULL);
	maint_ok(ctl, "postrm", root, "remove", NULL);
	if (!exists(root, "etc/ticketsync/credentials/extrahop_api_key"))
		fail_msg("postrm remove deleted the credentials (only purge may)");
	maint_ok(ctl, "postrm", root, "purge", NULL);
	if (exists(root, "etc/ticketsync"))
		fail_msg("postrm purge left %s/etc/ticketsync", root);
	if (exists(root, DSH_STATE_REL) || exists(root, MASK_REL))
		fail_msg("postrm purge left deb-systemd-helper state or a mask behind");
	/* All of that happened in the scratch root only. */
	assert_int_equal(access("/etc/ticketsync", F_OK) == 0, host_etc);
	tscmd_rm_tree(root);
	tscmd_rm_tree(ctl);

	/* Negative control: debhelper's enable-on-install logic does enable it, and the
	 * check above sees that. */
	if (helper) {
		char broken[PATH_MAX + 16], *edit;

		fresh_root(root, sizeof(root), ctl, sizeof(ctl), "dpkgroot-enable");
		snprintf(src, sizeof(src), "%s/postinst", ctl);
		text = tsfile_read(src, NULL);
		assert_non_null(text);
		edit = edited(text, "if deb-systemd-helper debian-installed 'ticketsyncd.service'; then",
		    "if true; then");
		snprintf(broken, sizeof(broken), "%s/postinst", ctl);
		assert_true(tscmd_write_file(broken, edit, 0755));
		maint_ok(ctl, "postinst", root, "configure", NULL);
		if (!exists(root, WANTS_REL))
			fail_msg("an enabling postinst left no %s: the check cannot fail", WANTS_REL);
		free(edit);
		free(text);
		tscmd_rm_tree(root);
		tscmd_rm_tree(ctl);
	}

	/* A container without systemd's tools: postinst says what it skipped, and
	 * succeeds. */
	fresh_root(root, sizeof(root), ctl, sizeof(ctl), "dpkgroot-bare");
	r = maint(ctl, "postinst", root, "configure", NULL, "/nonexistent");
	if (!tscmd_exited(&r, 0) || strstr(r.text, "systemd-sysusers not found") == NULL ||
	    strstr(r.text, "systemd-tmpfiles not found") == NULL)
		fail_msg("postinst without systemd tools:\n%s", r.text);
	free(r.text);
	if (exists(root, "etc/passwd"))
		fail_msg("postinst without systemd tools still wrote an account");
	tscmd_rm_tree(root);
	tscmd_rm_tree(ctl);
}

/* ---- the real thing: dpkg on this machine (opt-in) ----------------------------------- */

static char *
dpkg_status(void)
{
	char *argv[] = { "dpkg-query", "-W", "-f=${Status}", "ticketsync", NULL };
	cmd_out_t r = tscmd_run(argv, NULL, false);
	char *s = tscmd_exited(&r, 0) ? strdup(r.text) : strdup("");

	free(r.text);
	return s;
}

static void
test_dpkg_roundtrip(void **state)
{
	const char *opt = getenv("TICKETSYNC_TEST_DPKG_INSTALL");
	char *env[] = { "DEBIAN_FRONTEND=noninteractive", NULL };
	char *status, *text, *example, *edited_conf;
	struct passwd *pw;
	struct group *gr;
	struct stat st;

	(void)state;
	NEED_PACKAGE();
	if (geteuid() != 0 || opt == NULL || strcmp(opt, "1") != 0) {
		printf("SKIP: dpkg -i/-r/-P on this machine runs only as root with "
		    "TICKETSYNC_TEST_DPKG_INSTALL=1\n");
		skip();
		return;
	}
	status = dpkg_status();
	if (status[0] != '\0' && strstr(status, "not-installed") == NULL) {
		printf("SKIP: ticketsync is already known to dpkg here (%s): not touching it\n", status);
		free(status);
		skip();
		return;
	}
	free(status);
	if (access("/etc/ticketsync", F_OK) == 0) {
		printf("SKIP: /etc/ticketsync exists: a purge would delete it\n");
		skip();
		return;
	}
	pkg.made_user = getpwnam("ticketsync") == NULL;

	{
		char *argv[] = { "dpkg", "-i", pkg.deb, NULL };

		pkg.installed = true;
		printf("%s", text = run_ok(argv, env, "dpkg -i"));
		free(text);
	}
	pw = getpwnam("ticketsync");
	gr = getgrnam("ticketsync");
	if (pw == NULL || gr == NULL)
		fail_msg("dpkg -i created no ticketsync user/group");
	assert_string_equal(pw->pw_shell, "/usr/sbin/nologin");
	assert_int_equal(stat("/etc/ticketsync", &st), 0);
	assert_int_equal(st.st_mode & 07777, 0750);
	assert_int_equal(st.st_uid, 0);
	assert_int_equal(st.st_gid, gr->gr_gid);
	assert_int_equal(stat("/etc/ticketsync/credentials", &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	text = tsfile_read(CONFFILE, NULL);
	example = tsfile_read_source("deploy/ticketsync.ini.example", NULL);
	assert_non_null(text);
	assert_non_null(example);
	assert_string_equal(text, example);
	free(text);
	{
		char *argv[] = { "dpkg-query", "-W", "-f=${Conffiles}", "ticketsync", NULL };

		text = run_ok(argv, NULL, "dpkg-query");
		if (strstr(text, " " CONFFILE " ") == NULL)
			fail_msg("dpkg does not treat %s as a conffile:\n%s", CONFFILE, text);
		free(text);
	}
	{
		char *argv[] = { "/usr/bin/ticketsyncd", "--version", NULL };

		free(run_ok(argv, NULL, "/usr/bin/ticketsyncd --version"));
	}
	if (access("/" WANTS_REL, F_OK) == 0)
		fail_msg("dpkg -i enabled ticketsyncd.service");

	/* The admin's edit survives a reinstall (dpkg never overwrites a changed conffile). */
	edited_conf = calloc(1, strlen(example) + 64);
	sprintf(edited_conf, "%s; edited by test_package\n", example);
	assert_true(tscmd_write_file(CONFFILE, edited_conf, 0640));
	{
		char *argv[] = { "dpkg", "-i", pkg.deb, NULL };

		free(run_ok(argv, env, "dpkg -i (reinstall)"));
	}
	text = tsfile_read(CONFFILE, NULL);
	assert_non_null(text);
	if (strcmp(text, edited_conf) != 0)
		fail_msg("a reinstall replaced the edited %s", CONFFILE);
	free(text);

	{
		char *argv[] = { "dpkg", "-r", "ticketsync", NULL };

		free(run_ok(argv, env, "dpkg -r"));
	}
	if (access("/usr/bin/ticketsyncd", F_OK) == 0)
		fail_msg("dpkg -r left /usr/bin/ticketsyncd");
	if (access(CONFFILE, F_OK) != 0)
		fail_msg("dpkg -r removed %s (only a purge may)", CONFFILE);
	{
		char *argv[] = { "dpkg", "-P", "ticketsync", NULL };

		free(run_ok(argv, env, "dpkg -P"));
	}
	pkg.installed = false;
	if (access("/etc/ticketsync", F_OK) == 0)
		fail_msg("dpkg -P left /etc/ticketsync");
	if (access("/" MASK_REL, F_OK) == 0 || access("/" DSH_STATE_REL, F_OK) == 0)
		fail_msg("dpkg -P left deb-systemd-helper state or a mask behind");
	status = dpkg_status();
	assert_true(status[0] == '\0' || strstr(status, "not-installed") != NULL);
	free(status);
	free(edited_conf);
	free(example);
	purge_if_installed();  /* the account, if this test created it */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_control),
		cmocka_unit_test(test_control_members),
		cmocka_unit_test(test_contents),
		cmocka_unit_test(test_lintian),
		cmocka_unit_test(test_extracted_runs),
		cmocka_unit_test(test_maintainer_scripts),
		cmocka_unit_test(test_dpkg_roundtrip),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
