/*
 * Deployment files: `cmake --install` (into a DESTDIR and into a plain prefix), the
 * systemd unit (systemd-analyze verify and security, its Environment= reaching the
 * daemon's configuration), sysusers.d and tmpfiles.d (applied to a scratch root), and
 * the container files (deploy/container/check.py). Every check also runs on a broken
 * copy, which must be refused, so none of them can pass by accident.
 *
 * systemd tools and PyYAML come from Debian (systemd, python3-yaml); a test skips,
 * saying which, only when its tool is missing.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <libgen.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "tsfile.h"
#include "tscmd.h"
#include "tsproc.h"

#define UNIT_REL "lib/systemd/system/ticketsyncd.service"
#define TEMPLATE_REL "lib/systemd/system/ticketsyncd@.service"
/* systemd-analyze security's scale: 0 (locked down) .. 10; "OK" is below 2. */
#define EXPOSURE_MAX 2.0

typedef tscmd_out_t cmd_out_t;

static const char *
build_dir(void)
{
	static char dir[PATH_MAX];

	if (dir[0] == '\0') {
		char bin[PATH_MAX];

		snprintf(bin, sizeof(bin), "%s", tsproc_bin_dir());
		snprintf(dir, sizeof(dir), "%s", dirname(bin));
	}
	return dir;
}

/* cmake --install <build> --prefix prefix, with DESTDIR=destdir when given. */
static void
cmake_install(const char *prefix, const char *destdir)
{
	char env_destdir[PATH_MAX + 16];
	char *env[2] = { NULL, NULL };
	char *argv[] = { "cmake", "--install", (char *)build_dir(), "--prefix", (char *)prefix, NULL };
	cmd_out_t r;

	if (destdir != NULL) {
		snprintf(env_destdir, sizeof(env_destdir), "DESTDIR=%s", destdir);
		env[0] = env_destdir;
	}
	r = tscmd_run(argv, env, false);
	if (!tscmd_exited(&r, 0))
		fail_msg("cmake --install failed:\n%s", r.text);
	free(r.text);
}

static bool
unit_has_line(const char *unit, const char *line)
{
	size_t n = strlen(line);

	for (const char *p = unit; (p = strstr(p, line)) != NULL; p += n)
		if ((p == unit || p[-1] == '\n') && (p[n] == '\n' || p[n] == '\0'))
			return true;
	return false;
}

static void
expect_file(const char *root, const char *rel, bool executable)
{
	char path[PATH_MAX];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
		fail_msg("not installed: %s", path);
	if (executable && !(st.st_mode & S_IXUSR))
		fail_msg("not executable: %s", path);
}

static void
expect_same(const char *installed, const char *source_rel)
{
	char src[PATH_MAX];
	char *a, *b;

	snprintf(src, sizeof(src), "%s/%s", tsproc_source_dir(), source_rel);
	a = tsfile_read(installed, NULL);
	b = tsfile_read(src, NULL);
	assert_non_null(a);
	assert_non_null(b);
	if (strcmp(a, b) != 0)
		fail_msg("%s differs from %s", installed, src);
	free(a);
	free(b);
}

/* nftw callback: counts files outside stray_allowed. */
static int stray_files;
static const char *stray_allowed;

static int
check_stray(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag == FTW_F && strncmp(path, stray_allowed, strlen(stray_allowed)) != 0) {
		fprintf(stderr, "installed outside the prefix: %s\n", path);
		stray_files++;
	}
	return 0;
}

/* --prefix /usr with DESTDIR: every file lands where the unit and the docs say. */
static void
test_install_destdir(void **state)
{
	char dest[1024], usr[1100], path[PATH_MAX];
	char *unit, *exec, *doc;
	cmd_out_t r;

	(void)state;
	assert_true(tscmd_scratch_dir(dest, sizeof(dest), "destdir"));
	cmake_install("/usr", dest);
	snprintf(usr, sizeof(usr), "%s/usr", dest);

	expect_file(usr, "bin/ticketsyncd", true);
	expect_file(usr, "bin/ticketsyncctl", true);
	snprintf(path, sizeof(path), "%s/" UNIT_REL, usr);
	if (access(path, F_OK) != 0)
		fail_msg("%s was not installed: is include(deploy/install.cmake) missing from "
		    "CMakeLists.txt (or the build not reconfigured since)?", path);
	expect_file(usr, TEMPLATE_REL, false);
	expect_file(usr, "lib/sysusers.d/ticketsync.conf", false);
	expect_file(usr, "lib/tmpfiles.d/ticketsync.conf", false);
	expect_file(usr, "share/doc/ticketsync/ticketsync.ini.example", false);
	expect_file(usr, "share/doc/ticketsync/OPERATIONS.md", false);
	expect_file(usr, "share/doc/ticketsync/CONFIGURATION.md", false);
	expect_file(usr, "share/ticketsync/extrahop/ticketsync-trigger.js", false);
	expect_file(usr, "share/ticketsync/extrahop/README.md", false);
	expect_file(usr, "share/ticketsync/prometheus/ticketsync-rules.yml", false);
	expect_file(usr, "share/ticketsync/grafana/ticketsync-dashboard.json", false);
	{
		static const char *const schemas[] = { "detections", "tickets", "ticketsync_audit",
			"ticketsync_checkpoints", "ticketsync_state", NULL };

		for (size_t i = 0; schemas[i] != NULL; i++) {
			char rel[128], src[128];

			snprintf(rel, sizeof(rel), "share/ticketsync/schema/%s.json", schemas[i]);
			snprintf(src, sizeof(src), "schema/%s.json", schemas[i]);
			expect_file(usr, rel, false);
			snprintf(path, sizeof(path), "%s/%s", usr, rel);
			expect_same(path, src);
		}
	}
	snprintf(path, sizeof(path), "%s/share/doc/ticketsync/ticketsync.ini.example", usr);
	expect_same(path, "deploy/ticketsync.ini.example");
	snprintf(path, sizeof(path), "%s/share/ticketsync/extrahop/ticketsync-trigger.js", usr);
	expect_same(path, "deploy/extrahop/ticketsync-trigger.js");
	snprintf(path, sizeof(path), "%s/lib/sysusers.d/ticketsync.conf", usr);
	expect_same(path, "deploy/systemd/ticketsync.sysusers");

	/* The unit names what was installed. */
	snprintf(path, sizeof(path), "%s/" UNIT_REL, usr);
	unit = tsfile_read(path, NULL);
	assert_non_null(unit);
	exec = tscmd_unit_value(unit, "ExecStart");
	assert_non_null(exec);
	assert_string_equal(exec, "/usr/bin/ticketsyncd -c /etc/ticketsync/ticketsync.ini");
	doc = tscmd_unit_value(unit, "Documentation");
	assert_non_null(doc);
	assert_string_equal(doc, "file:/usr/share/doc/ticketsync/OPERATIONS.md");
	snprintf(path, sizeof(path), "%s%s", dest, doc + strlen("file:"));
	assert_int_equal(access(path, R_OK), 0);
	free(doc);
	free(exec);
	free(unit);

	/* The installed binary runs. */
	snprintf(path, sizeof(path), "%s/bin/ticketsyncd", usr);
	{
		char *argv[] = { path, "--version", NULL };

		r = tscmd_run(argv, NULL, false);
		assert_true(tscmd_exited(&r, 0));
		assert_non_null(strstr(r.text, "ticketsyncd "));
		free(r.text);
	}

	/* Nothing outside the prefix. */
	stray_files = 0;
	stray_allowed = usr;
	nftw(dest, check_stray, 16, FTW_PHYS);
	assert_int_equal(stray_files, 0);
	tscmd_rm_tree(dest);
}

/* A plain prefix: the unit's paths follow it, and systemd-analyze verify accepts the
 * unit with no message at all (unknown keys only warn, so output counts as failure). */
static void
test_unit_verify(void **state)
{
	char prefix[1024], unit_path[PATH_MAX], bad_dir[1024], bad[PATH_MAX];
	char *tool = tscmd_in_path("systemd-analyze");
	char *unit, *exec, *broken, *p;
	cmd_out_t r;

	(void)state;
	if (tool == NULL) {
		printf("SKIP: systemd-analyze not found (Debian package: systemd)\n");
		skip();
		return;
	}
	assert_true(tscmd_scratch_dir(prefix, sizeof(prefix), "prefix"));
	cmake_install(prefix, NULL);
	snprintf(unit_path, sizeof(unit_path), "%s/" UNIT_REL, prefix);
	unit = tsfile_read(unit_path, NULL);
	if (unit == NULL)
		fail_msg("%s was not installed: is include(deploy/install.cmake) missing from "
		    "CMakeLists.txt?", unit_path);
	exec = tscmd_unit_value(unit, "ExecStart");
	assert_non_null(exec);
	assert_int_equal(strncmp(exec, prefix, strlen(prefix)), 0);
	{
		char *argv[] = { tool, "verify", unit_path, NULL };

		r = tscmd_run(argv, NULL, false);
		if (!tscmd_exited(&r, 0) || r.text[0] != '\0')
			fail_msg("systemd-analyze verify %s:\n%s", unit_path, r.text);
		free(r.text);
	}

	/* Negative control: a misspelt hardening key must be reported. */
	broken = strdup(unit);
	p = strstr(broken, "NoNewPrivileges=yes");
	assert_non_null(p);
	memcpy(p, "NoNewPrivilegez", strlen("NoNewPrivilegez"));
	assert_true(tscmd_scratch_dir(bad_dir, sizeof(bad_dir), "badunit"));
	snprintf(bad, sizeof(bad), "%s/ticketsyncd.service", bad_dir);
	assert_true(tscmd_write_file(bad, broken, 0644));
	{
		char *argv[] = { tool, "verify", bad, NULL };

		r = tscmd_run(argv, NULL, false);
		assert_non_null(strstr(r.text, "NoNewPrivilegez"));
		free(r.text);
	}
	tscmd_rm_tree(bad_dir);
	free(broken);
	free(exec);
	free(unit);

	/* The template, as an instance: the same unit with the tenant's own files. */
	snprintf(unit_path, sizeof(unit_path), "%s/" TEMPLATE_REL, prefix);
	unit = tsfile_read(unit_path, NULL);
	assert_non_null(unit);
	exec = tscmd_unit_value(unit, "ExecStart");
	assert_non_null(exec);
	assert_non_null(strstr(exec, " -c /etc/ticketsync/%i.ini"));
	assert_non_null(strstr(unit, "\nLoadCredential=extrahop_api_key:/etc/ticketsync/credentials/%i/extrahop_api_key\n"));
	assert_non_null(strstr(unit, "\nEnvironmentFile=-/etc/ticketsync/%i.env\n"));
	assert_non_null(strstr(unit, "\nEnvironment=TICKETSYNC_SERVICE_INSTANCE_ID=%H-%i\n"));
	/* every hardening line of the unit is there too */
	assert_non_null(strstr(unit, "\nProtectSystem=strict\n"));
	assert_non_null(strstr(unit, "\nSystemCallFilter=@system-service\n"));
	assert_non_null(strstr(unit, "\nType=notify\n"));
	assert_true(tscmd_scratch_dir(bad_dir, sizeof(bad_dir), "instance"));
	snprintf(bad, sizeof(bad), "%s/ticketsyncd@tenant-a.service", bad_dir);
	assert_true(tscmd_write_file(bad, unit, 0644));
	{
		char *argv[] = { tool, "verify", bad, NULL };

		r = tscmd_run(argv, NULL, false);
		if (!tscmd_exited(&r, 0) || r.text[0] != '\0')
			fail_msg("systemd-analyze verify %s:\n%s", bad, r.text);
		free(r.text);
	}
	tscmd_rm_tree(bad_dir);
	free(exec);
	free(unit);
	free(tool);
	tscmd_rm_tree(prefix);
}

static double
exposure(const char *tool, const char *unit_path)
{
	char *argv[] = { (char *)tool, "security", "--offline=yes", (char *)unit_path, NULL };
	cmd_out_t r = tscmd_run(argv, NULL, false);
	const char *p = strstr(r.text, "Overall exposure level for ticketsyncd.service: ");
	double v = -1;

	if (p == NULL || sscanf(p + strlen("Overall exposure level for ticketsyncd.service: "),
	        "%lf", &v) != 1)
		fail_msg("no exposure level from systemd-analyze security:\n%s", r.text);
	free(r.text);
	return v;
}

/* The hardening the deployment promises, line by line, and systemd's own score. */
static void
test_unit_hardening(void **state)
{
	static const char *const lines[] = {
		"User=ticketsync",
		"Group=ticketsync",
		"ExecStart=/usr/bin/ticketsyncd -c /etc/ticketsync/ticketsync.ini",
		"LoadCredential=extrahop_api_key:/etc/ticketsync/credentials/extrahop_api_key",
		"Environment=TICKETSYNC_EXTRAHOP_API_KEY_FILE=%d/extrahop_api_key",
		"Restart=on-failure",
		"RestartPreventExitStatus=2",
		"NoNewPrivileges=yes",
		"ProtectSystem=strict",
		"ProtectHome=yes",
		"PrivateTmp=yes",
		"PrivateDevices=yes",
		"RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
		"CapabilityBoundingSet=",
		"SystemCallFilter=@system-service",
		"MemoryDenyWriteExecute=yes",
		"LockPersonality=yes",
		"RestrictNamespaces=yes",
		"ProtectKernelTunables=yes",
		"ProtectKernelModules=yes",
		"ProtectKernelLogs=yes",
		"ProtectControlGroups=yes",
		"UMask=0077",
		NULL,
	};
	char src[PATH_MAX], dir[PATH_MAX], copy[PATH_MAX + 32];
	char *unit, *tool, *stripped, *cut, *install;
	double good, weak;

	(void)state;
	snprintf(src, sizeof(src), "%s/deploy/systemd/ticketsyncd.service", tsproc_source_dir());
	unit = tsfile_read(src, NULL);
	assert_non_null(unit);
	for (size_t i = 0; lines[i] != NULL; i++)
		if (!unit_has_line(unit, lines[i]))
			fail_msg("ticketsyncd.service lacks the line \"%s\"", lines[i]);
	/* No secret in the unit or its environment. */
	assert_null(strstr(unit, "TICKETSYNC_EXTRAHOP_API_KEY="));
	assert_null(strstr(unit, "OAUTH_CLIENT_SECRET="));

	tool = tscmd_in_path("systemd-analyze");
	if (tool == NULL) {
		free(unit);
		printf("SKIP: systemd-analyze not found (Debian package: systemd)\n");
		skip();
		return;
	}
	assert_true(tscmd_scratch_dir(dir, sizeof(dir), "security"));
	snprintf(copy, sizeof(copy), "%s/ticketsyncd.service", dir);
	assert_true(tscmd_write_file(copy, unit, 0644));
	good = exposure(tool, copy);
	printf("systemd-analyze security: exposure %.1f (0 best, 10 worst)\n", good);
	assert_true(good >= 0 && good < EXPOSURE_MAX);

	/* Negative control: the same unit without its hardening block scores worse than
	 * the limit, so the limit measures something. */
	stripped = strdup(unit);
	cut = strstr(stripped, "\n# Hardening");
	install = strstr(unit, "\n[Install]");
	assert_non_null(cut);
	assert_non_null(install);
	strcpy(cut, install);
	assert_true(tscmd_write_file(copy, stripped, 0644));
	weak = exposure(tool, copy);
	printf("without the hardening block: exposure %.1f\n", weak);
	assert_true(weak > EXPOSURE_MAX);
	free(stripped);
	tscmd_rm_tree(dir);
	free(tool);
	free(unit);
}

/* The unit's Environment= lines, %d expanded, are accepted by the daemon's
 * configuration together with the example config: the credential arrives as
 * api_key_file=%d/extrahop_api_key. */
static void
test_unit_environment_reaches_daemon(void **state)
{
	char src[PATH_MAX], creds[PATH_MAX], key[PATH_MAX + 32], daemon[PATH_MAX], example[PATH_MAX];
	char *unit, *envs[16] = { 0 };
	size_t n = 0;
	cmd_out_t r;

	(void)state;
	snprintf(src, sizeof(src), "%s/deploy/systemd/ticketsyncd.service", tsproc_source_dir());
	snprintf(daemon, sizeof(daemon), "%s/ticketsyncd", tsproc_bin_dir());
	snprintf(example, sizeof(example), "%s/deploy/ticketsync.ini.example", tsproc_source_dir());
	unit = tsfile_read(src, NULL);
	assert_non_null(unit);
	assert_true(tscmd_scratch_dir(creds, sizeof(creds), "credentials"));
	/* systemd's credentials directory holds a read-only copy. */
	snprintf(key, sizeof(key), "%s/extrahop_api_key", creds);
	assert_true(tscmd_write_file(key, "k3y-from-credential\n", 0400));

	for (const char *line = unit; line != NULL && *line != '\0';) {
		const char *eol = strchr(line, '\n');
		size_t len = eol ? (size_t)(eol - line) : strlen(line);

		if (strncmp(line, "Environment=", 12) == 0) {
			char raw[512], *d, expanded[PATH_MAX + 512];

			snprintf(raw, sizeof(raw), "%.*s", (int)(len - 12), line + 12);
			d = strstr(raw, "%d");
			if (d != NULL) {
				*d = '\0';
				snprintf(expanded, sizeof(expanded), "%s%s%s", raw, creds, d + 2);
			} else {
				snprintf(expanded, sizeof(expanded), "%s", raw);
			}
			assert_true(n < 14);
			envs[n++] = strdup(expanded);
		}
		line = eol ? eol + 1 : NULL;
	}
	assert_true(n >= 1);
	envs[n] = strdup("TICKETSYNC_EXTRAHOP_URL=https://extrahop.example.com");
	{
		char *argv[] = { daemon, "--check-config", "-c", example, NULL };

		r = tscmd_run(argv, envs, true);
		if (!tscmd_exited(&r, 0))
			fail_msg("ticketsyncd --check-config with the unit's environment:\n%s", r.text);
		assert_null(strstr(r.text, "warn"));
		free(r.text);
	}
	/* Negative control: a credential path that does not exist is an error. */
	free(envs[0]);
	envs[0] = strdup("TICKETSYNC_EXTRAHOP_API_KEY_FILE=/nonexistent/extrahop_api_key");
	{
		char *argv[] = { daemon, "--check-config", "-c", example, NULL };

		r = tscmd_run(argv, envs, true);
		assert_true(tscmd_exited(&r, 2));
		assert_non_null(strstr(r.text, "TICKETSYNC_EXTRAHOP_API_KEY_FILE"));
		free(r.text);
	}
	for (size_t i = 0; i <= n; i++)
		free(envs[i]);
	chmod(key, 0600);
	tscmd_rm_tree(creds);
	free(unit);
}

/* sysusers.d and tmpfiles.d applied to a scratch root: the account and the
 * directories with their modes and group. */
static void
test_sysusers_tmpfiles(void **state)
{
	char root[PATH_MAX], conf_u[PATH_MAX], conf_t[PATH_MAX], root_opt[PATH_MAX + 8];
	char etc[PATH_MAX + 8], path[PATH_MAX + 64];
	char *sysusers = tscmd_in_path("systemd-sysusers"), *tmpfiles = tscmd_in_path("systemd-tmpfiles");
	char *passwd, *group, *line;
	unsigned gid = 0;
	struct stat st;
	cmd_out_t r;

	(void)state;
	if (sysusers == NULL || tmpfiles == NULL) {
		free(sysusers);
		free(tmpfiles);
		printf("SKIP: systemd-sysusers/systemd-tmpfiles not found (Debian package: systemd)\n");
		skip();
		return;
	}
	snprintf(conf_u, sizeof(conf_u), "%s/deploy/systemd/ticketsync.sysusers", tsproc_source_dir());
	snprintf(conf_t, sizeof(conf_t), "%s/deploy/systemd/ticketsync.tmpfiles", tsproc_source_dir());
	assert_true(tscmd_scratch_dir(root, sizeof(root), "sysroot"));
	snprintf(etc, sizeof(etc), "%s/etc", root);
	assert_int_equal(mkdir(etc, 0755), 0);
	snprintf(root_opt, sizeof(root_opt), "--root=%s", root);
	{
		char *argv[] = { sysusers, root_opt, conf_u, NULL };

		r = tscmd_run(argv, NULL, false);
		if (!tscmd_exited(&r, 0))
			fail_msg("systemd-sysusers:\n%s", r.text);
		free(r.text);
	}
	snprintf(path, sizeof(path), "%s/passwd", etc);
	passwd = tsfile_read(path, NULL);
	snprintf(path, sizeof(path), "%s/group", etc);
	group = tsfile_read(path, NULL);
	assert_non_null(passwd);
	assert_non_null(group);
	line = strstr(passwd, "ticketsync:x:");
	assert_non_null(line);
	assert_non_null(strstr(line, ":/usr/sbin/nologin"));
	line = strstr(group, "ticketsync:x:");
	assert_non_null(line);
	assert_int_equal(sscanf(line, "ticketsync:x:%u:", &gid), 1);
	{
		char *argv[] = { tmpfiles, root_opt, "--create", conf_t, NULL };

		r = tscmd_run(argv, NULL, false);
		if (!tscmd_exited(&r, 0))
			fail_msg("systemd-tmpfiles:\n%s", r.text);
		free(r.text);
	}
	snprintf(path, sizeof(path), "%s/ticketsync", etc);
	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0750);
	assert_int_equal(st.st_uid, 0);
	assert_int_equal(st.st_gid, gid);
	snprintf(path, sizeof(path), "%s/ticketsync/credentials", etc);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	assert_int_equal(st.st_gid, 0);
	free(passwd);
	free(group);
	free(sysusers);
	free(tmpfiles);
	tscmd_rm_tree(root);
}

/* check.py's option for each file it reads (a broken copy replaces that file). */
static const char *
container_option(const char *file)
{
	static const char *const opts[][2] = {
		{ "Dockerfile", "--dockerfile" },
		{ "compose.yaml", "--compose" },
		{ "compose.secure.yaml", "--compose-secure" },
		{ "README.md", "--readme" },
		{ "make-secrets.sh", "--secrets-script" },
		{ "mongo-init/ticketsync-user.js", "--mongo-init" },
	};

	for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++)
		if (strcmp(opts[i][0], file) == 0)
			return opts[i][1];
	fail_msg("check.py takes no option for %s: update this test", file);
	return NULL;
}

/* check.py on deploy/container, with `file` (NULL: none) replaced by `path`. */
static cmd_out_t
container_check(const char *python, const char *file, const char *path)
{
	char script[PATH_MAX], daemon[PATH_MAX], ctl[PATH_MAX], dir[PATH_MAX];
	char *argv[24];
	int n = 0;

	snprintf(script, sizeof(script), "%s/deploy/container/check.py", tsproc_source_dir());
	snprintf(daemon, sizeof(daemon), "%s/ticketsyncd", tsproc_bin_dir());
	snprintf(ctl, sizeof(ctl), "%s/ticketsyncctl", tsproc_bin_dir());
	snprintf(dir, sizeof(dir), "%s/deploy/container", tsproc_source_dir());
	argv[n++] = (char *)python;
	argv[n++] = script;
	argv[n++] = "--binary";
	argv[n++] = daemon;
	argv[n++] = "--binary";
	argv[n++] = ctl;
	argv[n++] = "--daemon";
	argv[n++] = daemon;
	argv[n++] = "--ctl";
	argv[n++] = ctl;
	argv[n++] = "--node";
	argv[n++] = getenv("TICKETSYNC_TEST_NODE") ? getenv("TICKETSYNC_TEST_NODE") : "node";
	argv[n++] = "--compose-dir";
	argv[n++] = dir;
	if (file != NULL) {
		argv[n++] = (char *)container_option(file);
		argv[n++] = (char *)path;
	}
	argv[n] = NULL;
	return tscmd_run(argv, NULL, false);
}

/* A copy of deploy/container/<name> with one edit; the edit must apply. */
static void
broken_copy(const char *name, const char *from, const char *to, const char *out)
{
	char src[PATH_MAX];
	char *text, *p, *edited;

	snprintf(src, sizeof(src), "%s/deploy/container/%s", tsproc_source_dir(), name);
	text = tsfile_read(src, NULL);
	assert_non_null(text);
	p = strstr(text, from);
	if (p == NULL)
		fail_msg("%s no longer contains \"%s\": update this test", name, from);
	edited = calloc(1, strlen(text) - strlen(from) + strlen(to) + 1);
	memcpy(edited, text, (size_t)(p - text));
	strcat(edited, to);
	strcat(edited, p + strlen(from));
	assert_true(tscmd_write_file(out, edited, 0644));
	free(edited);
	free(text);
}

static void
test_container_files(void **state)
{
	static const struct {
		const char *file, *from, *to, *expect;
	} broken[] = {
		{ "Dockerfile", "USER 10001:10001", "USER root", "runs as root" },
		{ "Dockerfile", "libinih1 libcsv3", "libcsv3", "lacks libinih1" },
		{ "Dockerfile", "libinih-dev ", "", "lacks libinih-dev" },
		{ "compose.yaml", "\"--replSet\", \"rs0\", ", "", "--replSet" },
		{ "compose.yaml", "TICKETSYNC_EXTRAHOP_API_KEY_FILE", "TICKETSYNC_EXTRAHOP_APIKEY_FILE",
		  "TICKETSYNC_EXTRAHOP_APIKEY_FILE" },
		{ "compose.yaml", "condition: service_completed_successfully", "condition: service_started",
		  "ticketsync-init to complete" },
		/* The locally built image is never pulled. */
		{ "compose.yaml", "    pull_policy: never\n", "",
		  "ticketsyncd uses the locally built image ticketsync:latest without build: or pull_policy" },
		{ "compose.secure.yaml", "    pull_policy: never\n", "",
		  "ticketsyncd uses the locally built image ticketsync:latest without build: or pull_policy" },
		/* Every ticketsync container is hardened (the first match is ticketsync-init's). */
		{ "compose.yaml", "    read_only: true\n", "", "ticketsync-init lacks read_only: true" },
		{ "compose.yaml", "    cap_drop: [ALL]\n", "", "ticketsync-init lacks cap_drop: [ALL]" },
		{ "compose.secure.yaml", "    security_opt: [\"no-new-privileges:true\"]\n", "",
		  "ticketsync-init lacks security_opt" },
		/* Which variant is which; MongoDB as docs/OPERATIONS.md recommends. */
		{ "compose.yaml", "replica set: the local EVALUATION variant.", "replica set.",
		  "does not say it is the evaluation variant" },
		{ "compose.yaml", "\"--oplogMinRetentionHours\", \"96\"",
		  "\"--setParameter\", \"oplogMinRetentionHours=96\"", "is not a server parameter" },
		{ "compose.secure.yaml", "      - --oplogMinRetentionHours\n      - \"96\"\n", "",
		  "mongo runs without --oplogMinRetentionHours" },
		{ "compose.secure.yaml", "      - --auth\n", "", "mongo runs without --auth" },
		{ "compose.secure.yaml", "      - --keyFile\n      - /run/secrets/mongo_keyfile\n", "",
		  "mongo runs without --keyFile" },
		{ "make-secrets.sh", "random 756", "random 2000", "does not hold 6 to 1024 base64 characters" },
		{ "compose.secure.yaml", "MONGO_INITDB_ROOT_PASSWORD_FILE: /run/secrets/mongo_root_password",
		  "MONGO_INITDB_ROOT_PASSWORD: example", "mongo sets MONGO_INITDB_ROOT_PASSWORD inline" },
		{ "compose.secure.yaml", "db.getSiblingDB('admin').auth(", "db.auth(",
		  "it must log in to admin first" },
		{ "compose.secure.yaml",
		  "      TICKETSYNC_MONGODB_DATABASE: extrahop\n      TICKETSYNC_EXTRAHOP_URL",
		  "      TICKETSYNC_MONGODB_DATABASE: extrahop\n"
		  "      TICKETSYNC_MONGODB_URI: mongodb://mongo:27017/?replicaSet=rs0\n"
		  "      TICKETSYNC_EXTRAHOP_URL",
		  "ticketsyncd sets TICKETSYNC_MONGODB_URI, which overrides the -c file" },
		{ "compose.secure.yaml", "      - ticketsync_mongodb_ini\n    depends_on", "    depends_on",
		  "ticketsync-init reads /run/secrets/ticketsync_mongodb_ini, a secret it does not mount" },
		{ "compose.secure.yaml", "file: ./secrets/mongo_keyfile", "file: ./secrets/mongo_key",
		  "which make-secrets.sh does not make" },
		{ "compose.secure.yaml", "name: ticketsync-secure", "name: ticketsync", "own project names" },
		{ "make-secrets.sh", "authSource=admin", "authSource=extrahop",
		  "ticketsyncd's -c file authenticates against extrahop" },
		{ "mongo-init/ticketsync-user.js", "\t\t{ role: 'dbAdmin', db: database },\n", "",
		  "does not grant dbAdmin on extrahop" },
		{ "mongo-init/ticketsync-user.js", "user: 'ticketsync'", "user: 'ticketsyncd'",
		  "ticketsyncd's -c file logs in as another user" },
		/* ticketsyncctl inside the compose network, with the service's -c file. */
		{ "README.md", "docker compose run --rm ticketsync-init status",
		  "docker compose run --rm ticketsync-init stauts", "ticketsyncctl refuses `stauts`" },
		{ "README.md", "run --rm ticketsync-init -c /run/secrets/ticketsync_mongodb_ini status",
		  "run --rm ticketsync-init status", "without -c /run/secrets/ticketsync_mongodb_ini" },
		/* No host-side chown to a container uid (wrong with a rootless engine). */
		{ "README.md", "./make-secrets.sh                                 # asks",
		  "sudo chown 10001 secrets/extrahop_api_key  # asks", "chowns a file on the host" },
		{ "compose.yaml", "#   ./make-secrets.sh", "#   sudo chown 10001 secrets/extrahop_api_key",
		  "chowns a file on the host" },
	};
	char *python = tscmd_in_path("python3");
	char dir[PATH_MAX], copy[PATH_MAX + 32];
	cmd_out_t r;

	(void)state;
	if (python == NULL) {
		printf("SKIP: python3 not found\n");
		skip();
		return;
	}
	r = container_check(python, NULL, NULL);
	if (tscmd_exited(&r, 3)) {
		printf("SKIP: %s", r.text);
		free(r.text);
		free(python);
		skip();
		return;
	}
	printf("%s", r.text);
	if (!tscmd_exited(&r, 0))
		fail_msg("check.py refuses deploy/container");
	free(r.text);

	assert_true(tscmd_scratch_dir(dir, sizeof(dir), "container"));
	for (size_t i = 0; i < sizeof(broken) / sizeof(broken[0]); i++) {
		const char *base = strrchr(broken[i].file, '/');

		snprintf(copy, sizeof(copy), "%s/%s", dir, base != NULL ? base + 1 : broken[i].file);
		broken_copy(broken[i].file, broken[i].from, broken[i].to, copy);
		r = container_check(python, broken[i].file, copy);
		if (!tscmd_exited(&r, 1) || strstr(r.text, broken[i].expect) == NULL)
			fail_msg("check.py on %s with \"%s\" -> \"%s\": expected a failure mentioning "
			    "\"%s\", got:\n%s", broken[i].file, broken[i].from, broken[i].to,
			    broken[i].expect, r.text);
		free(r.text);
	}
	tscmd_rm_tree(dir);
	free(python);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_install_destdir),
		cmocka_unit_test(test_unit_verify),
		cmocka_unit_test(test_unit_hardening),
		cmocka_unit_test(test_unit_environment_reaches_daemon),
		cmocka_unit_test(test_sysusers_tmpfiles),
		cmocka_unit_test(test_container_files),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
