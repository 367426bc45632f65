/*
 * getaddrinfo(3) as an application in a pod calls it: the C library's own stub resolver reads
 * /etc/resolv.conf (search list, ndots), sends the queries and decides what to do with a
 * truncated reply. Built at test time against glibc (dynamic) and musl (static) by
 * test/netns/pod-resolvers.test.ts.
 *
 *   getaddrinfo NAME [inet|unspec]
 *
 * Prints every IPv4/IPv6 address, one per line (one SOCK_STREAM result per address), and exits
 * 0; on failure prints "error: <gai_strerror>" and exits 2 (usage errors: 64).
 */
#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

int main(int argc, char **argv) {
  if (argc < 2 || argc > 3) {
    fprintf(stderr, "usage: %s NAME [inet|unspec]\n", argv[0]);
    return 64;
  }
  struct addrinfo hints;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = argc == 3 && strcmp(argv[2], "inet") == 0 ? AF_INET : AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  struct addrinfo *res = NULL;
  int rc = getaddrinfo(argv[1], NULL, &hints, &res);
  if (rc != 0) {
    printf("error: %s\n", gai_strerror(rc));
    return 2;
  }
  for (struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
    char text[INET6_ADDRSTRLEN];
    const void *addr = ai->ai_family == AF_INET ? (const void *)&((struct sockaddr_in *)ai->ai_addr)->sin_addr
                                                : (const void *)&((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr;
    if (inet_ntop(ai->ai_family, addr, text, sizeof text) != NULL) printf("%s\n", text);
  }
  freeaddrinfo(res);
  return 0;
}
