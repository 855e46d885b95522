/*
 * The kernel floor for `npm run bench:relay`'s CPU-per-packet phase: a UDP forwarder in C with
 * the relay's I/O shape and none of its work. It reads datagrams in recvmmsg bursts of up to 32
 * (as relay/src/io/datagram-receiver.ts does), looks the SSRC (bytes 8-11) up in a table, and
 * sends the same bytes to each of that speaker's listeners with one sendmmsg per burst (as the
 * relay flushes its batch once per burst). No SRTP, no router, no garbage collector, no event
 * loop: what it costs per forwarded datagram is what this machine's kernel and loopback charge
 * the sender — the part of the relay's figure no relay code can remove.
 *
 * Why it exists: on loopback the sender's sendmmsg also runs the receiver's whole UDP receive
 * path (softirq, socket enqueue, the listener's epoll wakeup) on the sender's core, and that
 * cost differs a great deal between machines (a VM's wakeups are exits to the hypervisor). A
 * relay's µs per packet is only comparable across machines next to this floor, measured in the
 * same run, with the same load generator and the same listener sockets.
 *
 * Usage (run by bench/relay/targets.ts): c-forwarder PORT SOCKET_BUFFER_BYTES
 *   stdin: tables, one line per speaker "SSRC PORT PORT ...", each table ended by a line "."
 *          (the new table replaces the old one); end of input ends the program.
 *   stdout: "ready" once bound; "table-ok SSRCS DESTINATIONS" after each table;
 *           at exit "{...}" one JSON line of counters.
 * Listeners are on 127.0.0.1, as the bench's load generator binds them.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define BURST 32              /* datagrams per recvmmsg: the relay's receive capacity */
#define MAX_BURSTS_PER_EVENT 8 /* as the relay's receiver, before it goes back to epoll */
#define SLOT 1501
#define MAX_FANOUT 64
#define OUT_CAPACITY (BURST * MAX_FANOUT)
#define TABLE_SLOTS 16384 /* power of two, > 2 × the most speakers the bench configures (4,000 listeners) */

typedef struct {
  uint32_t ssrc;
  uint16_t count;
  uint16_t used;
  uint16_t ports[MAX_FANOUT];
} Entry;

static Entry table[TABLE_SLOTS];
static long speakers = 0, destinations = 0;

static Entry *find(uint32_t ssrc, int insert) {
  uint32_t h = (ssrc * 2654435761u) & (TABLE_SLOTS - 1);
  for (uint32_t probes = 0; probes < TABLE_SLOTS; probes++, h = (h + 1) & (TABLE_SLOTS - 1)) {
    Entry *e = &table[h];
    if (!e->used) {
      if (!insert) return NULL;
      e->used = 1;
      e->ssrc = ssrc;
      e->count = 0;
      return e;
    }
    if (e->ssrc == ssrc) return e;
  }
  return NULL;
}

/* Reads table lines from stdin until "."; returns 0 at end of input. */
static int read_table(FILE *in) {
  memset(table, 0, sizeof table);
  speakers = destinations = 0;
  char line[8192];
  while (fgets(line, sizeof line, in) != NULL) {
    if (line[0] == '.') {
      printf("table-ok %ld %ld\n", speakers, destinations);
      fflush(stdout);
      return 1;
    }
    char *cursor = line, *end = NULL;
    unsigned long ssrc = strtoul(cursor, &end, 10);
    if (end == cursor) continue;
    Entry *e = find((uint32_t)ssrc, 1);
    if (e == NULL) {
      fprintf(stderr, "c-forwarder: table full\n");
      exit(2);
    }
    speakers++;
    for (cursor = end;;) {
      unsigned long port = strtoul(cursor, &end, 10);
      if (end == cursor) break;
      cursor = end;
      if (port == 0 || port > 65535 || e->count >= MAX_FANOUT) continue;
      e->ports[e->count++] = (uint16_t)port;
      destinations++;
    }
  }
  return 0;
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: c-forwarder PORT SOCKET_BUFFER_BYTES (run by bench/relay/targets.ts)\n");
    return 2;
  }
  int port = atoi(argv[1]), buffer = atoi(argv[2]);
  signal(SIGPIPE, SIG_IGN);
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
  struct sockaddr_in self = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  if (fd < 0 || bind(fd, (struct sockaddr *)&self, sizeof self) != 0) {
    fprintf(stderr, "c-forwarder: bind 127.0.0.1:%d: %s\n", port, strerror(errno));
    return 1;
  }
  if (buffer > 0) {
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buffer, sizeof buffer);
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buffer, sizeof buffer);
  }
  int ep = epoll_create1(0);
  struct epoll_event socket_event = {.events = EPOLLIN, .data.u32 = 1};
  struct epoll_event stdin_event = {.events = EPOLLIN, .data.u32 = 0};
  if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, fd, &socket_event) != 0 || epoll_ctl(ep, EPOLL_CTL_ADD, STDIN_FILENO, &stdin_event) != 0) {
    perror("c-forwarder: epoll");
    return 1;
  }

  static uint8_t slab[BURST][SLOT];
  static struct mmsghdr in[BURST], out[OUT_CAPACITY];
  static struct iovec in_iov[BURST], out_iov[OUT_CAPACITY];
  static struct sockaddr_in to[OUT_CAPACITY];
  for (int i = 0; i < BURST; i++) {
    in_iov[i].iov_base = slab[i];
    in_iov[i].iov_len = SLOT;
    in[i].msg_hdr.msg_iov = &in_iov[i];
    in[i].msg_hdr.msg_iovlen = 1;
  }
  for (int i = 0; i < OUT_CAPACITY; i++) {
    to[i] = (struct sockaddr_in){.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    out[i].msg_hdr.msg_name = &to[i];
    out[i].msg_hdr.msg_namelen = sizeof to[i];
    out[i].msg_hdr.msg_iov = &out_iov[i];
    out[i].msg_hdr.msg_iovlen = 1;
  }
  printf("ready\n");
  fflush(stdout);

  long received = 0, forwarded = 0, unknown = 0, send_errors = 0, bursts = 0;
  for (;;) {
    struct epoll_event events[2];
    int ready = epoll_wait(ep, events, 2, -1);
    if (ready < 0) {
      if (errno == EINTR) continue;
      perror("c-forwarder: epoll_wait");
      return 1;
    }
    for (int r = 0; r < ready; r++) {
      if (events[r].data.u32 == 0) {
        if (!read_table(stdin)) {
          printf("{\"received\":%ld,\"forwarded\":%ld,\"unknown\":%ld,\"send_errors\":%ld,\"bursts\":%ld}\n", received, forwarded, unknown, send_errors, bursts);
          return 0;
        }
        continue;
      }
      for (int b = 0; b < MAX_BURSTS_PER_EVENT; b++) {
        int got = recvmmsg(fd, in, BURST, MSG_DONTWAIT, NULL);
        if (got <= 0) break;
        bursts++;
        received += got;
        int n = 0;
        for (int i = 0; i < got; i++) {
          const uint8_t *p = slab[i];
          if (in[i].msg_len < 12) continue;
          uint32_t ssrc = ((uint32_t)p[8] << 24) | ((uint32_t)p[9] << 16) | ((uint32_t)p[10] << 8) | p[11];
          const Entry *e = find(ssrc, 0);
          if (e == NULL) {
            unknown++;
            continue;
          }
          for (int k = 0; k < e->count; k++, n++) {
            to[n].sin_port = htons(e->ports[k]);
            out_iov[n].iov_base = slab[i];
            out_iov[n].iov_len = in[i].msg_len;
          }
        }
        for (int sent = 0; sent < n;) {
          int took = sendmmsg(fd, out + sent, (unsigned)(n - sent), MSG_DONTWAIT);
          if (took > 0) {
            sent += took;
            forwarded += took;
          } else if (took < 0 && errno == EINTR) {
            continue;
          } else {
            send_errors++;
            sent++; /* drop that datagram, as the relay does, and carry on */
          }
        }
        if (got < BURST) break;
      }
    }
  }
}
