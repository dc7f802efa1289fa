/*
 * streamgate/request.h — what a handler may read of its request (borrowed, valid during the handler call).
 * Part of the public API; include <streamgate.h> for all of it.
 */
#ifndef STREAMGATE_REQUEST_H
#define STREAMGATE_REQUEST_H

#include "streamgate/error.h"

#ifdef __cplusplus
extern "C" {
#endif

const char *sg_request_path(const sg_request *req);
const char *sg_request_method(const sg_request *req);
/* Value of a query argument, or NULL. Borrowed. */
const char *sg_request_query(const sg_request *req, const char *name);
/* Value of a header (lower-case name, e.g. "last-event-id"), or NULL. */
const char *sg_request_header(const sg_request *req, const char *name);

#ifdef __cplusplus
}
#endif
#endif
