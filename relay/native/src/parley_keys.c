/*
 * parley_keys: key handling the relay does outside the JS heap, so that every copy of a secret
 * sits in memory this addon owns and cleanses (OPENSSL_cleanse) when it is done with it.
 *
 * Why here and not in JS: V8 moves small typed arrays around its heap (a scavenge copies them,
 * and asking an on-heap typed array for its buffer copies it off the heap), leaving copies that
 * no fill(0) reaches; node:crypto frees some buffers without zeroing them (a cipher's update()
 * re-allocates its output, and a cipher context lives until its JS object is collected). Memory
 * allocated here stays put, and is cleansed on every path: success, failure, wipe(), the GC, and
 * the end of the thread (N-API finalizers run when a worker's environment is torn down).
 *
 * JS surface (relay/src/io/native-keys.ts wraps it):
 *   createSealOpener(privateKey) → { publicKey, openInto(c, epk, ct, out), close() }
 *       The relay's half of docs/protocol.md §8.4: its X25519 key (held as an OpenSSL key from
 *       here on), and per seal shared = X25519(privateKey, epk), PRK = HKDF-Extract(SHA-256(C),
 *       shared), key and iv = HKDF-Expand(PRK, "parley-v1 relay-seal key"/"… iv"), and an
 *       AES-256-GCM open of ct (ciphertext ‖ tag) with aad = C into out. openInto answers 0
 *       (opened), 1 (does not authenticate; out cleansed) or 2 (all-zero shared secret). The
 *       caller checks epk against docs/protocol.md §3.3 first.
 *   createAesCtr(key) → { xor(iv, input), wipe() }
 *       AES-CTR keystream (RFC 3711 §4.1.1) for the SRTP key derivation (§4.3): one OpenSSL
 *       context per call, freed (and so cleansed) before it returns; the key is cleansed by wipe().
 *   createSecretBuffer(length) → ArrayBuffer
 *       Zero-filled memory for keys that must live a while (a key epoch's master keys until
 *       first use), cleansed when the buffer is freed: by the GC or when the thread ends.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <node_api.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "parley_keys.h"
#include "parley_napi.h"

#define X25519_LENGTH 32
#define SHA256_LENGTH 32
#define SEAL_KEY_LENGTH 32
#define SEAL_IV_LENGTH 12
#define TAG_LENGTH 16
/* The longest sealed plaintext is 2 × (32 + 12) bytes (aes256gcm); leave room, refuse more. */
#define MAX_SEAL_PLAINTEXT 1024
/* C is a few hundred bytes (ids of at most 128 characters each). */
#define MAX_SEAL_CONTEXT 4096
/* The SRTP KDF asks for at most 32 bytes at a time; a secret buffer holds many key sets. */
#define MAX_CTR_INPUT 4096
#define MAX_SECRET_BUFFER (16 * 1024 * 1024)

static const char SEAL_INFO_KEY[] = "parley-v1 relay-seal key";
static const char SEAL_INFO_IV[] = "parley-v1 relay-seal iv";

typedef struct {
  uint8_t *data;
  size_t length;
} Span;

static int get_span(napi_env env, napi_value value, Span *out) {
  napi_typedarray_type type;
  void *data = NULL;
  size_t length = 0;
  if (napi_get_typedarray_info(env, value, &type, &length, &data, NULL, NULL) != napi_ok || type != napi_uint8_array) return 0;
  out->data = (uint8_t *)data;
  out->length = length;
  return 1;
}

static int spans_overlap(const Span *a, const Span *b) {
  uintptr_t a0 = (uintptr_t)a->data, b0 = (uintptr_t)b->data;
  return a->length > 0 && b->length > 0 && a0 < b0 + b->length && b0 < a0 + a->length;
}

static napi_value new_uint8array_copy(napi_env env, const uint8_t *bytes, size_t length) {
  napi_value buffer, array;
  void *data = NULL;
  if (napi_create_arraybuffer(env, length, &data, &buffer) != napi_ok) return NULL;
  memcpy(data, bytes, length);
  if (napi_create_typedarray(env, napi_uint8_array, length, buffer, 0, &array) != napi_ok) return NULL;
  return array;
}

static napi_value int_value(napi_env env, int32_t n) {
  napi_value result;
  if (napi_create_int32(env, n, &result) != napi_ok) return NULL;
  return result;
}

/* ---- the seal opener ------------------------------------------------------------------------ */

typedef struct {
  EVP_PKEY *key; /* NULL after close() */
} SealOpener;

static void finalize_opener(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  SealOpener *opener = data;
  EVP_PKEY_free(opener->key); /* OpenSSL cleanses the private key as it frees it */
  free(opener);
}

static SealOpener *this_opener(napi_env env, napi_callback_info info, size_t *argc, napi_value *argv) {
  napi_value self;
  if (napi_get_cb_info(env, info, argc, argv, &self, NULL) != napi_ok) return NULL;
  void *data = NULL;
  if (napi_unwrap(env, self, &data) != napi_ok || data == NULL) {
    napi_throw_type_error(env, "ERR_INVALID_THIS", "native-keys: not a seal opener");
    return NULL;
  }
  return data;
}

/* HMAC-SHA256(key, data ‖ suffix) into out (32 bytes); the HMAC context is cleansed by OpenSSL. */
static int hmac_sha256(const uint8_t *key, size_t key_length, const uint8_t *data, size_t data_length, uint8_t suffix, bool with_suffix,
                       uint8_t out[SHA256_LENGTH]) {
  uint8_t message[64];
  size_t length = data_length + (with_suffix ? 1 : 0);
  if (length > sizeof message) return 0;
  memcpy(message, data, data_length);
  if (with_suffix) message[data_length] = suffix;
  unsigned int written = 0;
  int ok = HMAC(EVP_sha256(), key, (int)key_length, message, length, out, &written) != NULL && written == SHA256_LENGTH;
  OPENSSL_cleanse(message, sizeof message);
  return ok;
}

/* X25519(our key, epk) into shared; 0 if OpenSSL refuses (it refuses an all-zero result). */
static int x25519_shared(EVP_PKEY *ours, const uint8_t *epk, uint8_t shared[X25519_LENGTH]) {
  EVP_PKEY *peer = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL, epk, X25519_LENGTH);
  EVP_PKEY_CTX *ctx = peer == NULL ? NULL : EVP_PKEY_CTX_new(ours, NULL);
  size_t length = X25519_LENGTH;
  int ok = ctx != NULL && EVP_PKEY_derive_init(ctx) == 1 && EVP_PKEY_derive_set_peer(ctx, peer) == 1 && EVP_PKEY_derive(ctx, shared, &length) == 1 &&
           length == X25519_LENGTH;
  EVP_PKEY_CTX_free(ctx);
  EVP_PKEY_free(peer);
  return ok;
}

static int all_zero(const uint8_t *bytes, size_t length) {
  uint8_t any = 0;
  for (size_t i = 0; i < length; i++) any |= bytes[i];
  return any == 0;
}

/* AES-256-GCM open of ct = ciphertext ‖ tag with aad into out (ct_length - 16 bytes). */
static int aes256gcm_open(const uint8_t *key, const uint8_t *iv, const Span *aad, const Span *ct, uint8_t *out) {
  size_t body = ct->length - TAG_LENGTH;
  uint8_t tag[TAG_LENGTH];
  memcpy(tag, ct->data + body, TAG_LENGTH);
  EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
  int n = 0;
  uint8_t none[TAG_LENGTH];
  int ok = ctx != NULL && EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, iv) == 1 &&
           EVP_DecryptUpdate(ctx, NULL, &n, aad->data, (int)aad->length) == 1 &&
           (body == 0 || (EVP_DecryptUpdate(ctx, out, &n, ct->data, (int)body) == 1 && (size_t)n == body)) &&
           EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, TAG_LENGTH, tag) == 1 && EVP_DecryptFinal_ex(ctx, none, &n) == 1;
  EVP_CIPHER_CTX_free(ctx); /* cleanses the key schedule and GHASH state */
  return ok;
}

/* openInto(c, epk, ct, out): 0 opened, 1 does not authenticate, 2 all-zero shared secret. */
static napi_value opener_open_into(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  SealOpener *opener = this_opener(env, info, &argc, argv);
  if (opener == NULL) return NULL;
  if (opener->key == NULL) {
    napi_throw_type_error(env, "ERR_PARLEY_KEYS_CLOSED", "native-keys: seal opener used after close()");
    return NULL;
  }
  Span c, epk, ct, out;
  if (argc < 4 || !get_span(env, argv[0], &c) || !get_span(env, argv[1], &epk) || !get_span(env, argv[2], &ct) || !get_span(env, argv[3], &out)) {
    return throw_type(env, "native-keys: openInto(c, epk, ct, out) takes four Uint8Arrays");
  }
  if (c.length == 0 || c.length > MAX_SEAL_CONTEXT) return throw_range(env, "native-keys: c must be 1..4096 bytes");
  if (epk.length != X25519_LENGTH) return throw_range(env, "native-keys: epk must be 32 bytes");
  if (ct.length < TAG_LENGTH || ct.length - TAG_LENGTH > MAX_SEAL_PLAINTEXT) return throw_range(env, "native-keys: ct must hold a tag and at most 1024 bytes");
  if (out.length != ct.length - TAG_LENGTH) return throw_range(env, "native-keys: out must be ct.length - 16 bytes");
  if (spans_overlap(&out, &c) || spans_overlap(&out, &epk) || spans_overlap(&out, &ct)) return throw_range(env, "native-keys: out overlaps an input");

  uint8_t shared[X25519_LENGTH], salt[SHA256_LENGTH], prk[SHA256_LENGTH], okm_key[SHA256_LENGTH], okm_iv[SHA256_LENGTH];
  int32_t answer = 1;
  unsigned int salt_length = 0;
  if (!x25519_shared(opener->key, epk.data, shared) || all_zero(shared, sizeof shared)) {
    answer = 2;
  } else if (EVP_Digest(c.data, c.length, salt, &salt_length, EVP_sha256(), NULL) == 1 && salt_length == SHA256_LENGTH &&
             /* RFC 5869 §2.2: PRK = HMAC-Hash(salt, IKM); §2.3: T(1) = HMAC-Hash(PRK, info ‖ 0x01), enough for L ≤ 32. */
             hmac_sha256(salt, sizeof salt, shared, sizeof shared, 0, false, prk) &&
             hmac_sha256(prk, sizeof prk, (const uint8_t *)SEAL_INFO_KEY, sizeof SEAL_INFO_KEY - 1, 0x01, true, okm_key) &&
             hmac_sha256(prk, sizeof prk, (const uint8_t *)SEAL_INFO_IV, sizeof SEAL_INFO_IV - 1, 0x01, true, okm_iv) &&
             aes256gcm_open(okm_key, okm_iv, &c, &ct, out.data)) {
    answer = 0;
  }
  if (answer != 0) OPENSSL_cleanse(out.data, out.length);
  OPENSSL_cleanse(shared, sizeof shared);
  OPENSSL_cleanse(prk, sizeof prk);
  OPENSSL_cleanse(okm_key, sizeof okm_key);
  OPENSSL_cleanse(okm_iv, sizeof okm_iv);
  ERR_clear_error();
  return int_value(env, answer);
}

/* close(): frees (and so cleanses) the private key. Idempotent. */
static napi_value opener_close(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  SealOpener *opener = this_opener(env, info, &argc, NULL);
  if (opener == NULL) return NULL;
  EVP_PKEY_free(opener->key);
  opener->key = NULL;
  return NULL;
}

/* createSealOpener(privateKey: 32 bytes): the key is copied into OpenSSL; the caller may wipe its own. */
static napi_value create_seal_opener(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  Span key;
  if (argc < 1 || !get_span(env, argv[0], &key)) return throw_type(env, "native-keys: privateKey must be a Uint8Array");
  if (key.length != X25519_LENGTH) return throw_range(env, "native-keys: privateKey must be 32 bytes");
  SealOpener *opener = calloc(1, sizeof *opener);
  if (opener == NULL) {
    napi_throw_error(env, "ERR_MEMORY", "native-keys: out of memory");
    return NULL;
  }
  opener->key = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, key.data, X25519_LENGTH);
  uint8_t public_key[X25519_LENGTH];
  size_t public_length = X25519_LENGTH;
  if (opener->key == NULL || EVP_PKEY_get_raw_public_key(opener->key, public_key, &public_length) != 1 || public_length != X25519_LENGTH) {
    EVP_PKEY_free(opener->key);
    free(opener);
    ERR_clear_error();
    napi_throw_error(env, "ERR_PARLEY_KEYS_OPENSSL", "native-keys: OpenSSL refused the X25519 private key");
    return NULL;
  }
  napi_value object, open_fn, close_fn, public_value;
  if (napi_create_object(env, &object) != napi_ok) goto fail;
  if (napi_wrap(env, object, opener, finalize_opener, NULL, NULL) != napi_ok) goto fail;
  opener = NULL; /* the wrapper owns it from here on */
  if (napi_create_function(env, "openInto", NAPI_AUTO_LENGTH, opener_open_into, NULL, &open_fn) != napi_ok ||
      napi_create_function(env, "close", NAPI_AUTO_LENGTH, opener_close, NULL, &close_fn) != napi_ok ||
      (public_value = new_uint8array_copy(env, public_key, X25519_LENGTH)) == NULL) {
    return NULL;
  }
  napi_property_descriptor props[] = {
      {"publicKey", NULL, NULL, NULL, NULL, public_value, napi_enumerable, NULL},
      {"openInto", NULL, NULL, NULL, NULL, open_fn, napi_default, NULL},
      {"close", NULL, NULL, NULL, NULL, close_fn, napi_default, NULL},
  };
  if (napi_define_properties(env, object, sizeof props / sizeof props[0], props) != napi_ok) return NULL;
  return object;
fail:
  if (opener != NULL) {
    EVP_PKEY_free(opener->key);
    free(opener);
  }
  napi_throw_error(env, "ERR_PARLEY_KEYS", "native-keys: could not create the seal opener");
  return NULL;
}

/* ---- AES-CTR for the SRTP key derivation ---------------------------------------------------- */

typedef struct {
  uint8_t key[32];
  uint8_t key_length; /* 16 or 32; 0 after wipe() */
} CtrEngine;

static void finalize_ctr(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  CtrEngine *engine = data;
  OPENSSL_cleanse(engine, sizeof *engine);
  free(engine);
}

static CtrEngine *this_ctr(napi_env env, napi_callback_info info, size_t *argc, napi_value *argv) {
  napi_value self;
  if (napi_get_cb_info(env, info, argc, argv, &self, NULL) != napi_ok) return NULL;
  void *data = NULL;
  if (napi_unwrap(env, self, &data) != napi_ok || data == NULL) {
    napi_throw_type_error(env, "ERR_INVALID_THIS", "native-keys: not an AES-CTR engine");
    return NULL;
  }
  return data;
}

/* xor(iv, input): input XOR the AES-CTR keystream from the 16-byte counter block iv, in a new array. */
static napi_value ctr_xor(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CtrEngine *engine = this_ctr(env, info, &argc, argv);
  if (engine == NULL) return NULL;
  if (engine->key_length == 0) {
    napi_throw_type_error(env, "ERR_PARLEY_KEYS_WIPED", "native-keys: AES-CTR engine used after wipe()");
    return NULL;
  }
  Span iv, input;
  if (argc < 2 || !get_span(env, argv[0], &iv) || !get_span(env, argv[1], &input)) return throw_type(env, "native-keys: xor(iv, input) takes two Uint8Arrays");
  if (iv.length != 16) return throw_range(env, "native-keys: iv must be 16 bytes");
  if (input.length > MAX_CTR_INPUT) return throw_range(env, "native-keys: input too long");
  napi_value buffer, result;
  void *out = NULL;
  if (napi_create_arraybuffer(env, input.length, &out, &buffer) != napi_ok ||
      napi_create_typedarray(env, napi_uint8_array, input.length, buffer, 0, &result) != napi_ok) {
    return NULL;
  }
  EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
  const EVP_CIPHER *cipher = engine->key_length == 16 ? EVP_aes_128_ctr() : EVP_aes_256_ctr();
  int n = 0;
  int ok = ctx != NULL && EVP_EncryptInit_ex(ctx, cipher, NULL, engine->key, iv.data) == 1 &&
           (input.length == 0 || (EVP_EncryptUpdate(ctx, out, &n, input.data, (int)input.length) == 1 && (size_t)n == input.length));
  EVP_CIPHER_CTX_free(ctx); /* frees and cleanses the key schedule now, not when a GC gets to it */
  if (!ok) {
    if (input.length > 0) OPENSSL_cleanse(out, input.length);
    ERR_clear_error();
    napi_throw_error(env, "ERR_PARLEY_KEYS_OPENSSL", "native-keys: AES-CTR failed");
    return NULL;
  }
  return result;
}

static napi_value ctr_wipe(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  CtrEngine *engine = this_ctr(env, info, &argc, NULL);
  if (engine == NULL) return NULL;
  OPENSSL_cleanse(engine->key, sizeof engine->key);
  engine->key_length = 0;
  return NULL;
}

static napi_value create_aes_ctr(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  Span key;
  if (argc < 1 || !get_span(env, argv[0], &key)) return throw_type(env, "native-keys: key must be a Uint8Array");
  if (key.length != 16 && key.length != 32) return throw_range(env, "native-keys: AES key must be 16 or 32 bytes");
  CtrEngine *engine = calloc(1, sizeof *engine);
  if (engine == NULL) {
    napi_throw_error(env, "ERR_MEMORY", "native-keys: out of memory");
    return NULL;
  }
  memcpy(engine->key, key.data, key.length);
  engine->key_length = (uint8_t)key.length;
  napi_value object, xor_fn, wipe_fn;
  if (napi_create_object(env, &object) != napi_ok || napi_wrap(env, object, engine, finalize_ctr, NULL, NULL) != napi_ok) {
    OPENSSL_cleanse(engine, sizeof *engine);
    free(engine);
    napi_throw_error(env, "ERR_PARLEY_KEYS", "native-keys: could not create the AES-CTR engine");
    return NULL;
  }
  if (napi_create_function(env, "xor", NAPI_AUTO_LENGTH, ctr_xor, NULL, &xor_fn) != napi_ok ||
      napi_create_function(env, "wipe", NAPI_AUTO_LENGTH, ctr_wipe, NULL, &wipe_fn) != napi_ok) {
    return NULL;
  }
  napi_property_descriptor props[] = {
      {"xor", NULL, NULL, NULL, NULL, xor_fn, napi_default, NULL},
      {"wipe", NULL, NULL, NULL, NULL, wipe_fn, napi_default, NULL},
  };
  if (napi_define_properties(env, object, sizeof props / sizeof props[0], props) != napi_ok) return NULL;
  return object;
}

/* ---- secret buffers ------------------------------------------------------------------------- */

typedef struct {
  size_t length;
} SecretHeader;

static void free_secret(napi_env env, void *data, void *hint) {
  (void)env;
  (void)data;
  SecretHeader *header = hint;
  OPENSSL_cleanse((uint8_t *)(header + 1), header->length);
  free(header);
}

/* createSecretBuffer(length): a zero-filled ArrayBuffer whose memory is cleansed when it is freed. */
static napi_value create_secret_buffer(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  double length_value = 0;
  napi_valuetype type;
  if (argc < 1 || napi_typeof(env, argv[0], &type) != napi_ok || type != napi_number || napi_get_value_double(env, argv[0], &length_value) != napi_ok) {
    return throw_type(env, "native-keys: length must be a number");
  }
  if (!(length_value >= 1) || !(length_value <= MAX_SECRET_BUFFER) || length_value != (double)(size_t)length_value) {
    return throw_range(env, "native-keys: length must be an integer from 1 to 16 MiB");
  }
  size_t length = (size_t)length_value;
  SecretHeader *header = calloc(1, sizeof *header + length);
  if (header == NULL) {
    napi_throw_error(env, "ERR_MEMORY", "native-keys: out of memory");
    return NULL;
  }
  header->length = length;
  napi_value buffer;
  if (napi_create_external_arraybuffer(env, header + 1, length, free_secret, header, &buffer) != napi_ok) {
    free(header);
    napi_throw_error(env, "ERR_PARLEY_KEYS", "native-keys: could not create a secret buffer");
    return NULL;
  }
  return buffer;
}

int parley_keys_export(napi_env env, napi_value exports) {
  napi_value opener, ctr, secret;
  if (napi_create_function(env, "createSealOpener", NAPI_AUTO_LENGTH, create_seal_opener, NULL, &opener) != napi_ok ||
      napi_create_function(env, "createAesCtr", NAPI_AUTO_LENGTH, create_aes_ctr, NULL, &ctr) != napi_ok ||
      napi_create_function(env, "createSecretBuffer", NAPI_AUTO_LENGTH, create_secret_buffer, NULL, &secret) != napi_ok) {
    return 0;
  }
  return napi_set_named_property(env, exports, "createSealOpener", opener) == napi_ok && napi_set_named_property(env, exports, "createAesCtr", ctr) == napi_ok &&
         napi_set_named_property(env, exports, "createSecretBuffer", secret) == napi_ok;
}
