/* parley_keys: the seal opener, AES-CTR and secret buffers (see parley_keys.c). */
#ifndef PARLEY_KEYS_H
#define PARLEY_KEYS_H

#include <node_api.h>

/* Adds createSealOpener, createAesCtr and createSecretBuffer to exports; 0 on failure. */
int parley_keys_export(napi_env env, napi_value exports);

#endif
