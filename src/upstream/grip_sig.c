/*
 * grip_sig — the Grip-Sig header on requests to a backend: a JWT (HS256)
 * signed with the upstream's grip_key, so the backend can tell a request
 * came through the proxy (Pushpin's claims: iss "pushpin", exp).
 */
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <string.h>

#include "grip.h"

/* base64url without padding of in[0..n) appended to out. */
static int b64url(sg_buf *out, const unsigned char *in, size_t n)
{
	size_t room = (n + 2) / 3 * 4 + 1;
	if (sg_buf_reserve(out, room))
		return SG_ENOMEM;
	char *p = out->data + out->len;
	int m = EVP_EncodeBlock((unsigned char *)p, in, (int)n);
	while (m > 0 && p[m - 1] == '=')
		m--;
	for (int i = 0; i < m; i++)
		p[i] = p[i] == '+' ? '-' : p[i] == '/' ? '_' : p[i];
	out->len += (size_t)m;
	out->data[out->len] = '\0';
	return 0;
}

int sg_grip_sig_header(sg_buf *out, const char *key, size_t keylen, long long now_s)
{
	static const char header[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
	char claims[96];
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	int n =
	    snprintf(claims, sizeof(claims), "{\"iss\":\"pushpin\",\"exp\":%lld}", now_s + 3600);
	size_t start;
	if (sg_buf_puts(out, "Grip-Sig: "))
		return SG_ENOMEM;
	start = out->len;
	if (b64url(out, (const unsigned char *)header, sizeof(header) - 1) ||
	    sg_buf_puts(out, ".") || b64url(out, (const unsigned char *)claims, (size_t)n))
		return SG_ENOMEM;
	if (!HMAC(EVP_sha256(), key, (int)keylen, (const unsigned char *)out->data + start,
	          out->len - start, mac, &maclen))
		return SG_ENOMEM;
	if (sg_buf_puts(out, ".") || b64url(out, mac, maclen) || sg_buf_puts(out, "\r\n"))
		return SG_ENOMEM;
	return 0;
}
