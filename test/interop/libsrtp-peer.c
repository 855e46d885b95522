/*
 * libsrtp-peer: a line-oriented SRTP peer backed by libsrtp2, used by Parley's interop tests
 * as an independent implementation of RFC 3711 / RFC 7714.
 *
 *   libsrtp-peer protect|unprotect <profile> <master-key-hex> <master-salt-hex>
 *
 * profile: aes128gcm | aes256gcm | aescm128sha80 (Parley's profiles), plus aescm256sha80
 * (AES_256_CM_HMAC_SHA1_80, only so libsrtp's own known-answer packets can be replayed).
 *
 * stdin:  one packet per line, in hex. Blank lines are skipped; surrounding white space is
 *         ignored.
 * stdout: one line per packet: "OK <hex>" or "ERR <srtp_err_status_t code>"
 *         (e.g. 7 = auth_fail, 9 = replay_fail, 10 = replay_old), or "ERR bad-hex" for a line
 *         that is not an even number of hex digits, "ERR too-long" for one over MAX_PACKET.
 *
 * One srtp_t session lives for the whole run (ssrc_any_outbound for protect,
 * ssrc_any_inbound for unprotect), so ROC, SRTCP index and replay state behave as in a real
 * stream. RTCP is told apart from RTP by the second byte (RFC 5761 §4: 192..223 is RTCP).
 *
 * Output is fully buffered and flushed at EOF (and whenever the buffer fills), so tens of
 * thousands of packets go through in well under a second. Drive it by writing all of stdin
 * and reading stdout concurrently.
 *
 * Build: gcc -O2 -o libsrtp-peer test/interop/libsrtp-peer.c -lsrtp2
 * Exit:  0 at EOF; 2 on bad arguments; 1 if libsrtp could not be set up.
 */
#define _POSIX_C_SOURCE 200809L /* getline */

#include <srtp2/srtp.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PACKET 8192
#define MAX_KEY_AND_SALT 64 /* 32-byte key + 14-byte salt is the largest we accept */

/* Replay window (packets) for both directions; libsrtp accepts 64 .. 0x7fff. */
#define REPLAY_WINDOW 1024

static int usage(void)
{
    fputs("usage: libsrtp-peer protect|unprotect aes128gcm|aes256gcm|aescm128sha80|aescm256sha80 "
          "<master-key-hex> <master-salt-hex>\n",
          stderr);
    return 2;
}

static int hex_value(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decodes exactly len hex digits into out; returns the byte count or -1. */
static long decode_hex(const char *hex, size_t len, unsigned char *out, size_t cap)
{
    if (len % 2 != 0 || len / 2 > cap)
        return -1;
    for (size_t i = 0; i < len; i += 2) {
        int hi = hex_value((unsigned char)hex[i]);
        int lo = hex_value((unsigned char)hex[i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        out[i / 2] = (unsigned char)(hi << 4 | lo);
    }
    return (long)(len / 2);
}

static void write_ok(const unsigned char *bytes, int len)
{
    static const char digits[] = "0123456789abcdef";
    static char line[3 + 2 * (MAX_PACKET + SRTP_MAX_TRAILER_LEN) + 2];
    size_t n = 0;
    line[n++] = 'O';
    line[n++] = 'K';
    line[n++] = ' ';
    for (int i = 0; i < len; i++) {
        line[n++] = digits[bytes[i] >> 4];
        line[n++] = digits[bytes[i] & 0x0f];
    }
    line[n++] = '\n';
    fwrite(line, 1, n, stdout);
}

static int set_profile(srtp_policy_t *policy, const char *name, size_t *key_len, size_t *salt_len)
{
    if (strcmp(name, "aes128gcm") == 0) {
        srtp_crypto_policy_set_aes_gcm_128_16_auth(&policy->rtp);
        srtp_crypto_policy_set_aes_gcm_128_16_auth(&policy->rtcp);
        *key_len = SRTP_AES_128_KEY_LEN;
        *salt_len = SRTP_AEAD_SALT_LEN;
    } else if (strcmp(name, "aes256gcm") == 0) {
        srtp_crypto_policy_set_aes_gcm_256_16_auth(&policy->rtp);
        srtp_crypto_policy_set_aes_gcm_256_16_auth(&policy->rtcp);
        *key_len = SRTP_AES_256_KEY_LEN;
        *salt_len = SRTP_AEAD_SALT_LEN;
    } else if (strcmp(name, "aescm128sha80") == 0) {
        srtp_crypto_policy_set_rtp_default(&policy->rtp); /* AES_CM_128_HMAC_SHA1_80 */
        srtp_crypto_policy_set_rtp_default(&policy->rtcp);
        *key_len = SRTP_AES_128_KEY_LEN;
        *salt_len = SRTP_SALT_LEN;
    } else if (strcmp(name, "aescm256sha80") == 0) {
        srtp_crypto_policy_set_aes_cm_256_hmac_sha1_80(&policy->rtp);
        srtp_crypto_policy_set_aes_cm_256_hmac_sha1_80(&policy->rtcp);
        *key_len = SRTP_AES_256_KEY_LEN;
        *salt_len = SRTP_SALT_LEN;
    } else {
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 5)
        return usage();

    int protect;
    if (strcmp(argv[1], "protect") == 0)
        protect = 1;
    else if (strcmp(argv[1], "unprotect") == 0)
        protect = 0;
    else
        return usage();

    srtp_policy_t policy;
    memset(&policy, 0, sizeof policy);
    size_t key_len, salt_len;
    if (set_profile(&policy, argv[2], &key_len, &salt_len) != 0) {
        fprintf(stderr, "libsrtp-peer: unknown profile\n");
        return usage();
    }

    /* libsrtp takes the master key immediately followed by the master salt. */
    unsigned char key_and_salt[MAX_KEY_AND_SALT];
    if (strlen(argv[3]) != 2 * key_len ||
        decode_hex(argv[3], strlen(argv[3]), key_and_salt, key_len) != (long)key_len) {
        fprintf(stderr, "libsrtp-peer: master key must be %zu bytes of hex\n", key_len);
        return 2;
    }
    if (strlen(argv[4]) != 2 * salt_len ||
        decode_hex(argv[4], strlen(argv[4]), key_and_salt + key_len, salt_len) != (long)salt_len) {
        fprintf(stderr, "libsrtp-peer: master salt must be %zu bytes of hex\n", salt_len);
        return 2;
    }

    policy.ssrc.type = protect ? ssrc_any_outbound : ssrc_any_inbound;
    policy.key = key_and_salt;
    policy.window_size = REPLAY_WINDOW;
    policy.allow_repeat_tx = 0;
    policy.next = NULL;

    srtp_err_status_t status = srtp_init();
    if (status != srtp_err_status_ok) {
        fprintf(stderr, "libsrtp-peer: srtp_init failed (%d)\n", (int)status);
        return 1;
    }
    srtp_t session;
    status = srtp_create(&session, &policy);
    if (status != srtp_err_status_ok) {
        fprintf(stderr, "libsrtp-peer: srtp_create failed (%d)\n", (int)status);
        return 1;
    }
    memset(key_and_salt, 0, sizeof key_and_salt); /* libsrtp has its own copy now */

    static char out_buffer[1 << 20];
    setvbuf(stdout, out_buffer, _IOFBF, sizeof out_buffer);

    /* srtp_protect* may append up to SRTP_MAX_TRAILER_LEN bytes in place. */
    static unsigned char packet[MAX_PACKET + SRTP_MAX_TRAILER_LEN];
    char *line = NULL;
    size_t line_cap = 0;
    ssize_t line_len;
    while ((line_len = getline(&line, &line_cap, stdin)) != -1) {
        size_t start = 0, end = (size_t)line_len;
        while (start < end && isspace((unsigned char)line[start]))
            start++;
        while (end > start && isspace((unsigned char)line[end - 1]))
            end--;
        if (start == end)
            continue;
        if ((end - start) / 2 > MAX_PACKET) {
            fputs("ERR too-long\n", stdout);
            continue;
        }
        long decoded = decode_hex(line + start, end - start, packet, MAX_PACKET);
        if (decoded < 0) {
            fputs("ERR bad-hex\n", stdout);
            continue;
        }
        int len = (int)decoded;
        /* RFC 5761 §4: RTCP packet types 192..223 occupy the RTP M+PT byte. */
        int rtcp = len >= 2 && packet[1] >= 192 && packet[1] <= 223;
        if (protect)
            status = rtcp ? srtp_protect_rtcp(session, packet, &len) : srtp_protect(session, packet, &len);
        else
            status = rtcp ? srtp_unprotect_rtcp(session, packet, &len) : srtp_unprotect(session, packet, &len);
        if (status == srtp_err_status_ok)
            write_ok(packet, len);
        else
            fprintf(stdout, "ERR %d\n", (int)status);
    }
    free(line);

    if (fflush(stdout) != 0) {
        perror("libsrtp-peer: stdout");
        return 1;
    }
    srtp_dealloc(session);
    srtp_shutdown();
    return 0;
}
