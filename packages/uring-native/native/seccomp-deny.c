/*
 * effio-seccomp-deny: test helper. Runs a command with io_uring_setup(2) denied by a seccomp
 * filter, the way container runtimes and sandboxes commonly deny it:
 *
 *   effio-seccomp-deny <command> [args...]
 *
 * The filter makes io_uring_setup fail with EPERM for the native architecture and allows
 * every other system call. It sets no_new_privs first, so no privileges are needed, and it is
 * inherited by the command and all of its children. Raw prctl() only: no libseccomp.
 *
 * Exit status: that of <command>, or 2 for a usage error, 3 if the filter could not be
 * installed, 127 if <command> could not be executed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>

/* io_uring_setup has the same number on x86_64 and aarch64 (the unified syscall table). */
#define IO_URING_SETUP_NR 425

#if defined(__x86_64__)
#define NATIVE_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define NATIVE_AUDIT_ARCH AUDIT_ARCH_AARCH64
#endif

#ifdef NATIVE_AUDIT_ARCH
static int install_filter(void) {
  struct sock_filter code[] = {
      /* 0: A = seccomp_data.arch */
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
      /* 1: another ABI (e.g. 32-bit compat): not ours to judge, go to allow (5) */
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, NATIVE_AUDIT_ARCH, 0, 3),
      /* 2: A = seccomp_data.nr */
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
      /* 3: io_uring_setup -> deny (4), anything else -> allow (5) */
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, IO_URING_SETUP_NR, 0, 1),
      /* 4 */
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
      /* 5 */
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  struct sock_fprog prog = {
      .len = (unsigned short)(sizeof(code) / sizeof(code[0])),
      .filter = code,
  };
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    fprintf(stderr, "effio-seccomp-deny: prctl(PR_SET_NO_NEW_PRIVS): %s\n", strerror(errno));
    return -1;
  }
  if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) != 0) {
    fprintf(stderr, "effio-seccomp-deny: prctl(PR_SET_SECCOMP): %s\n", strerror(errno));
    return -1;
  }
  return 0;
}
#else
static int install_filter(void) {
  fprintf(stderr, "effio-seccomp-deny: unsupported architecture (x86_64 and aarch64 only)\n");
  return -1;
}
#endif

int main(int argc, char** argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: effio-seccomp-deny <command> [args...]\n");
    return 2;
  }
  if (install_filter() != 0) return 3;
  execvp(argv[1], argv + 1);
  fprintf(stderr, "effio-seccomp-deny: cannot execute %s: %s\n", argv[1], strerror(errno));
  return 127;
}
