/*
 * respond — complete HTTP answers: JSON bodies, errors, files.
 */
#ifndef SG_SERVER_RESPOND_H
#define SG_SERVER_RESPOND_H

#include "server.h"

struct lws;

/* Writes resp (status, headers, body or file) on wsi. Returns what the
 * lws callback should return. */
int sg__respond(struct lws *wsi, const sg_response *resp);
/* Shorthand: a JSON error {"error","detail"} answered at once. */
int sg__respond_error(struct lws *wsi, int status, const char *error, const char *detail,
		      const char *allow);
void sg__response_init(sg_response *resp);
void sg__response_free(sg_response *resp);

#endif
