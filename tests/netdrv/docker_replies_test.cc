// Decoding dockerd's replies: what Docker sends is read, and what a broken or hostile daemon
// (or a man in the middle of a tcp:// Docker API) might send never throws or overflows.
#include "netdrv/docker_replies.h"

#include <gtest/gtest.h>

namespace ovsplane::netdrv {
namespace {

using nlohmann::json;

TEST(DockerReplies, InspectReadsWhatDockerSends) {
  auto object = parseReplyJson(R"({"Id":"abc","Name":"/web","Created":"2026-12-01T21:45:12.5Z",
      "State":{"Running":true,"Pid":4242,"Error":""},"HostConfig":{"NetworkMode":"container:x",
      "RestartPolicy":{"Name":"always"}},"NetworkSettings":{"SandboxKey":"/var/run/docker/netns/1"},
      "Config":{"Labels":{"ovsplane.endpoint":"e1","n":5}}})");
  ASSERT_TRUE(object.has_value());
  const ContainerInfo info = containerFromInspect(*object);
  EXPECT_EQ(info.id, "abc");
  EXPECT_EQ(info.name, "web");
  EXPECT_TRUE(info.running);
  EXPECT_EQ(info.pid, 4242);
  EXPECT_EQ(info.networkMode, "container:x");
  EXPECT_EQ(info.restartPolicy, "always");
  EXPECT_EQ(info.sandboxKey, "/var/run/docker/netns/1");
  EXPECT_EQ(info.createdMs, 1796161512500);
  EXPECT_EQ(info.labels, (std::map<std::string, std::string>{{"ovsplane.endpoint", "e1"}}));
}

TEST(DockerReplies, WrongTypesAndHugeNumbersAreEmptyNotFatal) {
  const ContainerInfo info = containerFromInspect(json::parse(
      R"({"Id":5,"Name":[],"State":{"Running":"yes","Pid":99999999999999999999},
          "HostConfig":"none","Config":{"Labels":[1,2]},"Created":"99999-01-01T00:00:00Z"})"));
  EXPECT_EQ(info.id, "");
  EXPECT_FALSE(info.running);
  EXPECT_EQ(info.pid, 0);
  EXPECT_EQ(info.createdMs, 0);
  EXPECT_TRUE(info.labels.empty());

  auto list = containersFromList(json::parse(
      R"([{"Id":"a","Created":9223372036854775807,"Names":[7]},{"Created":-5},"x",null])"));
  ASSERT_TRUE(list.has_value());
  ASSERT_EQ(list->size(), 4U);
  EXPECT_EQ((*list)[0].id, "a");
  EXPECT_EQ((*list)[0].createdMs, 0);  // no overflow into nonsense
  EXPECT_EQ((*list)[1].createdMs, 0);
  EXPECT_FALSE(containersFromList(json::object()).has_value());
}

TEST(DockerReplies, AContainerListKeepsOnlyWhatIsRead) {
  // One entry as dockerd 20.10 lists it (abridged where it repeats).
  const std::string text = R"([{"Id":"3f1c","Names":["/web"],"Image":"busybox",
    "ImageID":"sha256:ab","Command":"sleep 1d","Created":1764800000,"Ports":[],
    "Labels":{"ovsplane.ip":"10.0.6.2"},"State":"running","Status":"Up 2 minutes",
    "HostConfig":{"NetworkMode":"container:9a2b"},
    "NetworkSettings":{"Networks":{"none":{"IPAMConfig":null,"Links":null,"Aliases":null,
      "NetworkID":"77","EndpointID":"88","Gateway":"","IPAddress":"","MacAddress":""}}},
    "Mounts":[{"Type":"volume","Name":"v","Source":"/var/lib/docker/volumes/v/_data"}]}])";
  auto list = parseReplyJson(text, containerListMembers());
  ASSERT_TRUE(list.has_value()) << list.error();
  ASSERT_EQ(list->size(), 1U);
  std::vector<std::string> kept;
  for (const auto& [key, value] : list->front().items()) kept.push_back(key);
  EXPECT_EQ(kept,
            (std::vector<std::string>{"Created", "HostConfig", "Id", "Labels", "Names", "State"}));
  auto decoded = containersFromList(*list);
  ASSERT_TRUE(decoded.has_value());
  const ContainerInfo& web = decoded->front();
  EXPECT_EQ(web.id, "3f1c");
  EXPECT_EQ(web.name, "web");
  EXPECT_TRUE(web.running);
  EXPECT_EQ(web.networkMode, "container:9a2b");
  EXPECT_EQ(web.labels.at("ovsplane.ip"), "10.0.6.2");
  EXPECT_EQ(web.createdMs, 1764800000000);
  EXPECT_TRUE(web.raw.is_null());
  // Garbage is still an error.
  EXPECT_FALSE(parseReplyJson("[{\"Id\":", containerListMembers()).has_value());
}

TEST(DockerReplies, EventsOfOtherShapesAreSkipped) {
  auto event = containerEventFrom(json::parse(
      R"({"Type":"container","Action":"destroy","Actor":{"ID":"abc","Attributes":{"name":"web","x":1}}})"));
  ASSERT_TRUE(event.has_value());
  EXPECT_EQ(event->action, "destroy");
  EXPECT_EQ(event->id, "abc");
  EXPECT_EQ(event->attributes, (std::map<std::string, std::string>{{"name", "web"}}));
  // A number where a string belongs once threw out of the events loop.
  EXPECT_FALSE(containerEventFrom(json::parse(R"({"Type":5,"Actor":{"ID":"abc"}})")).has_value());
  EXPECT_FALSE(containerEventFrom(json::parse(R"({"Type":"container","Actor":{"ID":7}})")));
  EXPECT_FALSE(containerEventFrom(json::parse(R"({"Type":"network","Actor":{"ID":"n"}})")));
  EXPECT_FALSE(containerEventFrom(json::parse(R"([1])")).has_value());
}

TEST(DockerReplies, DeepOrBrokenBodiesAreRefusedBeforeParsing) {
  EXPECT_FALSE(parseReplyJson(std::string(100000, '[')).has_value());
  EXPECT_FALSE(parseReplyJson("{\"Id\":").has_value());
  EXPECT_TRUE(parseReplyJson("[]").has_value());
}

}  // namespace
}  // namespace ovsplane::netdrv
