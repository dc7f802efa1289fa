/*
 * utf8 — validation of UTF-8 text (messages must be text to be rendered
 * into SSE, WebSocket text frames and JSON).
 */
#ifndef SG_CORE_UTF8_H
#define SG_CORE_UTF8_H

#include <stddef.h>

/* Nonzero when p[0..len) is well-formed UTF-8 (no overlongs, surrogates). */
int sg_utf8_valid(const void *p, size_t len);

#endif
