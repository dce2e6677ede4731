#pragma once
// Untrusted JSON (hook bodies, Docker create bodies, answers of adapters and of dockerd) is
// parsed only through parseJsonBounded(): nesting is checked on the text first, in one pass and
// without recursion, because nlohmann::json copies and serialises values recursively (a body
// nested 200,000 arrays deep overflowed the stack after it was parsed). Header-only.

#include <cstddef>
#include <string_view>

#include <nlohmann/json.hpp>

namespace ovsplane {

/** Arrays and objects nested deeper than this are refused (Docker's own bodies need < 10). */
inline constexpr size_t kMaxJsonDepth = 256;

/** Whether the arrays and objects of JSON text nest at most `limit` deep (brackets inside
 *  strings do not count). Text that is not JSON passes when shallow; the parser judges it. */
inline bool jsonDepthWithin(std::string_view text, size_t limit = kMaxJsonDepth) {
  size_t depth = 0;
  bool inString = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (inString) {
      if (c == '\\') {
        ++i;  // the escaped character, whatever it is
      } else if (c == '"') {
        inString = false;
      }
      continue;
    }
    if (c == '"') {
      inString = true;
    } else if (c == '[' || c == '{') {
      if (++depth > limit) return false;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return true;
}

/** Parses untrusted JSON text; a discarded value (is_discarded()) when it is not JSON or nests
 *  deeper than `limit`. Never throws. */
inline nlohmann::json parseJsonBounded(std::string_view text, size_t limit = kMaxJsonDepth) {
  if (!jsonDepthWithin(text, limit)) return nlohmann::json(nlohmann::json::value_t::discarded);
  return nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
}

/** JSON text that never throws: bytes that are not UTF-8 (Docker's binary bodies, a client's
 *  garbage) become U+FFFD instead of an exception. */
inline std::string dumpJson(const nlohmann::json& json) {
  return json.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace ovsplane
