# The relay's AES-GCM addon (plain N-API, C). Build: `npm run build:native`, which runs
# `node-gyp rebuild -C relay/native`. OpenSSL is not linked here: the addon's EVP_* symbols
# resolve at load time against the OpenSSL that the running node binary exports, and the
# headers come from Node's own include directory (<nodedir>/include/node/openssl).
# parley_udp.c (sendmmsg/recvmmsg batches for the relay's UDP I/O), parley_readable.c (a libuv poll
# handle that tells the relay its socket is readable) and parley_keys.c (the seal opener, AES-CTR and
# secret buffers: keys kept off the JS heap) share the module: one file to ship.
{
  "targets": [
    {
      "target_name": "parley_gcm",
      "sources": ["src/parley_gcm.c", "src/parley_udp.c", "src/parley_readable.c", "src/parley_keys.c"],
      "defines": ["NAPI_VERSION=8"],
      "cflags_c": ["-std=c11", "-Wall", "-Wextra", "-Wconversion", "-fvisibility=hidden"],
      "xcode_settings": {
        "OTHER_CFLAGS": ["-std=c11", "-Wall", "-Wextra", "-Wconversion", "-fvisibility=hidden"]
      }
    }
  ]
}
