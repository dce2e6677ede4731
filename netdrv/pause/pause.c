/*
 * ovsplane's pause program: PID 1 of a network-only container. It holds the container's
 * namespaces open by doing nothing: it sleeps in sigsuspend(), reaps whatever children end up
 * with it, and exits 0 on SIGTERM or SIGINT (as PID 1 of a PID namespace it gets only the
 * signals it has handlers for). No stdio: built static (-static -Os) to stay small.
 */
#define _POSIX_C_SOURCE 200809L

#include <signal.h>
#include <stddef.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t stopRequested = 0;

static void onStop(int signo) {
  (void)signo;
  stopRequested = 1;
}

static void onChild(int signo) { (void)signo; }

static int install(int signo, void (*handler)(int), int flags) {
  struct sigaction action;
  action.sa_handler = handler;
  action.sa_flags = flags;
  sigemptyset(&action.sa_mask);
  return sigaction(signo, &action, NULL);
}

int main(void) {
  sigset_t handled;
  sigset_t waitMask;
  sigemptyset(&handled);
  sigaddset(&handled, SIGTERM);
  sigaddset(&handled, SIGINT);
  sigaddset(&handled, SIGCHLD);
  /* Block the handled signals outside sigsuspend() so none is lost between the checks below
   * and going to sleep; sigsuspend() atomically unblocks them. */
  if (sigprocmask(SIG_BLOCK, &handled, &waitMask) != 0) {
    return 2;
  }
  sigdelset(&waitMask, SIGTERM);
  sigdelset(&waitMask, SIGINT);
  sigdelset(&waitMask, SIGCHLD);
  if (install(SIGTERM, onStop, 0) != 0 || install(SIGINT, onStop, 0) != 0 ||
      install(SIGCHLD, onChild, SA_NOCLDSTOP) != 0) {
    return 2;
  }
  for (;;) {
    while (waitpid(-1, NULL, WNOHANG) > 0) {
    }
    if (stopRequested) {
      return 0;
    }
    sigsuspend(&waitMask);
  }
}
