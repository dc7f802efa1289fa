/*
 * envelope — the JSON envelope frame shared by every transport that tags
 * messages with their channel, and plain JSON control lines.
 */
#ifndef SG_TRANSPORT_ENVELOPE_H
#define SG_TRANSPORT_ENVELOPE_H

#include "core/buf.h"
#include "core/frame.h"
#include "core/transport.h"

struct sg_msg;

/* {"channel","id","event","data"} followed by `tail` (may be ""). One ref. */
sg_frame *sg_envelope_frame(const struct sg_msg *m, const char *tail);
/* json followed by tail, one ref. */
sg_frame *sg_control_line(const char *json, const char *tail);

#endif
