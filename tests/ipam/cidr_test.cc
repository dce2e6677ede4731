// unit: CIDR and address parsing as users write OVSPLANE_CIDR.
#include <gtest/gtest.h>

#include <string>

#include "ipam/ipv4.h"

namespace ovsplane::ipam {
namespace {

struct ValidCase {
  std::string input;
  std::string network;
  std::string gateway;
  std::string broadcast;
  uint32_t hosts;
};

class ValidCidr : public ::testing::TestWithParam<ValidCase> {};

void PrintTo(const ValidCase& c, std::ostream* os) { *os << c.input; }

TEST_P(ValidCidr, ParsesNetworkGatewayAndBroadcast) {
  const ValidCase& c = GetParam();
  auto subnet = Subnet::parse(c.input);
  ASSERT_TRUE(subnet.has_value()) << subnet.error().message;
  EXPECT_EQ(subnet->toString(), c.network);
  EXPECT_EQ(subnet->gateway().toString(), c.gateway);
  EXPECT_EQ(subnet->broadcast().toString(), c.broadcast);
  EXPECT_EQ(subnet->hostCount(), c.hosts);
  // The canonical gateway form parses back to the same network and gateway.
  auto again = Subnet::parse(subnet->toGatewayString());
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(*again, *subnet);
}

INSTANTIATE_TEST_SUITE_P(
    Cidrs, ValidCidr,
    ::testing::Values(
        ValidCase{"10.0.6.1/24", "10.0.6.0/24", "10.0.6.1", "10.0.6.255", 254},
        ValidCase{"10.0.6.0/24", "10.0.6.0/24", "10.0.6.1", "10.0.6.255", 254},
        ValidCase{"10.0.6.254/24", "10.0.6.0/24", "10.0.6.254", "10.0.6.255", 254},
        ValidCase{"10.0.6.77/24", "10.0.6.0/24", "10.0.6.77", "10.0.6.255", 254},
        ValidCase{"192.168.10.9/29", "192.168.10.8/29", "192.168.10.9", "192.168.10.15", 6},
        ValidCase{"172.16.0.0/30", "172.16.0.0/30", "172.16.0.1", "172.16.0.3", 2},
        ValidCase{"172.16.5.4/16", "172.16.0.0/16", "172.16.5.4", "172.16.255.255", 65534},
        ValidCase{"10.0.0.0/8", "10.0.0.0/8", "10.0.0.1", "10.255.255.255", 16777214},
        ValidCase{"255.255.255.0/30", "255.255.255.0/30", "255.255.255.1", "255.255.255.3", 2},
        ValidCase{"0.0.0.0/8", "0.0.0.0/8", "0.0.0.1", "0.255.255.255", 16777214}),
    [](const auto& param) { return std::to_string(param.index); });

struct InvalidCase {
  std::string input;
  std::string messagePart;  // what the error must say
};

class InvalidCidr : public ::testing::TestWithParam<InvalidCase> {};

/** Test names: the case's position (inputs hold bytes no test name may contain). */
std::string caseIndex(const ::testing::TestParamInfo<InvalidCase>& info) {
  return std::to_string(info.index);
}

TEST_P(InvalidCidr, IsRejectedWithAClearMessage) {
  const InvalidCase& c = GetParam();
  auto subnet = Subnet::parse(c.input);
  ASSERT_FALSE(subnet.has_value()) << "accepted: " << c.input;
  EXPECT_EQ(subnet.error().code, ErrorCode::InvalidArgument);
  EXPECT_NE(subnet.error().message.find(c.messagePart), std::string::npos)
      << "message: " << subnet.error().message;
  EXPECT_EQ(subnet.error().message.rfind("invalid CIDR", 0), 0U) << subnet.error().message;
  EXPECT_LT(subnet.error().message.size(), 300U);
}

INSTANTIATE_TEST_SUITE_P(
    Garbage, InvalidCidr,
    ::testing::Values(InvalidCase{"", "empty"}, InvalidCase{"banana", "missing /prefix"},
                      InvalidCase{"10.0.6.1", "missing /prefix"},
                      InvalidCase{"10.0.6.1/", "prefix"}, InvalidCase{"/24", "four dot-separated"},
                      InvalidCase{"10.0.6/24", "four dot-separated octets"},
                      InvalidCase{"10.0.6.1.5/24", "octet"}, InvalidCase{"10..6.1/24", "octet"},
                      InvalidCase{"10.0.6.1/24/24", "prefix"},
                      InvalidCase{"10.0.6.1//24", "prefix"}, InvalidCase{"a.b.c.d/24", "octet"},
                      InvalidCase{"10.0.6.-1/24", "octet"}, InvalidCase{"10.0.6.+1/24", "octet"},
                      InvalidCase{"0x0a.0.6.1/24", "octet"},
                      InvalidCase{"010.0.6.1/24", "leading zeros"},
                      InvalidCase{"10.0.6.1/024", "prefix"}, InvalidCase{"10.0.6.1/-1", "prefix"},
                      InvalidCase{"10.0.6.1/2a", "prefix"}, InvalidCase{"10.0.6.1/ 24", "prefix"}),
    caseIndex);

INSTANTIATE_TEST_SUITE_P(
    OutOfRange, InvalidCidr,
    ::testing::Values(InvalidCase{"256.0.0.1/24", "out of range 0-255"},
                      InvalidCase{"10.0.6.999/24", "out of range 0-255"},
                      InvalidCase{"10.0.6.1234/24", "octet"},
                      InvalidCase{"10.0.6.1/33", "out of range 0-32"},
                      InvalidCase{"10.0.6.1/99", "out of range 0-32"},
                      InvalidCase{"10.0.6.1/100", "prefix"},
                      InvalidCase{"10.0.6.1/4294967320", "prefix"},
                      InvalidCase{"10.0.6.1/31", "no room"}, InvalidCase{"10.0.6.1/32", "no room"},
                      InvalidCase{"10.0.0.1/7", "larger than ovsplane manages"},
                      InvalidCase{"10.0.0.1/0", "larger than ovsplane manages"},
                      InvalidCase{"10.0.6.255/24", "broadcast"}),
    caseIndex);

INSTANTIATE_TEST_SUITE_P(Ipv6, InvalidCidr,
                         ::testing::Values(InvalidCase{"fd00::1/64", "IPv6 is not supported yet"},
                                           InvalidCase{"::/0", "IPv6 is not supported yet"},
                                           InvalidCase{"::ffff:10.0.6.1/120",
                                                       "IPv6 is not supported yet"},
                                           InvalidCase{"fd00::1", "IPv6 is not supported yet"}),
                         caseIndex);

INSTANTIATE_TEST_SUITE_P(Junk, InvalidCidr,
                         ::testing::Values(InvalidCase{" 10.0.6.1/24", "octet"},
                                           InvalidCase{"10.0.6.1/24 ", "prefix"},
                                           InvalidCase{"10.0.6.1/24\n", "prefix"},
                                           InvalidCase{"\t10.0.6.1/24", "octet"},
                                           InvalidCase{"10.0.6.1/24;rm -rf /", "prefix"},
                                           InvalidCase{"10.0.6.1/24,10.0.7.1/24", "prefix"},
                                           InvalidCase{"10.0.6.1 /24", "octet"},
                                           InvalidCase{std::string("10.0.6.1/2\0"
                                                                   "4",
                                                                   11),
                                                       "prefix"},
                                           InvalidCase{std::string("10.0.6\0.1/24", 12), "octet"},
                                           InvalidCase{"10.0.6.1/24\xff", "prefix"},
                                           InvalidCase{"\xef\xbc\x91\x30.0.6.1/24", "octet"}),
                         caseIndex);

TEST(Cidr, HostileInputIsEchoedShortAndEscaped) {
  const std::string hostile = std::string(5000, 'A') + "\x1b[31m/24";
  auto subnet = Subnet::parse(hostile);
  ASSERT_FALSE(subnet.has_value());
  EXPECT_LT(subnet.error().message.size(), 300U);
  // Escapes take four characters each: the echo is bounded by what is printed (found by
  // fuzz/cidr_fuzz.cc).
  auto escaped = Subnet::parse("10.0.6.1/" + std::string(1000, '\xdb'));
  ASSERT_FALSE(escaped.has_value());
  EXPECT_LT(escaped.error().message.size(), 300U) << escaped.error().message;
  auto control = Subnet::parse("10.0.\x1b[31m6.1/24");
  ASSERT_FALSE(control.has_value());
  EXPECT_EQ(control.error().message.find('\x1b'), std::string::npos);
  EXPECT_NE(control.error().message.find("\\x1b"), std::string::npos);
}

TEST(Cidr, GatewayDoesNotChangeIdentityButDoesChangeEquality) {
  auto a = Subnet::parse("10.0.6.1/24");
  auto b = Subnet::parse("10.0.6.0/24");
  auto c = Subnet::parse("10.0.6.9/24");
  ASSERT_TRUE(a && b && c);
  EXPECT_EQ(*a, *b);
  EXPECT_NE(*a, *c);
  EXPECT_EQ(a->toString(), c->toString());
}

TEST(Cidr, ContainsHostExcludesNetworkAndBroadcast) {
  auto subnet = Subnet::parse("10.0.6.1/29");
  ASSERT_TRUE(subnet.has_value());
  EXPECT_FALSE(subnet->containsHost(*Ipv4Address::parse("10.0.6.0")));
  EXPECT_TRUE(subnet->containsHost(*Ipv4Address::parse("10.0.6.1")));
  EXPECT_TRUE(subnet->containsHost(*Ipv4Address::parse("10.0.6.6")));
  EXPECT_FALSE(subnet->containsHost(*Ipv4Address::parse("10.0.6.7")));
  EXPECT_FALSE(subnet->containsHost(*Ipv4Address::parse("10.0.6.8")));
}

TEST(Cidr, OverlapsWhenTheyShareAnAddress) {
  const auto of = [](const char* text) { return *Subnet::parse(text); };
  EXPECT_TRUE(of("10.0.6.1/24").overlaps(of("10.0.0.1/16")));
  EXPECT_TRUE(of("10.0.0.1/16").overlaps(of("10.0.6.1/24")));
  EXPECT_TRUE(of("10.0.6.1/24").overlaps(of("10.0.6.9/24")));
  EXPECT_TRUE(of("10.0.6.1/24").overlaps(of("10.0.6.254/30")));
  EXPECT_FALSE(of("10.0.6.1/24").overlaps(of("10.0.7.1/24")));
  EXPECT_FALSE(of("10.0.6.1/25").overlaps(of("10.0.6.129/25")));
}

TEST(Ipv4Address, RoundTripsEveryOctetValue) {
  for (unsigned v = 0; v < 256; ++v) {
    const std::string text = "1." + std::to_string(v) + ".2." + std::to_string(255 - v);
    auto address = Ipv4Address::parse(text);
    ASSERT_TRUE(address.has_value()) << text;
    EXPECT_EQ(address->toString(), text);
  }
  EXPECT_EQ(Ipv4Address(0xffffffffU).toString(), "255.255.255.255");
  EXPECT_EQ(Ipv4Address(0).toString(), "0.0.0.0");
}

TEST(Ipv4Address, RejectsWhatIsNotADottedQuad) {
  for (const char* bad : {"", "1.2.3", "1.2.3.4.", ".1.2.3.4", "1.2.3.256", "01.2.3.4", "1.2.3.4 ",
                          "1.2.3.4/24", "::1", "1,2,3,4"}) {
    EXPECT_FALSE(Ipv4Address::parse(bad).has_value()) << bad;
  }
}

}  // namespace
}  // namespace ovsplane::ipam
