/*
 * parley_udp: the relay's datagram I/O in batches, with sendmmsg(2) and recvmmsg(2), in the same addon as
 * parley_gcm (one .node file to build and ship).
 *
 * Why it exists: every dgram.Socket.send() costs the relay ~4-5 µs (a libuv send request, its
 * completion callback, two JS<->C++ crossings, one sendmsg syscall), as much as all of its
 * crypto. One incoming voice datagram fans out to 4-20 listeners; sendmmsg hands all of them to
 * the kernel in one syscall from one native call.
 *
 * JS surface (relay/src/io/native-udp.ts wraps it; relay/src/io/datagram-batch.ts is the only user):
 *   sendBatch(fd, data, meta, count): number
 *     fd     a non-blocking UDP/IPv4 socket (the relay's own dgram socket; see datagram-batch.ts)
 *     data   Uint8Array holding the datagrams' bytes
 *     meta   Uint32Array, META_WORDS words per datagram: [offset in data, length, IPv4 address
 *            as a number (a.b.c.d = a*2^24 + b*2^16 + c*2^8 + d), port]
 *     count  datagrams to send: meta[0 .. count*META_WORDS)
 *     → how many datagrams the kernel took (0..count); or, when it took none because of an
 *       error, that error as a negative errno (-EAGAIN: the send buffer is full).
 *   recvBatch(fd, data, meta, capacity, slotBytes): number
 *     Receives up to `capacity` waiting datagrams with one recvmmsg(2). Datagram i lands in
 *     slot i of `data` (bytes [i*slotBytes, (i+1)*slotBytes)); meta gets META_WORDS words per
 *     datagram: [offset, length, sender's IPv4 address as a number, sender's port]. A datagram
 *     longer than its slot is cut to slotBytes by the kernel (MSG_TRUNC): give slots one byte
 *     more than the largest datagram you accept, and a length of slotBytes means "too large".
 *     → how many datagrams arrived (0 when none was waiting), or -errno for a socket error.
 *   udp4SocketPort(fd): number
 *     → the local port if fd is a UDP socket of family AF_INET, else -1: lets the JS side prove
 *       that the fd it found is the socket it means before writing to it.
 *   clearSocketError(fd): number
 *     Takes the socket's pending error (SO_ERROR, which also clears it) and empties its error
 *     queue (MSG_ERRQUEUE), what makes poll(2) report POLLERR on it, so that polling can resume.
 *     → the pending error as -errno (0 if none).
 *
 * Never blocks: MSG_DONTWAIT, whatever the fd's own mode. Never throws for what the kernel
 * says: a datagram refused for its own sake (EINVAL for port 0, EMSGSIZE, EACCES for a broadcast
 * address, EPERM from a firewall, unreachable networks) is skipped and the rest still go; an
 * error of the whole socket (EAGAIN, ENOBUFS, EBADF...) ends the batch, and the datagrams not
 * sent are the caller's to count as dropped. Real-time voice would rather lose a packet than
 * queue it: there is no retry and no queue here. Bad arguments, found before anything is sent,
 * throw: TypeError for a wrong type, RangeError for a wrong value.
 *
 * Threads: no state at all; the mmsghdr arrays live on the stack, so concurrent calls (from
 * worker_threads, each with its own module instance) cannot interfere.
 */
#if defined(__linux__)
#define _GNU_SOURCE /* sendmmsg, recvmmsg, struct mmsghdr */
#endif

#include "parley_napi.h"
#include "parley_udp.h"

#if defined(__linux__)

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

#define META_WORDS 4
/* Datagrams per sendmmsg call: bounds the stack arrays (~6 KB); longer batches take several calls. */
#define CHUNK 64
/* A signal arriving mid-call: try again, but not forever. */
#define MAX_EINTR_RETRIES 8


/* A JS number that is an integer in [0, max]: 1; not a number: TypeError, 0; else RangeError, 0. */
static int get_index(napi_env env, napi_value value, double max, const char *type_message, const char *range_message,
                     size_t *out) {
  napi_valuetype type;
  double number = 0;
  if (napi_typeof(env, value, &type) != napi_ok || type != napi_number) return throw_type(env, type_message), 0;
  if (napi_get_value_double(env, value, &number) != napi_ok) return throw_type(env, type_message), 0;
  /* The negated comparisons also catch NaN. */
  if (!(number >= 0) || !(number <= max) || number != (double)(size_t)number) return throw_range(env, range_message), 0;
  *out = (size_t)number;
  return 1;
}

static int get_typed(napi_env env, napi_value value, napi_typedarray_type want, void **data, size_t *length) {
  napi_typedarray_type type;
  if (napi_get_typedarray_info(env, value, &type, length, data, NULL, NULL) != napi_ok) return 0;
  return type == want;
}

/*
 * Errors that belong to one datagram (its address, port or size), after which the next datagram
 * may well go: skip it. Anything else concerns the socket and ends the batch.
 */
static bool datagram_error(int error) {
  switch (error) {
    case EINVAL:       /* port 0, or an address the socket cannot reach from where it is bound */
    case EMSGSIZE:     /* larger than a UDP datagram */
    case EACCES:       /* a broadcast address without SO_BROADCAST */
    case EPERM:        /* a firewall rule */
    case ENETUNREACH:
    case EHOSTUNREACH:
    case EADDRNOTAVAIL:
    case ECONNREFUSED: /* an ICMP error queued for an earlier datagram */
      return true;
    default:
      return false;
  }
}

/* Fills headers for datagrams [first, first + n) of the batch. */
static void fill_chunk(const uint8_t *data, const uint32_t *meta, size_t first, unsigned n, struct mmsghdr *msgs,
                       struct iovec *iov, struct sockaddr_in *to) {
  memset(msgs, 0, n * sizeof *msgs);
  memset(to, 0, n * sizeof *to);
  for (unsigned i = 0; i < n; i++) {
    const uint32_t *m = meta + (first + i) * META_WORDS;
    iov[i].iov_base = (void *)(data + m[0]);
    iov[i].iov_len = m[1];
    to[i].sin_family = AF_INET;
    to[i].sin_port = htons((uint16_t)m[3]);
    to[i].sin_addr.s_addr = htonl(m[2]);
    msgs[i].msg_hdr.msg_name = &to[i];
    msgs[i].msg_hdr.msg_namelen = sizeof to[i];
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
  }
}

/*
 * Sends datagrams [0, count); returns how many the kernel took, or -errno if it took none.
 * Every pass of the loop either sends at least one datagram, skips one, or stops (EINTR
 * retries are bounded), so it runs at most 2 * count + MAX_EINTR_RETRIES times.
 */
static long send_all(int fd, const uint8_t *data, const uint32_t *meta, size_t count) {
  struct mmsghdr msgs[CHUNK];
  struct iovec iov[CHUNK];
  struct sockaddr_in to[CHUNK];
  size_t next = 0, sent = 0;
  int first_error = 0, interrupted = 0;
  while (next < count) {
    unsigned n = (unsigned)(count - next < CHUNK ? count - next : CHUNK);
    fill_chunk(data, meta, next, n, msgs, iov, to);
    int taken = sendmmsg(fd, msgs, n, MSG_DONTWAIT);
    if (taken > 0) {
      /*
       * Fewer than n: the kernel stopped at datagram next + taken and keeps its error for the
       * next call, which starts there and reports it (or sends it, if the condition passed).
       */
      sent += (size_t)taken;
      next += (size_t)taken;
      continue;
    }
    int error = taken < 0 ? errno : EIO;
    if (error == EINTR && interrupted++ < MAX_EINTR_RETRIES) continue;
    if (first_error == 0) first_error = error;
    if (!datagram_error(error)) break;
    next++; /* that datagram's own fault: drop it, carry on with the rest */
  }
  return sent > 0 || first_error == 0 ? (long)sent : -(long)first_error;
}

/* sendBatch(fd, data, meta, count): number — see the top of this file. */
static napi_value send_batch(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  size_t fd = 0, count = 0, data_length = 0, meta_length = 0;
  void *data = NULL, *meta = NULL;
  if (!get_index(env, argv[0], INT_MAX, "native-udp: fd must be a number", "native-udp: fd must be a file descriptor", &fd)) {
    return NULL;
  }
  if (!get_typed(env, argv[1], napi_uint8_array, &data, &data_length)) return throw_type(env, "native-udp: data must be a Uint8Array");
  if (!get_typed(env, argv[2], napi_uint32_array, &meta, &meta_length)) return throw_type(env, "native-udp: meta must be a Uint32Array");
  if (!get_index(env, argv[3], (double)(meta_length / META_WORDS), "native-udp: count must be a number",
                 "native-udp: count must be an integer from 0 to meta.length / 4", &count)) {
    return NULL;
  }
  const uint32_t *m = meta;
  /* Check everything before sending anything: a RangeError never leaves half a batch sent. */
  for (size_t i = 0; i < count; i++) {
    const uint32_t *d = m + i * META_WORDS;
    if (d[0] > data_length || d[1] > data_length - d[0]) {
      return throw_range(env, "native-udp: a datagram's offset and length must lie within data");
    }
    if (d[3] > 0xFFFF) return throw_range(env, "native-udp: a port must be at most 65535");
  }
  /* An empty (or detached) data array may have no pointer at all; its datagrams are all empty. */
  static const uint8_t no_bytes[1] = {0};
  const uint8_t *bytes = data != NULL ? data : no_bytes;
  napi_value result;
  if (napi_create_int64(env, count == 0 ? 0 : send_all((int)fd, bytes, m, count), &result) != napi_ok) return NULL;
  return result;
}

/*
 * recvBatch(fd, data, meta, capacity, slotBytes): number — see the top of this file.
 *
 * Why: node:dgram delivers one datagram per libuv callback, each with a new Buffer, a new rinfo
 * object and its address string, and a JS 'message' event: ~2-3 µs and ~200 bytes of garbage
 * per datagram before the relay has read a byte. recvmmsg fills a slab the relay reuses, and
 * the relay handles the whole burst in one JS call.
 */
static napi_value recv_batch(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  size_t fd = 0, capacity = 0, slot = 0, data_length = 0, meta_length = 0;
  void *data = NULL, *meta = NULL;
  if (!get_index(env, argv[0], INT_MAX, "native-udp: fd must be a number", "native-udp: fd must be a file descriptor", &fd)) {
    return NULL;
  }
  if (!get_typed(env, argv[1], napi_uint8_array, &data, &data_length)) return throw_type(env, "native-udp: data must be a Uint8Array");
  if (!get_typed(env, argv[2], napi_uint32_array, &meta, &meta_length)) return throw_type(env, "native-udp: meta must be a Uint32Array");
  if (!get_index(env, argv[3], CHUNK, "native-udp: capacity must be a number", "native-udp: capacity must be an integer from 1 to 64",
                 &capacity) ||
      !get_index(env, argv[4], 65536, "native-udp: slotBytes must be a number", "native-udp: slotBytes must be an integer from 1 to 65536",
                 &slot)) {
    return NULL;
  }
  if (capacity == 0 || slot == 0) return throw_range(env, "native-udp: capacity and slotBytes must be at least 1");
  if (capacity * slot > data_length) return throw_range(env, "native-udp: data must hold capacity * slotBytes bytes");
  if (capacity * META_WORDS > meta_length) return throw_range(env, "native-udp: meta must hold capacity * 4 words");

  struct mmsghdr msgs[CHUNK];
  struct iovec iov[CHUNK];
  struct sockaddr_in from[CHUNK];
  memset(msgs, 0, capacity * sizeof *msgs);
  for (size_t i = 0; i < capacity; i++) {
    iov[i].iov_base = (uint8_t *)data + i * slot;
    iov[i].iov_len = slot;
    msgs[i].msg_hdr.msg_name = &from[i];
    msgs[i].msg_hdr.msg_namelen = sizeof from[i];
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
  }
  int received = -1, interrupted = 0;
  do {
    received = recvmmsg((int)fd, msgs, (unsigned)capacity, MSG_DONTWAIT, NULL);
  } while (received < 0 && errno == EINTR && interrupted++ < MAX_EINTR_RETRIES);
  long result = received;
  if (received < 0) result = errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -(long)errno;
  uint32_t *m = meta;
  for (int i = 0; i < received; i++) {
    uint32_t *d = m + (size_t)i * META_WORDS;
    const struct sockaddr_in *sender = &from[i];
    bool ipv4 = msgs[i].msg_hdr.msg_namelen >= sizeof *sender && sender->sin_family == AF_INET;
    d[0] = (uint32_t)((size_t)i * slot);
    d[1] = msgs[i].msg_len;
    d[2] = ipv4 ? ntohl(sender->sin_addr.s_addr) : 0;
    d[3] = ipv4 ? ntohs(sender->sin_port) : 0;
  }
  napi_value value;
  if (napi_create_int64(env, result, &value) != napi_ok) return NULL;
  return value;
}

/* The bound port of fd if it is a UDP socket of family AF_INET, else -1. */
static int udp4_port(int fd) {
  int type = 0, protocol = 0;
  socklen_t length = sizeof type;
  if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &length) != 0 || type != SOCK_DGRAM) return -1;
  length = sizeof protocol;
  if (getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &protocol, &length) != 0 || protocol != IPPROTO_UDP) return -1;
  struct sockaddr_in self;
  memset(&self, 0, sizeof self);
  length = sizeof self;
  if (getsockname(fd, (struct sockaddr *)&self, &length) != 0 || self.sin_family != AF_INET) return -1;
  return ntohs(self.sin_port);
}

/* udp4SocketPort(fd): number — the bound port of a UDP/IPv4 socket, else -1. */
static napi_value udp4_socket_port(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  size_t fd = 0;
  if (!get_index(env, argv[0], INT_MAX, "native-udp: fd must be a number", "native-udp: fd must be a file descriptor", &fd)) {
    return NULL;
  }
  int port = udp4_port((int)fd);
  napi_value result;
  if (napi_create_int32(env, port, &result) != napi_ok) return NULL;
  return result;
}

/* clearSocketError(fd): number — SO_ERROR taken (and so cleared) as -errno, error queue emptied. */
static napi_value clear_socket_error(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  size_t fd = 0;
  if (!get_index(env, argv[0], INT_MAX, "native-udp: fd must be a number", "native-udp: fd must be a file descriptor", &fd)) {
    return NULL;
  }
  int pending = 0;
  socklen_t length = sizeof pending;
  if (getsockopt((int)fd, SOL_SOCKET, SO_ERROR, &pending, &length) != 0) pending = errno;
  /* Bounded: an error queue holds a few entries (one per ICMP error while IP_RECVERR is on). */
  for (int i = 0; i < 64; i++) {
    uint8_t data[64], control[256];
    struct iovec iov = {data, sizeof data};
    struct msghdr message;
    memset(&message, 0, sizeof message);
    message.msg_iov = &iov;
    message.msg_iovlen = 1;
    message.msg_control = control;
    message.msg_controllen = sizeof control;
    if (recvmsg((int)fd, &message, MSG_ERRQUEUE | MSG_DONTWAIT) < 0) break;
  }
  napi_value result;
  if (napi_create_int32(env, -pending, &result) != napi_ok) return NULL;
  return result;
}

int parley_udp_export(napi_env env, napi_value exports) {
  napi_value send, recv, port, clear;
  if (napi_create_function(env, "sendBatch", NAPI_AUTO_LENGTH, send_batch, NULL, &send) != napi_ok ||
      napi_create_function(env, "recvBatch", NAPI_AUTO_LENGTH, recv_batch, NULL, &recv) != napi_ok ||
      napi_create_function(env, "udp4SocketPort", NAPI_AUTO_LENGTH, udp4_socket_port, NULL, &port) != napi_ok ||
      napi_create_function(env, "clearSocketError", NAPI_AUTO_LENGTH, clear_socket_error, NULL, &clear) != napi_ok) {
    return 0;
  }
  napi_property_descriptor props[] = {
      {"sendBatch", NULL, NULL, NULL, NULL, send, napi_enumerable, NULL},
      {"recvBatch", NULL, NULL, NULL, NULL, recv, napi_enumerable, NULL},
      {"udp4SocketPort", NULL, NULL, NULL, NULL, port, napi_enumerable, NULL},
      {"clearSocketError", NULL, NULL, NULL, NULL, clear, napi_enumerable, NULL},
  };
  return napi_define_properties(env, exports, sizeof props / sizeof props[0], props) == napi_ok;
}

#else /* no sendmmsg: the relay sends with dgram.Socket.send */

int parley_udp_export(napi_env env, napi_value exports) {
  (void)env;
  (void)exports;
  return 1;
}

#endif
