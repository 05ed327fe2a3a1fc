/*
 * The C reference of bench/net.ts: a single-threaded, level-triggered epoll TCP server on
 * 127.0.0.1 (port 0; the bound port is printed on stdout as "listening <port>").
 *
 *   echo-epoll echo   every byte read is written back (TCP_NODELAY on every connection)
 *   echo-epoll sink   bytes read are counted and discarded; at end of stream the count is
 *                     written back as "<bytes>\n" and the connection closed
 *
 * Compiled by the benchmark with `cc -O2`. Runs until killed (SIGTERM).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define BUF (256 * 1024)
#define MAXEV 256

struct conn {
  int fd;
  uint64_t bytes;  /* sink: bytes read so far */
  char *pending;   /* echo: bytes not yet written back */
  size_t plen, poff;
};

static int sink;
static char buf[BUF];

static void die(const char *what) {
  perror(what);
  exit(1);
}

static void drop(int ep, struct conn *c) {
  epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
  close(c->fd);
  free(c->pending);
  free(c);
}

/* Writes what is pending; returns 0 when all is written, 1 when the socket is full, -1 on error. */
static int flush(struct conn *c) {
  while (c->poff < c->plen) {
    ssize_t w = send(c->fd, c->pending + c->poff, c->plen - c->poff, MSG_NOSIGNAL);
    if (w < 0) return errno == EAGAIN ? 1 : -1;
    c->poff += (size_t)w;
  }
  free(c->pending);
  c->pending = NULL;
  c->plen = c->poff = 0;
  return 0;
}

static void on_readable(int ep, struct conn *c) {
  for (;;) {
    ssize_t n = recv(c->fd, buf, BUF, 0);
    if (n < 0) {
      if (errno == EAGAIN) return;
      if (errno == EINTR) continue;
      drop(ep, c);
      return;
    }
    if (n == 0) {
      if (sink) {
        char line[32];
        int len = snprintf(line, sizeof line, "%llu\n", (unsigned long long)c->bytes);
        send(c->fd, line, (size_t)len, MSG_NOSIGNAL); /* a few bytes into an empty send buffer */
      }
      drop(ep, c);
      return;
    }
    if (sink) {
      c->bytes += (uint64_t)n;
      continue;
    }
    /* echo: write back now; what does not fit waits for EPOLLOUT (reading pauses meanwhile) */
    ssize_t w = send(c->fd, buf, (size_t)n, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno != EAGAIN) {
        drop(ep, c);
        return;
      }
      w = 0;
    }
    if (w < n) {
      c->pending = malloc((size_t)(n - w));
      memcpy(c->pending, buf + w, (size_t)(n - w));
      c->plen = (size_t)(n - w);
      c->poff = 0;
      struct epoll_event ev = { .events = EPOLLOUT, .data.ptr = c };
      epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
      return;
    }
    if (n < BUF) return; /* drained (level-triggered: a later arrival wakes us again) */
  }
}

int main(int argc, char **argv) {
  if (argc != 2 || (strcmp(argv[1], "echo") != 0 && strcmp(argv[1], "sink") != 0)) {
    fprintf(stderr, "usage: %s echo|sink\n", argv[0]);
    return 2;
  }
  sink = strcmp(argv[1], "sink") == 0;
  int ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (ls < 0) die("socket");
  int one = 1;
  setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = 0 };
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(ls, (struct sockaddr *)&addr, sizeof addr) < 0) die("bind");
  if (listen(ls, 4096) < 0) die("listen");
  socklen_t alen = sizeof addr;
  if (getsockname(ls, (struct sockaddr *)&addr, &alen) < 0) die("getsockname");
  printf("listening %d\n", ntohs(addr.sin_port));
  fflush(stdout);

  int ep = epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) die("epoll_create1");
  struct epoll_event lev = { .events = EPOLLIN, .data.ptr = NULL };
  if (epoll_ctl(ep, EPOLL_CTL_ADD, ls, &lev) < 0) die("epoll_ctl");
  struct epoll_event evs[MAXEV];
  for (;;) {
    int n = epoll_wait(ep, evs, MAXEV, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      die("epoll_wait");
    }
    for (int i = 0; i < n; i++) {
      struct conn *c = evs[i].data.ptr;
      if (c == NULL) {
        for (;;) {
          int fd = accept4(ls, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
          if (fd < 0) break;
          setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          struct conn *nc = calloc(1, sizeof *nc);
          nc->fd = fd;
          struct epoll_event ev = { .events = EPOLLIN, .data.ptr = nc };
          epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
        }
        continue;
      }
      if (c->pending != NULL) {
        int r = flush(c);
        if (r < 0) {
          drop(ep, c);
          continue;
        }
        if (r == 0) {
          struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
          epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
        }
        continue;
      }
      on_readable(ep, c);
    }
  }
}
