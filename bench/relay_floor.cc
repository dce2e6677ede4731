// The floor for any proxy on this machine: a byte relay with the proxy's threading model (one
// thread per connection and direction, blocking unix sockets) and no HTTP work at all.
//   relay_floor LISTEN_SOCKET UPSTREAM_SOCKET
// scripts/bench.sh proxy measures it beside dockerd and `ovsplane proxy`: the cost of the extra
// hop itself, which no proxy can avoid. Runs until killed.
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <thread>

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

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s LISTEN_SOCKET UPSTREAM_SOCKET\n", argv[0]);
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
  for (;;) {
    const int client = accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) continue;
    std::thread([client, upstream] {
      const int server = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
      const sockaddr_un to = unixAddress(upstream);
      if (connect(server, reinterpret_cast<const sockaddr*>(&to), sizeof to) != 0) {
        close(client);
        close(server);
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
