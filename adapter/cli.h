#pragma once

#include <iosfwd>

namespace ovsplane::adapter {

/**
 * The `ovsplane` command line. Parses argv, runs the chosen command and returns the process exit
 * code (0 ok, 1 command failed, 2 usage error). Writes only to `out` and `err`; never throws.
 */
int runCli(int argc, const char* const* argv, std::ostream& out, std::ostream& err);

}  // namespace ovsplane::adapter
