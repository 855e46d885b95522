/* parley_napi: small N-API helpers shared by the addon's source files. */
#ifndef PARLEY_NAPI_H
#define PARLEY_NAPI_H

#include <node_api.h>
#include <stddef.h>

/* Throws a TypeError (wrong argument type) and returns NULL, for `return throw_type(...)`. */
static inline napi_value throw_type(napi_env env, const char *message) {
  napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", message);
  return NULL;
}

/* Throws a RangeError (right type, wrong value) and returns NULL. */
static inline napi_value throw_range(napi_env env, const char *message) {
  napi_throw_range_error(env, "ERR_OUT_OF_RANGE", message);
  return NULL;
}

#endif
