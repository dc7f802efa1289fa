/*
 * buf — a growable byte buffer for building frames and responses.
 * Plain memory only; it knows nothing of sockets or transports.
 */
#ifndef SG_CORE_BUF_H
#define SG_CORE_BUF_H

#include <stdarg.h>
#include <stddef.h>

/* Owns `data` (free with sg_buf_free). `len` bytes used of `cap`. */
typedef struct sg_buf {
	char *data;
	size_t len;
	size_t cap;
} sg_buf;

#define SG_BUF_INIT {NULL, 0, 0}

int sg_buf_reserve(sg_buf *b, size_t extra);
int sg_buf_append(sg_buf *b, const void *p, size_t n);
int sg_buf_puts(sg_buf *b, const char *s);
int sg_buf_printf(sg_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sg_buf_reset(sg_buf *b);
void sg_buf_free(sg_buf *b);

/* Makes room for one more element in the array *items (n used of *cap,
 * each elem bytes): doubles it when full, starting at first. 0 or
 * SG_ENOMEM (the array is then unchanged). */
int sg_array_room(void *items, size_t n, size_t *cap, size_t elem, size_t first);

#endif
