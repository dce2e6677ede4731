// The floor for any proxy on this machine: a byte relay with no HTTP work at all, in one of two
// models:
//   relay_floor LISTEN_SOCKET UPSTREAM_SOCKET [threads|epoll]
//   threads (default): the proxy's model, one thread per connection and direction, blocking
//                      unix sockets;
//   epoll:             one thread, an event loop over non-blocking sockets (what an asio or
//                      Beast proxy does underneath).
// scripts/bench.sh proxy measures both beside dockerd, socat and `ovsplane proxy`: the cost of
// the extra hop itself, and which model is cheaper here. Runs until killed.
#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <unordered_map>

namespace {

sockaddr_un unixAddress(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
  return addr;
}

void pump(int from, int to) {
  char buffer[32 * 1024];
  for (;;) {
    const ssize_t n = read(from, buffer, sizeof buffer);
    if (n <= 0) break;
    for (ssize_t sent = 0; sent < n;) {
      const ssize_t w = write(to, buffer + sent, static_cast<size_t>(n - sent));
      if (w <= 0) return;
      sent += w;
    }
  }
  shutdown(to, SHUT_WR);
}

int connectUnix(const std::string& path, int flags) {
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | flags, 0);
  const sockaddr_un to = unixAddress(path);
  if (connect(fd, reinterpret_cast<const sockaddr*>(&to), sizeof to) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

/** One direction of a relayed connection in the event loop: bytes read from `from` that
 *  `to` has not taken yet. */
struct Direction {
  int from = -1;
  int to = -1;
  std::string pending;
  bool eof = false;
};

/** Both directions of one relayed connection. */
struct Pair {
  Direction up;    // client -> upstream
  Direction down;  // upstream -> client
};

class EventLoopRelay {
 public:
  EventLoopRelay(int listener, std::string upstream)
      : listener_(listener), upstream_(std::move(upstream)), epoll_(epoll_create1(EPOLL_CLOEXEC)) {
    watch(listener_, EPOLLIN);
  }
  [[noreturn]] void run() {
    epoll_event events[64];
    for (;;) {
      const int n = epoll_wait(epoll_, events, 64, -1);
      for (int i = 0; i < n; ++i) {
        const int fd = events[i].data.fd;
        if (fd == listener_) {
          acceptOne();
        } else {
          service(fd, events[i].events);
        }
      }
    }
  }

 private:
  void watch(int fd, uint32_t what) {
    epoll_event event{};
    event.events = what;
    event.data.fd = fd;
    if (epoll_ctl(epoll_, EPOLL_CTL_MOD, fd, &event) != 0)
      epoll_ctl(epoll_, EPOLL_CTL_ADD, fd, &event);
  }
  void acceptOne() {
    const int client = accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (client < 0) return;
    const int server = connectUnix(upstream_, SOCK_NONBLOCK);
    if (server < 0) {
      close(client);
      return;
    }
    auto pair = std::make_shared<Pair>();
    pair->up.from = client;
    pair->up.to = server;
    pair->down.from = server;
    pair->down.to = client;
    byFd_[client] = pair;
    byFd_[server] = pair;
    for (int side : {client, server}) {
      masks_[side] = EPOLLIN;
      watch(side, EPOLLIN);
    }
  }
  /** `fd` is ready: read from it (and pass on) and/or flush what waits for it. */
  void service(int fd, uint32_t events) {
    auto it = byFd_.find(fd);
    if (it == byFd_.end()) return;
    std::shared_ptr<Pair> pair = it->second;
    Direction& readingFd = fd == pair->up.from ? pair->up : pair->down;
    Direction& writingFd = fd == pair->up.to ? pair->up : pair->down;
    if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) flow(readingFd);
    if (events & EPOLLOUT) flow(writingFd);
    for (int side : {pair->up.from, pair->down.from}) {
      const Direction& reading = side == pair->up.from ? pair->up : pair->down;
      const Direction& writing = side == pair->up.from ? pair->down : pair->up;
      uint32_t what = 0;
      if (!reading.eof && reading.pending.empty()) what |= EPOLLIN;
      if (!writing.pending.empty()) what |= EPOLLOUT;
      if (masks_[side] != what) {
        masks_[side] = what;
        watch(side, what);
      }
    }
    if (pair->up.eof && pair->down.eof && pair->up.pending.empty() && pair->down.pending.empty()) {
      for (int side : {pair->up.from, pair->down.from}) {
        epoll_ctl(epoll_, EPOLL_CTL_DEL, side, nullptr);
        byFd_.erase(side);
        masks_.erase(side);
        close(side);
      }
    }
  }
  static void flow(Direction& d) {
    char buffer[32 * 1024];
    if (d.pending.empty() && !d.eof) {
      const ssize_t n = read(d.from, buffer, sizeof buffer);
      if (n > 0) {
        d.pending.assign(buffer, static_cast<size_t>(n));
      } else if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
        d.eof = true;
        shutdown(d.to, SHUT_WR);
      }
    }
    while (!d.pending.empty()) {
      const ssize_t w = write(d.to, d.pending.data(), d.pending.size());
      if (w <= 0) {
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
        d.pending.clear();  // the other side is gone
        d.eof = true;
        return;
      }
      d.pending.erase(0, static_cast<size_t>(w));
    }
  }

  int listener_;
  std::string upstream_;
  int epoll_;
  std::unordered_map<int, std::shared_ptr<Pair>> byFd_;
  std::unordered_map<int, uint32_t> masks_;  // what each fd is watched for now
};

}  // namespace

int main(int argc, char** argv) {
  const std::string model = argc == 4 ? argv[3] : "threads";
  if ((argc != 3 && argc != 4) || (model != "threads" && model != "epoll")) {
    std::fprintf(stderr, "usage: %s LISTEN_SOCKET UPSTREAM_SOCKET [threads|epoll]\n", argv[0]);
    return 2;
  }
  const std::string upstream = argv[2];
  unlink(argv[1]);
  const int listener = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const sockaddr_un addr = unixAddress(argv[1]);
  if (bind(listener, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0 ||
      listen(listener, 128) != 0) {
    std::perror("relay_floor: listen");
    return 1;
  }
  if (model == "epoll") {
    fcntl(listener, F_SETFL, O_NONBLOCK);
    EventLoopRelay(listener, upstream).run();
  }
  for (;;) {
    const int client = accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) continue;
    std::thread([client, upstream] {
      const int server = connectUnix(upstream, 0);
      if (server < 0) {
        close(client);
        return;
      }
      std::thread back(pump, server, client);
      pump(client, server);
      back.join();
      close(client);
      close(server);
    }).detach();
  }
}
