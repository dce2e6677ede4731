// e2e-labelled: the Docker Engine API client against a private dockerd each test starts itself
// (tests/support/dockerd.h), checked independently through plain HTTP and dockerd's debug log.
// Images are only ever imported (the pause image; a busybox image made from the machine's
// static /bin/busybox): nothing is pulled, and dockerd's proxies point at a closed port.
// The DockerClientTimeout and DockerPauseImage suites need neither root nor dockerd.
#include "netdrv/docker_client.h"

#include <elf.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <fstream>
#include <functional>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>

#include <fmt/format.h>

#include "netdrv/pause_image.h"
#include "tests/support/dockerd.h"

namespace ovsplane::netdrv {
namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;
using testing::Dockerd;
using Clock = std::chrono::steady_clock;

constexpr const char* kBusyboxRepo = "ovsplane-test/busybox";
constexpr const char* kBusyboxImage = "ovsplane-test/busybox:1";

std::string readFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

/** Whether `bytes` is an x86-64/ELF64 executable without a program interpreter (static). */
bool isStaticElf(std::string_view bytes) {
  Elf64_Ehdr header{};
  if (bytes.size() < sizeof header || std::memcmp(bytes.data(), ELFMAG, SELFMAG) != 0) {
    return false;
  }
  std::memcpy(&header, bytes.data(), sizeof header);
  if (header.e_ident[EI_CLASS] != ELFCLASS64) {
    return false;
  }
  for (size_t i = 0; i < header.e_phnum; ++i) {
    const size_t offset = header.e_phoff + i * header.e_phentsize;
    Elf64_Phdr program{};
    if (offset + sizeof program > bytes.size()) {
      return false;
    }
    std::memcpy(&program, bytes.data() + offset, sizeof program);
    if (program.p_type == PT_INTERP) {
      return false;
    }
  }
  return true;
}

uint64_t parseOctal(std::string_view field) {
  uint64_t value = 0;
  for (const char c : field) {
    if (c < '0' || c > '7') {
      break;
    }
    value = value * 8 + static_cast<uint64_t>(c - '0');
  }
  return value;
}

/** The busybox test image's root file system: /bin/busybox of Debian's busybox-static. */
std::string busyboxSkipReason() {
  if (!std::filesystem::exists("/bin/busybox")) {
    return "/bin/busybox (Debian's busybox-static) is not installed";
  }
  if (!isStaticElf(readFile("/bin/busybox"))) {
    return "/bin/busybox is not static (install busybox-static)";
  }
  return {};
}

/** How many containers a list returns; SIZE_MAX (and a failure) on error. */
size_t countListed(DockerClient& client, const std::map<std::string, std::string>& labels,
                   bool all) {
  const auto listed = client.listContainers(labels, all);
  EXPECT_TRUE(listed.has_value()) << listed.error().message;
  return listed ? listed->size() : SIZE_MAX;
}

/** How many times `needle` occurs in `text`. */
size_t occurrences(const std::string& text, const std::string& needle) {
  size_t count = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) {
    ++count;
  }
  return count;
}

class DockerClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (const std::string reason = Dockerd::skipReason(); !reason.empty()) {
      GTEST_SKIP() << reason;
    }
    dockerd_ = std::make_unique<Dockerd>();
    DockerClientOptions options;
    options.socketPath = dockerd_->host();
    client_ = std::make_unique<DockerClient>(options);
  }

  void TearDown() override {
    client_.reset();
    dockerd_.reset();
  }

  void importBusybox() {
    const auto imported = client_->importImage(
        makeTar({TarFile{"bin/busybox", readFile("/bin/busybox"), 0755}}), kBusyboxRepo, "1");
    ASSERT_TRUE(imported.has_value()) << imported.error().message;
  }

  /** A network-less pause container carrying `labels`; returns its id. */
  std::string createPause(const std::map<std::string, std::string>& labels,
                          const std::string& name = {}) {
    const json body = {
        {"Image", kPauseImage}, {"Labels", labels}, {"HostConfig", {{"NetworkMode", "none"}}}};
    const auto created = client_->createContainer(body, name);
    EXPECT_TRUE(created.has_value()) << created.error().message;
    return created.value_or("");
  }

  std::unique_ptr<Dockerd> dockerd_;
  std::unique_ptr<DockerClient> client_;
};

TEST_F(DockerClientTest, NegotiatesApiVersion) {
  const auto announced = client_->ping();
  ASSERT_TRUE(announced.has_value()) << announced.error().message;
  ASSERT_FALSE(announced->empty());
  const auto version = client_->apiVersion();
  ASSERT_TRUE(version.has_value()) << version.error().message;
  // min(daemon, 1.41): dockerd 20.10 announces exactly 1.41; a newer one is capped.
  const double daemon = std::stod(*announced);
  EXPECT_EQ(*version, daemon >= 1.41 ? std::string(kMaxDockerApiVersion) : *announced);
  EXPECT_EQ(client_->apiVersion().value_or(""), *version);  // cached

  // A plain path works as well as unix://, and a pinned version is used as given.
  DockerClientOptions pinned;
  pinned.socketPath = dockerd_->socketPath().string();
  pinned.apiVersion = "v1.40";
  DockerClient pinnedClient(pinned);
  EXPECT_EQ(pinnedClient.socketPath(), dockerd_->socketPath().string());
  EXPECT_EQ(pinnedClient.apiVersion().value_or(""), "1.40");
  const auto listed = pinnedClient.listContainers({}, true);
  ASSERT_TRUE(listed.has_value()) << listed.error().message;
  EXPECT_TRUE(listed->empty());
  EXPECT_NE(dockerd_->log().find("GET /v1.40/containers/json"), std::string::npos);

  // Thread-safe: one fresh client (negotiating on first use) shared by several threads.
  DockerClientOptions shared;
  shared.socketPath = dockerd_->host();
  DockerClient sharedClient(shared);
  std::atomic<int> failures = 0;
  {
    std::vector<std::jthread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&] {
        for (int i = 0; i < 5; ++i) {
          const auto found = sharedClient.listContainers({{"ovsplane.test", "x"}}, true);
          const auto missing = sharedClient.inspectContainer("ovsplane-test-missing");
          if (!found || !found->empty() || missing || missing.error().code != ErrorCode::NotFound) {
            ++failures;
          }
        }
      });
    }
  }
  EXPECT_EQ(failures, 0);
  EXPECT_EQ(sharedClient.apiVersion().value_or(""), *version);
}

TEST_F(DockerClientTest, EnsurePauseImageImportsOnce) {
  ASSERT_EQ(client_->imageExists(std::string(kPauseImage)).value_or(true), false);
  const auto first = client_->ensurePauseImage();
  ASSERT_TRUE(first.has_value()) << first.error().message;
  ASSERT_EQ(client_->imageExists(std::string(kPauseImage)).value_or(false), true);
  const auto inspected = dockerd_->request("GET", "/images/ovsplane/pause:1/json");
  ASSERT_EQ(inspected.status, 200) << inspected.body;
  const json image = json::parse(inspected.body);
  EXPECT_EQ(image["Config"]["Cmd"], json::array({"/pause"}));

  const auto second = client_->ensurePauseImage();
  ASSERT_TRUE(second.has_value()) << second.error().message;
  const auto again = dockerd_->request("GET", "/images/ovsplane/pause:1/json");
  ASSERT_EQ(again.status, 200) << again.body;
  EXPECT_EQ(json::parse(again.body)["Id"], image["Id"]);  // not re-imported
  EXPECT_EQ(occurrences(dockerd_->log(), "/images/create?fromSrc=-"), 1u);

  const auto images = dockerd_->request("GET", "/images/json");
  ASSERT_EQ(images.status, 200) << images.body;
  bool listed = false;
  for (const auto& entry : json::parse(images.body)) {
    for (const auto& tag : entry.value("RepoTags", json::array())) {
      listed = listed || tag == kPauseImage;
    }
  }
  EXPECT_TRUE(listed) << images.body;

  // An archive Docker cannot read: Docker's own message is reported.
  const auto bad = client_->importImage(std::string(1536, 'x'), "ovsplane-test/bad", "1");
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().code, ErrorCode::Unavailable);
  EXPECT_NE(bad.error().message.find("repo=ovsplane-test%2Fbad&tag=1"), std::string::npos)
      << bad.error().message;
  EXPECT_NE(bad.error().message.find("invalid tar header"), std::string::npos)
      << bad.error().message;
  EXPECT_EQ(client_->imageExists("ovsplane-test/bad:1").value_or(true), false);
}

TEST_F(DockerClientTest, CreateStartInspectListStopRemove) {
  if (const std::string reason = busyboxSkipReason(); !reason.empty()) {
    GTEST_SKIP() << reason;
  }
  ASSERT_NO_FATAL_FAILURE(importBusybox());
  const std::map<std::string, std::string> labels{{"ovsplane.test", "lifecycle"},
                                                  {"ovsplane.network", "10.20.0.0/24"}};
  const json body = {{"Image", kBusyboxImage},
                     {"Cmd", json::array({"/bin/busybox", "sleep", "600"})},
                     {"Labels", labels},
                     {"HostConfig", {{"NetworkMode", "none"}}}};
  const std::string name = "ovsplane-test-lifecycle";
  const auto created = client_->createContainer(body, name);
  ASSERT_TRUE(created.has_value()) << created.error().message;
  const std::string id = *created;
  ASSERT_FALSE(id.empty());

  const auto taken = client_->createContainer(body, name);
  ASSERT_FALSE(taken.has_value());
  EXPECT_EQ(taken.error().code, ErrorCode::Conflict) << taken.error().message;

  const auto started = client_->startContainer(id);
  ASSERT_TRUE(started.has_value()) << started.error().message;
  const auto startedAgain = client_->startContainer(name);  // 304: already running
  ASSERT_TRUE(startedAgain.has_value()) << startedAgain.error().message;

  const auto info = client_->inspectContainer(name);
  ASSERT_TRUE(info.has_value()) << info.error().message;
  EXPECT_EQ(info->id, id);
  EXPECT_EQ(info->name, name);
  EXPECT_TRUE(info->running);
  ASSERT_GT(info->pid, 0);
  EXPECT_EQ(info->labels, labels);
  EXPECT_EQ(info->networkMode, "none");
  EXPECT_FALSE(info->sandboxKey.empty());
  EXPECT_EQ(info->raw["Config"]["Image"], kBusyboxImage);
  // The pid is the container's process on this host.
  EXPECT_NE(readFile(fmt::format("/proc/{}/cmdline", info->pid)).find("sleep"), std::string::npos);

  const auto listed = client_->listContainers({{"ovsplane.test", "lifecycle"}}, false);
  ASSERT_TRUE(listed.has_value()) << listed.error().message;
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ(listed->front().id, id);
  EXPECT_EQ(listed->front().name, name);
  EXPECT_TRUE(listed->front().running);
  EXPECT_EQ(listed->front().labels, labels);
  EXPECT_EQ(listed->front().networkMode, "none");
  EXPECT_EQ(countListed(*client_, {{"ovsplane.test", ""}}, false), 1u);
  EXPECT_EQ(countListed(*client_, {{"ovsplane.test", "other"}}, true), 0u);
  EXPECT_EQ(countListed(*client_, labels, true), 1u);

  const auto busy = client_->removeContainer(id, false);
  ASSERT_FALSE(busy.has_value());
  EXPECT_EQ(busy.error().code, ErrorCode::Conflict) << busy.error().message;

  const auto stopped = client_->stopContainer(id, 1);  // busybox ignores SIGTERM as PID 1
  ASSERT_TRUE(stopped.has_value()) << stopped.error().message;
  const auto stoppedAgain = client_->stopContainer(id, 1);  // 304: not running
  ASSERT_TRUE(stoppedAgain.has_value()) << stoppedAgain.error().message;
  const auto afterStop = client_->inspectContainer(id);
  ASSERT_TRUE(afterStop.has_value()) << afterStop.error().message;
  EXPECT_FALSE(afterStop->running);
  EXPECT_EQ(afterStop->pid, 0);
  EXPECT_EQ(countListed(*client_, labels, false), 0u);
  const auto all = client_->listContainers(labels, true);
  ASSERT_TRUE(all.has_value()) << all.error().message;
  ASSERT_EQ(all->size(), 1u);
  EXPECT_FALSE(all->front().running);

  const auto removed = client_->removeContainer(id, false);
  ASSERT_TRUE(removed.has_value()) << removed.error().message;
  const auto removedAgain = client_->removeContainer(id, true);  // idempotent
  ASSERT_TRUE(removedAgain.has_value()) << removedAgain.error().message;
  const auto gone = client_->inspectContainer(id);
  ASSERT_FALSE(gone.has_value());
  EXPECT_EQ(gone.error().code, ErrorCode::NotFound);
  EXPECT_EQ(dockerd_->request("GET", "/containers/" + id + "/json").status, 404);

  const auto stopMissing = client_->stopContainer(id, 1);
  ASSERT_FALSE(stopMissing.has_value());
  EXPECT_EQ(stopMissing.error().code, ErrorCode::NotFound) << stopMissing.error().message;
}

TEST_F(DockerClientTest, InspectMissingContainerIsNotFound) {
  const auto missing = client_->inspectContainer("ovsplane-test-missing");
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().code, ErrorCode::NotFound);
  const std::string& message = missing.error().message;
  EXPECT_NE(message.find("No such container: ovsplane-test-missing"), std::string::npos) << message;
  EXPECT_NE(message.find("/containers/ovsplane-test-missing/json"), std::string::npos) << message;
  EXPECT_NE(message.find(dockerd_->socketPath().string()), std::string::npos) << message;
}

TEST_F(DockerClientTest, CreateWithMissingImageFailsWithoutPulling) {
  const std::string image = "ovsplane-test/absent:1";
  const auto created = client_->createContainer({{"Image", image}}, "ovsplane-test-absent");
  ASSERT_FALSE(created.has_value());
  EXPECT_EQ(created.error().code, ErrorCode::NotFound);
  EXPECT_NE(created.error().message.find("No such image: " + image), std::string::npos)
      << created.error().message;
  EXPECT_NE(created.error().message.find("/containers/create"), std::string::npos)
      << created.error().message;
  EXPECT_EQ(client_->imageExists(image).value_or(true), false);
  EXPECT_EQ(countListed(*client_, {}, true), 0u);
  // dockerd logs every API call (--debug): nothing asked it to pull.
  const std::string log = dockerd_->log();
  EXPECT_NE(log.find("Calling POST /v1.41/containers/create"), std::string::npos) << log;
  EXPECT_EQ(log.find("fromImage"), std::string::npos) << log;
  EXPECT_EQ(log.find("images/create?"), std::string::npos) << log;  // no pull, no import
}

TEST_F(DockerClientTest, PauseContainerRunsWithoutNetwork) {
  ASSERT_TRUE(client_->ensurePauseImage().has_value());
  const std::string id = createPause({{"ovsplane.test", "pause"}}, "ovsplane-test-pause");
  ASSERT_FALSE(id.empty());
  const auto started = client_->startContainer(id);
  ASSERT_TRUE(started.has_value()) << started.error().message;
  std::this_thread::sleep_for(300ms);  // it keeps running: it did not just start and exit
  const auto info = client_->inspectContainer(id);
  ASSERT_TRUE(info.has_value()) << info.error().message;
  EXPECT_TRUE(info->running) << info->raw.dump();
  EXPECT_EQ(info->networkMode, "none");
  ASSERT_GT(info->pid, 0);
  EXPECT_EQ(readFile(fmt::format("/proc/{}/comm", info->pid)), "pause\n");
  EXPECT_EQ(info->raw["Path"], "/pause");

  const auto before = Clock::now();
  const auto stopped = client_->stopContainer(id, 10);  // exits on SIGTERM: no 10 s wait
  ASSERT_TRUE(stopped.has_value()) << stopped.error().message;
  EXPECT_LT(Clock::now() - before, 5s);
  const auto after = client_->inspectContainer(id);
  ASSERT_TRUE(after.has_value()) << after.error().message;
  EXPECT_FALSE(after->running);
  EXPECT_EQ(after->raw["State"]["ExitCode"], 0);
  ASSERT_TRUE(client_->removeContainer(id, true).has_value());
}

TEST_F(DockerClientTest, FollowEventsSeesStartAndStopsOnRequest) {
  ASSERT_TRUE(client_->ensurePauseImage().has_value());
  const std::string labelled = createPause({{"ovsplane.test", "events"}});
  const std::string other = createPause({{"ovsplane.test", "unrelated"}});
  ASSERT_FALSE(labelled.empty());
  ASSERT_FALSE(other.empty());

  std::mutex mutex;
  std::vector<json> events;
  std::optional<Result<void>> result;
  std::jthread follower([&](std::stop_token stop) {
    auto followed = client_->followEvents(
        {{"ovsplane.test", "events"}},
        [&](const json& event) {
          std::lock_guard lock(mutex);
          events.push_back(event);
          return true;
        },
        stop);
    std::lock_guard lock(mutex);
    result = std::move(followed);
  });
  const auto sawStart = [&](const std::string& id) {
    std::lock_guard lock(mutex);
    return std::any_of(events.begin(), events.end(), [&](const json& event) {
      return event.value("Action", "") == "start" && event["Actor"].value("ID", "") == id;
    });
  };
  // The subscription becomes active asynchronously: restart until the event shows up.
  bool seen = false;
  for (int attempt = 0; attempt < 5 && !seen; ++attempt) {
    std::this_thread::sleep_for(200ms);
    ASSERT_TRUE(client_->stopContainer(labelled, 1).has_value());
    ASSERT_TRUE(client_->startContainer(other).has_value());
    ASSERT_TRUE(client_->startContainer(labelled).has_value());
    seen = testing::waitUntil([&] { return sawStart(labelled); }, 2s);
  }
  ASSERT_TRUE(seen);
  {
    std::lock_guard lock(mutex);
    EXPECT_FALSE(result.has_value());  // still following
    for (const json& event : events) {
      EXPECT_EQ(event.value("Type", ""), "container");
      EXPECT_EQ(event["Actor"].value("ID", ""), labelled) << event.dump();
    }
  }
  EXPECT_FALSE(sawStart(other));

  const auto before = Clock::now();
  follower.request_stop();
  follower.join();
  EXPECT_LT(Clock::now() - before, 1s);
  ASSERT_TRUE(result.has_value());
  EXPECT_TRUE(result->has_value()) << result->error().message;

  // onEvent returning false ends the stream as well.
  std::atomic<bool> done = false;
  std::atomic<int> calls = 0;
  std::jthread once([&](std::stop_token stop) {
    const auto followed = client_->followEvents(
        {{"ovsplane.test", "events"}},
        [&](const json&) {
          ++calls;
          return false;
        },
        stop);
    EXPECT_TRUE(followed.has_value()) << followed.error().message;
    done = true;
  });
  for (int attempt = 0; attempt < 5 && !done; ++attempt) {
    std::this_thread::sleep_for(200ms);
    ASSERT_TRUE(client_->stopContainer(labelled, 1).has_value());
    ASSERT_TRUE(client_->startContainer(labelled).has_value());
    testing::waitUntil([&] { return done.load(); }, 2s);
  }
  EXPECT_TRUE(done);
  once.request_stop();
  once.join();
  EXPECT_EQ(calls, 1);
}

/**
 * A unix socket server playing dockerd: for each connection it reads one request and writes
 * what `answer` returns for it (then closes), or, without `answer`, accepts and never answers.
 */
class FakeDaemon {
 public:
  using Answer = std::function<std::string(const std::string& request)>;

  explicit FakeDaemon(const std::filesystem::path& path, Answer answer = {})
      : answer_(std::move(answer)) {
    fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::strncpy(address.sun_path, path.c_str(), sizeof(address.sun_path) - 1);
    if (fd_ < 0 || bind(fd_, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0 ||
        listen(fd_, 16) != 0) {
      throw std::runtime_error("cannot listen on " + path.string());
    }
    thread_ = std::jthread([this](std::stop_token stop) {
      while (!stop.stop_requested()) {
        pollfd ready{fd_, POLLIN, 0};
        if (poll(&ready, 1, 20) <= 0) {
          continue;
        }
        const int connection = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (connection < 0) {
          continue;
        }
        {
          std::lock_guard lock(mutex_);
          connections_.push_back(connection);
        }
        if (answer_) {
          const std::string request = readRequest(connection);
          {
            std::lock_guard lock(mutex_);
            requests_.push_back(request);
          }
          const std::string reply = answer_(request);
          (void)!send(connection, reply.data(), reply.size(), MSG_NOSIGNAL);
          shutdown(connection, SHUT_RDWR);
        }
      }
    });
  }
  ~FakeDaemon() {
    thread_.request_stop();
    thread_.join();
    for (const int connection : connections_) {
      close(connection);
    }
    close(fd_);
  }
  FakeDaemon(const FakeDaemon&) = delete;
  FakeDaemon& operator=(const FakeDaemon&) = delete;

  size_t accepted() {
    std::lock_guard lock(mutex_);
    return connections_.size();
  }
  std::vector<std::string> requests() {
    std::lock_guard lock(mutex_);
    return requests_;
  }

  /** An HTTP/1.1 reply with a Content-Length body. */
  static std::string reply(int status, const std::string& body,
                           const std::string& headers = "Content-Type: application/json\r\n") {
    return fmt::format("HTTP/1.1 {} X\r\n{}Content-Length: {}\r\nConnection: close\r\n\r\n{}",
                       status, headers, body.size(), body);
  }

 private:
  /** Headers, then as many body bytes as Content-Length says. */
  static std::string readRequest(int connection) {
    std::string request;
    std::array<char, 65536> buffer{};
    size_t wanted = std::string::npos;
    while (request.size() < wanted) {
      const ssize_t n = read(connection, buffer.data(), buffer.size());
      if (n <= 0) {
        break;
      }
      request.append(buffer.data(), static_cast<size_t>(n));
      const auto headerEnd = request.find("\r\n\r\n");
      if (wanted == std::string::npos && headerEnd != std::string::npos) {
        size_t length = 0;
        const auto at = request.find("Content-Length: ");
        if (at != std::string::npos && at < headerEnd) {
          length = std::stoul(request.substr(at + 16));
        }
        wanted = headerEnd + 4 + length;
      }
    }
    return request;
  }

  Answer answer_;
  int fd_ = -1;
  std::mutex mutex_;
  std::vector<int> connections_;
  std::vector<std::string> requests_;
  std::jthread thread_;
};

TEST(DockerClientTimeout, SilentDaemonTimesOut) {
  testing::TempDir dir;
  const auto path = dir.path() / "silent.sock";
  FakeDaemon server(path);
  DockerClientOptions options;
  options.socketPath = "unix://" + path.string();
  options.timeout = 300ms;
  DockerClient client(options);

  auto before = Clock::now();
  const auto version = client.apiVersion();  // GET /_ping, never answered
  auto elapsed = Clock::now() - before;
  ASSERT_FALSE(version.has_value());
  EXPECT_EQ(version.error().code, ErrorCode::Unavailable);
  EXPECT_NE(version.error().message.find("timed out after 300 ms"), std::string::npos)
      << version.error().message;
  EXPECT_NE(version.error().message.find(path.string()), std::string::npos)
      << version.error().message;
  EXPECT_GE(elapsed, 250ms);
  EXPECT_LT(elapsed, 1500ms);
  EXPECT_GE(server.accepted(), 1u);

  options.apiVersion = "1.41";
  DockerClient pinned(options);
  before = Clock::now();
  const auto info = pinned.inspectContainer("x");
  elapsed = Clock::now() - before;
  ASSERT_FALSE(info.has_value());
  EXPECT_EQ(info.error().code, ErrorCode::Unavailable) << info.error().message;
  EXPECT_LT(elapsed, 1500ms);

  // The big body of an import is within the deadline too.
  before = Clock::now();
  const auto imported = pinned.importImage(pauseImageTar(), "ovsplane-test/x", "1");
  elapsed = Clock::now() - before;
  ASSERT_FALSE(imported.has_value());
  EXPECT_EQ(imported.error().code, ErrorCode::Unavailable) << imported.error().message;
  EXPECT_LT(elapsed, 1500ms);
}

TEST(DockerClientTimeout, FollowEventsReturnsSoonAfterStop) {
  testing::TempDir dir;
  const auto path = dir.path() / "silent.sock";
  FakeDaemon server(path);
  DockerClientOptions options;
  options.socketPath = path.string();
  options.apiVersion = "1.41";  // the default 10 s timeout: the stop request must cut it short
  DockerClient client(options);
  std::stop_source stop;
  std::optional<Result<void>> result;
  std::jthread follower([&] {
    result = client.followEvents(
        {}, [](const json&) { return true; }, stop.get_token());
  });
  ASSERT_TRUE(testing::waitUntil([&] { return server.accepted() >= 1; }, 5s));
  std::this_thread::sleep_for(100ms);
  const auto before = Clock::now();
  stop.request_stop();
  follower.join();
  EXPECT_LT(Clock::now() - before, 1s);
  ASSERT_TRUE(result.has_value());
  EXPECT_TRUE(result->has_value()) << result->error().message;

  // Already requested: returns at once.
  EXPECT_TRUE(client.followEvents(
      {}, [](const json&) { return true; }, stop.get_token()));
}

TEST(DockerClientTimeout, MissingSocketIsUnavailable) {
  testing::TempDir dir;
  DockerClientOptions options;
  options.socketPath = (dir.path() / "absent.sock").string();
  DockerClient client(options);
  const auto before = Clock::now();
  const auto version = client.apiVersion();
  EXPECT_LT(Clock::now() - before, 1s);
  ASSERT_FALSE(version.has_value());
  EXPECT_EQ(version.error().code, ErrorCode::Unavailable);
  EXPECT_NE(version.error().message.find("absent.sock"), std::string::npos)
      << version.error().message;
  EXPECT_NE(version.error().message.find("connect"), std::string::npos) << version.error().message;
}

TEST(DockerClientFake, NegotiationIsCappedAt141) {
  testing::TempDir dir;
  for (const auto& [announced, expected] : std::vector<std::pair<std::string, std::string>>{
           {"1.43", "1.41"}, {"1.39", "1.39"}, {"2.0", "1.41"}, {"1.41", "1.41"}}) {
    const auto path = dir.path() / ("d" + announced + ".sock");
    FakeDaemon daemon(path, [&](const std::string& request) {
      if (request.starts_with("GET /_ping ")) {
        return FakeDaemon::reply(200, "OK", "API-Version: " + announced + "\r\n");
      }
      return FakeDaemon::reply(200, "[]");
    });
    DockerClientOptions options;
    options.socketPath = path.string();
    DockerClient client(options);
    EXPECT_EQ(client.apiVersion().value_or("error"), expected) << announced;
    const auto listed = client.listContainers({{"a", "b"}, {"c", ""}}, false);
    ASSERT_TRUE(listed.has_value()) << listed.error().message;
    const auto requests = daemon.requests();
    ASSERT_EQ(requests.size(), 2u);  // one ping: the version is cached
    // filters={"label":["a=b","c"]}
    EXPECT_TRUE(requests[1].starts_with(
        "GET /v" + expected +
        "/containers/json?all=0&filters=%7B%22label%22%3A%5B%22a%3Db%22%2C%22c%22%5D%7D "))
        << requests[1];
  }
  // No usable header: an error naming the socket, not a guess.
  const auto path = dir.path() / "bad.sock";
  FakeDaemon daemon(path, [](const std::string&) { return FakeDaemon::reply(200, "OK", ""); });
  DockerClientOptions options;
  options.socketPath = path.string();
  const auto version = DockerClient(options).apiVersion();
  ASSERT_FALSE(version.has_value());
  EXPECT_EQ(version.error().code, ErrorCode::Unavailable);
  EXPECT_NE(version.error().message.find(path.string()), std::string::npos)
      << version.error().message;
}

TEST(DockerClientFake, ImportReportsErrorEntryOfProgressStream) {
  testing::TempDir dir;
  const auto path = dir.path() / "d.sock";
  FakeDaemon daemon(path, [](const std::string&) {
    return FakeDaemon::reply(
        200,
        "{\"status\":\"Downloading\"}\r\n"
        "{\"errorDetail\":{\"message\":\"disk full\"},\"error\":\"disk full\"}\r\n");
  });
  DockerClientOptions options;
  options.socketPath = path.string();
  options.apiVersion = "1.41";
  DockerClient client(options);
  const auto imported =
      client.importImage(makeTar({TarFile{"f", "x", 0644}}), "r/x", "2", {R"(CMD ["/f"])"});
  ASSERT_FALSE(imported.has_value());
  EXPECT_EQ(imported.error().code, ErrorCode::Unavailable);
  EXPECT_NE(imported.error().message.find("disk full"), std::string::npos)
      << imported.error().message;
  EXPECT_NE(imported.error().message.find("r/x:2"), std::string::npos) << imported.error().message;
  const auto requests = daemon.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_TRUE(
      requests[0].starts_with("POST /v1.41/images/create?fromSrc=-&repo=r%2Fx&tag=2"
                              "&changes=CMD%20%5B%22%2Ff%22%5D "))
      << requests[0];
  EXPECT_NE(requests[0].find("Content-Type: application/x-tar"), std::string::npos);
  EXPECT_EQ(requests[0].find("fromImage"), std::string::npos);
  EXPECT_EQ(requests[0].size() - requests[0].find("\r\n\r\n") - 4, 2048u);  // the tar

  // A non-JSON error body is quoted as it is.
  const auto plain = dir.path() / "p.sock";
  FakeDaemon plainDaemon(plain, [](const std::string&) {
    return FakeDaemon::reply(503, "daemon is busy\n", "Content-Type: text/plain\r\n");
  });
  options.socketPath = plain.string();
  const auto busy = DockerClient(options).inspectContainer("abc");
  ASSERT_FALSE(busy.has_value());
  EXPECT_EQ(busy.error().code, ErrorCode::Unavailable);
  EXPECT_NE(busy.error().message.find("daemon is busy (HTTP 503"), std::string::npos)
      << busy.error().message;
}

TEST(DockerClientFake, FollowEventsReadsChunkedStreamUntilItEnds) {
  testing::TempDir dir;
  const auto path = dir.path() / "d.sock";
  // Two events, the second split across chunks, then the end of the stream.
  FakeDaemon daemon(path, [](const std::string&) {
    const std::string first = R"({"Type":"container","Action":"start","Actor":{"ID":"a"}})"
                              "\n";
    const std::string second = R"({"Type":"container","Action":"die","Actor":{"ID":"b"}})"
                               "\n";
    const auto chunk = [](std::string_view data) {
      return fmt::format("{:x}\r\n{}\r\n", data.size(), data);
    };
    return "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
           "Transfer-Encoding: chunked\r\n\r\n" +
           chunk(first) + chunk(second.substr(0, 10)) + chunk(second.substr(10)) + "0\r\n\r\n";
  });
  DockerClientOptions options;
  options.socketPath = path.string();
  options.apiVersion = "1.41";
  DockerClient client(options);
  std::vector<json> events;
  const auto followed = client.followEvents(
      {{"ovsplane.network", "n1"}},
      [&](const json& event) {
        events.push_back(event);
        return true;
      },
      std::stop_token());
  ASSERT_TRUE(followed.has_value()) << followed.error().message;
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0]["Action"], "start");
  EXPECT_EQ(events[1]["Actor"]["ID"], "b");
  const auto requests = daemon.requests();
  ASSERT_EQ(requests.size(), 1u);
  // filters={"label":["ovsplane.network=n1"],"type":["container"]}
  EXPECT_TRUE(requests[0].starts_with(
      "GET /v1.41/events?filters=%7B%22label%22%3A%5B%22ovsplane.network%3Dn1%22%5D%2C%22type%22"
      "%3A%5B%22container%22%5D%7D "))
      << requests[0];
}

TEST(DockerPauseImage, TarIsValidUstar) {
  const std::string_view binary = pauseBinary();
  ASSERT_GT(binary.size(), 1000u);
  EXPECT_TRUE(isStaticElf(binary));

  const std::string tar = pauseImageTar();
  ASSERT_EQ(tar.size() % 512, 0u);
  const size_t padded = (binary.size() + 511) / 512 * 512;
  ASSERT_EQ(tar.size(), 512 + padded + 1024);
  EXPECT_TRUE(std::all_of(tar.end() - 1024, tar.end(), [](char c) { return c == '\0'; }));

  const std::string_view header(tar.data(), 512);
  EXPECT_EQ(std::string(header.substr(0, 100).data()), "pause");
  EXPECT_EQ(parseOctal(header.substr(100, 8)), 0755u);
  EXPECT_EQ(parseOctal(header.substr(124, 12)), binary.size());
  EXPECT_EQ(header[156], '0');  // regular file
  EXPECT_EQ(header.substr(257, 6), std::string_view("ustar\0", 6));
  EXPECT_EQ(header.substr(263, 2), "00");
  uint64_t sum = 0;
  for (size_t i = 0; i < 512; ++i) {
    sum += (i >= 148 && i < 156) ? uint64_t{' '} : static_cast<unsigned char>(header[i]);
  }
  EXPECT_EQ(parseOctal(header.substr(148, 8)), sum);
  EXPECT_EQ(tar.substr(512, binary.size()), binary);
  EXPECT_TRUE(std::all_of(tar.begin() + static_cast<ptrdiff_t>(512 + binary.size()), tar.end(),
                          [](char c) { return c == '\0'; }));
  EXPECT_EQ(pauseImageTar(), tar);  // deterministic

  // GNU tar agrees.
  testing::TempDir dir;
  const auto file = dir.path() / "pause.tar";
  std::ofstream(file, std::ios::binary) << tar;
  const auto listed = testing::runCommand({"tar", "-tvf", file.string()});
  ASSERT_EQ(listed.exitCode, 0) << listed.output;
  EXPECT_NE(listed.output.find("-rwxr-xr-x root/root"), std::string::npos) << listed.output;
  EXPECT_NE(listed.output.find(" pause\n"), std::string::npos) << listed.output;
  const auto extracted = testing::runCommand({"tar", "-xf", file.string(), "-C", dir.path()});
  ASSERT_EQ(extracted.exitCode, 0) << extracted.output;
  EXPECT_EQ(readFile(dir.path() / "pause"), binary);

  EXPECT_THROW(makeTar({TarFile{std::string(100, 'x'), "", 0644}}), std::invalid_argument);
  EXPECT_EQ(makeTar({}).size(), 1024u);
  EXPECT_EQ(makeTar({TarFile{"a", "", 0644}, TarFile{"b/c", std::string(513, 'c'), 0600}}).size(),
            512 + 512 + 1024 + 1024u);
}

TEST(DockerPauseImage, PauseExitsZeroOnSigterm) {
  testing::TempDir dir;
  const auto program = dir.path() / "pause";
  std::ofstream(program, std::ios::binary) << pauseBinary();
  ASSERT_EQ(chmod(program.c_str(), 0755), 0);
  for (const int signal : {SIGTERM, SIGINT}) {
    pid_t pid = 0;
    char* argv[] = {const_cast<char*>(program.c_str()), nullptr};
    char* envp[] = {nullptr};
    ASSERT_EQ(posix_spawn(&pid, program.c_str(), nullptr, nullptr, argv, envp), 0);
    std::this_thread::sleep_for(100ms);
    int status = 0;
    EXPECT_EQ(waitpid(pid, &status, WNOHANG), 0);  // still running
    kill(pid, signal);
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status)) << status;
    EXPECT_EQ(WEXITSTATUS(status), 0);
  }
}

}  // namespace
}  // namespace ovsplane::netdrv
