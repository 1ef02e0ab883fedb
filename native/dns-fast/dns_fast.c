/*
 * Praetor's DNS fast path: one UDP socket whose hot loop runs on its own thread (recvmmsg and
 * sendmmsg in batches), answering the questions whose encoded answer template the JavaScript
 * handler pushed (src/dns/fast.ts builds them; src/dns/native.ts pushes them), and handing every
 * other datagram to JavaScript unchanged through a thread-safe function.
 *
 * parse_query() and assemble() are src/dns/fast.ts's parseFastQuery() and assemble(), line for
 * line: an answer from here is byte for byte what the JavaScript fast path (and so the full
 * handler) sends, except for the shuffle's random draws. Anything either declines goes to
 * JavaScript before a draw.
 *
 * Templates live in a hash table keyed by (qtype, question name). SRV answers carry the zone as
 * the question spelled it, so SRV templates are keyed by the name as spelled, as the JavaScript
 * Templates class keys every type. A, AAAA and ANY answers name nothing but the question (by a
 * pointer to it, and the question is copied from the query), so their templates are keyed by the
 * name in lower case: a client that randomises the case of its questions (DNS 0x20) still gets
 * them answered here. The table is guarded by one mutex: the loop holds it for one batch of
 * answers, JavaScript for one insertion.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <node_api.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64
/* A UDP datagram can be this big; anything is received whole so JavaScript sees it unchanged. */
#define RECV_BYTES 65536
/* Compression pointers reach 16 KiB and assemble() refuses answers beyond, so this holds any. */
#define ANSWER_BYTES 0x4000
#define BUCKETS 4096
#define QUERY_BYTES_MAX 4096
#define UDP_BYTES_DEFAULT 512
#define UDP_BYTES_MAX (65535 - 68)
#define POINTER_OFFSET_MAX 0x3fff
#define SRV_TARGET_OFFSET 18
#define OPT_BYTES 11
/* Datagrams waiting for JavaScript; beyond it they are dropped, as a full socket buffer would. */
#define HANDOFF_QUEUE_MAX 4096

typedef struct {
  const uint8_t *rr;
  uint32_t rr_len;
  int32_t dedupe; /* -1: this catalog entry gives no record */
  int32_t glue;   /* -1: no glue */
} item_t;

typedef struct tmpl {
  struct tmpl *next;
  uint32_t hash;
  uint16_t qtype;
  uint16_t name_len;
  uint8_t name[256];
  double source;
  int64_t expires_ns; /* CLOCK_MONOTONIC; 0: never */
  uint32_t n_items, n_glue, distinct, bound_all, bound_limited;
  item_t *items;
  const uint8_t **glue;
  uint32_t *glue_len;
  uint8_t *blob;
} tmpl_t;

typedef struct {
  int fd;
  int stop_fd;
  int family;
  int refs; /* the JavaScript handle and the thread-safe function; freed at 0 (main thread only) */
  int started;
  atomic_int stopping;
  int closed;
  pthread_t thread;
  pthread_mutex_t lock;
  tmpl_t *buckets[BUCKETS];
  uint32_t count;
  int udp_answer_limit;
  int enable_truncate;
  int recursion_available;
  napi_threadsafe_function tsfn;
  atomic_ullong answered, truncated, handed, handoff_drops, send_errors;
  uint64_t rng[4];
} server_t;

typedef struct {
  uint32_t len;
  socklen_t addr_len;
  struct sockaddr_storage addr;
  uint8_t data[];
} handoff_t;

/* --- templates ------------------------------------------------------------------------------ */

#define QTYPE_SRV 33

/* The name as the table keys it for this type (see the top of the file). */
static void key_name(uint16_t qtype, const uint8_t *name, size_t len, uint8_t *out) {
  if (qtype == QTYPE_SRV) {
    memcpy(out, name, len);
    return;
  }
  for (size_t i = 0; i < len; i++) out[i] = (name[i] >= 'A' && name[i] <= 'Z') ? (uint8_t)(name[i] + 32) : name[i];
}

static uint32_t hash_key(uint16_t qtype, const uint8_t *name, size_t len) {
  uint32_t h = 2166136261u ^ qtype;
  for (size_t i = 0; i < len; i++) h = (h ^ name[i]) * 16777619u;
  return h;
}

static void tmpl_free(tmpl_t *t) {
  if (t == NULL) return;
  free(t->items);
  free(t->glue);
  free(t->glue_len);
  free(t->blob);
  free(t);
}

static uint32_t rd32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }

/*
 * The blob native.ts writes (little-endian u32/i32): items, glue, distinct, boundAll,
 * boundLimited; per item dedupe, glue, rrLength, rr; per glue length, records. Checked whole:
 * assemble() then trusts every offset.
 */
static tmpl_t *tmpl_parse(const uint8_t *data, size_t len, const char **why) {
  if (len < 20) { *why = "template shorter than its header"; return NULL; }
  tmpl_t *t = calloc(1, sizeof(tmpl_t));
  if (t == NULL) { *why = "out of memory"; return NULL; }
  t->blob = malloc(len);
  if (t->blob == NULL) { free(t); *why = "out of memory"; return NULL; }
  memcpy(t->blob, data, len);
  const uint8_t *p = t->blob;
  t->n_items = rd32(p); t->n_glue = rd32(p + 4); t->distinct = rd32(p + 8);
  t->bound_all = rd32(p + 12); t->bound_limited = rd32(p + 16);
  size_t at = 20;
  if (t->n_items == 0 || t->n_items > 65536 || t->n_glue > t->n_items || t->distinct == 0 || t->distinct > t->n_items) {
    *why = "template counts out of range"; tmpl_free(t); return NULL;
  }
  t->items = calloc(t->n_items, sizeof(item_t));
  t->glue = calloc(t->n_glue + 1, sizeof(uint8_t *));
  t->glue_len = calloc(t->n_glue + 1, sizeof(uint32_t));
  if (t->items == NULL || t->glue == NULL || t->glue_len == NULL) { *why = "out of memory"; tmpl_free(t); return NULL; }
  for (uint32_t i = 0; i < t->n_items; i++) {
    if (at + 12 > len) { *why = "template item cut short"; tmpl_free(t); return NULL; }
    int32_t dedupe = (int32_t)rd32(p + at), glue = (int32_t)rd32(p + at + 4);
    uint32_t rr_len = rd32(p + at + 8);
    at += 12;
    if (at + rr_len > len) { *why = "template record cut short"; tmpl_free(t); return NULL; }
    if (dedupe >= (int32_t)t->distinct || dedupe < -1 || glue >= (int32_t)t->n_glue || glue < -1) { *why = "template ids out of range"; tmpl_free(t); return NULL; }
    if (dedupe >= 0 && (rr_len < 12 || (glue >= 0 && rr_len < SRV_TARGET_OFFSET + 1))) { *why = "template record too short"; tmpl_free(t); return NULL; }
    t->items[i] = (item_t){ p + at, rr_len, dedupe, glue };
    at += rr_len;
  }
  for (uint32_t g = 0; g < t->n_glue; g++) {
    if (at + 4 > len) { *why = "template glue cut short"; tmpl_free(t); return NULL; }
    uint32_t glue_len = rd32(p + at);
    at += 4;
    if (at + glue_len > len || glue_len == 0) { *why = "template glue cut short"; tmpl_free(t); return NULL; }
    /* Each record: owner hole (2), type, class, TTL, rdlength, rdata; they must tile the glue. */
    uint32_t r = 0;
    while (r < glue_len) {
      if (r + 12 > glue_len) { *why = "template glue record cut short"; tmpl_free(t); return NULL; }
      r += 12 + ((uint32_t)p[at + r + 10] << 8 | p[at + r + 11]);
    }
    if (r != glue_len) { *why = "template glue records do not tile"; tmpl_free(t); return NULL; }
    t->glue[g] = p + at;
    t->glue_len[g] = glue_len;
    at += glue_len;
  }
  if (at != len) { *why = "template has trailing bytes"; tmpl_free(t); return NULL; }
  /* assemble() refuses answers by these bounds before it copies: they must cover every record. */
  uint64_t total = 0;
  for (uint32_t i = 0; i < t->n_items; i++) total += t->items[i].rr_len;
  for (uint32_t g = 0; g < t->n_glue; g++) total += t->glue_len[g];
  if (t->bound_all < total || t->bound_limited > t->bound_all) { *why = "template bounds below its records"; tmpl_free(t); return NULL; }
  return t;
}

static tmpl_t **slot_of(server_t *s, uint16_t qtype, const uint8_t *name, size_t len, uint32_t h) {
  tmpl_t **at = &s->buckets[h & (BUCKETS - 1)];
  for (; *at != NULL; at = &(*at)->next) {
    tmpl_t *t = *at;
    if (t->hash == h && t->qtype == qtype && t->name_len == len && memcmp(t->name, name, len) == 0) return at;
  }
  return at;
}

/* --- randomness: xoshiro256**, seeded from the kernel ------------------------------------------ */

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static double next_double(server_t *s) {
  uint64_t *r = s->rng;
  uint64_t result = rotl(r[1] * 5, 7) * 9, t = r[1] << 17;
  r[2] ^= r[0]; r[3] ^= r[1]; r[1] ^= r[2]; r[0] ^= r[3]; r[2] ^= t; r[3] = rotl(r[3], 45);
  return (double)(result >> 11) * (1.0 / 9007199254740992.0);
}

/* --- the query and the answer (fast.ts) -------------------------------------------------------- */

typedef struct {
  uint32_t name_end, end;
  uint16_t qtype, flags, udp_size;
  int edns, dnssec_ok;
} query_t;

static int plain_label_byte(uint8_t b) { return b >= 0x21 && b <= 0x7e && b != 0x2e; }

/* fast.ts parseFastQuery: header, one plain question, at most an OPT without client subnet. */
static int parse_query(const uint8_t *raw, uint32_t length, query_t *q) {
  if (length < 17 || length > QUERY_BYTES_MAX) return 0;
  uint16_t flags = (uint16_t)(raw[2] << 8 | raw[3]);
  if ((flags & 0xf800) != 0 || raw[4] != 0 || raw[5] != 1 || raw[6] != 0 || raw[7] != 0 || raw[8] != 0 || raw[9] != 0 || raw[10] != 0) return 0;
  uint8_t additionals = raw[11];
  if (additionals > 1) return 0;
  uint32_t offset = 12;
  for (;;) {
    if (offset >= length) return 0;
    uint8_t len = raw[offset];
    if (len == 0) break;
    if (len > 63 || offset + 1 + len > length) return 0;
    for (uint32_t i = offset + 1; i <= offset + len; i++) if (!plain_label_byte(raw[i])) return 0;
    offset += 1 + len;
  }
  if (offset - 12 + 1 > 255) return 0;
  uint32_t name_end = offset + 1, end = name_end + 4;
  if (end > length) return 0;
  q->name_end = name_end;
  q->end = end;
  q->flags = flags;
  q->qtype = (uint16_t)(raw[name_end] << 8 | raw[name_end + 1]);
  q->edns = 0;
  q->dnssec_ok = 0;
  q->udp_size = 0;
  if (additionals == 0) return end == length;
  if (end + 11 > length || raw[end] != 0 || raw[end + 1] != 0 || raw[end + 2] != 41) return 0;
  q->udp_size = (uint16_t)(raw[end + 3] << 8 | raw[end + 4]);
  if (raw[end + 6] != 0) return 0; /* EDNS version above 0: BADVERS, the full handler's case */
  q->dnssec_ok = (raw[end + 7] & 0x80) != 0;
  uint32_t rdlength = (uint32_t)(raw[end + 9] << 8 | raw[end + 10]);
  uint32_t options_end = end + 11 + rdlength;
  if (options_end != length) return 0;
  for (uint32_t at = end + 11; at < options_end;) {
    if (at + 4 > options_end) return 0;
    uint16_t code = (uint16_t)(raw[at] << 8 | raw[at + 1]);
    if (code == 8) return 0; /* client subnet: echoed with its scope by the full handler */
    at += 4 + ((uint32_t)raw[at + 2] << 8 | raw[at + 3]);
    if (at > options_end) return 0;
  }
  q->edns = 1;
  return 1;
}

typedef struct {
  uint32_t cap;
  int32_t *order, *kept, *glue_at;
  uint8_t *seen;
} scratch_t;

static int scratch_ensure(scratch_t *sc, uint32_t n) {
  if (sc->cap >= n) return 1;
  uint32_t cap = n * 2;
  int32_t *order = realloc(sc->order, cap * sizeof(int32_t));
  if (order != NULL) sc->order = order;
  int32_t *kept = realloc(sc->kept, cap * sizeof(int32_t));
  if (kept != NULL) sc->kept = kept;
  int32_t *glue_at = realloc(sc->glue_at, cap * sizeof(int32_t));
  if (glue_at != NULL) sc->glue_at = glue_at;
  uint8_t *seen = realloc(sc->seen, cap);
  if (seen != NULL) sc->seen = seen;
  if (order == NULL || kept == NULL || glue_at == NULL || seen == NULL) return 0;
  sc->cap = cap;
  return 1;
}

static void put16(uint8_t *p, uint32_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }

/* fast.ts assemble() over UDP: the answer's length, or 0 when JavaScript must answer. */
static uint32_t assemble(server_t *s, scratch_t *sc, const tmpl_t *t, const uint8_t *raw, const query_t *q, uint8_t *out, int *truncated) {
  uint32_t question_bytes = q->end - 12;
  uint32_t limit_bytes = !q->edns ? UDP_BYTES_DEFAULT : (q->udp_size < UDP_BYTES_DEFAULT ? UDP_BYTES_DEFAULT : (q->udp_size > UDP_BYTES_MAX ? UDP_BYTES_MAX : q->udp_size));
  int limited = limit_bytes == UDP_BYTES_DEFAULT && (int64_t)t->distinct > (int64_t)s->udp_answer_limit;
  uint32_t fixed_bytes = 12 + question_bytes + (q->edns ? OPT_BYTES : 0);
  uint64_t bound = (uint64_t)fixed_bytes + (limited ? t->bound_limited : t->bound_all);
  if (bound > limit_bytes || bound > POINTER_OFFSET_MAX) return 0;
  uint32_t n = t->n_items;
  if (!scratch_ensure(sc, n)) return 0;
  int32_t *order = sc->order, *kept = sc->kept, *glue_at = sc->glue_at;
  uint8_t *seen = sc->seen;
  for (uint32_t i = 0; i < n; i++) order[i] = (int32_t)i;
  /* The full handler's shuffle, draw for draw (Math.floor(random() * (i + 1))). */
  for (uint32_t i = n - 1; i > 0; i--) {
    uint32_t j = (uint32_t)(next_double(s) * (double)(i + 1));
    if (j > i) j = i; /* a draw rounded up to 1.0 */
    int32_t swap = order[i];
    order[i] = order[j];
    order[j] = swap;
  }
  memset(seen, 0, t->distinct);
  uint32_t count = 0;
  for (uint32_t i = 0; i < n; i++) {
    const item_t *item = &t->items[order[i]];
    if (item->dedupe < 0 || seen[item->dedupe]) continue;
    seen[item->dedupe] = 1;
    kept[count++] = order[i];
  }
  uint32_t keep = count;
  if (limited && s->udp_answer_limit >= 0 && (uint32_t)s->udp_answer_limit < count) keep = (uint32_t)s->udp_answer_limit;
  uint32_t dropped = count - keep;
  *truncated = s->enable_truncate && dropped > 0;
  uint32_t flags = 0x8000 | 0x0400 | (q->flags & 0x0100) | (q->flags & 0x0010);
  if (*truncated) flags |= 0x0200;
  if (s->recursion_available) flags |= 0x0080;
  out[0] = raw[0];
  out[1] = raw[1];
  put16(out + 2, flags);
  put16(out + 4, 1);
  put16(out + 6, keep);
  put16(out + 8, 0);
  memcpy(out + 12, raw + 12, question_bytes);
  uint32_t offset = 12 + question_bytes;
  for (uint32_t g = 0; g < t->n_glue; g++) glue_at[g] = -1;
  for (uint32_t k = 0; k < keep; k++) {
    const item_t *item = &t->items[kept[k]];
    if (item->glue >= 0 && glue_at[item->glue] == -1) glue_at[item->glue] = (int32_t)(offset + SRV_TARGET_OFFSET);
    if (offset + item->rr_len + OPT_BYTES > ANSWER_BYTES) return 0; /* never, with true bounds; memory safety does not rest on them */
    memcpy(out + offset, item->rr, item->rr_len);
    offset += item->rr_len;
  }
  uint32_t additional_count = 0;
  /* Glue in the order of the answers, once per target (trim.ts's glueFor); seen marks glue sent. */
  memset(seen, 0, t->n_glue);
  for (uint32_t k = 0; k < keep; k++) {
    const item_t *item = &t->items[kept[k]];
    if (item->glue < 0 || seen[item->glue]) continue;
    seen[item->glue] = 1;
    uint32_t start = offset;
    if (offset + t->glue_len[item->glue] + OPT_BYTES > ANSWER_BYTES) return 0;
    memcpy(out + offset, t->glue[item->glue], t->glue_len[item->glue]);
    offset += t->glue_len[item->glue];
    /* Each glue record starts with its owner: point it at the target in the SRV answer. */
    uint32_t pointer = 0xc000 | (uint32_t)glue_at[item->glue];
    for (uint32_t at = start; at < offset; at += 12 + ((uint32_t)out[at + 10] << 8 | out[at + 11])) {
      put16(out + at, pointer);
      additional_count++;
    }
  }
  if (q->edns) {
    out[offset] = 0;
    put16(out + offset + 1, 41);
    put16(out + offset + 3, q->udp_size < UDP_BYTES_DEFAULT ? UDP_BYTES_DEFAULT : q->udp_size);
    out[offset + 5] = 0;
    out[offset + 6] = 0;
    put16(out + offset + 7, q->dnssec_ok ? 0x8000 : 0);
    put16(out + offset + 9, 0);
    offset += OPT_BYTES;
    additional_count++;
  }
  put16(out + 10, additional_count);
  return offset;
}

static int64_t monotonic_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* The answer to one datagram from a template, or 0 (no template, expired, or declined). */
static uint32_t answer(server_t *s, scratch_t *sc, const uint8_t *raw, uint32_t len, uint8_t *out, int64_t now_ns) {
  query_t q;
  if (!parse_query(raw, len, &q)) return 0;
  size_t name_len = q.name_end - 12;
  uint8_t key[256];
  key_name(q.qtype, raw + 12, name_len, key);
  uint32_t h = hash_key(q.qtype, key, name_len);
  tmpl_t *t = *slot_of(s, q.qtype, key, name_len, h);
  if (t == NULL || (t->expires_ns != 0 && now_ns >= t->expires_ns)) return 0;
  int truncated = 0;
  uint32_t size = assemble(s, sc, t, raw, &q, out, &truncated);
  if (size > 0 && truncated) atomic_fetch_add_explicit(&s->truncated, 1, memory_order_relaxed);
  return size;
}

/* --- the loop --------------------------------------------------------------------------------- */

static void hand_off(server_t *s, const uint8_t *data, uint32_t len, const struct sockaddr_storage *addr, socklen_t addr_len) {
  handoff_t *h = malloc(sizeof(handoff_t) + len);
  if (h == NULL) { atomic_fetch_add_explicit(&s->handoff_drops, 1, memory_order_relaxed); return; }
  h->len = len;
  h->addr_len = addr_len;
  memcpy(&h->addr, addr, addr_len);
  memcpy(h->data, data, len);
  if (napi_call_threadsafe_function(s->tsfn, h, napi_tsfn_nonblocking) != napi_ok) {
    free(h);
    atomic_fetch_add_explicit(&s->handoff_drops, 1, memory_order_relaxed);
    return;
  }
  atomic_fetch_add_explicit(&s->handed, 1, memory_order_relaxed);
}

static void *loop(void *arg) {
  server_t *s = arg;
  uint8_t *in_bufs = malloc((size_t)BATCH * RECV_BYTES);
  uint8_t *out_bufs = malloc((size_t)BATCH * ANSWER_BYTES);
  struct mmsghdr in[BATCH], out[BATCH];
  struct iovec in_iov[BATCH], out_iov[BATCH];
  struct sockaddr_storage addrs[BATCH];
  int handoffs[BATCH];
  scratch_t sc = { 0 };
  if (in_bufs == NULL || out_bufs == NULL || !scratch_ensure(&sc, 64)) {
    /* Without memory nothing is answered here: every datagram goes to JavaScript. */
    fprintf(stderr, "praetor dns native: out of memory, stopping the fast path\n");
    free(in_bufs);
    free(out_bufs);
    return NULL;
  }
  while (!atomic_load(&s->stopping)) {
    for (int i = 0; i < BATCH; i++) {
      in_iov[i] = (struct iovec){ in_bufs + (size_t)i * RECV_BYTES, RECV_BYTES };
      in[i].msg_hdr = (struct msghdr){ .msg_name = &addrs[i], .msg_namelen = sizeof(addrs[i]), .msg_iov = &in_iov[i], .msg_iovlen = 1 };
    }
    int n = recvmmsg(s->fd, in, BATCH, MSG_DONTWAIT, NULL);
    if (n <= 0) {
      if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR && errno != ECONNREFUSED) {
        /* An error the next poll may not clear: pause, so the loop never spins. */
        usleep(1000);
      }
      struct pollfd fds[2] = { { s->fd, POLLIN, 0 }, { s->stop_fd, POLLIN, 0 } };
      poll(fds, 2, -1);
      continue;
    }
    int answers = 0, handoff_count = 0;
    int64_t now_ns = monotonic_ns();
    pthread_mutex_lock(&s->lock);
    for (int i = 0; i < n; i++) {
      uint8_t *answer_buf = out_bufs + (size_t)answers * ANSWER_BYTES;
      uint32_t size = (in[i].msg_hdr.msg_flags & MSG_TRUNC) ? 0 : answer(s, &sc, in_bufs + (size_t)i * RECV_BYTES, in[i].msg_len, answer_buf, now_ns);
      if (size == 0) {
        handoffs[handoff_count++] = i;
        continue;
      }
      out_iov[answers] = (struct iovec){ answer_buf, size };
      out[answers].msg_hdr = (struct msghdr){ .msg_name = &addrs[i], .msg_namelen = in[i].msg_hdr.msg_namelen, .msg_iov = &out_iov[answers], .msg_iovlen = 1 };
      answers++;
    }
    pthread_mutex_unlock(&s->lock);
    for (int sent = 0; sent < answers;) {
      int m = sendmmsg(s->fd, out + sent, (unsigned)(answers - sent), 0);
      if (m < 0) {
        if (errno == EINTR) continue;
        atomic_fetch_add_explicit(&s->send_errors, 1, memory_order_relaxed);
        sent++; /* that one answer is lost, as a dropped datagram would be */
        continue;
      }
      sent += m;
    }
    atomic_fetch_add_explicit(&s->answered, (unsigned long long)answers, memory_order_relaxed);
    for (int k = 0; k < handoff_count; k++) {
      int i = handoffs[k];
      uint32_t len = in[i].msg_len;
      hand_off(s, in_bufs + (size_t)i * RECV_BYTES, len > RECV_BYTES ? RECV_BYTES : len, &addrs[i], in[i].msg_hdr.msg_namelen);
    }
  }
  free(in_bufs);
  free(out_bufs);
  free(sc.order);
  free(sc.kept);
  free(sc.glue_at);
  free(sc.seen);
  return NULL;
}

/* --- N-API ------------------------------------------------------------------------------------ */

#define CHECK(call) do { if ((call) != napi_ok) { napi_throw_error(env, NULL, "dns native: " #call " failed"); return NULL; } } while (0)

static void server_release(server_t *s) {
  if (--s->refs > 0) return;
  for (int b = 0; b < BUCKETS; b++) {
    tmpl_t *t = s->buckets[b];
    while (t != NULL) { tmpl_t *next = t->next; tmpl_free(t); t = next; }
  }
  pthread_mutex_destroy(&s->lock);
  free(s);
}

static void finalize_handle(napi_env env, void *data, void *hint) {
  (void)env; (void)hint;
  server_t *s = data;
  if (!s->closed) {
    /* Collected while open (its owner forgot close()): stop the thread before the memory goes. */
    atomic_store(&s->stopping, 1);
    uint64_t one = 1;
    if (write(s->stop_fd, &one, sizeof(one)) < 0) { /* the stop flag alone ends the loop's next round */ }
    if (s->started) pthread_join(s->thread, NULL);
    close(s->fd);
    close(s->stop_fd);
    s->closed = 1;
    if (s->started) napi_release_threadsafe_function(s->tsfn, napi_tsfn_release);
  }
  server_release(s);
}

static void finalize_tsfn(napi_env env, void *data, void *hint) {
  (void)env; (void)hint;
  server_release(data);
}

static void call_js(napi_env env, napi_value callback, void *context, void *data) {
  server_t *s = context;
  handoff_t *h = data;
  if (env != NULL && !s->closed) {
    napi_value argv[2], undefined;
    void *copy;
    if (napi_create_buffer_copy(env, h->len, h->data, &copy, &argv[0]) == napi_ok &&
        napi_create_buffer_copy(env, h->addr_len, &h->addr, &copy, &argv[1]) == napi_ok &&
        napi_get_undefined(env, &undefined) == napi_ok) {
      napi_call_function(env, undefined, callback, 2, argv, NULL);
    }
  }
  free(h);
}

static server_t *unwrap(napi_env env, napi_value value) {
  void *data = NULL;
  if (napi_get_value_external(env, value, &data) != napi_ok || data == NULL) {
    napi_throw_type_error(env, NULL, "dns native: not a server handle");
    return NULL;
  }
  return data;
}

static napi_value throw_errno(napi_env env, int err, const char *what) {
  const char *code = err == EADDRINUSE ? "EADDRINUSE" : err == EACCES ? "EACCES" : err == EADDRNOTAVAIL ? "EADDRNOTAVAIL" : err == EINVAL ? "EINVAL" : "EIO";
  char message[256];
  snprintf(message, sizeof(message), "%s: %s", what, strerror(err));
  napi_throw_error(env, code, message);
  return NULL;
}

/* open(host, port, receiveBufferBytes) -> { handle, port }: a bound socket, its loop not started. */
static napi_value js_open(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  char host[64];
  size_t host_len;
  int32_t port, rcvbuf;
  if (argc < 3 || napi_get_value_string_utf8(env, argv[0], host, sizeof(host), &host_len) != napi_ok ||
      napi_get_value_int32(env, argv[1], &port) != napi_ok || napi_get_value_int32(env, argv[2], &rcvbuf) != napi_ok) {
    napi_throw_type_error(env, NULL, "dns native: open(host, port, receiveBufferBytes)");
    return NULL;
  }
  struct sockaddr_storage addr;
  memset(&addr, 0, sizeof(addr));
  socklen_t addr_len;
  int family;
  struct sockaddr_in *v4 = (struct sockaddr_in *)&addr;
  struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&addr;
  if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
    family = AF_INET; v4->sin_family = AF_INET; v4->sin_port = htons((uint16_t)port); addr_len = sizeof(*v4);
  } else if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
    family = AF_INET6; v6->sin6_family = AF_INET6; v6->sin6_port = htons((uint16_t)port); addr_len = sizeof(*v6);
  } else {
    napi_throw_error(env, "EHOSTNAME", "dns native: the host is not an IP address");
    return NULL;
  }
  int fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return throw_errno(env, errno, "socket");
  if (family == AF_INET6) {
    int off = 0; /* dual-stack, as Node's udp6 sockets */
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off));
  }
  if (bind(fd, (struct sockaddr *)&addr, addr_len) < 0) {
    int err = errno;
    close(fd);
    return throw_errno(env, err, "bind");
  }
  if (rcvbuf > 0) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
  struct sockaddr_storage bound;
  socklen_t bound_len = sizeof(bound);
  getsockname(fd, (struct sockaddr *)&bound, &bound_len);
  int bound_port = ntohs(family == AF_INET ? ((struct sockaddr_in *)&bound)->sin_port : ((struct sockaddr_in6 *)&bound)->sin6_port);
  int stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  server_t *s = stop_fd < 0 ? NULL : calloc(1, sizeof(server_t));
  if (s == NULL) {
    int err = stop_fd < 0 ? errno : ENOMEM;
    if (stop_fd >= 0) close(stop_fd);
    close(fd);
    return throw_errno(env, err, "eventfd");
  }
  s->fd = fd;
  s->stop_fd = stop_fd;
  s->family = family;
  s->refs = 1;
  s->udp_answer_limit = 3;
  pthread_mutex_init(&s->lock, NULL);
  if (getrandom(s->rng, sizeof(s->rng), 0) != sizeof(s->rng)) {
    uint64_t seed = (uint64_t)monotonic_ns() ^ ((uint64_t)getpid() << 32);
    for (int i = 0; i < 4; i++) { seed += 0x9e3779b97f4a7c15ull; s->rng[i] = seed ^ (seed >> 31); }
  }
  napi_value handle, result, port_value;
  if (napi_create_external(env, s, finalize_handle, NULL, &handle) != napi_ok) {
    close(fd); close(stop_fd); server_release(s);
    napi_throw_error(env, NULL, "dns native: cannot create the handle");
    return NULL;
  }
  CHECK(napi_create_object(env, &result));
  CHECK(napi_create_int32(env, bound_port, &port_value));
  CHECK(napi_set_named_property(env, result, "handle", handle));
  CHECK(napi_set_named_property(env, result, "port", port_value));
  return result;
}

/* start(handle, onMiss(datagram, remote)): the loop runs; misses arrive on the main thread. */
static napi_value js_start(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], name;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  server_t *s = unwrap(env, argv[0]);
  if (s == NULL) return NULL;
  if (s->started || s->closed) { napi_throw_error(env, NULL, "dns native: already started or closed"); return NULL; }
  CHECK(napi_create_string_utf8(env, "praetor-dns-native", NAPI_AUTO_LENGTH, &name));
  CHECK(napi_create_threadsafe_function(env, argv[1], NULL, name, HANDOFF_QUEUE_MAX, 1, s, finalize_tsfn, s, call_js, &s->tsfn));
  s->refs++;
  int err = pthread_create(&s->thread, NULL, loop, s);
  if (err != 0) {
    napi_release_threadsafe_function(s->tsfn, napi_tsfn_abort);
    return throw_errno(env, err, "pthread_create");
  }
  pthread_setname_np(s->thread, "praetor-dns"); /* so `top -H` tells it from libuv's pool */
  s->started = 1;
  return NULL;
}

/* send(handle, datagram, remote) -> 0, or the errno (never blocks the event loop). */
static napi_value js_send(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3], result;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  server_t *s = unwrap(env, argv[0]);
  if (s == NULL) return NULL;
  void *data, *addr;
  size_t len, addr_len;
  if (napi_get_buffer_info(env, argv[1], &data, &len) != napi_ok || napi_get_buffer_info(env, argv[2], &addr, &addr_len) != napi_ok || addr_len > sizeof(struct sockaddr_storage)) {
    napi_throw_type_error(env, NULL, "dns native: send(handle, buffer, remote)");
    return NULL;
  }
  int err = 0;
  if (s->closed) err = EBADF;
  else if (sendto(s->fd, data, len, MSG_DONTWAIT, (struct sockaddr *)addr, (socklen_t)addr_len) < 0) err = errno;
  CHECK(napi_create_int32(env, err, &result));
  return result;
}

/* configure(handle, udpAnswerLimit, enableTruncate, recursionAvailable) */
static napi_value js_configure(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  server_t *s = unwrap(env, argv[0]);
  if (s == NULL) return NULL;
  int32_t limit;
  bool truncate, recursion;
  if (napi_get_value_int32(env, argv[1], &limit) != napi_ok || napi_get_value_bool(env, argv[2], &truncate) != napi_ok || napi_get_value_bool(env, argv[3], &recursion) != napi_ok) {
    napi_throw_type_error(env, NULL, "dns native: configure(handle, udpAnswerLimit, enableTruncate, recursionAvailable)");
    return NULL;
  }
  pthread_mutex_lock(&s->lock);
  s->udp_answer_limit = limit;
  s->enable_truncate = truncate;
  s->recursion_available = recursion;
  pthread_mutex_unlock(&s->lock);
  return NULL;
}

static int name_arg(napi_env env, napi_value value, const uint8_t **name, size_t *len) {
  void *data;
  if (napi_get_buffer_info(env, value, &data, len) != napi_ok || *len == 0 || *len > 255) {
    napi_throw_type_error(env, NULL, "dns native: the name is a Buffer of 1-255 bytes");
    return 0;
  }
  *name = data;
  return 1;
}

/* setTemplate(handle, qtype, name, sourceId, expiresInMs (<0: never), blob) */
static napi_value js_set_template(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  server_t *s = unwrap(env, argv[0]);
  if (s == NULL) return NULL;
  uint32_t qtype;
  double source, expires_ms;
  const uint8_t *name;
  size_t name_len, blob_len;
  void *blob;
  if (napi_get_value_uint32(env, argv[1], &qtype) != napi_ok || !name_arg(env, argv[2], &name, &name_len) ||
      napi_get_value_double(env, argv[3], &source) != napi_ok || napi_get_value_double(env, argv[4], &expires_ms) != napi_ok ||
      napi_get_buffer_info(env, argv[5], &blob, &blob_len) != napi_ok) {
    napi_throw_type_error(env, NULL, "dns native: setTemplate(handle, qtype, name, sourceId, expiresInMs, blob)");
    return NULL;
  }
  const char *why = NULL;
  tmpl_t *t = tmpl_parse(blob, blob_len, &why);
  if (t == NULL) { napi_throw_error(env, NULL, why); return NULL; }
  if (qtype != QTYPE_SRV) {
    /* Keyed case-blind only because such answers name nothing but the question: hold them to it. */
    int plain = t->n_glue == 0;
    for (uint32_t i = 0; plain && i < t->n_items; i++) {
      const item_t *item = &t->items[i];
      uint32_t type = item->dedupe < 0 ? 1 : ((uint32_t)item->rr[2] << 8 | item->rr[3]);
      plain = (type == 1 || type == 28) && (item->dedupe < 0 || (item->rr[0] == 0xc0 && item->rr[1] == 12));
    }
    if (!plain) { tmpl_free(t); napi_throw_error(env, NULL, "template for a non-SRV question holds more than address records owned by the question"); return NULL; }
  }
  t->qtype = (uint16_t)qtype;
  t->name_len = (uint16_t)name_len;
  key_name(t->qtype, name, name_len, t->name);
  t->hash = hash_key(t->qtype, t->name, name_len);
  t->source = source;
  t->expires_ns = expires_ms < 0 ? 0 : monotonic_ns() + (int64_t)(expires_ms * 1e6);
  if (expires_ms >= 0 && t->expires_ns == 0) t->expires_ns = 1;
  pthread_mutex_lock(&s->lock);
  tmpl_t **slot = slot_of(s, t->qtype, t->name, name_len, t->hash);
  tmpl_t *old = *slot;
  if (old != NULL) {
    t->next = old->next;
  } else {
    s->count++;
  }
  *slot = t;
  pthread_mutex_unlock(&s->lock);
  tmpl_free(old);
  return NULL;
}

/* deleteTemplate(handle, qtype, name) */
static napi_value js_delete_template(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  server_t *s = unwrap(env, argv[0]);
  if (s == NULL) return NULL;
  uint32_t qtype;
  const uint8_t *name;
  size_t name_len;
  if (napi_get_value_uint32(env, argv[1], &qtype) != napi_ok || !name_arg(env, argv[2], &name, &name_len)) return NULL;
  uint8_t key[256];
  key_name((uint16_t)qtype, name, name_len, key);
  uint32_t h = hash_key((uint16_t)qtype, key, name_len);
  pthread_mutex_lock(&s->lock);
  tmpl_t **slot = slot_of(s, (uint16_t)qtype, key, name_len, h);
  tmpl_t *old = *slot;
  if (old != NULL) {
    *slot = old->next;
    s->count--;
  }
  pthread_mutex_unlock(&s->lock);
  tmpl_free(old);
  return NULL;
}

/* Unlinks every template whose source matches (or all, when all is set); frees them unlocked. */
static void drop_where(server_t *s, int all, double source) {
  tmpl_t *dead = NULL;
  pthread_mutex_lock(&s->lock);
  for (int b = 0; b < BUCKETS; b++) {
    for (tmpl_t **at = &s->buckets[b]; *at != NULL;) {
      tmpl_t *t = *at;
      if (all || t->source == source) {
        *at = t->next;
        t->next = dead;
        dead = t;
        s->count--;
      } else {
        at = &t->next;
      }
    }
  }
  pthread_mutex_unlock(&s->lock);
  while (dead != NULL) { tmpl_t *next = dead->next; tmpl_free(dead); dead = next; }
}

/* dropSource(handle, sourceId): the read behind these templates moved on. */
static napi_value js_drop_source(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  server_t *s = unwrap(env, argv[0]);
  if (s == NULL) return NULL;
  double source;
  if (napi_get_value_double(env, argv[1], &source) != napi_ok) { napi_throw_type_error(env, NULL, "dns native: dropSource(handle, sourceId)"); return NULL; }
  drop_where(s, 0, source);
  return NULL;
}

static napi_value js_clear(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  server_t *s = unwrap(env, argv[0]);
  if (s == NULL) return NULL;
  drop_where(s, 1, 0);
  return NULL;
}

static int set_count(napi_env env, napi_value object, const char *key, double value) {
  napi_value v;
  return napi_create_double(env, value, &v) == napi_ok && napi_set_named_property(env, object, key, v) == napi_ok;
}

/* stats(handle) -> { answered, truncated, handedToJs, handoffDrops, sendErrors, templates } */
static napi_value js_stats(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], result;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  server_t *s = unwrap(env, argv[0]);
  if (s == NULL) return NULL;
  CHECK(napi_create_object(env, &result));
  pthread_mutex_lock(&s->lock);
  uint32_t count = s->count;
  pthread_mutex_unlock(&s->lock);
  if (!set_count(env, result, "answered", (double)atomic_load(&s->answered)) ||
      !set_count(env, result, "truncated", (double)atomic_load(&s->truncated)) ||
      !set_count(env, result, "handedToJs", (double)atomic_load(&s->handed)) ||
      !set_count(env, result, "handoffDrops", (double)atomic_load(&s->handoff_drops)) ||
      !set_count(env, result, "sendErrors", (double)atomic_load(&s->send_errors)) ||
      !set_count(env, result, "templates", (double)count)) {
    napi_throw_error(env, NULL, "dns native: stats failed");
    return NULL;
  }
  return result;
}

/* close(handle): stops and joins the loop, closes the socket; datagrams still queued for JavaScript are dropped. */
static napi_value js_close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  server_t *s = unwrap(env, argv[0]);
  if (s == NULL || s->closed) return NULL;
  atomic_store(&s->stopping, 1);
  uint64_t one = 1;
  if (write(s->stop_fd, &one, sizeof(one)) < 0) { /* the stop flag alone ends the loop's next round */ }
  if (s->started) pthread_join(s->thread, NULL);
  s->closed = 1;
  close(s->fd);
  close(s->stop_fd);
  drop_where(s, 1, 0);
  if (s->started) napi_release_threadsafe_function(s->tsfn, napi_tsfn_release);
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor methods[] = {
    { "open", NULL, js_open, NULL, NULL, NULL, napi_default, NULL },
    { "start", NULL, js_start, NULL, NULL, NULL, napi_default, NULL },
    { "send", NULL, js_send, NULL, NULL, NULL, napi_default, NULL },
    { "configure", NULL, js_configure, NULL, NULL, NULL, napi_default, NULL },
    { "setTemplate", NULL, js_set_template, NULL, NULL, NULL, napi_default, NULL },
    { "deleteTemplate", NULL, js_delete_template, NULL, NULL, NULL, napi_default, NULL },
    { "dropSource", NULL, js_drop_source, NULL, NULL, NULL, napi_default, NULL },
    { "clear", NULL, js_clear, NULL, NULL, NULL, napi_default, NULL },
    { "stats", NULL, js_stats, NULL, NULL, NULL, napi_default, NULL },
    { "close", NULL, js_close, NULL, NULL, NULL, napi_default, NULL },
  };
  if (napi_define_properties(env, exports, sizeof(methods) / sizeof(methods[0]), methods) != napi_ok) return NULL;
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
