/*
 * streamgate.h — the public API of the streamgate gateway library.
 *
 * One header for everything a program embedding the gateway needs: the
 * server, the per-request stream with its lifecycle hooks, and publishing to
 * channels. Every type is opaque. Functions return 0 or a negative SG_E*
 * code. Thread-safety is stated per function; "loop thread" means the thread
 * running sg_server_run() — with the `workers` setting above 1, the thread
 * of the worker that accepted the stream's connection.
 */
#ifndef STREAMGATE_H
#define STREAMGATE_H

#include "streamgate/error.h"
#include "streamgate/config.h"
#include "streamgate/request.h"
#include "streamgate/stream.h"
#include "streamgate/server.h"

#endif
