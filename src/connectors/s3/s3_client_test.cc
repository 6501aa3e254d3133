// The S3 client without a server: Signature V4 against AWS's published test vectors (the
// aws-sig-v4-test-suite and the S3 examples of "Signature Calculations for the Authorization
// Header"), the XML helpers, and where configuration and credentials come from.
#include "connectors/s3/s3_client.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace strata::s3 {
namespace {

// ---- aws-sig-v4-test-suite (service "service", us-east-1, 2015-08-30) ---------------------

constexpr char kEmpty[] = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

struct SuiteCase {
  const char* name;
  const char* method;
  const char* path;
  KeyValues query;
  KeyValues headers;
  const char* payload_hash;
  const char* canonical_request;
  const char* string_to_sign;
  const char* signature;
  const char* session_token = "";
};

Credentials suite_credentials(const char* token = "") {
  return Credentials{"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", token};
}

SigningRequest suite_request(const SuiteCase& c) {
  SigningRequest r;
  r.method = c.method;
  r.host = "example.amazonaws.com";
  r.path = c.path;
  r.query = c.query;
  r.headers = c.headers;
  r.payload_hash = c.payload_hash;
  r.amz_date = "20150830T123600Z";
  r.region = "us-east-1";
  r.service = "service";
  return r;
}

const std::vector<SuiteCase>& suite() {
  static const std::vector<SuiteCase> cases = {
      {"get-vanilla",
       "GET",
       "/",
       {},
       {},
       kEmpty,
       "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n"
       "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
       "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n"
       "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63",
       "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
      {"get-vanilla-query-order-key-case",
       "GET",
       "/",
       {{"Param2", "value2"}, {"Param1", "value1"}},
       {},
       kEmpty,
       "GET\n/\nParam1=value1&Param2=value2\nhost:example.amazonaws.com\n"
       "x-amz-date:20150830T123600Z\n\nhost;x-amz-date\n"
       "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
       "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n"
       "816cd5b414d056048ba4f7c5386d6e0533120fb1fcfa93762cf0fc39e2cf19e0",
       "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"},
      {"get-vanilla-query-order-encoded",
       "GET",
       "/",
       {{"Param-3", "Value3"}, {"Param", "Value2"}, {"\xE1\x88\xB4", "Value1"}},
       {},
       kEmpty,
       "GET\n/\n%E1%88%B4=Value1&Param=Value2&Param-3=Value3\nhost:example.amazonaws.com\n"
       "x-amz-date:20150830T123600Z\n\nhost;x-amz-date\n"
       "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
       "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n"
       "868294f5c38bd141c4972a373a76654f1418a8e4fc18b2e7903ae45e8ae0ec71",
       "371d3713e185cc334048618a97f809c9ffe339c62934c032af5a0e595648fcac"},
      {"get-vanilla-utf8-query",
       "GET",
       "/",
       {{"\xE1\x88\xB4", "bar"}},
       {},
       kEmpty,
       "GET\n/\n%E1%88%B4=bar\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
       "host;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
       "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n"
       "eb30c5bed55734080471a834cc727ae56beb50e5f39d1bff6d0d38cb192a7073",
       "2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04"},
      {"get-utf8",
       "GET",
       "/\xE1\x88\xB4",
       {},
       {},
       kEmpty,
       "GET\n/%E1%88%B4\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
       "host;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
       "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n"
       "2a0a97d02205e45ce2e994789806b19270cfbbb0921b278ccf58f5249ac42102",
       "8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85"},
      {"get-space (S3: not normalized)",
       "GET",
       "/example space/",
       {},
       {},
       kEmpty,
       "GET\n/example%20space/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
       "host;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
       "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n"
       "63ee75631ed7234ae61b5f736dfc7754cdccfedbff4b5128a915706ee9390d86",
       "652487583200325589f1fba4c7e578f72c47cb61beeca81406b39ddec1366741"},
      {"normalize-path/get-slashes-unnormalized",
       "GET",
       "//example//",
       {},
       {},
       kEmpty,
       "GET\n//example//\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
       "host;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
       "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n"
       "528ec3105ee1f34ab014bb0a1a45da0ed2742a4fea3555149e5b4d5d201eb240",
       "87cca117541a147f6df867677d98a7d80dff226d2bfca9e4ffa899665623c7e5"},
      {"normalize-path/get-relative-unnormalized",
       "GET",
       "/example/..",
       {},
       {},
       kEmpty,
       "GET\n/example/..\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
       "host;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
       "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n"
       "0511f456aa502b456d135fcb9d749374a55228f9dbeedda1eacf659e05b0615b",
       "eca7ead57bb5aa5c8e28007acd4ff04e1ff9a0ff3b237ec1554a184887ff9282"},
      {"get-unreserved",
       "GET",
       "/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
       {},
       {},
       kEmpty,
       "GET\n/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz\n\n"
       "host:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n"
       "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
       "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n"
       "6a968768eefaa713e2a6b16b589a8ea192661f098f37349f4e2c0082757446f9",
       "07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f"},
      {"get-header-key-duplicate",
       "GET",
       "/",
       {},
       {{"My-Header1", "value2"}, {"My-Header1", "value2"}, {"My-Header1", "value1"}},
       kEmpty,
       "GET\n/\n\nhost:example.amazonaws.com\nmy-header1:value2,value2,value1\n"
       "x-amz-date:20150830T123600Z\n\nhost;my-header1;x-amz-date\n"
       "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
       "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n"
       "dc7f04a3abfde8d472b0ab1a418b741b7c67174dad1551b4117b15527fbe966c",
       "c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea"},
      {"get-header-value-trim",
       "GET",
       "/",
       {},
       {{"My-Header1", " value1"}, {"My-Header2", " \"a   b   c\""}},
       kEmpty,
       "GET\n/\n\nhost:example.amazonaws.com\nmy-header1:value1\nmy-header2:\"a b c\"\n"
       "x-amz-date:20150830T123600Z\n\nhost;my-header1;my-header2;x-amz-date\n"
       "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
       "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n"
       "a726db9b0df21c14f559d0a978e563112acb1b9e05476f0a6a1c7d68f28605c7",
       "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736"},
      {"post-header-value-case",
       "POST",
       "/",
       {},
       {{"My-Header1", "VALUE1"}},
       kEmpty,
       "POST\n/\n\nhost:example.amazonaws.com\nmy-header1:VALUE1\nx-amz-date:20150830T123600Z\n\n"
       "host;my-header1;x-amz-date\n"
       "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
       "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n"
       "d51ced243e649e3de6ef63afbbdcbca03131a21a7103a1583706a64618606a93",
       "cdbc9802e29d2942e5e10b5bccfdd67c5f22c7c4e8ae67b53629efa58b974b7d"},
      {"post-vanilla-query",
       "POST",
       "/",
       {{"Param1", "value1"}},
       {},
       kEmpty,
       "POST\n/\nParam1=value1\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
       "host;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
       "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n"
       "9d659678c1756bb3113e2ce898845a0a79dbbc57b740555917687f1b3340fbbd",
       "28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11"},
      {"post-x-www-form-urlencoded",
       "POST",
       "/",
       {},
       {{"Content-Type", "application/x-www-form-urlencoded"},
        {"Content-Length", "13"},
        {"x-amz-content-sha256",
         "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e"}},
       "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e",
       "POST\n/\n\ncontent-length:13\ncontent-type:application/x-www-form-urlencoded\n"
       "host:example.amazonaws.com\n"
       "x-amz-content-sha256:9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e\n"
       "x-amz-date:20150830T123600Z\n\n"
       "content-length;content-type;host;x-amz-content-sha256;x-amz-date\n"
       "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e",
       "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n"
       "b1edd1d03544c25390e32085d55b57acc9a3961bb59415ff86c45c3d89d16cfb",
       "d3875051da38690788ef43de4db0d8f280229d82040bfac253562e56c3f20e0b"},
      {"get-vanilla-with-session-token",
       "GET",
       "/",
       {},
       {},
       kEmpty,
       "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n"
       "x-amz-security-token:6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267\n\n"
       "host;x-amz-date;x-amz-security-token\n"
       "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
       "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n"
       "067b36aa60031588cea4a4cde1f21215227a047690c72247f1d70b32fbbfad2b",
       "07ec1639c89043aa0e3e2de82b96708f198cceab042d4a97044c66dd9f74e7f8",
       "6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267"},
  };
  return cases;
}

TEST(SigV4, MatchesTheAwsTestSuite) {
  for (const SuiteCase& c : suite()) {
    SCOPED_TRACE(c.name);
    Signature s = sign_v4(suite_request(c), suite_credentials(c.session_token));
    EXPECT_EQ(s.canonical_request, c.canonical_request);
    EXPECT_EQ(s.string_to_sign, c.string_to_sign);
    EXPECT_EQ(s.signature, c.signature);
    std::string signed_headers(c.canonical_request);
    signed_headers = signed_headers.substr(0, signed_headers.rfind('\n'));
    signed_headers = signed_headers.substr(signed_headers.rfind('\n') + 1);
    EXPECT_EQ(s.authorization,
              "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
              "SignedHeaders=" +
                  signed_headers + ", Signature=" + c.signature);
  }
}

TEST(SigV4, AWrongSecretChangesTheSignature) {
  const SuiteCase& c = suite().front();
  Credentials wrong = suite_credentials();
  wrong.secret_access_key.back() = 'X';
  EXPECT_NE(sign_v4(suite_request(c), wrong).signature, c.signature);
}

// ---- The S3 examples of the SigV4 documentation (examplebucket, 2013-05-24) ----------------

SigningRequest s3_example(const char* method, const char* path, KeyValues query, KeyValues headers,
                          const char* payload_hash) {
  SigningRequest r;
  r.method = method;
  r.host = "examplebucket.s3.amazonaws.com";
  r.path = path;
  r.query = std::move(query);
  r.headers = std::move(headers);
  r.headers.emplace_back("x-amz-content-sha256", payload_hash);
  r.payload_hash = payload_hash;
  r.amz_date = "20130524T000000Z";
  r.region = "us-east-1";
  r.service = "s3";
  return r;
}

const Credentials kExampleCredentials{"AKIAIOSFODNN7EXAMPLE",
                                      "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", ""};

TEST(SigV4, S3GetObjectWithRange) {
  Signature s = sign_v4(s3_example("GET", "/test.txt", {}, {{"Range", "bytes=0-9"}}, kEmpty),
                        kExampleCredentials);
  EXPECT_EQ(s.canonical_request,
            "GET\n/test.txt\n\nhost:examplebucket.s3.amazonaws.com\nrange:bytes=0-9\n"
            "x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
            "\nx-amz-date:20130524T000000Z\n\nhost;range;x-amz-content-sha256;x-amz-date\n"
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(s.string_to_sign,
            "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n"
            "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972");
  EXPECT_EQ(s.signature, "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
  EXPECT_EQ(s.authorization,
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
            "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
            "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
}

TEST(SigV4, S3PutObject) {
  Signature s =
      sign_v4(s3_example("PUT", "/test$file.text", {},
                         {{"Date", "Fri, 24 May 2013 00:00:00 GMT"},
                          {"x-amz-storage-class", "REDUCED_REDUNDANCY"}},
                         "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072"),
              kExampleCredentials);
  EXPECT_EQ(s.canonical_uri, "/test%24file.text");
  EXPECT_EQ(s.signed_headers, "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class");
  EXPECT_EQ(s.signature, "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");
}

TEST(SigV4, S3GetBucketLifecycle) {
  Signature s =
      sign_v4(s3_example("GET", "/", {{"lifecycle", ""}}, {}, kEmpty), kExampleCredentials);
  EXPECT_EQ(s.canonical_query, "lifecycle=");
  EXPECT_EQ(s.signature, "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543");
}

TEST(SigV4, S3ListObjects) {
  Signature s = sign_v4(s3_example("GET", "/", {{"max-keys", "2"}, {"prefix", "J"}}, {}, kEmpty),
                        kExampleCredentials);
  EXPECT_EQ(s.canonical_query, "max-keys=2&prefix=J");
  EXPECT_EQ(s.signature, "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7");
}

TEST(SigV4, UriEncoding) {
  EXPECT_EQ(uri_encode("dt=2026-01-01/part a+b.parquet", true),
            "dt%3D2026-01-01/part%20a%2Bb.parquet");
  EXPECT_EQ(uri_encode("a/b", false), "a%2Fb");
  EXPECT_EQ(uri_encode("~._-", false), "~._-");
  EXPECT_EQ(uri_encode("\xC3\xBC", true), "%C3%BC");
}

// ---- XML ----------------------------------------------------------------------------------

TEST(Xml, ElementsTextAndEntities) {
  const std::string xml =
      "<?xml version=\"1.0\"?><ListBucketResult xmlns=\"x\"><IsTruncated>true</IsTruncated>"
      "<Contents><Key>a&amp;b&lt;c&#x20AC;&#65;</Key><Size>3</Size></Contents>"
      "<Contents><Key>d</Key><Size>4</Size></Contents><KeyCount>2</KeyCount>"
      "<NextContinuationToken/></ListBucketResult>";
  auto contents = xml_elements(xml, "Contents");
  ASSERT_EQ(contents.size(), 2u);
  EXPECT_EQ(xml_text(contents[0], "Key").value_or("?"),
            "a&b<c\xE2\x82\xAC"
            "A");
  EXPECT_EQ(xml_text(contents[1], "Size").value_or("?"), "4");
  EXPECT_EQ(xml_text(xml, "IsTruncated").value_or("?"), "true");
  EXPECT_EQ(xml_text(xml, "Key").value_or("?"),
            "a&b<c\xE2\x82\xAC"
            "A");  // not KeyCount
  EXPECT_EQ(xml_text(xml, "NextContinuationToken").value_or("?"), "");
  EXPECT_FALSE(xml_text(xml, "Missing").has_value());
  EXPECT_EQ(xml_escape("<a&'\">"), "&lt;a&amp;&apos;&quot;&gt;");
  EXPECT_EQ(xml_unescape(xml_escape("x<&>y")), "x<&>y");
}

// ---- Configuration ------------------------------------------------------------------------

class ConfigTest : public testing::Test {
 protected:
  void SetUp() override {
    for (const char* v : kVars) unsetenv(v);
    dir_ = testing::TempDir() + "/s3_config_" + std::to_string(getpid());
    std::filesystem::create_directories(dir_);
    setenv("HOME", dir_.c_str(), 1);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  static constexpr const char* kVars[] = {
      "AWS_ACCESS_KEY_ID",           "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",   "AWS_REGION",
      "AWS_DEFAULT_REGION",          "AWS_ENDPOINT_URL",      "AWS_ENDPOINT_URL_S3", "AWS_PROFILE",
      "AWS_SHARED_CREDENTIALS_FILE", "AWS_CONFIG_FILE"};
  std::string dir_;
};

TEST_F(ConfigTest, EnvironmentCredentialsAndDefaults) {
  setenv("AWS_ACCESS_KEY_ID", "AKIAENV", 1);
  setenv("AWS_SECRET_ACCESS_KEY", "env-secret", 1);
  setenv("AWS_SESSION_TOKEN", "env-token", 1);
  auto c = resolve_config("bucket", {});
  ASSERT_TRUE(c.is_ok()) << c.status().to_string();
  EXPECT_EQ(c->credentials.access_key_id, "AKIAENV");
  EXPECT_EQ(c->credentials.secret_access_key, "env-secret");
  EXPECT_EQ(c->credentials.session_token, "env-token");
  EXPECT_EQ(c->region, "us-east-1");
  EXPECT_TRUE(c->endpoint.empty());
  EXPECT_FALSE(c->path_style);  // AWS: virtual-hosted
  auto client = S3Client::create(*c);
  ASSERT_TRUE(client.is_ok());
  EXPECT_EQ((*client)->endpoint(), "https://s3.us-east-1.amazonaws.com");

  auto dotted = resolve_config("my.bucket", {});
  ASSERT_TRUE(dotted.is_ok());
  EXPECT_TRUE(dotted->path_style);  // a dotted name breaks the TLS wildcard

  setenv("AWS_DEFAULT_REGION", "eu-central-1", 1);
  EXPECT_EQ(resolve_config("b", {})->region, "eu-central-1");
  setenv("AWS_REGION", "eu-west-1", 1);
  EXPECT_EQ(resolve_config("b", {})->region, "eu-west-1");
  ConfigOverrides o;
  o.region = "ap-south-1";
  o.endpoint = "http://127.0.0.1:9000/";
  auto custom = resolve_config("b", o);
  ASSERT_TRUE(custom.is_ok());
  EXPECT_EQ(custom->region, "ap-south-1");
  EXPECT_EQ(custom->endpoint, "http://127.0.0.1:9000");
  EXPECT_TRUE(custom->path_style);  // a custom endpoint: path-style
  o.addressing = "virtual";
  EXPECT_FALSE(resolve_config("b", o)->path_style);
  o.addressing = "sideways";
  EXPECT_FALSE(resolve_config("b", o).is_ok());
  setenv("AWS_ENDPOINT_URL", "http://localhost:1234", 1);
  EXPECT_EQ(resolve_config("b", {})->endpoint, "http://localhost:1234");
}

TEST_F(ConfigTest, SharedCredentialsFileAndProfiles) {
  std::filesystem::create_directories(dir_ + "/.aws");
  std::ofstream(dir_ + "/.aws/credentials")
      << "[default]\naws_access_key_id = AKIADEFAULT\naws_secret_access_key = default-secret\n\n"
         "# a comment\n[archive]\naws_access_key_id=AKIAARCHIVE\n"
         "aws_secret_access_key=archive-secret\naws_session_token = tok\n";
  std::ofstream(dir_ + "/.aws/config") << "[default]\nregion = us-west-2\n"
                                          "[profile archive]\nregion = eu-north-1\n";
  auto d = resolve_config("b", {});
  ASSERT_TRUE(d.is_ok()) << d.status().to_string();
  EXPECT_EQ(d->credentials.access_key_id, "AKIADEFAULT");
  EXPECT_EQ(d->region, "us-west-2");
  setenv("AWS_PROFILE", "archive", 1);
  auto a = resolve_config("b", {});
  ASSERT_TRUE(a.is_ok());
  EXPECT_EQ(a->credentials.access_key_id, "AKIAARCHIVE");
  EXPECT_EQ(a->credentials.secret_access_key, "archive-secret");
  EXPECT_EQ(a->credentials.session_token, "tok");
  EXPECT_EQ(a->region, "eu-north-1");
  // The environment's keys win over AWS_PROFILE, but not over ?profile=.
  setenv("AWS_ACCESS_KEY_ID", "AKIAENV", 1);
  setenv("AWS_SECRET_ACCESS_KEY", "env-secret", 1);
  EXPECT_EQ(resolve_config("b", {})->credentials.access_key_id, "AKIAENV");
  ConfigOverrides o;
  o.profile = "default";
  EXPECT_EQ(resolve_config("b", o)->credentials.access_key_id, "AKIADEFAULT");
  // An explicit file.
  std::ofstream(dir_ + "/other") << "[x]\naws_access_key_id=AKIAX\naws_secret_access_key=s\n";
  setenv("AWS_SHARED_CREDENTIALS_FILE", (dir_ + "/other").c_str(), 1);
  o.profile = "x";
  EXPECT_EQ(resolve_config("b", o)->credentials.access_key_id, "AKIAX");
}

TEST_F(ConfigTest, MissingCredentialsSayWhereToPutThem) {
  ConfigOverrides o;
  o.profile = "nope";
  auto c = resolve_config("my-bucket", o);
  ASSERT_FALSE(c.is_ok());
  EXPECT_TRUE(c.status().is_permanent());
  const std::string& m = c.status().message();
  EXPECT_NE(m.find("s3://my-bucket"), std::string::npos) << m;
  EXPECT_NE(m.find("AWS_ACCESS_KEY_ID"), std::string::npos) << m;
  EXPECT_NE(m.find("[nope]"), std::string::npos) << m;
}

TEST(S3Client, RejectsBadEndpoints) {
  ClientConfig c;
  c.endpoint = "ftp://host";
  EXPECT_FALSE(S3Client::create(c).is_ok());
  c.endpoint = "http://host:notaport";
  EXPECT_FALSE(S3Client::create(c).is_ok());
  c.endpoint = "http://host/some/path";
  EXPECT_FALSE(S3Client::create(c).is_ok());
  c.endpoint = "http://127.0.0.1:80";
  auto ok = S3Client::create(c);
  ASSERT_TRUE(ok.is_ok());
  EXPECT_EQ((*ok)->endpoint(), "http://127.0.0.1:80");
}

}  // namespace
}  // namespace strata::s3
