// A small HTTP load generator for the hook server and the proxy benchmarks (unix sockets).
//   http_load SOCKET METHOD PATH BODY_FILE|- CLIENTS REQUESTS_PER_CLIENT [keepalive|close]
// Prints one line: requests/s, p50 and p99 latency in microseconds, failures.
// Every request must answer 2xx; the run stops on its own after the given request count.
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

int connectUnix(const std::string& path) {
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

/** Reads one response (Content-Length or chunked to the end); returns the status or -1. */
int readResponse(int fd, std::string& pending) {
  char buffer[65536];
  size_t headerEnd = std::string::npos;
  while ((headerEnd = pending.find("\r\n\r\n")) == std::string::npos) {
    const ssize_t n = read(fd, buffer, sizeof buffer);
    if (n <= 0) return -1;
    pending.append(buffer, static_cast<size_t>(n));
  }
  const int status = std::atoi(pending.c_str() + 9);
  std::string head = pending.substr(0, headerEnd);
  std::transform(head.begin(), head.end(), head.begin(), ::tolower);
  size_t bodyStart = headerEnd + 4;
  const size_t lengthAt = head.find("content-length:");
  if (lengthAt != std::string::npos) {
    const size_t length = std::stoul(head.substr(lengthAt + 15));
    while (pending.size() < bodyStart + length) {
      const ssize_t n = read(fd, buffer, sizeof buffer);
      if (n <= 0) return -1;
      pending.append(buffer, static_cast<size_t>(n));
    }
    pending.erase(0, bodyStart + length);
  } else if (head.find("transfer-encoding: chunked") != std::string::npos) {
    while (pending.find("\r\n0\r\n\r\n", bodyStart - 2) == std::string::npos) {
      const ssize_t n = read(fd, buffer, sizeof buffer);
      if (n <= 0) return -1;
      pending.append(buffer, static_cast<size_t>(n));
    }
    pending.erase(0, pending.find("\r\n0\r\n\r\n", bodyStart - 2) + 7);
  } else {
    pending.erase(0, bodyStart);  // no body (204) or until close
  }
  return status;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 7) {
    std::fprintf(stderr,
                 "usage: %s SOCKET METHOD PATH BODY_FILE|- CLIENTS REQUESTS [keepalive|close]\n",
                 argv[0]);
    return 2;
  }
  const std::string socketPath = argv[1];
  const std::string method = argv[2];
  const std::string path = argv[3];
  std::string body;
  if (std::string(argv[4]) != "-") {
    std::ifstream in(argv[4]);
    std::stringstream text;
    text << in.rdbuf();
    body = text.str();
  }
  const int clients = std::atoi(argv[5]);
  const int perClient = std::atoi(argv[6]);
  const bool keepAlive = argc > 7 && std::string(argv[7]) == "keepalive";
  std::string request = method + " " + path + " HTTP/1.1\r\nHost: bench\r\n";
  if (!keepAlive) request += "Connection: close\r\n";
  if (!body.empty() || method == "POST") {
    request +=
        "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  }
  request += "\r\n" + body;

  std::vector<std::vector<double>> latencies(static_cast<size_t>(clients));
  std::atomic<int> failures{0};
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      int fd = -1;
      std::string pending;
      for (int i = 0; i < perClient; ++i) {
        const auto t0 = std::chrono::steady_clock::now();
        if (fd < 0) {
          fd = connectUnix(socketPath);
          pending.clear();
        }
        if (fd < 0 ||
            write(fd, request.data(), request.size()) != static_cast<ssize_t>(request.size())) {
          ++failures;
          if (fd >= 0) close(fd);
          fd = -1;
          continue;
        }
        const int status = readResponse(fd, pending);
        if (status < 200 || status >= 300) ++failures;
        if (!keepAlive || status < 0) {
          close(fd);
          fd = -1;
        }
        latencies[static_cast<size_t>(c)].push_back(
            std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0)
                .count());
      }
      if (fd >= 0) close(fd);
    });
  }
  for (auto& thread : threads) thread.join();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::vector<double> all;
  for (const auto& perThread : latencies) all.insert(all.end(), perThread.begin(), perThread.end());
  std::sort(all.begin(), all.end());
  const auto pct = [&](double p) {
    return all.empty() ? 0.0 : all[static_cast<size_t>(p * static_cast<double>(all.size() - 1))];
  };
  std::printf("requests=%zu seconds=%.3f rps=%.0f p50_us=%.0f p99_us=%.0f failures=%d\n",
              all.size(), seconds, static_cast<double>(all.size()) / seconds, pct(0.50), pct(0.99),
              failures.load());
  return failures.load() == 0 ? 0 : 1;
}
