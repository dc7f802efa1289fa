/*
 * streamgate/error.h — version, error codes and the types every part names.
 * Part of the public API; include <streamgate.h> for all of it.
 */
#ifndef STREAMGATE_ERROR_H
#define STREAMGATE_ERROR_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SG_VERSION "0.1.0"

/* Error codes: every function that can fail returns 0 or one of these. */
enum sg_error {
	SG_OK = 0,
	SG_EINVAL = -1,	   /* bad argument or malformed input */
	SG_ENOMEM = -2,	   /* allocation failed */
	SG_ECLOSED = -3,   /* the stream is closing or closed */
	SG_ENOTFOUND = -4, /* no such channel, route or key */
	SG_ETOOBIG = -5,   /* over a configured limit */
	SG_EIO = -6,	   /* socket or file error */
	SG_EBADID = -7,	   /* a malformed message id */
	SG_EACCES = -8,	   /* the client's token (or no token) does not allow it */
};

/* Returns a static English description of an SG_E* code. */
const char *sg_strerror(int err);

typedef struct sg_config sg_config;
typedef struct sg_server sg_server;
typedef struct sg_stream sg_stream;
typedef struct sg_request sg_request;

#ifdef __cplusplus
}
#endif
#endif
