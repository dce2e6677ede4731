#include "adapter/http/message.h"

#include <fmt/format.h>
#include <boost/beast/http/status.hpp>
#include <nlohmann/json.hpp>

#include "common/json_limits.h"

namespace ovsplane::adapter {

HttpAnswer errorAnswer(unsigned status, std::string_view message) {
  return HttpAnswer{
      status, "application/json",
      dumpJson(nlohmann::json{{"message", fmt::format("ovsplane: {}", message)}}) + "\n"};
}

std::string closingResponseText(const HttpAnswer& answer) {
  const auto reason =
      boost::beast::http::obsolete_reason(static_cast<boost::beast::http::status>(answer.status));
  return fmt::format(
      "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
      answer.status, std::string_view(reason.data(), reason.size()), answer.contentType,
      answer.body.size(), answer.body);
}

}  // namespace ovsplane::adapter
