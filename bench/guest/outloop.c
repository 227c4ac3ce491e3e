/* Guest-side exit-path benchmark: N `out` instructions to one I/O port, timed in the guest. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/io.h>
#include <time.h>
int main(int argc, char **argv) {
  unsigned port = argc > 1 ? strtoul(argv[1], 0, 0) : 0x3ff;
  long n = argc > 2 ? strtol(argv[2], 0, 0) : 10000;
  if (iopl(3) != 0) { perror("iopl"); return 1; }
  struct timespec a, b;
  clock_gettime(CLOCK_MONOTONIC, &a);
  for (long i = 0; i < n; i++) outb((unsigned char)i, port);
  clock_gettime(CLOCK_MONOTONIC, &b);
  double s = (b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9;
  printf("OUTLOOP port=0x%x n=%ld seconds=%.6f exits_per_second=%.0f\n", port, n, s, n / s);
  return 0;
}
