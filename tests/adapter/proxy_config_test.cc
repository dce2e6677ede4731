#include "adapter/proxy_config.h"

#include <gtest/gtest.h>

#include <string>

namespace ovsplane::adapter {
namespace {

constexpr const char* kPowerstripExample = R"(version: 1
endpoints:
  "POST /*/containers/create":
    pre: [ovsplane, weave]
    post: [weave]
  "POST /*/containers/*/start":
    post: [ovsplane]
adapters:
  ovsplane: builtin
  weave: http://127.0.0.1:9090/weave-adapter
)";

TEST(AdaptersYaml, ReadsPowerstripsFormatInFileOrder) {
  auto file = parseAdaptersYaml(kPowerstripExample, "adapters.yml");
  ASSERT_TRUE(file.has_value()) << file.error();
  ASSERT_EQ(file->endpoints.size(), 2U);
  EXPECT_EQ(file->endpoints[0].pattern, "POST /*/containers/create");
  EXPECT_EQ(file->endpoints[0].pre, (std::vector<std::string>{"ovsplane", "weave"}));
  EXPECT_EQ(file->endpoints[0].post, std::vector<std::string>{"weave"});
  EXPECT_EQ(file->endpoints[0].line, 4);
  EXPECT_TRUE(file->endpoints[1].pre.empty());
  ASSERT_EQ(file->adapters.size(), 2U);
  EXPECT_EQ(file->adapters[1].name, "weave");
  EXPECT_EQ(file->adapters[1].url, "http://127.0.0.1:9090/weave-adapter");
}

TEST(AdaptersYaml, VersionIsOptionalAndAScalarListIsOneName) {
  auto file = parseAdaptersYaml(
      "endpoints:\n  \"DELETE /*/containers/*\": {post: net}\nadapters: {net: builtin}\n", "f");
  ASSERT_TRUE(file.has_value()) << file.error();
  EXPECT_EQ(file->endpoints[0].post, std::vector<std::string>{"net"});
}

struct BadCase {
  const char* name;
  const char* yaml;
  const char* message;  ///< the error must contain this
};

class AdaptersYamlErrors : public ::testing::TestWithParam<BadCase> {};

TEST_P(AdaptersYamlErrors, NameTheLineAndTheKey) {
  auto file = parseAdaptersYaml(GetParam().yaml, "adapters.yml");
  ASSERT_FALSE(file.has_value());
  EXPECT_NE(file.error().find(GetParam().message), std::string::npos) << file.error();
}

INSTANTIATE_TEST_SUITE_P(
    Cases, AdaptersYamlErrors,
    ::testing::Values(
        BadCase{"empty", "", "adapters.yml: empty"},
        BadCase{"notYaml", "endpoints: [unclosed\n", "adapters.yml:2: not valid YAML"},
        BadCase{"notAMap", "- a\n- b\n", "adapters.yml:1: the file must be a mapping"},
        BadCase{"version2", "version: 2\nendpoints: {}\nadapters: {}\n",
                "adapters.yml:1: version: only version 1 is known"},
        BadCase{"unknownTopKey", "endpoints: {}\nadapters: {}\nadapter: {}\n",
                "adapters.yml:3: unknown key \"adapter\""},
        BadCase{"noEndpoints", "adapters: {a: builtin}\n", "endpoints: is required"},
        BadCase{"noAdapters", "endpoints: {}\n", "adapters: is required"},
        BadCase{"duplicateEndpoint",
                "endpoints:\n  \"POST /*/containers/create\": {pre: [a]}\n"
                "  \"POST /*/containers/create\": {post: [a]}\nadapters: {a: builtin}\n",
                "adapters.yml:3: endpoints: duplicate key \"POST /*/containers/create\" (first "
                "at line 2)"},
        BadCase{"duplicateAdapter",
                "endpoints: {\"POST /x\": {pre: [a]}}\nadapters:\n  a: builtin\n"
                "  a: http://127.0.0.1:1/\n",
                "adapters.yml:4: adapters: duplicate key \"a\" (first at line 3)"},
        BadCase{"duplicateTopKey", "endpoints: {}\nadapters: {}\nendpoints: {}\n",
                "adapters.yml:3: the file: duplicate key \"endpoints\""},
        BadCase{"undefinedAdapter",
                "endpoints:\n  \"POST /x\":\n    pre: [a, nope]\nadapters: {a: builtin}\n",
                "adapters.yml:3: endpoint \"POST /x\": adapter \"nope\" is not defined"},
        BadCase{"neitherPreNorPost", "endpoints:\n  \"POST /x\": {}\nadapters: {a: builtin}\n",
                "adapters.yml:2: endpoint \"POST /x\": needs pre: or post: adapters"},
        BadCase{"unknownHookKey",
                "endpoints:\n  \"POST /x\": {pre: [a], pots: [a]}\nadapters: {a: builtin}\n",
                "unknown key \"pots\" (expected pre, post)"},
        BadCase{"patternWithoutPath",
                "endpoints:\n  \"containers/create\": {pre: [a]}\nadapters: {a: builtin}\n",
                "adapters.yml:2: endpoint \"containers/create\": expected \"METHOD /path\""},
        BadCase{"badUrl", "endpoints: {\"POST /x\": {pre: [a]}}\nadapters:\n  a: ftp://x/\n",
                "adapters.yml:3: adapter \"a\": \"ftp://x/\": expected http://"},
        BadCase{"badPort",
                "endpoints: {\"POST /x\": {pre: [a]}}\nadapters:\n  a: http://h:99999/a\n",
                "bad port"},
        BadCase{"https", "endpoints: {\"POST /x\": {pre: [a]}}\nadapters:\n  a: https://h/a\n",
                "https adapters are not supported"},
        BadCase{"listOfMaps",
                "endpoints:\n  \"POST /x\":\n    pre:\n      - {a: 1}\nadapters: {a: builtin}\n",
                "adapters.yml:4: endpoint \"POST /x\": pre: an adapter name must be a non-empty "
                "string"}),
    [](const auto& param) { return std::string(param.param.name); });

TEST(AdapterUrl, EveryFormItUnderstands) {
  auto tcp = parseAdapterUrl("http://127.0.0.1:9090/weave-adapter");
  ASSERT_TRUE(tcp.has_value());
  EXPECT_EQ(tcp->kind, AdapterTarget::Kind::Tcp);
  EXPECT_EQ(tcp->host, "127.0.0.1");
  EXPECT_EQ(tcp->port, 9090);
  EXPECT_EQ(tcp->httpPath, "/weave-adapter");
  auto noPort = parseAdapterUrl("http://adapter-host");
  ASSERT_TRUE(noPort.has_value());
  EXPECT_EQ(noPort->port, 80);
  EXPECT_EQ(noPort->httpPath, "/");
  auto encoded = parseAdapterUrl("http+unix://%2Frun%2Fweave%2Fadapter.sock/hook");
  ASSERT_TRUE(encoded.has_value());
  EXPECT_EQ(encoded->kind, AdapterTarget::Kind::Unix);
  EXPECT_EQ(encoded->socketPath, "/run/weave/adapter.sock");
  EXPECT_EQ(encoded->httpPath, "/hook");
  auto unix = parseAdapterUrl("unix:///run/ovsplane/adapter.sock");
  ASSERT_TRUE(unix.has_value());
  EXPECT_EQ(unix->socketPath, "/run/ovsplane/adapter.sock");
  EXPECT_EQ(unix->httpPath, "/adapter");
  EXPECT_EQ(parseAdapterUrl("builtin")->kind, AdapterTarget::Kind::Builtin);
  auto v6 = parseAdapterUrl("http://[::1]:8080/hook");
  ASSERT_TRUE(v6.has_value()) << v6.error();
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 8080);
  auto v6NoPort = parseAdapterUrl("http://[fd00::2]/hook");
  ASSERT_TRUE(v6NoPort.has_value()) << v6NoPort.error();
  EXPECT_EQ(v6NoPort->host, "fd00::2");
  EXPECT_EQ(v6NoPort->port, 80);
  EXPECT_FALSE(parseAdapterUrl("http+unix://run.sock/x").has_value());
  EXPECT_FALSE(parseAdapterUrl("unix://relative.sock").has_value());
  EXPECT_FALSE(parseAdapterUrl("http://:80/x").has_value());
}

TEST(AdaptersRules, VersionedPatternsAlsoMatchUnversionedPaths) {
  auto file = parseAdaptersYaml(kPowerstripExample, "adapters.yml");
  ASSERT_TRUE(file.has_value());
  int builtinCalls = 0;
  HookCall builtin = [&](const std::string&) {
    ++builtinCalls;
    return HttpAnswer{200, "application/json", "{}"};
  };
  const auto rules = rulesFromConfig(*file, builtin, std::chrono::milliseconds(100));
  std::vector<std::string> patterns;
  for (const auto& rule : rules) patterns.push_back(rule.pattern);
  EXPECT_EQ(patterns,
            (std::vector<std::string>{"POST /*/containers/create", "POST /containers/create",
                                      "POST /*/containers/*/start", "POST /containers/*/start"}));
  ASSERT_EQ(rules[0].pre.size(), 2U);
  rules[0].pre[0]("{}");  // ovsplane: builtin
  EXPECT_EQ(builtinCalls, 1);
  EXPECT_TRUE(globMatch(rules[1].pattern, "POST /containers/create"));
  EXPECT_FALSE(globMatch(rules[1].pattern, "POST /v1.41/containers/create"));
}

}  // namespace
}  // namespace ovsplane::adapter
