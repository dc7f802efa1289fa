/*
 * test_client_ip — addresses, CIDR lists and the X-Forwarded-For walk:
 * which hop is the client, for trusted and untrusted peers, forged and
 * garbled lists, IPv4 and IPv6.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "server/client_ip.c"

static sg_ip ip(const char *s)
{
	sg_ip out;
	assert_int_equal(sg__ip_parse(s, strlen(s), &out), 0);
	return out;
}

static const char *text(const sg_ip *a)
{
	static char out[SG_IP_TEXT_MAX];
	sg__ip_format(a, out);
	return out;
}

static void test_parse(void **state)
{
	(void)state;
	sg_ip a;
	a = ip("10.1.2.3");
	assert_string_equal(text(&a), "10.1.2.3");
	a = ip("10.1.2.3:8080");
	assert_string_equal(text(&a), "10.1.2.3");
	a = ip("[2001:db8::1]:443");
	assert_string_equal(text(&a), "2001:db8::1");
	a = ip("::1");
	assert_string_equal(text(&a), "::1");
	a = ip("::ffff:127.0.0.2"); /* mapped: the same as the IPv4 address */
	assert_string_equal(text(&a), "127.0.0.2");
	const char *bad[] = {"", "1.2.3", "1.2.3.4.5", "example.com", "[::1", "::1]", "1.2.3.4:",
			     "[]", "256.1.1.1", "1.2.3.4 ", "unknown"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(sg__ip_parse(bad[i], strlen(bad[i]), &a), SG_EINVAL);
	char longer[200];
	memset(longer, '1', sizeof(longer));
	assert_int_equal(sg__ip_parse(longer, sizeof(longer), &a), SG_EINVAL);
}

static void test_cidr_list(void **state)
{
	(void)state;
	sg_cidr_list l;
	char err[200];
	assert_int_equal(sg__cidr_list_parse(" 10.0.0.0/8, 192.168.1.7 ,fd00::/8,::1,", &l, err,
					     sizeof(err)),
			 0);
	assert_int_equal(l.n, 4);
	sg_ip a = ip("10.200.3.4"), b = ip("11.0.0.1"), c = ip("192.168.1.7"), d = ip("192.168.1.8"),
	      e = ip("fd12::5"), f = ip("fe80::1"), g = ip("::1");
	assert_true(sg__cidr_list_has(&l, &a));
	assert_false(sg__cidr_list_has(&l, &b));
	assert_true(sg__cidr_list_has(&l, &c));
	assert_false(sg__cidr_list_has(&l, &d));
	assert_true(sg__cidr_list_has(&l, &e));
	assert_false(sg__cidr_list_has(&l, &f));
	assert_true(sg__cidr_list_has(&l, &g));
	sg__cidr_list_free(&l);

	assert_int_equal(sg__cidr_list_parse("", &l, err, sizeof(err)), 0);
	assert_int_equal(l.n, 0);
	sg__cidr_list_free(&l);
	assert_int_equal(sg__cidr_list_parse("0.0.0.0/0", &l, err, sizeof(err)), 0);
	assert_true(sg__cidr_list_has(&l, &b));
	assert_false(sg__cidr_list_has(&l, &f)); /* an IPv4 /0 is not every IPv6 address */
	sg__cidr_list_free(&l);
	assert_int_equal(sg__cidr_list_parse("10.0.0.0/12", &l, err, sizeof(err)), 0);
	sg_ip in = ip("10.15.255.255"), out = ip("10.16.0.0");
	assert_true(sg__cidr_list_has(&l, &in));
	assert_false(sg__cidr_list_has(&l, &out));
	sg__cidr_list_free(&l);

	const char *bad[] = {"10.0.0.0/33", "::/129", "10.0.0.0/", "10.0.0.0/x", "1.2.3.4:80",
			     "example.com", "10.0.0.0/8/8", "[::1]"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		assert_int_equal(sg__cidr_list_parse(bad[i], &l, err, sizeof(err)), SG_EINVAL);
		assert_non_null(strstr(err, "is not an IP address or CIDR"));
	}
}

/* The client of a request from peer with these X-Forwarded-For headers. */
static const char *client_of(const char *peer, const char *trusted, const char *xff1,
			     const char *xff2)
{
	sg_req_header hs[3] = {{"Host", "x"}, {"X-Forwarded-For", xff1}, {"x-forwarded-for", xff2}};
	sg_request req = {.headers = hs, .nheaders = xff2 ? 3 : xff1 ? 2 : 1};
	sg_cidr_list l;
	char err[200];
	assert_int_equal(sg__cidr_list_parse(trusted, &l, err, sizeof(err)), 0);
	sg_ip p = ip(peer), client;
	sg__client_resolve(&req, &p, &l, &client);
	sg__cidr_list_free(&l);
	return text(&client);
}

static void test_forwarded_for(void **state)
{
	(void)state;
	/* an untrusted peer: what it says is not believed */
	assert_string_equal(client_of("203.0.113.9", "10.0.0.0/8", "1.1.1.1", NULL), "203.0.113.9");
	assert_string_equal(client_of("127.0.0.1", "", "1.1.1.1", NULL), "127.0.0.1");
	/* a trusted peer: the rightmost hop it does not trust */
	assert_string_equal(client_of("10.0.0.1", "10.0.0.0/8", "1.1.1.1", NULL), "1.1.1.1");
	assert_string_equal(client_of("10.0.0.1", "10.0.0.0/8", "6.6.6.6, 1.1.1.1, 10.0.0.2", NULL),
			    "1.1.1.1"); /* 6.6.6.6 is what the client itself wrote */
	/* every hop trusted: the leftmost */
	assert_string_equal(client_of("10.0.0.1", "10.0.0.0/8", "10.0.0.3,10.0.0.2", NULL), "10.0.0.3");
	/* a garbled hop: the trusted hop right of it is all that is known */
	assert_string_equal(client_of("10.0.0.1", "10.0.0.0/8", "1.1.1.1, garbage, 10.0.0.2", NULL),
			    "10.0.0.2");
	assert_string_equal(client_of("10.0.0.1", "10.0.0.0/8", "garbage", NULL), "10.0.0.1");
	/* empty hops say nothing; ports and brackets are allowed */
	assert_string_equal(client_of("10.0.0.1", "10.0.0.0/8", " , 1.1.1.1:5000, ,", NULL), "1.1.1.1");
	assert_string_equal(client_of("::1", "::1", "[2001:db8::7]:443", NULL), "2001:db8::7");
	/* two headers are one list: the second's hops are the nearer */
	assert_string_equal(client_of("10.0.0.1", "10.0.0.0/8", "1.1.1.1", "2.2.2.2"), "2.2.2.2");
	assert_string_equal(client_of("10.0.0.1", "10.0.0.0/8", "1.1.1.1", "10.9.9.9"), "1.1.1.1");
	/* no header: the peer */
	assert_string_equal(client_of("10.0.0.1", "10.0.0.0/8", NULL, NULL), "10.0.0.1");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_cidr_list),
		cmocka_unit_test(test_forwarded_for),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
