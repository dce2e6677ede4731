#include "tests/support/process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>

extern char** environ;

namespace ovsplane::testing {

TempDir::TempDir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "ovsplane-test-XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr) {
    throw std::runtime_error("mkdtemp failed");
  }
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

std::string findProgram(const std::string& name) {
  std::string path = std::getenv("PATH") ? std::getenv("PATH") : "";
  path += ":/usr/sbin:/sbin:/usr/bin:/bin";
  size_t start = 0;
  while (start <= path.size()) {
    const size_t colon = path.find(':', start);
    const std::string dir = path.substr(start, colon - start);
    if (!dir.empty()) {
      const std::filesystem::path candidate = std::filesystem::path(dir) / name;
      if (access(candidate.c_str(), X_OK) == 0) {
        return candidate.string();
      }
    }
    if (colon == std::string::npos) {
      break;
    }
    start = colon + 1;
  }
  return {};
}

namespace {

std::vector<char*> toArgv(const std::vector<std::string>& argv) {
  std::vector<char*> out;
  for (const auto& arg : argv) {
    out.push_back(const_cast<char*>(arg.c_str()));
  }
  out.push_back(nullptr);
  return out;
}

/** fork + exec rather than posix_spawn: the child asks for SIGKILL when the test process dies
 *  (an ASan abort, a crash), so no daemon a test started outlives it. Only async-signal-safe
 *  calls happen between fork and exec. */
pid_t spawnWithOutput(const std::vector<std::string>& argv, int outputFd) {
  const std::string program = findProgram(argv.at(0));
  if (program.empty()) {
    throw std::runtime_error(argv[0] + " not found in PATH");
  }
  auto args = toArgv(argv);
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) {
    throw std::runtime_error("fork for " + program + " failed");
  }
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);  // the test died before prctl took effect
    const int devNull = open("/dev/null", O_RDONLY);
    if (devNull >= 0) dup2(devNull, STDIN_FILENO);
    dup2(outputFd, STDOUT_FILENO);
    dup2(outputFd, STDERR_FILENO);
    execve(program.c_str(), args.data(), environ);
    _exit(127);
  }
  return pid;
}

}  // namespace

CommandResult runCommand(const std::vector<std::string>& argv) {
  std::array<int, 2> pipeFds{};
  if (pipe2(pipeFds.data(), O_CLOEXEC) != 0) {
    throw std::runtime_error("pipe failed");
  }
  const pid_t pid = spawnWithOutput(argv, pipeFds[1]);
  close(pipeFds[1]);
  CommandResult result;
  std::array<char, 4096> buffer{};
  ssize_t n = 0;
  while ((n = read(pipeFds[0], buffer.data(), buffer.size())) > 0) {
    result.output.append(buffer.data(), static_cast<size_t>(n));
  }
  close(pipeFds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  result.exitCode = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

pid_t spawnProgram(const std::vector<std::string>& argv, const std::filesystem::path& logFile) {
  const int fd = open(logFile.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) {
    throw std::runtime_error("cannot open " + logFile.string());
  }
  const pid_t pid = spawnWithOutput(argv, fd);
  close(fd);
  return pid;
}

void stopProgram(pid_t pid, std::chrono::milliseconds grace) {
  if (pid <= 0) {
    return;
  }
  kill(pid, SIGTERM);
  int status = 0;
  const bool exited = waitUntil([&] { return waitpid(pid, &status, WNOHANG) == pid; }, grace);
  if (!exited) {
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
  }
}

}  // namespace ovsplane::testing
