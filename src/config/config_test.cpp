#include "config/config.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>

#include "config/credentials.h"

namespace dm::config {
namespace {

constexpr const char* kValid = R"(
version: 1
defaults:
  environment: prod
  lookback_hours: 12
  timeouts: {connect_seconds: 3, request_seconds: 20}
caps:
  window_minutes_max: 600
  tail_lines_default: 100
  tail_lines_max: 1000
  output_bytes_max: 65536
  page_size: 50
  lookback_hours_max: 48
  log_read_bytes_max: 1073741824
environments:
  prod:
    kind: airflow
    tier: prod
    url: https://airflow.example.com/
    api_version: v2
    username_env: AF_USER
    password_env: AF_PASSWORD
    ca_file: /etc/ssl/corp.pem
    timeouts: {request_seconds: 60}
  dev:
    kind: airflow
    url: http://localhost:8080
    token_file: /run/secrets/af-token
    verify_tls: false
  lake:
    kind: mwaa
    tier: prod
    mwaa: {name: lake-prod, region: eu-west-1}
)";

Error parse_err(const std::string& yaml) {
  auto r = parse_config(yaml, "cfg.yaml");
  EXPECT_FALSE(r.ok());
  return r.ok() ? Error{} : r.error();
}

TEST(Config, ParsesValidFile) {
  auto r = parse_config(kValid, "cfg.yaml");
  ASSERT_TRUE(r.ok()) << r.error().message;
  const Config& c = *r;
  ASSERT_EQ(c.environments.size(), 3u);
  const auto* prod = c.find("prod");
  ASSERT_NE(prod, nullptr);
  EXPECT_EQ(prod->kind, Kind::airflow);
  EXPECT_EQ(prod->tier, Tier::prod);
  EXPECT_EQ(prod->url, "https://airflow.example.com");  // trailing slash dropped
  EXPECT_EQ(prod->api_version, ApiVersion::v2);
  EXPECT_EQ(prod->username_env, "AF_USER");
  EXPECT_EQ(prod->ca_file, "/etc/ssl/corp.pem");
  EXPECT_TRUE(prod->verify_tls);
  EXPECT_EQ(prod->timeouts.connect, std::chrono::milliseconds(3000));  // from defaults
  EXPECT_EQ(prod->timeouts.request, std::chrono::milliseconds(60000));
  const auto* dev = c.find("dev");
  ASSERT_NE(dev, nullptr);
  EXPECT_EQ(dev->tier, Tier::dev);
  EXPECT_FALSE(dev->verify_tls);
  EXPECT_EQ(dev->api_version, ApiVersion::auto_detect);
  const auto* lake = c.find("lake");
  ASSERT_NE(lake, nullptr);
  EXPECT_EQ(lake->kind, Kind::mwaa);
  EXPECT_EQ(lake->mwaa.region, "eu-west-1");
  EXPECT_EQ(c.caps.page_size, 50);
  EXPECT_EQ(c.caps.tail_lines_max, 1000);
  EXPECT_EQ(c.caps.output_bytes_max, 65536);
  EXPECT_EQ(c.caps.log_read_bytes_max, 1LL << 30);
  EXPECT_EQ(c.defaults.lookback_hours, 12);
  auto picked = c.pick("");
  ASSERT_TRUE(picked.ok());
  EXPECT_EQ((*picked)->name, "prod");
  auto unknown = c.pick("nope");
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().code, Errc::not_found);
  EXPECT_NE(unknown.error().message.find("known: prod, dev, lake"), std::string::npos);
}

TEST(Config, TildeInFilePathsIsExpanded) {
  ::setenv("HOME", "/home/alice", 1);
  auto r = parse_config(
      "environments:\n  d:\n    kind: airflow\n    url: http://x\n    token_file: ~/t\n"
      "    ca_file: ~/ca.pem\n",
      "cfg.yaml");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->environments[0].token_file, "/home/alice/t");
  EXPECT_EQ(r->environments[0].ca_file, "/home/alice/ca.pem");
}

TEST(Config, EmptyTextIsEmptyConfigWithDefaults) {
  auto r = parse_config("", "cfg.yaml");
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->environments.empty());
  EXPECT_EQ(r->caps.page_size, 100);
  EXPECT_EQ(r->caps.log_read_bytes_max, 4LL << 30);
  auto p = r->pick("");
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.error().code, Errc::failed_precondition);
}

TEST(Config, LiteralPasswordIsRejectedNamingFileAndKey) {
  auto e = parse_err(
      "environments:\n  prod:\n    kind: airflow\n    url: http://x\n    password: hunter2\n");
  EXPECT_EQ(e.code, Errc::invalid_argument);
  EXPECT_NE(e.message.find("cfg.yaml: environments.prod.password"), std::string::npos) << e.message;
  EXPECT_NE(e.message.find("password_env"), std::string::npos);
  EXPECT_EQ(e.message.find("hunter2"), std::string::npos);  // the secret is never echoed
  auto t =
      parse_err("environments:\n  prod:\n    kind: airflow\n    url: http://x\n    token: abc\n");
  EXPECT_NE(t.message.find("token_env"), std::string::npos);
  EXPECT_EQ(t.message.find("abc"), std::string::npos);
}

TEST(Config, UnknownKindIsRejected) {
  auto e = parse_err("environments:\n  prod:\n    kind: airfow\n    url: http://x\n");
  EXPECT_NE(e.message.find("environments.prod.kind: must be airflow or mwaa, got \"airfow\""),
            std::string::npos)
      << e.message;
}

TEST(Config, MissingKeysAreNamed) {
  EXPECT_NE(parse_err("environments:\n  p:\n    url: http://x\n")
                .message.find("environments.p.kind: missing"),
            std::string::npos);
  EXPECT_NE(parse_err("environments:\n  p:\n    kind: airflow\n")
                .message.find("environments.p.url: missing"),
            std::string::npos);
  EXPECT_NE(parse_err("environments:\n  p:\n    kind: mwaa\n    mwaa: {name: x}\n")
                .message.find("environments.p.mwaa.region: missing"),
            std::string::npos);
  EXPECT_NE(
      parse_err("environments:\n  p:\n    kind: airflow\n    url: http://x\n    username_env: U\n")
          .message.find("neither password_env nor password_file"),
      std::string::npos);
}

TEST(Config, BadValuesAndUnknownKeys) {
  EXPECT_NE(parse_err("caps:\n  page_size: 0\n").message.find("caps.page_size: must be between 1"),
            std::string::npos);
  EXPECT_NE(parse_err("caps:\n  page_size: lots\n")
                .message.find("caps.page_size: must be a whole number"),
            std::string::npos);
  EXPECT_NE(parse_err("caps:\n  pagesize: 3\n").message.find("caps.pagesize: unknown key"),
            std::string::npos);
  EXPECT_NE(parse_err("caps:\n  log_read_bytes_max: 1000\n")
                .message.find("caps.log_read_bytes_max: must be between 1048576"),
            std::string::npos);
  EXPECT_NE(parse_err("environments:\n  p:\n    kind: airflow\n    url: ftp://x\n")
                .message.find("must start with http"),
            std::string::npos);
  EXPECT_NE(parse_err("environments:\n  p:\n    kind: airflow\n    url: http://u:pw@x\n")
                .message.find("user:password@"),
            std::string::npos);
  EXPECT_NE(
      parse_err("environments:\n  p:\n    kind: airflow\n    url: http://x\n    tier: staging\n")
          .message.find("must be dev or prod"),
      std::string::npos);
  EXPECT_NE(
      parse_err("environments:\n  p:\n    kind: airflow\n    url: http://x\n    api_version: v3\n")
          .message.find("auto, v1 or v2"),
      std::string::npos);
  EXPECT_NE(
      parse_err(
          "environments:\n  p:\n    kind: airflow\n    url: http://x\n    verify_tls: maybe\n")
          .message.find("true or false"),
      std::string::npos);
  EXPECT_NE(parse_err("defaults:\n  environment: ghost\n").message.find("not under environments"),
            std::string::npos);
  EXPECT_NE(parse_err("- a\n- b\n").message.find("top level must be a mapping"), std::string::npos);
  EXPECT_NE(parse_err("environments: [1, 2]\n").message.find("environments: must be a mapping"),
            std::string::npos);
  EXPECT_NE(parse_err("caps:\n  tail_lines_default: 50\n  tail_lines_max: 10\n")
                .message.find("larger than"),
            std::string::npos);
}

TEST(Config, InvalidYamlNamesFileAndLine) {
  auto e = parse_err("environments:\n  p: {kind: airflow\n");
  EXPECT_NE(e.message.find("cfg.yaml: not valid YAML"), std::string::npos) << e.message;
  EXPECT_NE(e.message.find("line"), std::string::npos);
}

// A JSON-style config followed by a block section: yaml-cpp alone would drop `recovery` silently.
TEST(Config, TextAfterAFlowMappingIsAnErrorNotADroppedSection) {
  auto e = parse_err(
      "{\"environments\": {\"a\": {\"kind\": \"airflow\", \"url\": \"http://x\"}}}\n"
      "recovery:\n  - {dag: x, quiet_minutes: 0}\n");
  EXPECT_NE(e.message.find("more than one YAML document"), std::string::npos) << e.message;
  EXPECT_NE(e.message.find("line 2"), std::string::npos) << e.message;
}

std::string temp_file(const std::string& content) {
  char tmpl[] = "/tmp/dmcfgXXXXXX";
  int fd = mkstemp(tmpl);
  EXPECT_GE(fd, 0);
  ::close(fd);
  std::ofstream(tmpl) << content;
  return tmpl;
}

TEST(Config, LoadFileAndDefaultPath) {
  auto path = temp_file(kValid);
  auto r = load_config_file(path);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->source, path);
  auto missing = load_config_file("/nonexistent/dagmedic.yaml");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, Errc::not_found);
  EXPECT_NE(missing.error().message.find("/nonexistent/dagmedic.yaml"), std::string::npos);

  ::setenv("DAGMEDIC_CONFIG", path.c_str(), 1);
  EXPECT_EQ(default_config_path(), path);
  auto viaenv = load_config("");
  ASSERT_TRUE(viaenv.ok());
  EXPECT_EQ(viaenv->environments.size(), 3u);
  ::unsetenv("DAGMEDIC_CONFIG");
  ::setenv("XDG_CONFIG_HOME", "/nonexistent-xdg", 1);
  EXPECT_EQ(default_config_path(), "/nonexistent-xdg/dagmedic/config.yaml");
  auto none = load_config("");  // no default file: empty config, not an error
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->environments.empty());
  auto explicit_missing = load_config("/nonexistent/x.yaml");
  EXPECT_FALSE(explicit_missing.ok());
  ::unsetenv("XDG_CONFIG_HOME");
  std::remove(path.c_str());
}

TEST(Credentials, ResolvesFromEnvAndFileWithoutLeaking) {
  Environment e;
  e.name = "prod";
  e.username_env = "DM_TEST_USER";
  e.password_env = "DM_TEST_PW";
  ::unsetenv("DM_TEST_USER");
  auto missing = resolve_credentials(e);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find("$DM_TEST_USER is not set"), std::string::npos);
  ::setenv("DM_TEST_USER", "alice", 1);
  ::setenv("DM_TEST_PW", "s3cret", 1);
  auto ok = resolve_credentials(e);
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->type, Credentials::Type::basic);
  EXPECT_EQ(ok->username, "alice");
  EXPECT_EQ(ok->password, "s3cret");
  EXPECT_EQ(ok->origin.find("s3cret"), std::string::npos);
  EXPECT_NE(ok->origin.find("$DM_TEST_USER"), std::string::npos);

  auto tok = temp_file("tok-123\n");
  Environment t;
  t.name = "dev";
  t.token_file = tok;
  auto tr = resolve_credentials(t);
  ASSERT_TRUE(tr.ok());
  EXPECT_EQ(tr->type, Credentials::Type::token);
  EXPECT_EQ(tr->token, "tok-123");
  std::remove(tok.c_str());
  auto gone = resolve_credentials(t);
  ASSERT_FALSE(gone.ok());
  EXPECT_EQ(gone.error().code, Errc::failed_precondition);

  Environment none;
  none.name = "open";
  auto nr = resolve_credentials(none);
  ASSERT_TRUE(nr.ok());
  EXPECT_EQ(nr->type, Credentials::Type::none);
  ::unsetenv("DM_TEST_USER");
  ::unsetenv("DM_TEST_PW");
}

}  // namespace
}  // namespace dm::config
