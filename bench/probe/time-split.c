// LD_PRELOAD shim: splits a client's time per operation into time inside its socket and poll calls and time
// outside them (its own user-space code), by rdtsc around each wrapped libc call. With getrusage's CPU total
// (which is exact, unlike its user/sys split) this gives user time and kernel time per operation.
// Single-threaded clients only (the counters are not atomic). Prints one line to stderr at exit.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>
#include <x86intrin.h>

static uint64_t inside, first, last, sends;

static inline uint64_t enter(void) {
  uint64_t t = __rdtsc();
  if (!first) first = t;
  return t;
}

static inline void leave(uint64_t start) {
  last = __rdtsc();
  inside += last - start;
}

// One wrapper per call: look the real function up once, time the call.
#define WRAP(ret, name, params, args, counts_send)                      \
  ret name params {                                                     \
    static ret(*real) params;                                           \
    if (!real) real = (ret(*) params)dlsym(RTLD_NEXT, #name);           \
    uint64_t start = enter();                                           \
    sends += (counts_send);                                             \
    ret r = real args;                                                  \
    leave(start);                                                       \
    return r;                                                           \
  }

WRAP(ssize_t, send, (int fd, const void *b, size_t n, int f), (fd, b, n, f), 1)
WRAP(ssize_t, sendto, (int fd, const void *b, size_t n, int f, const struct sockaddr *a, socklen_t l),
     (fd, b, n, f, a, l), 1)
WRAP(ssize_t, write, (int fd, const void *b, size_t n), (fd, b, n), fd > 2)
WRAP(ssize_t, writev, (int fd, const struct iovec *v, int n), (fd, v, n), 1)
WRAP(ssize_t, recv, (int fd, void *b, size_t n, int f), (fd, b, n, f), 0)
WRAP(ssize_t, recvfrom, (int fd, void *b, size_t n, int f, struct sockaddr *a, socklen_t *l), (fd, b, n, f, a, l), 0)
WRAP(ssize_t, read, (int fd, void *b, size_t n), (fd, b, n), 0)
WRAP(int, epoll_wait, (int e, struct epoll_event *ev, int m, int t), (e, ev, m, t), 0)

__attribute__((destructor)) static void report(void) {
  if (!sends) return;
  // Cycles outside the wrapped calls, from the first wrapped call to the last, per write (one per operation
  // in the request-response scenarios), in TSC cycles; the caller converts with the TSC rate.
  fprintf(stderr, "time-split: writes %lu, outside-calls cycles per write %.0f\n", (unsigned long)sends,
          (double)((last - first) - inside) / sends);
}
