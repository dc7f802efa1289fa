/*
 * fuzz_utf8 — sg_utf8_valid, differentially against a plain decoder
 * written from RFC 3629's definition (decode each sequence to a code point,
 * then refuse overlongs, surrogates and anything above U+10FFFF) rather
 * than from its byte-range table. Input: the bytes. Checks: both agree on
 * the whole input and on every prefix ending at one of its first 64 bytes,
 * and text the validator accepts is accepted by jansson as a JSON string.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/utf8.h"
#include "fuzz_check.h"


static int ref_valid(const uint8_t *s, size_t len)
{
	size_t i = 0;
	while (i < len) {
		uint32_t cp;
		size_t n;
		if (s[i] < 0x80) {
			i++;
			continue;
		} else if ((s[i] & 0xE0) == 0xC0) {
			n = 2, cp = s[i] & 0x1F;
		} else if ((s[i] & 0xF0) == 0xE0) {
			n = 3, cp = s[i] & 0x0F;
		} else if ((s[i] & 0xF8) == 0xF0) {
			n = 4, cp = s[i] & 0x07;
		} else {
			return 0; /* a continuation byte first, or 0xF8..0xFF */
		}
		if (len - i < n)
			return 0;
		for (size_t k = 1; k < n; k++) {
			if ((s[i + k] & 0xC0) != 0x80)
				return 0;
			cp = cp << 6 | (s[i + k] & 0x3F);
		}
		static const uint32_t least[] = {0, 0, 0x80, 0x800, 0x10000};
		if (cp < least[n] || (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)
			return 0;
		i += n;
	}
	return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t size)
{
	int ok = sg_utf8_valid(in, size);
	SG_FUZZ_CHECK(ok == ref_valid(in, size));
	for (size_t n = 0; n < size && n < 64; n++)
		SG_FUZZ_CHECK(sg_utf8_valid(in, n) == ref_valid(in, n));
	if (ok) {
		json_t *v = json_stringn((const char *)in, size);
		SG_FUZZ_CHECK(v != NULL);
		json_decref(v);
	}
	return 0;
}
