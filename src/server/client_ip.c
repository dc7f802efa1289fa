/*
 * client_ip — addresses, CIDR lists and X-Forwarded-For. Every input here
 * may come from a client: lengths are bounded before anything is copied.
 */
#include "client_ip.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "request.h"
#include "streamgate.h"

static const unsigned char v4_mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

static int is_v4(const sg_ip *ip)
{
	return memcmp(ip->b, v4_mapped, sizeof(v4_mapped)) == 0;
}

/* Nonzero when p[0..n) is ":" and 1 to 5 digits. */
static int is_port(const char *p, size_t n)
{
	if (n < 2 || n > 6 || p[0] != ':')
		return 0;
	for (size_t i = 1; i < n; i++)
		if (p[i] < '0' || p[i] > '9')
			return 0;
	return 1;
}

/* text[0..n) without a port: "[v6]:port", "[v6]", "v4:port", or as is. */
static int strip_port(const char *text, size_t n, char *out, size_t outlen)
{
	const char *start = text, *end = text + n;
	if (n && text[0] == '[') {
		const char *close = memchr(text, ']', n);
		if (!close || (close + 1 != end && !is_port(close + 1, (size_t)(end - close - 1))))
			return SG_EINVAL;
		start = text + 1;
		end = close;
	} else {
		const char *colon = memchr(text, ':', n);
		if (colon && !memchr(colon + 1, ':', (size_t)(end - colon - 1))) {
			if (!is_port(colon, (size_t)(end - colon)))
				return SG_EINVAL;
			end = colon; /* one colon: an IPv4 address and its port */
		}
	}
	if ((size_t)(end - start) >= outlen || end == start)
		return SG_EINVAL;
	memcpy(out, start, (size_t)(end - start));
	out[end - start] = '\0';
	return 0;
}

/* s is exactly an address, nothing around it. */
static int ip_pton(const char *s, sg_ip *out)
{
	struct in_addr a4;
	if (inet_pton(AF_INET, s, &a4) == 1) {
		memcpy(out->b, v4_mapped, sizeof(v4_mapped));
		memcpy(out->b + 12, &a4, 4);
		return 0;
	}
	return inet_pton(AF_INET6, s, out->b) == 1 ? 0 : SG_EINVAL;
}

int sg__ip_parse(const char *text, size_t n, sg_ip *out)
{
	char s[SG_IP_TEXT_MAX];
	return strip_port(text, n, s, sizeof(s)) ? SG_EINVAL : ip_pton(s, out);
}

void sg__ip_from_sockaddr(const struct sockaddr *sa, sg_ip *out)
{
	memset(out, 0, sizeof(*out));
	if (sa->sa_family == AF_INET) {
		memcpy(out->b, v4_mapped, sizeof(v4_mapped));
		memcpy(out->b + 12, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4);
	} else if (sa->sa_family == AF_INET6) {
		memcpy(out->b, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, 16);
	}
}

void sg__ip_format(const sg_ip *ip, char out[SG_IP_TEXT_MAX])
{
	if (!inet_ntop(is_v4(ip) ? AF_INET : AF_INET6, is_v4(ip) ? ip->b + 12 : ip->b, out,
		       SG_IP_TEXT_MAX))
		strcpy(out, "?");
}

/* One list entry, trimmed: "ADDR" or "ADDR/BITS" (BITS of IPv4 count
 * from the mapped prefix's 96). */
static int cidr_parse(const char *p, size_t n, sg_cidr *c)
{
	const char *slash = memchr(p, '/', n);
	size_t alen = slash ? (size_t)(slash - p) : n;
	char addr[SG_IP_TEXT_MAX];
	if (alen >= sizeof(addr))
		return SG_EINVAL;
	memcpy(addr, p, alen);
	addr[alen] = '\0';
	if (ip_pton(addr, &c->net))
		return SG_EINVAL;
	unsigned max = strchr(addr, ':') ? 128 : 32, bits = max;
	if (slash) {
		char digits[4] = {0};
		size_t dn = n - alen - 1;
		if (!dn || dn > 3)
			return SG_EINVAL;
		for (size_t i = 0; i < dn; i++)
			if (slash[1 + i] < '0' || slash[1 + i] > '9')
				return SG_EINVAL;
		memcpy(digits, slash + 1, dn);
		bits = (unsigned)atoi(digits);
		if (bits > max)
			return SG_EINVAL;
	}
	c->bits = (unsigned char)(bits + (max == 32 ? 96 : 0));
	return 0;
}

int sg__cidr_list_parse(const char *text, sg_cidr_list *out, char *err, size_t errlen)
{
	*out = (sg_cidr_list){0};
	size_t cap = 1;
	for (const char *p = text; *p; p++)
		cap += *p == ',';
	if (!(out->v = calloc(cap, sizeof(*out->v))))
		return SG_ENOMEM;
	for (const char *p = text; *p;) {
		size_t n = strcspn(p, ",");
		const char *s = p, *e = p + n;
		while (s < e && (*s == ' ' || *s == '\t'))
			s++;
		while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		if (e > s && cidr_parse(s, (size_t)(e - s), &out->v[out->n])) {
			snprintf(err, errlen, "\"%.*s\" is not an IP address or CIDR (like 10.0.0.0/8 or fd00::/8)",
				 (int)(e - s > 60 ? 60 : e - s), s);
			sg__cidr_list_free(out);
			return SG_EINVAL;
		}
		out->n += e > s;
		p += n + (p[n] == ',');
	}
	return 0;
}

void sg__cidr_list_free(sg_cidr_list *l)
{
	free(l->v);
	*l = (sg_cidr_list){0};
}

static int cidr_has(const sg_cidr *c, const sg_ip *ip)
{
	unsigned full = c->bits / 8, rest = c->bits % 8;
	if (memcmp(c->net.b, ip->b, full))
		return 0;
	unsigned char mask = (unsigned char)(0xff00 >> rest);
	return !rest || ((c->net.b[full] ^ ip->b[full]) & mask) == 0;
}

int sg__cidr_list_has(const sg_cidr_list *l, const sg_ip *ip)
{
	for (size_t i = 0; i < l->n; i++)
		if (cidr_has(&l->v[i], ip))
			return 1;
	return 0;
}

/* Walks one X-Forwarded-For value right to left from *client (a trusted
 * hop). Returns nonzero when the walk is over: *client is the answer. */
static int xff_walk(const char *v, const sg_cidr_list *trusted, sg_ip *client)
{
	const char *end = v + strlen(v);
	while (end > v) {
		const char *comma = end;
		while (comma > v && comma[-1] != ',')
			comma--;
		const char *s = comma, *e = end;
		while (s < e && (*s == ' ' || *s == '\t'))
			s++;
		while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		end = comma > v ? comma - 1 : v;
		if (e == s)
			continue; /* "a, , b": an empty hop says nothing */
		sg_ip hop;
		if (sg__ip_parse(s, (size_t)(e - s), &hop))
			return 1; /* forged or garbled: the last trusted hop is all we know */
		*client = hop;
		if (!sg__cidr_list_has(trusted, &hop))
			return 1;
	}
	return 0;
}

void sg__client_resolve(const sg_request *req, const sg_ip *peer, const sg_cidr_list *trusted,
			sg_ip *client)
{
	*client = *peer;
	if (!trusted->n || !sg__cidr_list_has(trusted, peer))
		return;
	/* several X-Forwarded-For headers are one list, in order */
	for (size_t i = req->nheaders; i-- > 0;)
		if (strcasecmp(req->headers[i].name, "x-forwarded-for") == 0 &&
		    xff_walk(req->headers[i].value, trusted, client))
			return;
}
