#include "adapter/http/framing.h"

#include <optional>
#include <string>

#include <fmt/format.h>
#include <boost/asio/error.hpp>
#include <boost/beast/http/error.hpp>

#include "adapter/hooks.h"
#include "adapter/http/limits.h"

namespace ovsplane::adapter {

namespace asio = boost::asio;
namespace http = boost::beast::http;

void limitRequestParser(RequestHeadParser& parser) {
  parser.body_limit(boost::none);
  parser.header_limit(kMaxHeaderBytes);
}

HeadVerdict judgeRequestHead(RequestHeadParser& parser,
                             const boost::system::error_code& readError) {
  using Kind = HeadVerdict::Kind;
  const auto& ec = readError;
  if (ec == http::error::header_limit) {
    return {Kind::Refuse, errorAnswer(431, fmt::format("request header larger than {} bytes, or "
                                                       "one field larger than {} bytes",
                                                       kMaxHeaderBytes, kMaxHeaderFieldBytes))};
  }
  if (ec == http::error::end_of_stream || ec == asio::error::eof ||
      ec == asio::error::connection_reset || ec == asio::error::broken_pipe ||
      ec == asio::error::shut_down || ec == asio::error::operation_aborted) {
    return {Kind::Closed, {}};  // the client went (or the reaper closed a silent one)
  }
  if (ec) {
    // Garbage, or framing that could smuggle a second request: nothing reaches dockerd.
    return {Kind::Refuse, errorAnswer(400, fmt::format("bad HTTP request: {}", ec.message()))};
  }
  if (!parser.is_header_done()) {
    return {Kind::Refuse, errorAnswer(400, "bad HTTP request: incomplete head")};
  }
  const std::optional<std::string> normalized = normalizeTarget(parser.get().target());
  if (!normalized) return {Kind::Refuse, errorAnswer(400, "the request target is not an API path")};
  if (*normalized != parser.get().target()) parser.get().target(*normalized);
  return {Kind::Serve, {}};
}

}  // namespace ovsplane::adapter
