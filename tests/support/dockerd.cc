#include "tests/support/dockerd.h"

#include <signal.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <nlohmann/json.hpp>

namespace ovsplane::testing {

namespace {

std::string readFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

/** The state letter of /proc/PID/stat ('Z' zombie...), or 0 when the process is gone. */
char processState(pid_t pid) {
  const std::string stat = readFile("/proc/" + std::to_string(pid) + "/stat");
  const auto paren = stat.rfind(')');
  if (paren == std::string::npos || paren + 2 >= stat.size()) {
    return 0;
  }
  return stat[paren + 2];
}

bool alive(pid_t pid) {
  const char state = processState(pid);
  return state != 0 && state != 'Z' && state != 'X';
}

std::string tail(const std::string& text, size_t bytes) {
  return text.size() <= bytes ? text : "..." + text.substr(text.size() - bytes);
}

}  // namespace

std::vector<pid_t> processesMentioning(const std::string& text) {
  std::vector<pid_t> out;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || !std::all_of(name.begin(), name.end(), ::isdigit)) {
      continue;
    }
    const pid_t pid = std::stoi(name);
    if (pid == getpid()) {
      continue;
    }
    std::string cmdline = readFile(entry.path() / "cmdline");
    std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
    if (cmdline.find(text) != std::string::npos && alive(pid)) {
      out.push_back(pid);
    }
  }
  return out;
}

std::vector<std::string> mountsUnder(const std::filesystem::path& dir) {
  const std::string root = dir.string();
  std::vector<std::string> out;
  std::istringstream mounts(readFile("/proc/self/mounts"));
  std::string line;
  while (std::getline(mounts, line)) {
    std::istringstream fields(line);
    std::string source;
    std::string target;
    fields >> source >> target;
    if (target == root || target.starts_with(root + "/")) {
      out.push_back(target);
    }
  }
  std::sort(out.begin(), out.end(),
            [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
  return out;
}

std::string Dockerd::skipReason() {
  if (geteuid() != 0) {
    return "needs root: a private dockerd";
  }
  for (const char* program : {"dockerd", "containerd", "containerd-shim-runc-v2", "runc"}) {
    if (findProgram(program).empty()) {
      return std::string(program) + " is not installed";
    }
  }
  return {};
}

Dockerd::Dockerd() : socket_(dir_.path() / "docker.sock") {
  const auto& dir = dir_.path();
  {
    // A private config file: never the machine's /etc/docker/daemon.json, and the daemon's
    // key file inside the temp dir instead of /etc/docker/key.json.
    std::ofstream config(dir / "daemon.json");
    config << nlohmann::json{{"deprecated-key-path", (dir / "key.json").string()}}.dump();
  }
  const std::string closedProxy = "http://127.0.0.1:9";
  pid_ = spawnProgram({"env",
                       "HTTP_PROXY=" + closedProxy,
                       "HTTPS_PROXY=" + closedProxy,
                       "http_proxy=" + closedProxy,
                       "https_proxy=" + closedProxy,
                       "NO_PROXY=",
                       "no_proxy=",
                       "dockerd",
                       "--config-file=" + (dir / "daemon.json").string(),
                       "--data-root=" + (dir / "data").string(),
                       "--exec-root=" + (dir / "exec").string(),
                       "--pidfile=" + (dir / "dockerd.pid").string(),
                       "--host=" + host(),
                       "--bridge=none",
                       "--iptables=false",
                       "--ip6tables=false",
                       "--ip-forward=false",
                       "--ip-masq=false",
                       "--userland-proxy=false",
                       "--debug"},
                      dir / "dockerd.log");
  bool exited = false;
  const bool up = waitUntil(
      [&] {
        int status = 0;
        if (waitpid(pid_, &status, WNOHANG) == pid_) {
          exited = true;
          pid_ = -1;
          return true;
        }
        return std::filesystem::exists(socket_) &&
               request("GET", "/_ping", {}, std::chrono::seconds(2)).status == 200;
      },
      std::chrono::seconds(60));
  if (!up || exited) {
    const std::string text = log();
    shutdown();
    throw std::runtime_error(std::string("dockerd ") + (exited ? "exited" : "did not answer") +
                             ": " + tail(text, 4000));
  }
}

Dockerd::~Dockerd() { shutdown(); }

std::string Dockerd::log() const { return readFile(dir_.path() / "dockerd.log"); }

HttpReply Dockerd::request(const std::string& method, const std::string& target,
                           const std::string& body, std::chrono::milliseconds timeout) const {
  HttpReply reply;
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    reply.body = std::string("socket: ") + std::strerror(errno);
    return reply;
  }
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  const std::string path = socket_.string();
  std::memcpy(address.sun_path, path.c_str(),
              std::min(path.size() + 1, sizeof(address.sun_path) - 1));
  if (connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
    reply.body = std::string("connect: ") + std::strerror(errno);
    close(fd);
    return reply;
  }
  std::string message = method + " " + target + " HTTP/1.0\r\nHost: docker\r\n";
  if (!body.empty()) {
    message += "Content-Type: application/json\r\n";
  }
  message += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  size_t sent = 0;
  while (sent < message.size()) {
    const ssize_t n = send(fd, message.data() + sent, message.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) {
      reply.body = std::string("send: ") + std::strerror(errno);
      close(fd);
      return reply;
    }
    sent += static_cast<size_t>(n);
  }
  std::string response;
  std::array<char, 65536> buffer{};
  ssize_t n = 0;
  while ((n = read(fd, buffer.data(), buffer.size())) > 0) {
    response.append(buffer.data(), static_cast<size_t>(n));
  }
  const int readErrno = errno;
  close(fd);
  if (n < 0) {
    reply.body = std::string("read: ") + std::strerror(readErrno);
    return reply;
  }
  // "HTTP/1.0 200 OK\r\n...\r\n\r\nbody" (an HTTP/1.0 reply: no chunking, ends at EOF)
  const auto space = response.find(' ');
  const auto headerEnd = response.find("\r\n\r\n");
  if (space == std::string::npos || headerEnd == std::string::npos) {
    reply.body = "unreadable reply: " + response;
    return reply;
  }
  reply.status = std::atoi(response.c_str() + space + 1);
  reply.body = response.substr(headerEnd + 4);
  return reply;
}

int Dockerd::removeAllContainers() const {
  const HttpReply list = request("GET", "/containers/json?all=1");
  if (list.status != 200) {
    return 0;
  }
  int removed = 0;
  try {
    for (const auto& container : nlohmann::json::parse(list.body)) {
      const std::string id = container.value("Id", "");
      if (!id.empty() && request("DELETE", "/containers/" + id + "?force=1").status == 204) {
        ++removed;
      }
    }
  } catch (const nlohmann::json::exception&) {
  }
  return removed;
}

void Dockerd::shutdown() {
  const std::string dir = dir_.path().string();
  if (pid_ > 0) {
    if (alive(pid_)) {
      removeAllContainers();
    }
    stopProgram(pid_, std::chrono::seconds(30));
    pid_ = -1;
  }
  // dockerd stops its containerd, which leaves with its shims; all of them name the temp dir
  // on their command lines (--config, -address). Wait for them (they are reparented to PID 1,
  // which reaps late: a zombie counts as gone), then kill stragglers.
  if (!waitUntil([&] { return processesMentioning(dir).empty(); }, std::chrono::seconds(10))) {
    for (const pid_t pid : processesMentioning(dir)) {
      kill(pid, SIGKILL);
    }
    waitUntil([&] { return processesMentioning(dir).empty(); }, std::chrono::seconds(10));
  }
  for (const std::string& target : mountsUnder(dir_.path())) {
    umount2(target.c_str(), MNT_DETACH);
  }
}

}  // namespace ovsplane::testing
