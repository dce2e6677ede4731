// Fuzzes the proxy's request framing: any bytes fed to its request parser (with its limits)
// must end in a verdict, never a crash; a head that is served carries a target that is already
// normalized (hooks and dockerd see the same one) and routes without trouble; a refusal is an
// answer in Docker's error shape.
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string_view>

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/error.hpp>

#include "adapter/hooks.h"
#include "adapter/http/framing.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ovsplane::adapter;
  namespace http = boost::beast::http;
  RequestHeadParser parser;
  limitRequestParser(parser);
  parser.eager(false);
  boost::system::error_code ec;
  std::string_view rest(reinterpret_cast<const char*>(data), size);
  // Fed in pieces, as reads from a socket come: 1..64 bytes at a time.
  const size_t step = size == 0 ? 1 : (data[0] % 64) + 1;
  std::string pending;
  try {
    while (!rest.empty() && !parser.is_header_done() && !ec) {
      pending.append(rest.substr(0, step));
      rest.remove_prefix(std::min(step, rest.size()));
      const size_t used = parser.put(boost::asio::buffer(pending), ec);
      if (ec == http::error::need_more) ec = {};
      pending.erase(0, used);
    }
  } catch (const std::length_error&) {
    ec = http::error::header_limit;  // as the proxy counts it
  }
  if (!ec && !parser.is_header_done()) ec = http::error::end_of_stream;
  const HeadVerdict verdict = judgeRequestHead(parser, ec);
  switch (verdict.kind) {
    case HeadVerdict::Kind::Serve: {
      const std::string target(parser.get().target());
      const auto again = normalizeTarget(target);
      if (!again || *again != target) __builtin_trap();  // normalized once and for all
      (void)routeRequest(std::string(parser.get().method_string()), target);
      break;
    }
    case HeadVerdict::Kind::Refuse:
      if (verdict.refusal.status < 400 ||
          verdict.refusal.body.find("ovsplane: ") == std::string::npos) {
        __builtin_trap();
      }
      break;
    case HeadVerdict::Kind::Closed:
      break;
  }
  return 0;
}
