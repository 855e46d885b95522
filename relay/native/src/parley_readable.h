/* parley_readable: a JS callback when a file descriptor is readable; see parley_readable.c. */
#ifndef PARLEY_READABLE_H
#define PARLEY_READABLE_H

#include <node_api.h>

/* Adds watchReadable to `exports`. Returns 0 when an N-API call failed. */
int parley_readable_export(napi_env env, napi_value exports);

#endif
