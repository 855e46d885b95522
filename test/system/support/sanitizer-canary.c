/*
 * A deliberately broken N-API module, built and loaded exactly as the sanitized relay addon is:
 * if AddressSanitizer and UBSan do not report these, the sanitizer tests prove nothing.
 */
#include <node_api.h>
#include <stdlib.h>

/* Out of line, so that UBSan cannot see the size and it is AddressSanitizer that reports. */
static __attribute__((noinline)) volatile char *allocate(size_t length) { return malloc(length); }

static napi_value heap_overflow(napi_env env, napi_callback_info info) {
  (void)info;
  volatile char *bytes = allocate(16);
  bytes[16] = 1; /* one past the end */
  free((void *)bytes);
  napi_value result;
  napi_get_undefined(env, &result);
  return result;
}

static napi_value signed_overflow(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int value = 0;
  napi_get_value_int32(env, argv[0], &value);
  int sum = value + 1; /* INT_MAX + 1 is undefined behaviour */
  napi_value result;
  napi_create_int32(env, sum, &result);
  return result;
}

NAPI_MODULE_INIT() {
  napi_value overflow, signed_add;
  napi_create_function(env, "heapOverflow", NAPI_AUTO_LENGTH, heap_overflow, NULL, &overflow);
  napi_create_function(env, "signedOverflow", NAPI_AUTO_LENGTH, signed_overflow, NULL, &signed_add);
  napi_set_named_property(env, exports, "heapOverflow", overflow);
  napi_set_named_property(env, exports, "signedOverflow", signed_add);
  return exports;
}
