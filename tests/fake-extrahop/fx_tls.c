/* fx_tls: per-run CA and server certificate, generated with OpenSSL 3. */
#include "fx_tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

static void
fx_tls_error(bson_error_t *error, const char *what)
{
	char buf[256];
	unsigned long e = ERR_get_error();

	ERR_error_string_n(e, buf, sizeof(buf));
	bson_set_error(error, 2, 1, "%s: %s", what, e ? buf : "unknown OpenSSL error");
	ERR_clear_error();
}

static int
fx_tls_add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX v3;
	X509_EXTENSION *ext;
	int ok;

	X509V3_set_ctx_nodb(&v3);
	X509V3_set_ctx(&v3, issuer, cert, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
	if (ext == NULL)
		return -1;
	ok = X509_add_ext(cert, ext, -1);
	X509_EXTENSION_free(ext);
	return ok ? 0 : -1;
}

/* issuer NULL: self-signed CA. */
static X509 *
fx_tls_make_cert(EVP_PKEY *key, const char *cn, X509 *issuer, EVP_PKEY *issuer_key,
    const char *san)
{
	X509 *x = X509_new();
	BIGNUM *serial = BN_new();
	X509_NAME *name;
	bool ca = (issuer == NULL);

	if (x == NULL || serial == NULL)
		goto fail;
	if (!X509_set_version(x, 2) || !BN_rand(serial, 63, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) ||
	    BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(x)) == NULL)
		goto fail;
	/* An hour back covers clock skew between the test and this process. */
	if (X509_gmtime_adj(X509_getm_notBefore(x), -3600) == NULL ||
	    X509_gmtime_adj(X509_getm_notAfter(x), 30L * 86400) == NULL ||
	    !X509_set_pubkey(x, key))
		goto fail;
	name = X509_get_subject_name(x);
	if (!X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
		(const unsigned char *)"ticketsync fake ExtraHop", -1, -1, 0) ||
	    !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn,
		-1, -1, 0))
		goto fail;
	if (!X509_set_issuer_name(x, ca ? name : X509_get_subject_name(issuer)))
		goto fail;
	if (ca) {
		if (fx_tls_add_ext(x, x, NID_basic_constraints, "critical,CA:TRUE,pathlen:0") ||
		    fx_tls_add_ext(x, x, NID_key_usage, "critical,keyCertSign,cRLSign") ||
		    fx_tls_add_ext(x, x, NID_subject_key_identifier, "hash"))
			goto fail;
	} else {
		if (fx_tls_add_ext(x, issuer, NID_basic_constraints, "critical,CA:FALSE") ||
		    fx_tls_add_ext(x, issuer, NID_key_usage, "critical,digitalSignature") ||
		    fx_tls_add_ext(x, issuer, NID_ext_key_usage, "serverAuth") ||
		    fx_tls_add_ext(x, issuer, NID_subject_alt_name, san) ||
		    fx_tls_add_ext(x, issuer, NID_subject_key_identifier, "hash") ||
		    fx_tls_add_ext(x, issuer, NID_authority_key_identifier, "keyid:always"))
			goto fail;
	}
	if (X509_sign(x, ca ? key : issuer_key, EVP_sha256()) <= 0)
		goto fail;
	BN_free(serial);
	return x;
fail:
	BN_free(serial);
	X509_free(x);
	return NULL;
}

static int
fx_tls_write(const char *path, mode_t mode, X509 *cert, EVP_PKEY *key, bson_error_t *error)
{
	FILE *f;
	int fd, ok;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0 || (f = fdopen(fd, "w")) == NULL) {
		bson_set_error(error, 2, 2, "%s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (cert != NULL)
		ok = PEM_write_X509(f, cert);
	else
		ok = PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL);
	if (fclose(f) != 0)
		ok = 0;
	if (!ok) {
		bson_set_error(error, 2, 3, "%s: write failed", path);
		return -1;
	}
	return 0;
}

SSL_CTX *
fx_tls_setup(const char *dir, const char *extra_ip, char *ca_file, size_t ca_file_len,
    bson_error_t *error)
{
	EVP_PKEY *ca_key = NULL, *srv_key = NULL;
	X509 *ca = NULL, *srv = NULL;
	SSL_CTX *ctx = NULL;
	char path[4096], san[256];
	unsigned char addr[16];

	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		bson_set_error(error, 2, 4, "%s: %s", dir, strerror(errno));
		goto cleanup;
	}
	snprintf(san, sizeof(san), "IP:127.0.0.1,DNS:localhost");
	if (extra_ip != NULL && strcmp(extra_ip, "127.0.0.1") != 0 &&
	    strcmp(extra_ip, "0.0.0.0") != 0 && strcmp(extra_ip, "::") != 0 &&
	    (inet_pton(AF_INET, extra_ip, addr) == 1 || inet_pton(AF_INET6, extra_ip, addr) == 1))
		snprintf(san + strlen(san), sizeof(san) - strlen(san), ",IP:%s", extra_ip);

	ca_key = EVP_EC_gen("P-256");
	srv_key = EVP_EC_gen("P-256");
	if (ca_key == NULL || srv_key == NULL) {
		fx_tls_error(error, "generating EC keys");
		goto cleanup;
	}
	ca = fx_tls_make_cert(ca_key, "ticketsync fake ExtraHop test CA", NULL, NULL, NULL);
	srv = ca ? fx_tls_make_cert(srv_key, "localhost", ca, ca_key, san) : NULL;
	if (srv == NULL) {
		fx_tls_error(error, "making certificates");
		goto cleanup;
	}
	snprintf(path, sizeof(path), "%s/ca.pem", dir);
	if (fx_tls_write(path, 0644, ca, NULL, error) != 0)
		goto cleanup;
	snprintf(ca_file, ca_file_len, "%s", path);
	snprintf(path, sizeof(path), "%s/server.pem", dir);
	if (fx_tls_write(path, 0644, srv, NULL, error) != 0)
		goto cleanup;
	snprintf(path, sizeof(path), "%s/server-key.pem", dir);
	if (fx_tls_write(path, 0600, NULL, srv_key, error) != 0)
		goto cleanup;

	ctx = SSL_CTX_new(TLS_server_method());
	if (ctx == NULL || !SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) ||
	    SSL_CTX_use_certificate(ctx, srv) != 1 || SSL_CTX_use_PrivateKey(ctx, srv_key) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		fx_tls_error(error, "server TLS context");
		SSL_CTX_free(ctx);
		ctx = NULL;
		goto cleanup;
	}
	/* Clients that vanish without close_notify are normal here (timeouts, kills). */
	SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
cleanup:
	X509_free(ca);
	X509_free(srv);
	EVP_PKEY_free(ca_key);
	EVP_PKEY_free(srv_key);
	return ctx;
}
