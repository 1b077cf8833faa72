/*
 * fx_tls: a throw-away CA and a server certificate for one run of the fake, made in
 * process with OpenSSL (EC P-256, so it takes milliseconds), written to a directory
 * (ca.pem is what clients pass as their CA file), and the server SSL_CTX using them.
 */
#ifndef FX_TLS_H
#define FX_TLS_H

#include <bson/bson.h>
#include <openssl/ssl.h>

/*
 * Generate the CA and a server certificate whose SAN is IP 127.0.0.1, DNS localhost
 * (plus extra_ip when it is a literal address other than those), write
 * dir/ca.pem, dir/server.pem, dir/server-key.pem (0600), and return a server context.
 * ca_file receives dir/ca.pem. NULL with a message on error.
 */
SSL_CTX *fx_tls_setup(const char *dir, const char *extra_ip, char *ca_file,
    size_t ca_file_len, bson_error_t *error);

#endif
