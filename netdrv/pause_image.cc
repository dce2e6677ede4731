#include "netdrv/pause_image.h"

#include <algorithm>
#include <stdexcept>

#include <fmt/format.h>

// The pause binary, built by netdrv/docker.cmake, is embedded here by the assembler: its path
// comes from the build (OVSPLANE_PAUSE_BINARY), its bytes end up in .rodata.
#ifndef OVSPLANE_PAUSE_BINARY
#error "OVSPLANE_PAUSE_BINARY (the path of the built pause program) must be defined"
#endif

asm(".pushsection .rodata.ovsplane_pause, \"a\", @progbits\n"
    ".balign 16\n"
    "ovsplane_pause_begin:\n"
    ".incbin \"" OVSPLANE_PAUSE_BINARY
    "\"\n"
    "ovsplane_pause_end:\n"
    ".popsection\n");

extern "C" {
extern const char ovsplane_pause_begin[];
extern const char ovsplane_pause_end[];
}

namespace ovsplane::netdrv {

namespace {

constexpr size_t kBlock = 512;
constexpr uint64_t kMtime = 1700000000;  // fixed: the same binary gives the same archive

/** Writes `value` as zero-padded octal filling `width - 1` digits plus a NUL. */
void putOctal(std::string& header, size_t offset, size_t width, uint64_t value) {
  const std::string digits = fmt::format("{:0{}o}", value, width - 1);
  if (digits.size() != width - 1) {
    throw std::invalid_argument("tar: value does not fit its header field");
  }
  std::copy(digits.begin(), digits.end(), header.begin() + static_cast<ptrdiff_t>(offset));
  header[offset + width - 1] = '\0';
}

void putText(std::string& header, size_t offset, std::string_view text) {
  std::copy(text.begin(), text.end(), header.begin() + static_cast<ptrdiff_t>(offset));
}

std::string headerFor(const TarFile& file) {
  if (file.name.empty() || file.name.size() >= 100) {
    throw std::invalid_argument(fmt::format("tar: bad file name '{}'", file.name));
  }
  std::string header(kBlock, '\0');
  putText(header, 0, file.name);                         // name
  putOctal(header, 100, 8, file.mode & 07777);           // mode
  putOctal(header, 108, 8, 0);                           // uid
  putOctal(header, 116, 8, 0);                           // gid
  putOctal(header, 124, 12, file.content.size());        // size
  putOctal(header, 136, 12, kMtime);                     // mtime
  header[156] = '0';                                     // typeflag: regular file
  putText(header, 257, std::string_view("ustar\0", 6));  // magic
  putText(header, 263, "00");                            // version
  putText(header, 265, "root");                          // uname
  putText(header, 297, "root");                          // gname
  putOctal(header, 329, 8, 0);                           // devmajor
  putOctal(header, 337, 8, 0);                           // devminor
  // The checksum is computed with its own field as eight spaces, then written as six octal
  // digits, a NUL and a space.
  std::fill_n(header.begin() + 148, 8, ' ');
  uint64_t sum = 0;
  for (const char c : header) {
    sum += static_cast<unsigned char>(c);
  }
  putOctal(header, 148, 7, sum);
  header[155] = ' ';
  return header;
}

}  // namespace

std::string makeTar(const std::vector<TarFile>& files) {
  std::string out;
  for (const TarFile& file : files) {
    out += headerFor(file);
    out += file.content;
    out.append((kBlock - file.content.size() % kBlock) % kBlock, '\0');
  }
  out.append(2 * kBlock, '\0');
  return out;
}

std::string_view pauseBinary() {
  return {ovsplane_pause_begin, static_cast<size_t>(ovsplane_pause_end - ovsplane_pause_begin)};
}

std::string pauseImageTar() {
  return makeTar({TarFile{"pause", std::string(pauseBinary()), 0755}});
}

}  // namespace ovsplane::netdrv
