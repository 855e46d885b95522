/*
 * The C load generator of `npm run bench:relay`: the timed part of one load step, so the relay's
 * figures are measured under a load side as cheap as the one in issue 8's reference table
 * (sendmmsg / recvmmsg batches, no crypto in the timed loop, no garbage collector).
 *
 * It does no SRTP and no control plane itself. bench/relay/load-generator.ts (Node) installs the
 * sessions, binds and connects every socket, latches and proves every listener with keepalives,
 * and protects the step's speaker packets ahead of time with the project's own SRTP code
 * (shared/client/media-session.ts), exactly as for its own Node sending loop. It then hands this
 * program the step: the packets in a file, and the sockets themselves as inherited file
 * descriptors (fd 3 the speakers' socket, fd 4.. the listeners', in listener order), all
 * connected to the relay. Node stops reading the listener sockets for the step.
 *
 * Usage: udp-load PACKETS_FILE PACKET_SIZE COUNT CHANNELS INTERVAL_NS LISTENERS SSRC_BASE
 *                 RECORD_LATENCY SAMPLE_EVERY SAMPLES_PER_LISTENER MAX_SAMPLE_LISTENER
 * Packet m of the file goes out at t0 + m × INTERVAL_NS (in batches of what is due, one sendmmsg
 * per batch). The program prints "ready" once set up, waits for one line on stdin (the driver
 * starts its CPU meters in between), runs the step, drains (until nothing has arrived for
 * 150 ms, at most 3 s) and prints one JSON object. Voice datagrams are counted; RTCP (payload
 * type 192..223) counted apart. Exit status 2 on bad arguments, 1 on a system error.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64
#define SPEAKER_FD 3
#define FIRST_LISTENER_FD 4
/** Send times are kept for the last RING sequence numbers of each speaker (as in the Node generator). */
#define RING 1024
#define LATE_NS 5000000LL
#define QUIET_NS 150000000LL
#define MAX_DRAIN_NS 3000000000LL
#define SLOT 1500

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static long parse(const char *text, const char *name, long min, long max) {
  char *end;
  errno = 0;
  long value = strtol(text, &end, 10);
  if (errno != 0 || *end != '\0' || value < min || value > max) {
    fprintf(stderr, "udp-load: bad %s: %s\n", name, text);
    exit(2);
  }
  return value;
}

static int compare_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
  if (argc != 12) {
    fprintf(stderr, "usage: udp-load PACKETS_FILE PACKET_SIZE COUNT CHANNELS INTERVAL_NS LISTENERS SSRC_BASE RECORD_LATENCY SAMPLE_EVERY SAMPLES_PER_LISTENER MAX_SAMPLE_LISTENER\n");
    return 2;
  }
  const long size = parse(argv[2], "PACKET_SIZE", 12, SLOT);
  const long count = parse(argv[3], "COUNT", 1, 100000000);
  const long channels = parse(argv[4], "CHANNELS", 1, 1000000);
  const long interval = parse(argv[5], "INTERVAL_NS", 1, 1000000000);
  const long listeners = parse(argv[6], "LISTENERS", 1, 100000);
  const uint32_t ssrc_base = (uint32_t)parse(argv[7], "SSRC_BASE", 0, 0xffffffffL);
  const int record_latency = (int)parse(argv[8], "RECORD_LATENCY", 0, 1);
  const long sample_every = parse(argv[9], "SAMPLE_EVERY", 1, 100000);
  const long samples_per_listener = parse(argv[10], "SAMPLES_PER_LISTENER", 0, 16);
  const long max_sample_listener = parse(argv[11], "MAX_SAMPLE_LISTENER", 0, 100000);

  int file = open(argv[1], O_RDONLY);
  struct stat st;
  if (file < 0 || fstat(file, &st) != 0 || st.st_size != (off_t)(size * count)) {
    fprintf(stderr, "udp-load: %s missing or not %ld packets of %ld bytes\n", argv[1], count, size);
    return 1;
  }
  uint8_t *slab = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, file, 0);
  if (slab == MAP_FAILED) {
    perror("udp-load: mmap");
    return 1;
  }
  close(file);

  int ep = epoll_create1(0);
  if (ep < 0) {
    perror("udp-load: epoll_create1");
    return 1;
  }
  for (long i = 0; i < listeners; i++) {
    int fd = (int)(FIRST_LISTENER_FD + i);
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0) {
      fprintf(stderr, "udp-load: listener fd %d: %s\n", fd, strerror(errno));
      return 1;
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = (uint64_t)i};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
      fprintf(stderr, "udp-load: epoll_ctl fd %d: %s\n", fd, strerror(errno));
      return 1;
    }
  }

  int64_t *send_times = calloc((size_t)channels * RING, sizeof(int64_t));
  double *latencies = record_latency ? malloc((size_t)count * (size_t)listeners / (size_t)channels * 2 * sizeof(double) + sizeof(double)) : NULL;
  size_t latency_capacity = record_latency ? (size_t)count * (size_t)listeners / (size_t)channels * 2 : 0;
  size_t latency_count = 0;
  unsigned char *sample_budget = calloc((size_t)listeners, 1);
  for (long i = 0; i < listeners && i < max_sample_listener; i += sample_every) sample_budget[i] = (unsigned char)samples_per_listener;
  /* Samples: listener index, length, bytes; printed as hex at the end. */
  size_t sample_capacity = (size_t)(listeners / sample_every + 1) * (size_t)samples_per_listener;
  uint8_t *sample_bytes = malloc(sample_capacity * SLOT + 1);
  long *sample_listener = malloc(sample_capacity * sizeof(long) + 1);
  int *sample_length = malloc(sample_capacity * sizeof(int) + 1);
  size_t samples = 0;
  if (send_times == NULL || (record_latency && latencies == NULL) || sample_budget == NULL || sample_bytes == NULL) {
    fprintf(stderr, "udp-load: out of memory\n");
    return 1;
  }

  struct mmsghdr send_msgs[BATCH];
  struct iovec send_iov[BATCH];
  static uint8_t receive_buffers[BATCH][SLOT];
  struct mmsghdr receive_msgs[BATCH];
  struct iovec receive_iov[BATCH];
  memset(send_msgs, 0, sizeof send_msgs);
  memset(receive_msgs, 0, sizeof receive_msgs);
  for (int i = 0; i < BATCH; i++) {
    send_msgs[i].msg_hdr.msg_iov = &send_iov[i];
    send_msgs[i].msg_hdr.msg_iovlen = 1;
    receive_iov[i].iov_base = receive_buffers[i];
    receive_iov[i].iov_len = SLOT;
    receive_msgs[i].msg_hdr.msg_iov = &receive_iov[i];
    receive_msgs[i].msg_hdr.msg_iovlen = 1;
  }
  struct epoll_event events[256];

  printf("ready\n");
  fflush(stdout);
  char line[16];
  if (fgets(line, sizeof line, stdin) == NULL) return 1;

  long sent = 0, late = 0, send_calls = 0, send_errors = 0;
  long received = 0, rtcp = 0, receive_calls = 0, receive_datagrams = 0;
  int64_t max_lag = 0;
  const int64_t t0 = now_ns();
  int64_t last_send = t0, last_arrival = t0, drain_start = 0;
  /* Bound: the step's own length plus 30 s, whatever the target does. */
  const int64_t give_up = t0 + (int64_t)count * interval + 30000000000LL;
  for (;;) {
    int64_t now = now_ns();
    if (now > give_up) {
      fprintf(stderr, "udp-load: step overran by 30 s; stopping\n");
      break;
    }
    if (sent < count) {
      long due = (long)((now - t0) / interval) + 1;
      if (due > count) due = count;
      while (sent < due) {
        int n = (int)(due - sent < BATCH ? due - sent : BATCH);
        for (int i = 0; i < n; i++) {
          send_iov[i].iov_base = slab + (size_t)(sent + i) * (size_t)size;
          send_iov[i].iov_len = (size_t)size;
        }
        int done = sendmmsg(SPEAKER_FD, send_msgs, (unsigned)n, 0);
        send_calls++;
        if (done < 0) {
          /* The speakers' socket buffer is full (EAGAIN) or the relay refused (ECONNREFUSED): retry. */
          send_errors++;
          break;
        }
        int64_t at = now_ns();
        for (int i = 0; i < done; i++) {
          long m = sent + i;
          int64_t lag = at - (t0 + (int64_t)m * interval);
          if (lag > max_lag) max_lag = lag;
          if (lag > LATE_NS) late++;
          const uint8_t *p = slab + (size_t)m * (size_t)size;
          send_times[(m % channels) * RING + (((p[2] << 8) | p[3]) & (RING - 1))] = at;
        }
        sent += done;
        last_send = at;
        if (done < n) break;
      }
      if (sent >= count) drain_start = now_ns();
    } else {
      int64_t at = now_ns();
      if (at - last_arrival >= QUIET_NS && at - drain_start >= QUIET_NS) break;
      if (at - drain_start >= MAX_DRAIN_NS) break;
    }
    /* Wait for datagrams until the next packet is due (1 ms resolution), 10 ms while draining. */
    int timeout = 10;
    if (sent < count) {
      int64_t next = t0 + (int64_t)sent * interval - now_ns();
      timeout = next <= 0 ? 0 : (int)((next + 999999) / 1000000);
    }
    int ready = epoll_wait(ep, events, 256, timeout);
    if (ready < 0 && errno != EINTR) {
      perror("udp-load: epoll_wait");
      return 1;
    }
    for (int e = 0; e < ready; e++) {
      long listener = (long)events[e].data.u64;
      int fd = (int)(FIRST_LISTENER_FD + listener);
      for (;;) {
        int got = recvmmsg(fd, receive_msgs, BATCH, MSG_DONTWAIT, NULL);
        if (got <= 0) break;
        receive_calls++;
        receive_datagrams += got;
        int64_t at = now_ns();
        last_arrival = at;
        for (int i = 0; i < got; i++) {
          const uint8_t *p = receive_buffers[i];
          unsigned len = receive_msgs[i].msg_len;
          if (len < 12) continue;
          if (p[1] >= 192 && p[1] <= 223) {
            rtcp++;
            continue;
          }
          received++;
          if (record_latency) {
            uint32_t ssrc = ((uint32_t)p[8] << 24) | ((uint32_t)p[9] << 16) | ((uint32_t)p[10] << 8) | p[11];
            uint32_t speaker = ssrc - ssrc_base;
            if (speaker < (uint32_t)channels) {
              int64_t sent_at = send_times[(size_t)speaker * RING + (((p[2] << 8) | p[3]) & (RING - 1))];
              if (sent_at > 0 && latency_count < latency_capacity) latencies[latency_count++] = (double)(at - sent_at) / 1000.0;
            }
          }
          if (sample_budget[listener] > 0 && samples < sample_capacity && len <= SLOT) {
            sample_budget[listener]--;
            sample_listener[samples] = listener;
            sample_length[samples] = (int)len;
            memcpy(sample_bytes + samples * SLOT, p, len);
            samples++;
          }
        }
        if (got < BATCH) break;
      }
    }
  }
  const int64_t end = now_ns();
  struct rusage usage;
  getrusage(RUSAGE_SELF, &usage);
  double cpu = (double)usage.ru_utime.tv_sec + usage.ru_utime.tv_usec / 1e6 + (double)usage.ru_stime.tv_sec + usage.ru_stime.tv_usec / 1e6;

  printf("{\"sent\":%ld,\"received\":%ld,\"rtcp\":%ld,\"send_calls\":%ld,\"send_errors\":%ld,\"receive_calls\":%ld,\"receive_datagrams\":%ld,", sent, received, rtcp, send_calls,
         send_errors, receive_calls, receive_datagrams);
  printf("\"max_lag_ms\":%.3f,\"late_sends\":%ld,\"send_seconds\":%.6f,\"drain_ms\":%.3f,\"window_seconds\":%.6f,\"cpu_seconds\":%.6f,", (double)max_lag / 1e6, late,
         (double)(last_send - t0) / 1e9, last_arrival > last_send ? (double)(last_arrival - last_send) / 1e6 : 0.0, (double)(end - t0) / 1e9, cpu);
  if (record_latency && latency_count > 0) {
    qsort(latencies, latency_count, sizeof(double), compare_double);
#define AT(q) latencies[(size_t)((q) * (double)latency_count) < latency_count ? (size_t)((q) * (double)latency_count) : latency_count - 1]
    printf("\"latency\":{\"count\":%zu,\"p50_us\":%.0f,\"p90_us\":%.0f,\"p99_us\":%.0f,\"max_us\":%.0f},", latency_count, AT(0.5), AT(0.9), AT(0.99), latencies[latency_count - 1]);
  } else {
    printf("\"latency\":null,");
  }
  printf("\"samples\":[");
  for (size_t s = 0; s < samples; s++) {
    printf("%s{\"listener\":%ld,\"hex\":\"", s == 0 ? "" : ",", sample_listener[s]);
    for (int b = 0; b < sample_length[s]; b++) printf("%02x", sample_bytes[s * SLOT + (size_t)b]);
    printf("\"}");
  }
  printf("]}\n");
  return 0;
}
