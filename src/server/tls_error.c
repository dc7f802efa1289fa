/*
 * tls_error — OpenSSL's last error as one short line, for the logs and
 * for JSON bodies (the server's TLS port and the upstream client share
 * it). It drains the thread's error queue, so a stale error never leaks
 * into the next connection's report.
 */
#include <openssl/err.h>
#include <stdio.h>

#include "tls.h"

void sg__tls_error_text(char *out, size_t outlen, const char *fallback)
{
	unsigned long e = ERR_peek_last_error();
	if (!outlen)
		return;
	if (e)
		ERR_error_string_n(e, out, outlen);
	else
		snprintf(out, outlen, "%s", fallback);
	ERR_clear_error();
	for (char *p = out; *p; p++) /* safe inside a JSON string */
		if (*p == '"' || *p == '\\' || (unsigned char)*p < 0x20)
			*p = '\'';
}
