#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ovsplane::netdrv {

/** One regular file of a tar archive. */
struct TarFile {
  std::string name;      ///< relative path, e.g. "pause" or "bin/busybox" (< 100 bytes)
  std::string content;   ///< the file's bytes
  uint32_t mode = 0644;  ///< permission bits
};

/**
 * A POSIX ustar archive of `files` (regular files owned by 0:0, fixed mtime, so the same input
 * always gives the same bytes), ending with the two zero blocks. Parent directories are not
 * added. Throws std::invalid_argument for a name of 100 bytes or more or a file of 8 GiB or more.
 */
std::string makeTar(const std::vector<TarFile>& files);

/** The static pause binary the build compiled (netdrv/pause/pause.c), embedded in the library. */
std::string_view pauseBinary();

/** The root file system of kPauseImage (docker_client.h): a ustar archive holding one regular
 *  file, `pause` (mode 0755), the pause binary. Pure; thread-safe. */
std::string pauseImageTar();

}  // namespace ovsplane::netdrv
