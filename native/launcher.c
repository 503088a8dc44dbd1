/*
 * trustdesk native launcher: dist/native/trustdesk, run by the bin/trustdesk wrapper.
 *
 * Why it exists: Node needs ~50 ms just to start, before trustdesk runs a line, while Go
 * notary's whole `init -p` takes ~25 ms on the same machine. This program starts in about a
 * millisecond, hands the command to a running `trustdesk agent` (a warm Node process) over a
 * unix socket and relays its output and exit status. When no usable agent exists it becomes
 * `node dist/src/app/bin/trustdesk.js` by exec, so a command behaves the same either way.
 * The contract (socket location, checks, frames) is docs/agent-protocol.md.
 *
 * Choices the contract leaves to the caller:
 * - SIGPIPE has its default action: when stdout or stderr is a closed pipe the launcher dies of
 *   SIGPIPE like any Unix filter (Go notary does too; Node would print an EPIPE stack trace and
 *   exit 1). Its socket closes, so the agent cancels the command. Socket writes use
 *   MSG_NOSIGNAL: an agent that goes away is reported, not fatal.
 * - SIGINT, SIGTERM…: default action too; the agent sees the close and aborts the command.
 * - Anything that fails before the whole H frame is sent falls back to node: the agent cannot
 *   have started a command it did not receive in full. After that, never: the command may have
 *   had effects, so a lost connection or a protocol violation is an error (exit 1).
 * - Fallback runs `$TRUSTDESK_NODE` (default `node`) through execvp, as the sh wrapper does.
 *
 * Plain C99 + POSIX, no dependencies: cc -O2 -Wall -Wextra -Werror launcher.c
 * (scripts/build-native.mjs adds -DTRUSTDESK_BUILD_ID="<16 hex>").
 */
#define _POSIX_C_SOURCE 200809L
#define _DEFAULT_SOURCE /* SOCK_CLOEXEC, MSG_NOSIGNAL on glibc */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>
#include <unistd.h>

#ifndef TRUSTDESK_BUILD_ID
/* Well-formed but matching no bundle: an agent answers F and every command runs on node. */
#define TRUSTDESK_BUILD_ID "0000000000000000"
#endif
#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL 0
#endif
#ifndef PATH_MAX
#define PATH_MAX 4096
#endif
#if defined(__GNUC__)
#define NORETURN __attribute__((noreturn))
#else
#define NORETURN
#endif

#define MAX_FRAME (4u << 20) /* 4 MiB, both directions */
#define CHUNK 65536
#define LOST "trustdesk: lost the connection to the agent\n"

extern char **environ;

static int debug;  /* TRUSTDESK_AGENT_DEBUG=1 */
static int nargs;  /* argc */
static char **args; /* argv */

/* exec node on our own script with our arguments and environment; `why` is the reason. */
static NORETURN void run_node(const char *why, const char *detail) {
  char exe[PATH_MAX], script[PATH_MAX + 32];
  const char *node = getenv("TRUSTDESK_NODE");
  ssize_t n;
  char *slash, **av;
  int i, extra = nargs > 1 ? nargs - 1 : 0; /* argv[1..]; argc may be 0 */

  if (debug) fprintf(stderr, "trustdesk: agent not used: %s%s\n", why, detail ? detail : "");
  if (!node || !*node) node = "node";
  /* We are <root>/dist/native/trustdesk; the CLI is <root>/dist/src/app/bin/trustdesk.js. */
  n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n > 0) exe[n] = '\0';
  else if (nargs < 1 || !strchr(args[0], '/') || !realpath(args[0], exe)) exe[0] = '\0';
  if ((slash = strrchr(exe, '/'))) *slash = '\0';
  if (!(slash = strrchr(exe, '/'))) {
    fprintf(stderr, "trustdesk: cannot find where the launcher is installed (/proc/self/exe)\n");
    exit(1);
  }
  *slash = '\0';
  snprintf(script, sizeof script, "%s/src/app/bin/trustdesk.js", exe);

  av = malloc(((size_t)extra + 3) * sizeof *av);
  if (!av) exit(1);
  av[0] = (char *)node;
  av[1] = script;
  for (i = 0; i < extra; i++) av[i + 2] = args[i + 1];
  av[extra + 2] = NULL;
  execvp(node, av);
  fprintf(stderr, "trustdesk: cannot run %s %s: %s (set TRUSTDESK_NODE to the node binary)\n",
          node, script, strerror(errno));
  exit(1);
}

/* After the request went out: report and exit 1, never re-run the command ourselves. */
static NORETURN void lost(const char *detail) {
  if (debug) fprintf(stderr, "trustdesk: agent connection: %s\n", detail);
  fputs(LOST, stderr);
  exit(1);
}

static uint32_t get_be32(const unsigned char *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put_header(char *p, char type, uint32_t len) {
  p[0] = type;
  p[1] = (char)(len >> 24);
  p[2] = (char)(len >> 16);
  p[3] = (char)(len >> 8);
  p[4] = (char)len;
}

/* Appends NUL-terminated `s` at `at` (only measures when out is NULL); returns the new end. */
static size_t field(char *out, size_t at, const char *s) {
  size_t n = strlen(s) + 1;
  if (out) memcpy(out + at, s, n);
  return at + n;
}

/* The H frame, header included: "1" build-id cwd ttys argc argv[1..] environ, NUL-terminated. */
static size_t request(char *out, const char *cwd, const char *ttys, const char *argc) {
  size_t at = field(out, 5, "1");
  char **e;
  int i;
  at = field(out, at, TRUSTDESK_BUILD_ID);
  at = field(out, at, cwd);
  at = field(out, at, ttys);
  at = field(out, at, argc);
  for (i = 1; i < nargs; i++) at = field(out, at, args[i]);
  for (e = environ; *e; e++) at = field(out, at, *e);
  if (out) put_header(out, 'H', (uint32_t)(at - 5));
  return at;
}

static char *current_dir(void) {
  size_t size = PATH_MAX;
  for (;;) {
    char *buf = malloc(size);
    if (!buf) return NULL;
    if (getcwd(buf, size)) return buf;
    free(buf);
    if (errno != ERANGE) return NULL;
    size *= 2;
  }
}

static int send_all(int fd, const char *p, size_t len) {
  while (len > 0) {
    ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

/* To stdout/stderr: partial writes, EINTR, and an inherited O_NONBLOCK (wait until writable). */
static void write_all(int fd, const char *p, size_t len) {
  while (len > 0) {
    ssize_t n = write(fd, p, len);
    if (n < 0) {
      struct pollfd w = {fd, POLLOUT, 0};
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        poll(&w, 1, -1);
        continue;
      }
      fprintf(stderr, "trustdesk: cannot write to fd %d: %s\n", fd, strerror(errno));
      exit(1);
    }
    p += n;
    len -= (size_t)n;
  }
}

/* Reads exactly len bytes; 0 on success, -1 on end of stream or error. */
static int read_full(int fd, void *buf, size_t len) {
  char *p = buf;
  while (len > 0) {
    ssize_t n = read(fd, p, len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return -1;
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

static int connect_agent(void) {
  static char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
  char dir[sizeof path], *slash;
  const char *sock = getenv("TRUSTDESK_AGENT_SOCK");
  const char *xdg = getenv("XDG_RUNTIME_DIR");
  struct sockaddr_un addr;
  struct stat st;
  int fd, n;
  uid_t uid = getuid();

  if (sock && *sock) n = snprintf(path, sizeof path, "%s", sock);
  else if (xdg && xdg[0] == '/') n = snprintf(path, sizeof path, "%s/trustdesk/agent.sock", xdg);
  else n = snprintf(path, sizeof path, "/tmp/trustdesk-%lu/agent.sock", (unsigned long)uid);
  /* 103 bytes: what fits sun_path on the BSDs too; the agent refuses longer paths alike. */
  if (n < 0 || n > 103) run_node("socket path longer than 103 bytes: ", sock ? sock : xdg);

  /* The request carries our environment, passphrases included: only a socket in a directory
     nobody else can enter, both ours. lstat, so a symlink is never followed. */
  memcpy(dir, path, sizeof dir);
  slash = strrchr(dir, '/');
  if (!slash) strcpy(dir, ".");
  else if (slash == dir) dir[1] = '\0';
  else *slash = '\0';
  if (lstat(dir, &st) != 0) run_node("no agent directory: ", dir);
  if (!S_ISDIR(st.st_mode)) run_node("not a directory (or a symlink): ", dir);
  if (st.st_uid != uid) run_node("directory owned by another user: ", dir);
  if (st.st_mode & 077) run_node("directory open to group or others: ", dir);
  if (lstat(path, &st) != 0) run_node("no agent socket: ", path);
  if (!S_ISSOCK(st.st_mode)) run_node("not a socket: ", path);
  if (st.st_uid != uid) run_node("socket owned by another user: ", path);

  memset(&addr, 0, sizeof addr);
  addr.sun_family = AF_UNIX;
  memcpy(addr.sun_path, path, sizeof path);
#ifdef SOCK_CLOEXEC
  fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
#else
  fd = socket(AF_UNIX, SOCK_STREAM, 0);
  if (fd >= 0) fcntl(fd, F_SETFD, FD_CLOEXEC);
#endif
  if (fd < 0) run_node("socket: ", strerror(errno));
  if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
    const char *why = strerror(errno);
    close(fd);
    run_node("cannot connect: ", why);
  }
  return fd;
}

int main(int argc, char **argv) {
  static char buf[5 + CHUNK];
  const char *v = getenv("TRUSTDESK_AGENT_DEBUG");
  char ttys[4], count[16], *cwd, *req;
  size_t len;
  int sock, frames = 0, asked_stdin = 0, streaming = 0;
  sigset_t pipe_set;

  nargs = argc;
  args = argv;
  debug = v && strcmp(v, "1") == 0;
  signal(SIGPIPE, SIG_DFL);
  sigemptyset(&pipe_set);
  sigaddset(&pipe_set, SIGPIPE);
  sigprocmask(SIG_UNBLOCK, &pipe_set, NULL);

  v = getenv("TRUSTDESK_NO_AGENT");
  if (v && *v) run_node("TRUSTDESK_NO_AGENT is set", NULL);
  if (!(cwd = current_dir())) run_node("getcwd: ", strerror(errno));
  ttys[0] = isatty(0) ? '1' : '0';
  ttys[1] = isatty(1) ? '1' : '0';
  ttys[2] = isatty(2) ? '1' : '0';
  ttys[3] = '\0';
  snprintf(count, sizeof count, "%d", argc > 0 ? argc - 1 : 0);
  len = request(NULL, cwd, ttys, count);
  if (len - 5 > MAX_FRAME) run_node("arguments and environment exceed 4 MiB", NULL);
  if (!(req = malloc(len))) run_node("out of memory", NULL);
  request(req, cwd, ttys, count);

  sock = connect_agent();
  if (send_all(sock, req, len) != 0) {
    const char *why = strerror(errno);
    close(sock);
    run_node("sending the request: ", why);
  }
  free(req);

  for (;;) {
    struct pollfd pf[2] = {{sock, POLLIN, 0}, {0, POLLIN, 0}};
    unsigned char h[5];
    uint32_t n;

    if (poll(pf, streaming ? 2 : 1, -1) < 0) {
      if (errno == EINTR) continue;
      lost("poll failed");
    }
    if (streaming && pf[1].revents) {
      ssize_t r = read(0, buf + 5, CHUNK);
      if (r < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)) continue;
      /* A read error ends stdin like end of file does. */
      put_header(buf, r > 0 ? 'I' : 'E', r > 0 ? (uint32_t)r : 0);
      if (r <= 0) streaming = 0;
      /* A failed send: keep reading, the agent may have finished (X) without our stdin. */
      if (send_all(sock, buf, 5 + (size_t)(r > 0 ? r : 0)) != 0) streaming = 0;
    }
    if (!pf[0].revents) continue;

    /* One whole frame; the agent writes frames whole, so blocking inside one is brief. */
    if (read_full(sock, h, 5) != 0) lost("closed before the exit status");
    n = get_be32(h + 1);
    if (n > MAX_FRAME) lost("frame longer than 4 MiB");
    switch (h[0]) {
    case 'O':
    case 'R':
      while (n > 0) {
        ssize_t r = read(sock, buf, n < CHUNK ? n : CHUNK);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) lost("closed inside a frame");
        write_all(h[0] == 'O' ? 1 : 2, buf, (size_t)r);
        n -= (uint32_t)r;
      }
      break;
    case 'N':
      if (n != 0 || asked_stdin) lost("bad N frame");
      asked_stdin = streaming = 1;
      break;
    case 'X':
      if (n != 1 || read_full(sock, h, 1) != 0) lost("bad X frame");
      return h[0];
    case 'F':
      if (frames > 0) lost("F after other frames");
      if (read_full(sock, buf, n < 200 ? n : 200) != 0) lost("closed inside a frame");
      close(sock);
      buf[n < 200 ? n : 200] = '\0';
      run_node("the agent says: ", buf);
    default:
      lost("unknown frame type");
    }
    frames++;
  }
}
