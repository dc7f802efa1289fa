/*
 * client_ip — who a request comes from: the socket's peer, or, when that
 * peer is one of trusted_proxies, the client X-Forwarded-For names. IPv4
 * and IPv6 addresses, and lists of them with CIDR prefixes. Pure functions
 * of their inputs: no sockets, no locks.
 */
#ifndef SG_SERVER_CLIENT_IP_H
#define SG_SERVER_CLIENT_IP_H

#include <stddef.h>

#define SG_IP_TEXT_MAX 46 /* INET6_ADDRSTRLEN */

struct sockaddr;
struct sg_request;

/* An address as IPv6; IPv4 is mapped (::ffff:a.b.c.d) so both compare alike. */
typedef struct sg_ip {
	unsigned char b[16];
} sg_ip;

/* One entry of trusted_proxies: an address and how many leading bits count. */
typedef struct sg_cidr {
	sg_ip net;
	unsigned char bits; /* 0..128, of the mapped form */
} sg_cidr;

/* A parsed list of CIDRs; owns v. */
typedef struct sg_cidr_list {
	size_t n;
	sg_cidr *v;
} sg_cidr_list;

/* Parses text[0..n): "1.2.3.4", "::1", "[::1]", "1.2.3.4:80" or
 * "[::1]:80" (a port is ignored). 0, or SG_EINVAL. */
int sg__ip_parse(const char *text, size_t n, sg_ip *out);
/* The address of an accepted socket's peer (AF_INET or AF_INET6); a
 * zeroed ip for anything else. */
void sg__ip_from_sockaddr(const struct sockaddr *sa, sg_ip *out);
/* Writes ip as text (dotted quad for IPv4) into out. */
void sg__ip_format(const sg_ip *ip, char out[SG_IP_TEXT_MAX]);

/* Parses a comma-separated list of addresses and CIDRs ("10.0.0.0/8,
 * ::1, fd00::/8"); "" is the empty list. Caller frees with
 * sg__cidr_list_free. SG_EINVAL with a reason in err, or SG_ENOMEM. */
int sg__cidr_list_parse(const char *text, sg_cidr_list *out, char *err, size_t errlen);
void sg__cidr_list_free(sg_cidr_list *l);
/* Nonzero when ip is inside one of l's entries. */
int sg__cidr_list_has(const sg_cidr_list *l, const sg_ip *ip);

/* The client of a request that came from peer: peer itself unless peer is
 * trusted, else the rightmost X-Forwarded-For hop that is not trusted (the
 * leftmost when every hop is; the hop right of a malformed one). */
void sg__client_resolve(const struct sg_request *req, const sg_ip *peer,
			const sg_cidr_list *trusted, sg_ip *client);

#endif
