/*
 * utf8 — a strict UTF-8 validator following RFC 3629's table.
 */
#include "utf8.h"

int sg_utf8_valid(const void *p, size_t len)
{
	const unsigned char *s = p;
	size_t i = 0;
	while (i < len) {
		unsigned char c = s[i];
		if (c < 0x80) {
			i++;
			continue;
		}
		int n;
		unsigned char lo = 0x80, hi = 0xBF;
		if (c >= 0xC2 && c <= 0xDF)
			n = 1;
		else if (c >= 0xE0 && c <= 0xEF) {
			n = 2;
			if (c == 0xE0)
				lo = 0xA0;
			if (c == 0xED)
				hi = 0x9F;
		} else if (c >= 0xF0 && c <= 0xF4) {
			n = 3;
			if (c == 0xF0)
				lo = 0x90;
			if (c == 0xF4)
				hi = 0x8F;
		} else
			return 0;
		if (i + (size_t)n >= len)
			return 0;
		for (int k = 1; k <= n; k++) {
			unsigned char b = s[i + (size_t)k];
			if (k == 1 ? (b < lo || b > hi) : (b < 0x80 || b > 0xBF))
				return 0;
		}
		i += (size_t)n + 1;
	}
	return 1;
}
