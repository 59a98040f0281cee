// Cold-code probe: a raw keep-alive GET client that, after each response, calls K small functions through a
// table, either K distinct ones (K code lines or more to fetch) or the same one K times (same instructions,
// one line). Prints CPU time per request (getrusage), the time in the calls (rdtsc), and the rest (the
// request itself: syscalls, kernel, loop). See cold-code.sh.
//
// usage: cold-code PORT SECONDS K distinct|same TSC_GHZ
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <x86intrin.h>

typedef unsigned long (*step_fn)(unsigned long);
extern const step_fn steps[];
extern const long step_count;

static double seconds(struct timeval t) { return t.tv_sec + t.tv_usec / 1e6; }

int main(int argc, char **argv) {
  if (argc != 6) { fprintf(stderr, "usage: cold-code PORT SECONDS K distinct|same TSC_GHZ\n"); return 2; }
  int port = atoi(argv[1]);
  double secs = atof(argv[2]), ghz = atof(argv[5]);
  long k = atol(argv[3]);
  int distinct = strcmp(argv[4], "distinct") == 0;
  if (k > step_count) { fprintf(stderr, "K is at most %ld\n", step_count); return 2; }
  const char req[] = "GET /13 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
  int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(port)};
  inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  if (connect(fd, (struct sockaddr *)&addr, sizeof addr)) { perror("connect"); return 1; }
  char buf[8192];
  volatile unsigned long sink = 0;
  unsigned long in_calls = 0;
  long ops = 0, warmup = 2000;
  struct rusage r0, r1;
  struct timespec t0, now;
  for (;;) {
    if (ops == warmup) { getrusage(RUSAGE_SELF, &r0); clock_gettime(CLOCK_MONOTONIC, &t0); in_calls = 0; }
    if (send(fd, req, sizeof req - 1, MSG_NOSIGNAL) != (ssize_t)(sizeof req - 1)) { perror("send"); return 1; }
    if (recv(fd, buf, sizeof buf, 0) <= 0) { perror("recv"); return 1; }
    unsigned long start = __rdtsc(), x = sink;
    for (long i = 0; i < k; i++) x = steps[distinct ? i : 0](x);
    sink = x;
    in_calls += __rdtsc() - start;
    if (++ops > warmup && (ops & 255) == 0) {
      clock_gettime(CLOCK_MONOTONIC, &now);
      if (now.tv_sec - t0.tv_sec + (now.tv_nsec - t0.tv_nsec) / 1e9 > secs) break;
    }
  }
  getrusage(RUSAGE_SELF, &r1);
  long n = ops - warmup;
  double cpu = (seconds(r1.ru_utime) + seconds(r1.ru_stime) - seconds(r0.ru_utime) - seconds(r0.ru_stime)) * 1e6 / n;
  double calls = in_calls / (ghz * 1e3) / n;
  printf("%5ld %-8s %8.2f %8.2f %8.2f\n", k, argv[4], cpu, calls, cpu - calls);
  return 0;
}
