#pragma once

#include <expected>
#include <string>

namespace ovsplane::ipam {

/** What went wrong, so callers can map errors to answers (a bad CIDR is the user's fault, an
 *  unavailable store is not). */
enum class ErrorCode {
  InvalidArgument,   ///< Unparsable or unsupported input (CIDR, address, owner).
  OutOfRange,        ///< A requested address outside the network's host range.
  ReservedAddress,   ///< A requested network, gateway or broadcast address.
  AddressTaken,      ///< A requested address that another owner holds.
  OwnerConflict,     ///< The owner already holds a different address in the network.
  Exhausted,         ///< No free address left in the network.
  StoreUnavailable,  ///< The persistence layer failed; retrying may help.
};

/** An error value with a message fit to show a user as is. */
struct Error {
  ErrorCode code;
  std::string message;
};

template <typename T>
using Result = std::expected<T, Error>;

inline std::unexpected<Error> makeError(ErrorCode code, std::string message) {
  return std::unexpected(Error{code, std::move(message)});
}

}  // namespace ovsplane::ipam
