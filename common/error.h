#pragma once
// The error-as-value shape every module uses at its boundary: each module has its own ErrorCode
// enum (what callers can act on) and aliases Error/Result/makeError from here. Header-only; no
// module depends on another through it.

#include <expected>
#include <string>
#include <utility>

namespace ovsplane {

/** An error value: a module's code and a message fit to show users (it names what failed). */
template <typename Code>
struct BasicError {
  Code code;
  std::string message;
};

template <typename Code>
std::unexpected<BasicError<Code>> makeError(Code code, std::string message) {
  return std::unexpected(BasicError<Code>{code, std::move(message)});
}

}  // namespace ovsplane
