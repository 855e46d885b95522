/*
 * parley_gcm: AES-GCM engines for the relay's SRTP hot path (RFC 7714), as a plain N-API addon.
 *
 * Why it exists: node:crypto builds a new OpenSSL cipher for every packet (createCipheriv,
 * setAAD, update, final, getAuthTag: five JS-to-C++ crossings and a key schedule each time).
 * Here an engine keeps ONE EVP_CIPHER_CTX, keyed once at creation, and each seal or open is a
 * single native call that only re-IVs it: EVP_{En,De}cryptInit_ex(ctx, NULL, NULL, NULL, iv).
 *
 * JS surface (relay/src/media/native-gcm-backend.ts wraps it):
 *   abiVersion: number             bumped whenever this surface changes
 *   opensslVersion: string         the OpenSSL this addon runs on (the node binary's)
 *   createAesGcm(key, tagLength[, salt]) → an engine {seal, open, sealInto, sealPacketInto,
 *                                  openPacketInto, wipe, handle}; `salt`, the SRTP session
 *                                  salt, lets the addon build its RFC 7714 IVs itself
 *   sealFanout(engines, ivs, seqs, count, packet, aadLength, out, outOffset) → one packet
 *                                  sealed for `count` receivers in one call (below)
 *   sealFanoutIndexed(handles, ssrc, indices, count, packet, aadLength, out, outOffset) → the
 *                                  same, each IV built from its engine's salt (below)
 *   openRtpIndexed(handle, ssrc, index, packet, aadLength, out, outOffset) → openPacketInto
 *                                  of the engine `handle`, its IV built from its salt
 *   sendBatch, recvBatch, udp4SocketPort   batched UDP I/O, Linux only: see parley_udp.c
 *   watchReadable                  socket readiness on the event loop: see parley_readable.c
 *   createSealOpener, createAesCtr, createSecretBuffer   keys kept off the JS heap: parley_keys.c
 *
 * Each engine's functions carry a pointer to its state as their N-API callback data, so `this`
 * is never consulted (no napi_unwrap, hence no type confusion with objects of other addons, and
 * `const { seal } = engine` works). The state is freed when the last of those functions is
 * garbage-collected (Node runs N-API finalizers once the event loop turns, not inside a
 * synchronous loop); `wipe()` frees the cipher context at once, and owners should call it.
 *
 * Errors follow the rest of Parley: a wrong argument type is a TypeError, a wrong length or
 * offset a RangeError, use after wipe() a TypeError. Bytes that arrive from the network never
 * throw: open() answers null when they do not authenticate.
 *
 * Threads: an engine is not thread-safe (one EVP_CIPHER_CTX, mutated by every call). That is
 * fine because N-API functions belong to one JS thread: the relay's UDP loop is single-threaded,
 * and an engine's functions cannot be shared with a worker_thread (each worker that loads the
 * addon gets its own module instance, and N-API modules are context-aware).
 */
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <node_api.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/opensslv.h>

#include "parley_napi.h"
#include "parley_udp.h"
#include "parley_readable.h"
#include "parley_keys.h"

/* 2: sendBatch and udp4SocketPort (parley_udp.c) joined the module.
 * 3: engines are instances of one class (methods on its prototype) and key OpenSSL lazily.
 * 4: recvBatch and watchReadable (parley_udp.c, parley_readable.c); engines gain
 *    sealPacketInto and openPacketInto.
 * 5: createSealOpener, createAesCtr and createSecretBuffer (parley_keys.c); clearSocketError
 *    (parley_udp.c) and the readable watch's restart() (parley_readable.c).
 * 6: sealFanout.
 * 7: engines carry a `handle`; sealFanout takes a Uint32Array of handles in place of the
 *    Array of engines.
 * 8: createAesGcm takes an optional SRTP session salt; sealFanoutIndexed and openRtpIndexed
 *    build each RFC 7714 §8.1 IV from it. */
#define ABI_VERSION 8
/* RFC 7714 §8.1 / §9.1: SRTP and SRTCP AES-GCM IVs are 12 octets. */
#define IV_LENGTH 12
/* RFC 7714 §5: SRTP's AEAD_AES_128_GCM / AEAD_AES_256_GCM use a 16-octet tag, and nothing else. */
#define TAG_LENGTH 16

#if OPENSSL_VERSION_MAJOR < 3
#error "parley_gcm expects the OpenSSL 3 headers shipped with Node >= 18"
#endif

/*
 * An engine is created with its key and keys an OpenSSL context on first use: a relay holds
 * four engines per session, and an EVP_CIPHER_CTX for AES-GCM costs about 2 KB, which idle
 * sessions should not pay. After first use the key lives only inside the context.
 */
typedef struct ModuleState ModuleState;

typedef struct {
  EVP_CIPHER_CTX *ctx; /* keyed on first use; NULL before, and after wipe() */
  uint8_t key[32];     /* until first use; cleansed once the context is keyed */
  uint8_t key_length;  /* 16 or 32; 0 once keyed or wiped */
  bool wiped;
  bool has_salt;       /* created with an SRTP session salt (createAesGcm's third argument) */
  uint8_t salt[12];    /* that salt (RFC 7714 §8.1), cleansed with the key; zero without one */
  uint32_t handle;     /* its handle in state's table (see below) */
  ModuleState *state;  /* the table of the environment that made it */
} GcmEngine;

/*
 * Engine handles: sealFanout seals one packet for up to 64 receivers, and finding each engine
 * behind its JS object (napi_get_element, then napi_unwrap, a private-symbol lookup) cost about
 * as much as its AES-GCM. So every engine also has a number, its `handle`, and sealFanout takes
 * a Uint32Array of them: a handle is a slot in a table of this environment's engines (the low
 * HANDLE_SLOT_BITS) and that slot's generation (the high bits, never 0), so a handle whose
 * engine was collected is refused rather than followed. The table and the engine class are per
 * N-API environment (per worker thread): a handle is only ever looked up in the calling
 * thread's table, so at worst it names another engine of that thread, never another thread's.
 * The table lives until both the environment and every engine in it are gone (refs).
 */
#define HANDLE_SLOT_BITS 20
#define MAX_SLOTS (1u << HANDLE_SLOT_BITS)
#define MAX_GENERATION ((1u << (32 - HANDLE_SLOT_BITS)) - 1)

struct ModuleState {
  napi_ref constructor;
  GcmEngine **slots;     /* slot → its engine, or NULL */
  uint32_t *generations; /* slot → its generation (1..MAX_GENERATION) */
  uint32_t *next_free;   /* free slot → the next free slot, or MAX_SLOTS */
  uint32_t capacity;
  uint32_t free_head;    /* first free slot, or MAX_SLOTS */
  size_t refs;           /* 1 for the environment + 1 per engine in the table */
};

static void release_state(ModuleState *state) {
  if (--state->refs > 0) return;
  free(state->slots);
  free(state->generations);
  free(state->next_free);
  free(state);
}

/* Puts `engine` in a free slot (growing the table), or returns false when it cannot. */
static bool add_engine(ModuleState *state, GcmEngine *engine) {
  if (state->free_head == MAX_SLOTS) {
    if (state->capacity == MAX_SLOTS) return false;
    uint32_t grown = state->capacity == 0 ? 256 : state->capacity * 2;
    if (grown > MAX_SLOTS) grown = MAX_SLOTS;
    GcmEngine **slots = realloc(state->slots, grown * sizeof *slots);
    if (slots == NULL) return false;
    state->slots = slots;
    uint32_t *generations = realloc(state->generations, grown * sizeof *generations);
    if (generations == NULL) return false;
    state->generations = generations;
    uint32_t *next_free = realloc(state->next_free, grown * sizeof *next_free);
    if (next_free == NULL) return false;
    state->next_free = next_free;
    for (uint32_t i = state->capacity; i < grown; i++) {
      state->slots[i] = NULL;
      state->generations[i] = 1;
      state->next_free[i] = i + 1 < grown ? i + 1 : MAX_SLOTS;
    }
    state->free_head = state->capacity;
    state->capacity = grown;
  }
  uint32_t slot = state->free_head;
  state->free_head = state->next_free[slot];
  state->slots[slot] = engine;
  engine->handle = (state->generations[slot] << HANDLE_SLOT_BITS) | slot;
  engine->state = state;
  state->refs++;
  return true;
}

/* Frees the engine's slot for reuse under the next generation. */
static void remove_engine(GcmEngine *engine) {
  ModuleState *state = engine->state;
  if (state == NULL) return;
  uint32_t slot = engine->handle & (MAX_SLOTS - 1);
  state->slots[slot] = NULL;
  state->generations[slot] = state->generations[slot] == MAX_GENERATION ? 1 : state->generations[slot] + 1;
  state->next_free[slot] = state->free_head;
  state->free_head = slot;
  engine->state = NULL;
  release_state(state);
}

typedef struct {
  uint8_t *data;
  size_t length;
} Bytes;

/* ---- errors --------------------------------------------------------------------------------- */


/* Throws unless a failed N-API call already left an exception pending. */
static napi_value throw_pending_or(napi_env env, const char *message) {
  bool pending = false;
  if (napi_is_exception_pending(env, &pending) == napi_ok && !pending) napi_throw_error(env, NULL, message);
  return NULL;
}

static napi_value throw_openssl(napi_env env, const char *message) {
  /* Leave nothing on this thread's OpenSSL error queue for node:crypto to trip over. */
  ERR_clear_error();
  napi_throw_error(env, "ERR_PARLEY_GCM_OPENSSL", message);
  return NULL;
}

/* ---- arguments ------------------------------------------------------------------------------ */

/*
 * Any Uint8Array (Buffer included), honouring byteOffset: napi_get_typedarray_info's data
 * pointer already points at the view's first byte. The backing store stays put for the whole
 * call: V8 moves an on-heap typed array off the heap when its buffer is asked for, and the
 * argument handles keep it alive. A detached buffer reads as length 0 (data may be NULL).
 */
static int get_bytes(napi_env env, napi_value value, Bytes *out) {
  napi_typedarray_type type;
  void *data = NULL;
  size_t length = 0;
  if (napi_get_typedarray_info(env, value, &type, &length, &data, NULL, NULL) != napi_ok) return 0;
  if (type != napi_uint8_array) return 0;
  out->data = (uint8_t *)data;
  out->length = length;
  return 1;
}

/*
 * A new, zero-filled Uint8Array of its own ArrayBuffer. Measured on Node 20 for a 176-byte
 * result: ArrayBuffer + Uint8Array ≈ 560 ns per seal, napi_create_buffer ≈ 830 ns (it also
 * swaps the prototype to Buffer's), an external ArrayBuffer ≈ 2.1 µs (malloc + a finalizer per
 * packet). sealInto() into a caller's buffer skips the allocation: ≈ 320 ns.
 */
static int new_bytes(napi_env env, size_t length, uint8_t **data, napi_value *result) {
  napi_value buffer;
  void *bytes = NULL;
  if (napi_create_arraybuffer(env, length, &bytes, &buffer) != napi_ok) return 0;
  if (napi_create_typedarray(env, napi_uint8_array, length, buffer, 0, result) != napi_ok) return 0;
  *data = bytes;
  return 1;
}

static EVP_CIPHER_CTX *keyed_context(const uint8_t *key, size_t key_length);

/*
 * The engine behind `this` with its OpenSSL context keyed, or NULL with an exception pending:
 * TypeError for a receiver that is not an engine or an engine used after wipe().
 */
static GcmEngine *keyed_engine(napi_env env, GcmEngine *engine);

static GcmEngine *live_engine(napi_env env, napi_value this_arg) {
  void *data = NULL;
  if (napi_unwrap(env, this_arg, &data) != napi_ok || data == NULL) {
    napi_throw_type_error(env, "ERR_INVALID_THIS", "native-gcm: not an AES-GCM engine");
    return NULL;
  }
  return keyed_engine(env, data);
}

/* The engine with `handle` in this environment's table, keyed, or NULL with a TypeError pending. */
static GcmEngine *engine_by_handle(napi_env env, const ModuleState *state, uint32_t handle) {
  uint32_t slot = handle & (MAX_SLOTS - 1);
  if (slot >= state->capacity || state->generations[slot] != handle >> HANDLE_SLOT_BITS || state->slots[slot] == NULL) {
    napi_throw_type_error(env, "ERR_PARLEY_GCM_HANDLE", "native-gcm: not the handle of a live AES-GCM engine of this thread");
    return NULL;
  }
  return keyed_engine(env, state->slots[slot]);
}

/* `engine` with its context keyed (first use), or NULL with an exception pending (wiped, or keying failed). */
static GcmEngine *keyed_engine(napi_env env, GcmEngine *engine) {
  if (engine->wiped) {
    napi_throw_type_error(env, "ERR_PARLEY_GCM_WIPED", "native-gcm: engine used after wipe()");
    return NULL;
  }
  if (engine->ctx == NULL) {
    engine->ctx = keyed_context(engine->key, engine->key_length);
    OPENSSL_cleanse(engine->key, sizeof engine->key);
    engine->key_length = 0;
    if (engine->ctx == NULL) {
      engine->wiped = true; /* the key is gone: this engine can never work */
      ERR_clear_error();
      napi_throw_error(env, "ERR_PARLEY_GCM_OPENSSL", "native-gcm: could not key AES-GCM");
      return NULL;
    }
  }
  return engine;
}

/* EVP takes int lengths. */
static int fits_int(size_t n) { return n <= (size_t)INT_MAX - TAG_LENGTH; }

static int overlaps(const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len) {
  uintptr_t a0 = (uintptr_t)a, b0 = (uintptr_t)b;
  return a_len > 0 && b_len > 0 && a0 < b0 + b_len && b0 < a0 + a_len;
}

/* ---- GCM ------------------------------------------------------------------------------------ */

/* Writes ciphertext ‖ tag (pt_len + 16 bytes) at out. out may equal pt (in place). */
static int gcm_seal(EVP_CIPHER_CTX *ctx, const uint8_t *iv, const Bytes *aad, const uint8_t *pt, size_t pt_len,
                    uint8_t *out) {
  int n = 0;
  /* Same cipher and key: only the IV (and the direction) change. */
  if (EVP_EncryptInit_ex(ctx, NULL, NULL, NULL, iv) != 1) return 0;
  if (aad->length > 0 && EVP_EncryptUpdate(ctx, NULL, &n, aad->data, (int)aad->length) != 1) return 0;
  if (pt_len > 0 && (EVP_EncryptUpdate(ctx, out, &n, pt, (int)pt_len) != 1 || (size_t)n != pt_len)) return 0;
  if (EVP_EncryptFinal_ex(ctx, out + pt_len, &n) != 1 || n != 0) return 0; /* GCM writes no bytes here */
  return EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, TAG_LENGTH, out + pt_len) == 1;
}

/*
 * Verifies and decrypts sealed = ciphertext ‖ tag into out (sealed_len - 16 bytes). Returns 1 if
 * the tag verifies; otherwise 0, with out wiped, since OpenSSL decrypts before it verifies.
 */
static int gcm_open(EVP_CIPHER_CTX *ctx, const uint8_t *iv, const Bytes *aad, const Bytes *sealed, uint8_t *out) {
  size_t ct_len = sealed->length - TAG_LENGTH;
  uint8_t tag[TAG_LENGTH];
  uint8_t none[TAG_LENGTH];
  int n = 0;
  int ok = 0;
  memcpy(tag, sealed->data + ct_len, TAG_LENGTH); /* SET_TAG takes a non-const pointer */
  if (EVP_DecryptInit_ex(ctx, NULL, NULL, NULL, iv) != 1) goto done;
  if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, TAG_LENGTH, tag) != 1) goto done;
  if (aad->length > 0 && EVP_DecryptUpdate(ctx, NULL, &n, aad->data, (int)aad->length) != 1) goto done;
  if (ct_len > 0 && (EVP_DecryptUpdate(ctx, out, &n, sealed->data, (int)ct_len) != 1 || (size_t)n != ct_len)) goto done;
  ok = EVP_DecryptFinal_ex(ctx, none, &n) == 1; /* compares the tag in constant time */
done:
  if (!ok) {
    if (ct_len > 0) OPENSSL_cleanse(out, ct_len);
    ERR_clear_error();
  }
  return ok;
}

/*
 * RFC 7714 §8.1: the SRTP IV is (00 00 ‖ SSRC ‖ ROC ‖ SEQ) XOR the 12-octet session salt, where
 * index = ROC · 2^16 + SEQ (a 48-bit packet index). What shared/srtp/aead-transform.ts's
 * writeGcmRtpIv computes in JS, here for engines that hold their salt.
 */
static void rtp_iv(const uint8_t *salt, uint32_t ssrc, uint64_t index, uint8_t *iv) {
  uint32_t roc = (uint32_t)(index >> 16);
  iv[0] = salt[0];
  iv[1] = salt[1];
  iv[2] = (uint8_t)(salt[2] ^ (ssrc >> 24));
  iv[3] = (uint8_t)(salt[3] ^ (ssrc >> 16));
  iv[4] = (uint8_t)(salt[4] ^ (ssrc >> 8));
  iv[5] = (uint8_t)(salt[5] ^ ssrc);
  iv[6] = (uint8_t)(salt[6] ^ (roc >> 24));
  iv[7] = (uint8_t)(salt[7] ^ (roc >> 16));
  iv[8] = (uint8_t)(salt[8] ^ (roc >> 8));
  iv[9] = (uint8_t)(salt[9] ^ roc);
  iv[10] = (uint8_t)(salt[10] ^ (index >> 8));
  iv[11] = (uint8_t)(salt[11] ^ index);
}

/* The largest SRTP packet index: 48 bits (RFC 3711 §3.3.1). */
#define MAX_RTP_INDEX 281474976710655.0

/* A JS number that is an SSRC (an integer from 0 to 2^32 - 1): 1, else 0 with a TypeError or RangeError pending. */
static int get_ssrc(napi_env env, napi_value value, uint32_t *out) {
  double number = 0;
  if (napi_get_value_double(env, value, &number) != napi_ok) return throw_type(env, "native-gcm: ssrc must be a number"), 0;
  if (!(number >= 0) || !(number <= 4294967295.0) || number != (double)(uint32_t)number) {
    return throw_range(env, "native-gcm: ssrc must be an integer from 0 to 2^32 - 1"), 0;
  }
  *out = (uint32_t)number;
  return 1;
}

/* Whether a double is a packet index: an integer from 0 to 2^48 - 1 (NaN is not). */
static bool is_rtp_index(double index) {
  return index >= 0 && index <= MAX_RTP_INDEX && index == (double)(uint64_t)index;
}

/* ---- engine functions ----------------------------------------------------------------------- */

/* Shared argument checks of seal and sealInto: (iv, aad, plaintext, ...). */
static int seal_args(napi_env env, napi_value *argv, Bytes *iv, Bytes *aad, Bytes *pt) {
  if (!get_bytes(env, argv[0], iv)) return throw_type(env, "native-gcm: iv must be a Uint8Array"), 0;
  if (!get_bytes(env, argv[1], aad)) return throw_type(env, "native-gcm: aad must be a Uint8Array"), 0;
  if (!get_bytes(env, argv[2], pt)) return throw_type(env, "native-gcm: plaintext must be a Uint8Array"), 0;
  if (iv->length != IV_LENGTH) return throw_range(env, "native-gcm: iv must be 12 bytes"), 0;
  if (!fits_int(aad->length) || !fits_int(pt->length)) return throw_range(env, "native-gcm: input too long"), 0;
  return 1;
}

/*
 * The start every keyed engine method shares: its `argc` arguments into argv (missing ones read
 * as undefined) and the engine behind `this`, keyed; NULL with an exception pending otherwise.
 */
static GcmEngine *engine_call(napi_env env, napi_callback_info info, size_t argc, napi_value *argv) {
  napi_value this_arg;
  if (napi_get_cb_info(env, info, &argc, argv, &this_arg, NULL) != napi_ok) return NULL;
  return live_engine(env, this_arg);
}

/* seal(iv, aad, plaintext): Uint8Array — ciphertext ‖ 16-byte tag, in a new array. */
static napi_value engine_seal(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  GcmEngine *engine = engine_call(env, info, 3, argv);
  if (engine == NULL) return NULL;
  Bytes iv, aad, pt;
  if (!seal_args(env, argv, &iv, &aad, &pt)) return NULL;
  napi_value result;
  uint8_t *out = NULL;
  if (!new_bytes(env, pt.length + TAG_LENGTH, &out, &result)) return throw_pending_or(env, "native-gcm: out of memory");
  if (!gcm_seal(engine->ctx, iv.data, &aad, pt.data, pt.length, out)) return throw_openssl(env, "native-gcm: seal failed");
  return result;
}

/*
 * sealInto(iv, aad, plaintext, out, outOffset): number — writes ciphertext ‖ tag into
 * out[outOffset, outOffset + plaintext.length + 16) and returns that length. The output may
 * start exactly at the plaintext (in place) but must not otherwise overlap it.
 */
static napi_value engine_seal_into(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  GcmEngine *engine = engine_call(env, info, 5, argv);
  if (engine == NULL) return NULL;
  Bytes iv, aad, pt, out;
  if (!seal_args(env, argv, &iv, &aad, &pt)) return NULL;
  if (!get_bytes(env, argv[3], &out)) return throw_type(env, "native-gcm: out must be a Uint8Array");
  double offset_value = 0;
  if (napi_get_value_double(env, argv[4], &offset_value) != napi_ok) {
    return throw_type(env, "native-gcm: outOffset must be a number");
  }
  size_t sealed_len = pt.length + TAG_LENGTH;
  /* The negated comparisons also catch NaN. */
  if (!(offset_value >= 0) || !(offset_value <= (double)out.length) || offset_value != (double)(size_t)offset_value) {
    return throw_range(env, "native-gcm: outOffset must be an integer within out");
  }
  size_t offset = (size_t)offset_value;
  if (out.length - offset < sealed_len) return throw_range(env, "native-gcm: out is too short for ciphertext and tag");
  uint8_t *dst = out.data + offset;
  if (dst != pt.data && overlaps(dst, sealed_len, pt.data, pt.length)) {
    return throw_range(env, "native-gcm: out overlaps plaintext (only exactly in place is allowed)");
  }
  if (!gcm_seal(engine->ctx, iv.data, &aad, pt.data, pt.length, dst)) return throw_openssl(env, "native-gcm: seal failed");
  napi_value written;
  if (napi_create_uint32(env, (uint32_t)sealed_len, &written) != napi_ok) return NULL;
  return written;
}

/*
 * A packet whose first aadLength bytes are a cleartext header (the AAD) and the rest the body:
 * SRTP's layout (RFC 7714 §8.2). Shared checks of sealPacketInto / openPacketInto, whose output
 * `out[outOffset ...]` receives the header copied and the body sealed or opened; returns the
 * destination, or NULL with an exception pending. `grow` is +16 (seal) or -16 (open).
 */
static uint8_t *packet_args(napi_env env, napi_value *argv, Bytes *iv, Bytes *packet, size_t *aad_length, long grow, size_t *out_length) {
  /* iv NULL: the caller builds the IV itself (openRtpIndexed), and argv[0] is not read here. */
  if (iv != NULL && !get_bytes(env, argv[0], iv)) return throw_type(env, "native-gcm: iv must be a Uint8Array"), NULL;
  if (!get_bytes(env, argv[1], packet)) return throw_type(env, "native-gcm: packet must be a Uint8Array"), NULL;
  Bytes out;
  if (!get_bytes(env, argv[3], &out)) return throw_type(env, "native-gcm: out must be a Uint8Array"), NULL;
  double aad_value = 0, offset_value = 0;
  if (napi_get_value_double(env, argv[2], &aad_value) != napi_ok) return throw_type(env, "native-gcm: aadLength must be a number"), NULL;
  if (napi_get_value_double(env, argv[4], &offset_value) != napi_ok) return throw_type(env, "native-gcm: outOffset must be a number"), NULL;
  if (iv != NULL && iv->length != IV_LENGTH) return throw_range(env, "native-gcm: iv must be 12 bytes"), NULL;
  if (!fits_int(packet->length)) return throw_range(env, "native-gcm: input too long"), NULL;
  /* The negated comparisons also catch NaN. */
  if (!(aad_value >= 0) || !(aad_value <= (double)packet->length) || aad_value != (double)(size_t)aad_value) {
    return throw_range(env, "native-gcm: aadLength must be an integer within packet"), NULL;
  }
  if (!(offset_value >= 0) || !(offset_value <= (double)out.length) || offset_value != (double)(size_t)offset_value) {
    return throw_range(env, "native-gcm: outOffset must be an integer within out"), NULL;
  }
  *aad_length = (size_t)aad_value;
  size_t offset = (size_t)offset_value;
  if (grow < 0 && packet->length - *aad_length < (size_t)-grow) {
    /* Too short to hold a tag: the caller answers "does not verify" and writes nothing. Not
     * out.data, which is NULL for an empty array and would read as an exception. */
    static uint8_t nowhere;
    *out_length = 0;
    return &nowhere;
  }
  *out_length = grow < 0 ? packet->length - (size_t)-grow : packet->length + (size_t)grow;
  if (out.length - offset < *out_length) return throw_range(env, "native-gcm: out is too short"), NULL;
  uint8_t *dst = out.data + offset;
  if (overlaps(dst, *out_length, packet->data, packet->length)) return throw_range(env, "native-gcm: out overlaps packet"), NULL;
  return dst;
}

/* The shared start of sealPacketInto and openPacketInto: the engine and the checked arguments. */
static uint8_t *packet_call(napi_env env, napi_callback_info info, long grow, GcmEngine **engine, Bytes *iv, Bytes *packet,
                            size_t *aad_length, size_t *out_length) {
  napi_value argv[5];
  *engine = engine_call(env, info, 5, argv);
  if (*engine == NULL) return NULL;
  return packet_args(env, argv, iv, packet, aad_length, grow, out_length);
}

/*
 * sealPacketInto(iv, packet, aadLength, out, outOffset): number — writes header ‖ ciphertext ‖
 * tag (packet.length + 16 bytes) into out at outOffset, where header = packet[0, aadLength) is
 * the AAD and travels in the clear; returns that length. out must not overlap packet. One call
 * per SRTP packet, with no views to build in JS: the relay seals every listener's copy this way.
 */
static napi_value engine_seal_packet_into(napi_env env, napi_callback_info info) {
  GcmEngine *engine = NULL;
  Bytes iv, packet;
  size_t aad_length = 0, out_length = 0;
  uint8_t *dst = packet_call(env, info, TAG_LENGTH, &engine, &iv, &packet, &aad_length, &out_length);
  if (dst == NULL) return NULL;
  memcpy(dst, packet.data, aad_length);
  const Bytes aad = {packet.data, aad_length};
  if (!gcm_seal(engine->ctx, iv.data, &aad, packet.data + aad_length, packet.length - aad_length, dst + aad_length)) {
    return throw_openssl(env, "native-gcm: seal failed");
  }
  napi_value written;
  if (napi_create_uint32(env, (uint32_t)out_length, &written) != napi_ok) return NULL;
  return written;
}

/*
 * openPacketInto(iv, packet, aadLength, out, outOffset): number — verifies packet = header ‖
 * ciphertext ‖ tag (header = packet[0, aadLength), the AAD) and writes header ‖ plaintext
 * (packet.length - 16 bytes) into out at outOffset; returns that length, or -1 when the packet
 * does not verify or is too short to hold a tag (then out holds no plaintext). out must not
 * overlap packet. The relay opens every incoming packet into one reused buffer this way.
 */
static napi_value engine_open_packet_into(napi_env env, napi_callback_info info) {
  GcmEngine *engine = NULL;
  Bytes iv, packet;
  size_t aad_length = 0, out_length = 0;
  uint8_t *dst = packet_call(env, info, -(long)TAG_LENGTH, &engine, &iv, &packet, &aad_length, &out_length);
  if (dst == NULL) return NULL;
  int32_t answer = -1;
  /* From here on the bytes are the network's: every failure is -1, never an exception. */
  if (packet.length - aad_length >= TAG_LENGTH) {
    const Bytes aad = {packet.data, aad_length};
    const Bytes sealed = {packet.data + aad_length, packet.length - aad_length};
    if (gcm_open(engine->ctx, iv.data, &aad, &sealed, dst + aad_length)) {
      memcpy(dst, packet.data, aad_length);
      answer = (int32_t)out_length;
    }
  }
  napi_value result;
  if (napi_create_int32(env, answer, &result) != napi_ok) return NULL;
  return result;
}

/* open(iv, aad, sealed): Uint8Array | null — null when sealed is shorter than a tag or does not verify. */
static napi_value engine_open(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  GcmEngine *engine = engine_call(env, info, 3, argv);
  if (engine == NULL) return NULL;
  Bytes iv, aad, sealed;
  if (!get_bytes(env, argv[0], &iv)) return throw_type(env, "native-gcm: iv must be a Uint8Array");
  if (!get_bytes(env, argv[1], &aad)) return throw_type(env, "native-gcm: aad must be a Uint8Array");
  if (!get_bytes(env, argv[2], &sealed)) return throw_type(env, "native-gcm: sealed must be a Uint8Array");
  if (iv.length != IV_LENGTH) return throw_range(env, "native-gcm: iv must be 12 bytes");
  napi_value result;
  /* From here on the bytes are the network's: every failure is a null, never an exception. */
  if (sealed.length < TAG_LENGTH || !fits_int(sealed.length) || !fits_int(aad.length)) {
    napi_get_null(env, &result);
    return result;
  }
  uint8_t *out = NULL;
  if (!new_bytes(env, sealed.length - TAG_LENGTH, &out, &result)) return throw_pending_or(env, "native-gcm: out of memory");
  if (!gcm_open(engine->ctx, iv.data, &aad, &sealed, out)) napi_get_null(env, &result);
  return result;
}

/* wipe(): erases the key, or frees the cipher context, which OpenSSL cleanses (key schedule and GHASH key). Idempotent. */
static napi_value engine_wipe(napi_env env, napi_callback_info info) {
  napi_value this_arg;
  if (napi_get_cb_info(env, info, NULL, NULL, &this_arg, NULL) != napi_ok) return NULL;
  void *data = NULL;
  if (napi_unwrap(env, this_arg, &data) != napi_ok || data == NULL) {
    return throw_type(env, "native-gcm: not an AES-GCM engine");
  }
  GcmEngine *engine = data;
  if (engine->ctx != NULL) EVP_CIPHER_CTX_free(engine->ctx);
  engine->ctx = NULL;
  OPENSSL_cleanse(engine->key, sizeof engine->key);
  OPENSSL_cleanse(engine->salt, sizeof engine->salt);
  engine->key_length = 0;
  engine->wiped = true;
  return NULL;
}

/* Runs when the GC collects an engine object. */
static void finalize_engine(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  GcmEngine *engine = data;
  if (engine->ctx != NULL) EVP_CIPHER_CTX_free(engine->ctx);
  OPENSSL_cleanse(engine->key, sizeof engine->key);
  OPENSSL_cleanse(engine->salt, sizeof engine->salt);
  remove_engine(engine);
  free(engine);
}

/* The class constructor: instances are only made by createAesGcm, which wraps an engine. */
static napi_value engine_constructor(napi_env env, napi_callback_info info) {
  napi_value this_arg;
  if (napi_get_cb_info(env, info, NULL, NULL, &this_arg, NULL) != napi_ok) return NULL;
  return this_arg;
}

/* ---- createAesGcm --------------------------------------------------------------------------- */

static EVP_CIPHER_CTX *keyed_context(const uint8_t *key, size_t key_length) {
  const EVP_CIPHER *cipher = key_length == 16 ? EVP_aes_128_gcm() : EVP_aes_256_gcm();
  EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
  if (ctx == NULL) return NULL;
  int ok = EVP_EncryptInit_ex(ctx, cipher, NULL, key, NULL) == 1 && EVP_CIPHER_CTX_get_iv_length(ctx) == IV_LENGTH;
  if (!ok) {
    EVP_CIPHER_CTX_free(ctx);
    return NULL;
  }
  return ctx;
}

static napi_value create_aes_gcm(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  Bytes key;
  if (!get_bytes(env, argv[0], &key)) return throw_type(env, "native-gcm: key must be a Uint8Array");
  /* Optional: the SRTP session salt, for sealFanoutIndexed and openRtpIndexed (undefined: none). */
  Bytes salt = {NULL, 0};
  bool has_salt = false;
  if (argc >= 3) {
    napi_valuetype salt_type;
    if (napi_typeof(env, argv[2], &salt_type) != napi_ok) return NULL;
    if (salt_type != napi_undefined) {
      if (!get_bytes(env, argv[2], &salt)) return throw_type(env, "native-gcm: salt must be a Uint8Array");
      if (salt.length != IV_LENGTH) return throw_range(env, "native-gcm: salt must be 12 bytes");
      has_salt = true;
    }
  }
  napi_valuetype tag_type;
  double tag_length = 0;
  if (napi_typeof(env, argv[1], &tag_type) != napi_ok) return NULL;
  if (tag_type != napi_number) return throw_type(env, "native-gcm: tagLength must be a number");
  if (napi_get_value_double(env, argv[1], &tag_length) != napi_ok) return NULL;
  if (key.length != 16 && key.length != 32) return throw_range(env, "native-gcm: AES key must be 16 or 32 bytes");
  if (tag_length != TAG_LENGTH) return throw_range(env, "native-gcm: tagLength must be 16");

  ModuleState *state = NULL;
  napi_value constructor, object;
  if (napi_get_instance_data(env, (void **)&state) != napi_ok || state == NULL ||
      napi_get_reference_value(env, state->constructor, &constructor) != napi_ok ||
      napi_new_instance(env, constructor, 0, NULL, &object) != napi_ok) {
    return throw_pending_or(env, "native-gcm: could not create the engine");
  }
  GcmEngine *engine = calloc(1, sizeof *engine);
  if (engine == NULL) return throw_openssl(env, "native-gcm: out of memory");
  memcpy(engine->key, key.data, key.length);
  engine->key_length = (uint8_t)key.length;
  if (has_salt) memcpy(engine->salt, salt.data, IV_LENGTH);
  engine->has_salt = has_salt;
  if (!add_engine(state, engine)) {
    OPENSSL_cleanse(engine->key, sizeof engine->key);
    OPENSSL_cleanse(engine->salt, sizeof engine->salt);
    free(engine);
    return throw_openssl(env, "native-gcm: out of memory (engine handles)");
  }
  if (napi_wrap(env, object, engine, finalize_engine, NULL, NULL) != napi_ok) {
    OPENSSL_cleanse(engine->key, sizeof engine->key);
    OPENSSL_cleanse(engine->salt, sizeof engine->salt);
    remove_engine(engine);
    free(engine);
    return throw_pending_or(env, "native-gcm: could not create the engine");
  }
  /* Read-only and not enumerable, on the instance: a plain data property, as cheap for JS to read as any. */
  napi_value handle;
  napi_property_descriptor handle_property = {"handle", NULL, NULL, NULL, NULL, NULL, napi_default, NULL};
  if (napi_create_uint32(env, engine->handle, &handle) != napi_ok) return throw_pending_or(env, "native-gcm: could not create the engine");
  handle_property.value = handle;
  if (napi_define_properties(env, object, 1, &handle_property) != napi_ok) return throw_pending_or(env, "native-gcm: could not create the engine");
  return object;
}

/*
 * sealFanout(engines, ivs, seqs, count, packet, aadLength, out, outOffset): number
 *
 * One RTP packet sealed for `count` receivers in one native call: the relay's fan-out. For each
 * i < count, writes at out[outOffset + i * (packet.length + 16)] the packet's header
 * (packet[0, aadLength)) with its sequence number (octets 2-3, RFC 3550 §5.1) replaced by
 * seqs[i], then the payload sealed under engines[i] with the 12-byte IV ivs[12i, 12i + 12) and
 * that rewritten header as the AAD (RFC 7714 §8.2), then the tag. Byte for byte what
 * sealPacketInto gives for a packet carrying seqs[i]; returns count.
 *
 *   engines  Array of engines from createAesGcm (at least count), or a Uint32Array of their
 *            `handle`s (the relay's path: no object lookups at all; see "Engine handles")
 *   ivs      Uint8Array of at least 12 * count bytes
 *   seqs     Uint16Array of at least count sequence numbers
 *   packet   Uint8Array: header ‖ payload, the plaintext every receiver gets
 *   out      Uint8Array with room for count sealed copies from outOffset, not overlapping
 *            packet, ivs or seqs
 *
 * Why: sealing each receiver's copy with its own sealPacketInto call costs a JS-to-native
 * crossing, five typed-array and number conversions and an unwrap per receiver, about as much
 * as the AES-GCM itself; here those are paid once per packet, and each receiver costs an array
 * read, an unwrap and the seal. The caller (SrtpContext.prepareRtpSeal) has already checked
 * each receiver's index for uniqueness and counted it; nothing is written for anyone if an
 * argument is wrong, and an OpenSSL failure (never seen: the contexts are keyed) throws.
 */
static napi_value seal_fanout(napi_env env, napi_callback_info info) {
  size_t argc = 8;
  napi_value argv[8];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  if (argc < 8) return throw_type(env, "native-gcm: sealFanout takes 8 arguments");
  bool is_array = false;
  /* An empty Uint32Array may have no data pointer at all: whether handles came is by_handle. */
  bool by_handle = false;
  const uint32_t *handles = NULL;
  size_t handle_count = 0;
  if (napi_is_array(env, argv[0], &is_array) != napi_ok) return NULL;
  if (!is_array) {
    napi_typedarray_type handles_type;
    void *handles_data = NULL;
    bool is_typedarray = false;
    if (napi_is_typedarray(env, argv[0], &is_typedarray) != napi_ok || !is_typedarray ||
        napi_get_typedarray_info(env, argv[0], &handles_type, &handle_count, &handles_data, NULL, NULL) != napi_ok || handles_type != napi_uint32_array) {
      return throw_type(env, "native-gcm: engines must be an Array of engines or a Uint32Array of their handles");
    }
    handles = handles_data;
    by_handle = true;
  }
  Bytes ivs, packet, out;
  if (!get_bytes(env, argv[1], &ivs)) return throw_type(env, "native-gcm: ivs must be a Uint8Array");
  napi_typedarray_type seqs_type;
  size_t seqs_length = 0;
  void *seqs_data = NULL;
  if (napi_get_typedarray_info(env, argv[2], &seqs_type, &seqs_length, &seqs_data, NULL, NULL) != napi_ok || seqs_type != napi_uint16_array) {
    return throw_type(env, "native-gcm: seqs must be a Uint16Array");
  }
  if (!get_bytes(env, argv[4], &packet)) return throw_type(env, "native-gcm: packet must be a Uint8Array");
  if (!get_bytes(env, argv[6], &out)) return throw_type(env, "native-gcm: out must be a Uint8Array");
  double count_value = 0, aad_value = 0, offset_value = 0;
  if (napi_get_value_double(env, argv[3], &count_value) != napi_ok) return throw_type(env, "native-gcm: count must be a number");
  if (napi_get_value_double(env, argv[5], &aad_value) != napi_ok) return throw_type(env, "native-gcm: aadLength must be a number");
  if (napi_get_value_double(env, argv[7], &offset_value) != napi_ok) return throw_type(env, "native-gcm: outOffset must be a number");
  uint32_t engine_count = 0;
  if (by_handle) engine_count = handle_count > UINT32_MAX ? UINT32_MAX : (uint32_t)handle_count;
  else if (napi_get_array_length(env, argv[0], &engine_count) != napi_ok) return NULL;
  /* The negated comparisons also catch NaN. */
  if (!(count_value >= 0) || !(count_value <= (double)engine_count) || count_value != (double)(size_t)count_value) {
    return throw_range(env, "native-gcm: count must be an integer no larger than engines.length");
  }
  size_t count = (size_t)count_value;
  if (ivs.length / IV_LENGTH < count) return throw_range(env, "native-gcm: ivs holds fewer than count IVs");
  if (seqs_length < count) return throw_range(env, "native-gcm: seqs holds fewer than count sequence numbers");
  if (!fits_int(packet.length)) return throw_range(env, "native-gcm: packet too long");
  /* An RTP header is at least 12 octets, so the sequence number is inside it. */
  if (!(aad_value >= 4) || !(aad_value <= (double)packet.length) || aad_value != (double)(size_t)aad_value) {
    return throw_range(env, "native-gcm: aadLength must be an integer from 4 to packet.length");
  }
  if (!(offset_value >= 0) || !(offset_value <= (double)out.length) || offset_value != (double)(size_t)offset_value) {
    return throw_range(env, "native-gcm: outOffset must be an integer within out");
  }
  size_t aad_length = (size_t)aad_value;
  size_t offset = (size_t)offset_value;
  size_t sealed_length = packet.length + TAG_LENGTH;
  if (count > 0 && (out.length - offset) / sealed_length < count) return throw_range(env, "native-gcm: out is too short for count sealed copies");
  size_t run_length = count * sealed_length;
  uint8_t *run = out.data + offset;
  if (overlaps(run, run_length, packet.data, packet.length) || overlaps(run, run_length, ivs.data, count * IV_LENGTH) ||
      overlaps(run, run_length, seqs_data, count * sizeof(uint16_t)) || (by_handle && count > 0 && overlaps(run, run_length, (const uint8_t *)handles, count * sizeof(uint32_t)))) {
    return throw_range(env, "native-gcm: out overlaps packet, ivs, seqs or handles");
  }
  /* Every engine first, so that a wrong one is found before anything is written. */
  GcmEngine *stack_engines[64];
  GcmEngine **engines = count <= 64 ? stack_engines : malloc(count * sizeof *engines);
  if (engines == NULL) return throw_openssl(env, "native-gcm: out of memory");
  napi_value result = NULL;
  if (by_handle) {
    ModuleState *state = NULL;
    if (napi_get_instance_data(env, (void **)&state) != napi_ok || state == NULL) {
      throw_pending_or(env, "native-gcm: no engine table");
      goto done;
    }
    for (size_t i = 0; i < count; i++) {
      if ((engines[i] = engine_by_handle(env, state, handles[i])) == NULL) goto done;
    }
  } else {
    for (size_t i = 0; i < count; i++) {
      napi_value element;
      if (napi_get_element(env, argv[0], (uint32_t)i, &element) != napi_ok) goto done;
      if ((engines[i] = live_engine(env, element)) == NULL) goto done;
    }
  }
  const uint16_t *seqs = seqs_data;
  const size_t pt_length = packet.length - aad_length;
  for (size_t i = 0; i < count; i++) {
    uint8_t *dst = run + i * sealed_length;
    memcpy(dst, packet.data, aad_length);
    dst[2] = (uint8_t)(seqs[i] >> 8);
    dst[3] = (uint8_t)(seqs[i] & 0xff);
    const Bytes aad = {dst, aad_length};
    if (!gcm_seal(engines[i]->ctx, ivs.data + i * IV_LENGTH, &aad, packet.data + aad_length, pt_length, dst + aad_length)) {
      throw_openssl(env, "native-gcm: seal failed");
      goto done;
    }
  }
  if (napi_create_uint32(env, (uint32_t)count, &result) != napi_ok) result = NULL;
done:
  if (engines != stack_engines) free(engines);
  return result;
}

/*
 * sealFanoutIndexed(handles, ssrc, indices, count, packet, aadLength, out, outOffset): number
 *
 * sealFanout for engines that hold their SRTP session salt (created with createAesGcm's third
 * argument): receiver i's copy is sealed under the engine with handles[i], carrying the sequence
 * number indices[i] mod 2^16, with the IV built here from that engine's salt, `ssrc` and the
 * packet index indices[i] (RFC 7714 §8.1) — what sealFanout gives when handed those IVs and
 * sequence numbers. Returns count.
 *
 *   handles  Uint32Array of at least count engine handles
 *   ssrc     the packet's SSRC (every receiver's copy carries the same one)
 *   indices  Float64Array of at least count packet indices, integers from 0 to 2^48 - 1
 *
 * Why: building each receiver's IV in JS read that receiver's salt from the JS heap, a cache
 * line per receiver (on the relay, its profile's largest JS item after the router itself); the
 * engine's salt sits beside the cipher context this call reads anyway. Checks as sealFanout's:
 * nothing is written for anyone if an argument is wrong (an engine without a salt included).
 */
static napi_value seal_fanout_indexed(napi_env env, napi_callback_info info) {
  size_t argc = 8;
  napi_value argv[8];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  if (argc < 8) return throw_type(env, "native-gcm: sealFanoutIndexed takes 8 arguments");
  napi_typedarray_type type;
  void *handles_data = NULL, *indices_data = NULL;
  size_t handle_count = 0, index_count = 0;
  bool is_typedarray = false;
  if (napi_is_typedarray(env, argv[0], &is_typedarray) != napi_ok || !is_typedarray ||
      napi_get_typedarray_info(env, argv[0], &type, &handle_count, &handles_data, NULL, NULL) != napi_ok || type != napi_uint32_array) {
    return throw_type(env, "native-gcm: handles must be a Uint32Array");
  }
  uint32_t ssrc = 0;
  if (!get_ssrc(env, argv[1], &ssrc)) return NULL;
  is_typedarray = false;
  if (napi_is_typedarray(env, argv[2], &is_typedarray) != napi_ok || !is_typedarray ||
      napi_get_typedarray_info(env, argv[2], &type, &index_count, &indices_data, NULL, NULL) != napi_ok || type != napi_float64_array) {
    return throw_type(env, "native-gcm: indices must be a Float64Array");
  }
  Bytes packet, out;
  if (!get_bytes(env, argv[4], &packet)) return throw_type(env, "native-gcm: packet must be a Uint8Array");
  if (!get_bytes(env, argv[6], &out)) return throw_type(env, "native-gcm: out must be a Uint8Array");
  double count_value = 0, aad_value = 0, offset_value = 0;
  if (napi_get_value_double(env, argv[3], &count_value) != napi_ok) return throw_type(env, "native-gcm: count must be a number");
  if (napi_get_value_double(env, argv[5], &aad_value) != napi_ok) return throw_type(env, "native-gcm: aadLength must be a number");
  if (napi_get_value_double(env, argv[7], &offset_value) != napi_ok) return throw_type(env, "native-gcm: outOffset must be a number");
  /* The negated comparisons also catch NaN. */
  if (!(count_value >= 0) || !(count_value <= (double)handle_count) || count_value != (double)(size_t)count_value) {
    return throw_range(env, "native-gcm: count must be an integer no larger than handles.length");
  }
  size_t count = (size_t)count_value;
  if (index_count < count) return throw_range(env, "native-gcm: indices holds fewer than count packet indices");
  if (!fits_int(packet.length)) return throw_range(env, "native-gcm: packet too long");
  if (!(aad_value >= 4) || !(aad_value <= (double)packet.length) || aad_value != (double)(size_t)aad_value) {
    return throw_range(env, "native-gcm: aadLength must be an integer from 4 to packet.length");
  }
  if (!(offset_value >= 0) || !(offset_value <= (double)out.length) || offset_value != (double)(size_t)offset_value) {
    return throw_range(env, "native-gcm: outOffset must be an integer within out");
  }
  const uint32_t *handles = handles_data;
  const double *indices = indices_data;
  size_t aad_length = (size_t)aad_value;
  size_t offset = (size_t)offset_value;
  size_t sealed_length = packet.length + TAG_LENGTH;
  if (count > 0 && (out.length - offset) / sealed_length < count) return throw_range(env, "native-gcm: out is too short for count sealed copies");
  size_t run_length = count * sealed_length;
  uint8_t *run = out.data + offset;
  if (overlaps(run, run_length, packet.data, packet.length) || (count > 0 && overlaps(run, run_length, (const uint8_t *)indices, count * sizeof(double))) ||
      (count > 0 && overlaps(run, run_length, (const uint8_t *)handles, count * sizeof(uint32_t)))) {
    return throw_range(env, "native-gcm: out overlaps packet, indices or handles");
  }
  for (size_t i = 0; i < count; i++) {
    if (!is_rtp_index(indices[i])) return throw_range(env, "native-gcm: every index must be an integer from 0 to 2^48 - 1");
  }
  /* Every engine first, so that a wrong one is found before anything is written. */
  GcmEngine *stack_engines[64];
  GcmEngine **engines = count <= 64 ? stack_engines : malloc(count * sizeof *engines);
  if (engines == NULL) return throw_openssl(env, "native-gcm: out of memory");
  napi_value result = NULL;
  ModuleState *state = NULL;
  if (napi_get_instance_data(env, (void **)&state) != napi_ok || state == NULL) {
    throw_pending_or(env, "native-gcm: no engine table");
    goto done;
  }
  for (size_t i = 0; i < count; i++) {
    if ((engines[i] = engine_by_handle(env, state, handles[i])) == NULL) goto done;
    if (!engines[i]->has_salt) {
      throw_type(env, "native-gcm: sealFanoutIndexed needs engines created with a salt");
      goto done;
    }
  }
  const size_t pt_length = packet.length - aad_length;
  uint8_t iv[IV_LENGTH];
  for (size_t i = 0; i < count; i++) {
    uint8_t *dst = run + i * sealed_length;
    uint64_t index = (uint64_t)indices[i];
    memcpy(dst, packet.data, aad_length);
    dst[2] = (uint8_t)(index >> 8);
    dst[3] = (uint8_t)index;
    rtp_iv(engines[i]->salt, ssrc, index, iv);
    const Bytes aad = {dst, aad_length};
    if (!gcm_seal(engines[i]->ctx, iv, &aad, packet.data + aad_length, pt_length, dst + aad_length)) {
      throw_openssl(env, "native-gcm: seal failed");
      goto wiped;
    }
  }
  if (napi_create_uint32(env, (uint32_t)count, &result) != napi_ok) result = NULL;
wiped:
  OPENSSL_cleanse(iv, sizeof iv);
done:
  if (engines != stack_engines) free(engines);
  return result;
}

/*
 * openRtpIndexed(handle, ssrc, index, packet, aadLength, out, outOffset): number
 *
 * An engine's openPacketInto, with the engine named by its `handle` and the IV built here from
 * its salt (createAesGcm's third argument), `ssrc` and the packet index `index` (RFC 7714 §8.1):
 * the relay's inbound path. Neither the salt nor the engine object is read from the JS heap,
 * and the engine is found by a table lookup instead of napi_unwrap. Same answer as
 * openPacketInto: the length written (packet.length - 16), or -1 when the packet does not verify
 * (then out holds no plaintext). A handle naming no live engine of this thread, or an engine
 * without a salt, is a TypeError.
 */
static napi_value open_rtp_indexed(napi_env env, napi_callback_info info) {
  size_t argc = 7;
  napi_value argv[7];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  if (argc < 7) return throw_type(env, "native-gcm: openRtpIndexed takes 7 arguments");
  double handle_value = 0, index = 0;
  if (napi_get_value_double(env, argv[0], &handle_value) != napi_ok) return throw_type(env, "native-gcm: handle must be a number");
  if (!(handle_value >= 0) || !(handle_value <= 4294967295.0) || handle_value != (double)(uint32_t)handle_value) {
    return throw_type(env, "native-gcm: not the handle of a live AES-GCM engine of this thread");
  }
  uint32_t ssrc = 0;
  if (!get_ssrc(env, argv[1], &ssrc)) return NULL;
  if (napi_get_value_double(env, argv[2], &index) != napi_ok) return throw_type(env, "native-gcm: index must be a number");
  if (!is_rtp_index(index)) return throw_range(env, "native-gcm: index must be an integer from 0 to 2^48 - 1");
  ModuleState *state = NULL;
  if (napi_get_instance_data(env, (void **)&state) != napi_ok || state == NULL) return throw_pending_or(env, "native-gcm: no engine table");
  GcmEngine *engine = engine_by_handle(env, state, (uint32_t)handle_value);
  if (engine == NULL) return NULL;
  if (!engine->has_salt) return throw_type(env, "native-gcm: this engine was created without a salt");
  Bytes packet;
  size_t aad_length = 0, out_length = 0;
  /* argv + 2: packet_args reads packet, aadLength, out and outOffset at [1..4], and no IV. */
  uint8_t *dst = packet_args(env, argv + 2, NULL, &packet, &aad_length, -(long)TAG_LENGTH, &out_length);
  if (dst == NULL) return NULL;
  int32_t answer = -1;
  /* From here on the bytes are the network's: every failure is -1, never an exception. */
  if (packet.length - aad_length >= TAG_LENGTH) {
    uint8_t iv[IV_LENGTH];
    rtp_iv(engine->salt, ssrc, (uint64_t)index, iv);
    const Bytes aad = {packet.data, aad_length};
    const Bytes sealed = {packet.data + aad_length, packet.length - aad_length};
    if (gcm_open(engine->ctx, iv, &aad, &sealed, dst + aad_length)) {
      memcpy(dst, packet.data, aad_length);
      answer = (int32_t)out_length;
    }
    OPENSSL_cleanse(iv, sizeof iv);
  }
  napi_value result;
  if (napi_create_int32(env, answer, &result) != napi_ok) return NULL;
  return result;
}

static void free_module_state(napi_env env, void *data, void *hint) {
  (void)hint;
  ModuleState *state = data;
  napi_delete_reference(env, state->constructor);
  state->constructor = NULL;
  /* Engines still alive keep the table (their finalizers may run after this one). */
  release_state(state);
}

/* ---- module --------------------------------------------------------------------------------- */

NAPI_MODULE_INIT(/* napi_env env, napi_value exports */) {
  napi_value abi, openssl, create, fanout, fanout_indexed, open_indexed;
  if (napi_create_uint32(env, ABI_VERSION, &abi) != napi_ok ||
      napi_create_string_utf8(env, OpenSSL_version(OPENSSL_VERSION), NAPI_AUTO_LENGTH, &openssl) != napi_ok ||
      napi_create_function(env, "createAesGcm", NAPI_AUTO_LENGTH, create_aes_gcm, NULL, &create) != napi_ok ||
      napi_create_function(env, "sealFanout", NAPI_AUTO_LENGTH, seal_fanout, NULL, &fanout) != napi_ok ||
      napi_create_function(env, "sealFanoutIndexed", NAPI_AUTO_LENGTH, seal_fanout_indexed, NULL, &fanout_indexed) != napi_ok ||
      napi_create_function(env, "openRtpIndexed", NAPI_AUTO_LENGTH, open_rtp_indexed, NULL, &open_indexed) != napi_ok) {
    return NULL;
  }
  napi_property_descriptor props[] = {
      {"abiVersion", NULL, NULL, NULL, NULL, abi, napi_enumerable, NULL},
      {"opensslVersion", NULL, NULL, NULL, NULL, openssl, napi_enumerable, NULL},
      {"createAesGcm", NULL, NULL, NULL, NULL, create, napi_enumerable, NULL},
      {"sealFanout", NULL, NULL, NULL, NULL, fanout, napi_enumerable, NULL},
      {"sealFanoutIndexed", NULL, NULL, NULL, NULL, fanout_indexed, napi_enumerable, NULL},
      {"openRtpIndexed", NULL, NULL, NULL, NULL, open_indexed, napi_enumerable, NULL},
  };
  if (napi_define_properties(env, exports, sizeof props / sizeof props[0], props) != napi_ok) return NULL;

  /* One class for every engine: its methods live on the prototype, not on each instance. */
  napi_property_descriptor methods[] = {
      {"seal", NULL, engine_seal, NULL, NULL, NULL, napi_default_method, NULL},
      {"open", NULL, engine_open, NULL, NULL, NULL, napi_default_method, NULL},
      {"sealInto", NULL, engine_seal_into, NULL, NULL, NULL, napi_default_method, NULL},
      {"sealPacketInto", NULL, engine_seal_packet_into, NULL, NULL, NULL, napi_default_method, NULL},
      {"openPacketInto", NULL, engine_open_packet_into, NULL, NULL, NULL, napi_default_method, NULL},
      {"wipe", NULL, engine_wipe, NULL, NULL, NULL, napi_default_method, NULL},
  };
  napi_value engine_class;
  ModuleState *state = calloc(1, sizeof *state);
  if (state != NULL) {
    state->refs = 1;
    state->free_head = MAX_SLOTS;
  }
  if (state == NULL ||
      napi_define_class(env, "NativeAesGcmEngine", NAPI_AUTO_LENGTH, engine_constructor, NULL, sizeof methods / sizeof methods[0], methods,
                        &engine_class) != napi_ok ||
      napi_create_reference(env, engine_class, 1, &state->constructor) != napi_ok ||
      napi_set_instance_data(env, state, free_module_state, NULL) != napi_ok) {
    free(state);
    return NULL;
  }
  if (!parley_udp_export(env, exports) || !parley_readable_export(env, exports) || !parley_keys_export(env, exports)) return NULL;
  return exports;
}
