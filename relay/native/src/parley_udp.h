/* parley_udp: batched UDP output (sendmmsg) for the relay; see parley_udp.c. */
#ifndef PARLEY_UDP_H
#define PARLEY_UDP_H

#include <node_api.h>

/*
 * Adds sendBatch and udp4SocketPort to `exports` where the platform has sendmmsg(2) (Linux);
 * elsewhere adds nothing, and the JS loader (relay/src/io/native-udp.ts) reports it. Returns 0
 * when an N-API call failed.
 */
int parley_udp_export(napi_env env, napi_value exports);

#endif
