/*
 * fuzz_check — the one assertion the harnesses use: a failed invariant
 * stops the run with a message libFuzzer reports as a crash.
 */
#ifndef SG_FUZZ_CHECK_H
#define SG_FUZZ_CHECK_H

#include <stdio.h>
#include <stdlib.h>

#define SG_FUZZ_CHECK(cond)                                                                        \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__,       \
			        #cond);                                                            \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

#endif
