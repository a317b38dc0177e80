#include "store/migrations.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <string>
#include <vector>

namespace dm::store {
namespace {

std::string sha256_hex(const std::string& s) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(s.data(), s.size(), md, &len, EVP_sha256(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < len; ++i) {
    out += kHex[md[i] >> 4];
    out += kHex[md[i] & 15];
  }
  return out;
}

// The digests of the migrations as shipped, per dialect (version 1 first). Databases created by
// older binaries went through exactly these texts; a migration that changes its text changes
// the schema those databases have, so it is a new migration instead.
const std::vector<std::string> kShippedSqlite = {
    "50afe4acd147005fc15e36f6bc5a43eb2cd08308e1a8bd666e6b724e84ba5522",
    "e74820d65129ad9616b9751e5490a6e7bec2900794e68c5dc6cbc181ea5003f5",
    "05fd9b037df4c614937e889df69def31a9826affc01e8c347682b8d91794fd49",
    "dde6053418df60454b6361548f630a3f01447d4267e884c4f1a60d27df45bec8",
    "f7f4cea5c9b792180a6f1f0123227d6217e5dc95be9b7db30f31227675b69cdc",
    "6c4fe688427df79b3cd35427c084a84997963c8013cb0283d4d193de25c428d2",
    "ba9756d522c1e628b4a56dc31be98f20386337e42076dcf88c9e569eefdf6620",
    "5000e607cf062523b642aee19ffd70a58045ebe6aa8b1a5cbcb2744d0605f803",
};
const std::vector<std::string> kShippedPostgres = {
    "8a440f702e52b0738648ba148ff6c0ed884c8d0a78d2e009c7c33e6fb1717738",
    "d9e0a21c2684ab68838d3061a743aa05d3d40f40243bd650be876eb155d7119c",
    "ba8719374a3dcd2cb79e0e3f8cb0386d0327d585ed757fc125a4aa52da4ee5ba",
    "dde6053418df60454b6361548f630a3f01447d4267e884c4f1a60d27df45bec8",
    "f7f4cea5c9b792180a6f1f0123227d6217e5dc95be9b7db30f31227675b69cdc",
    "04afc11bd4e1e3c74709dfd567242130b7f779e555330738aeb7206be54a5bab",
    "9a5b39528b8d482792c7c5ab1ab8825aefe49e87b39025c17cc026e345d6b264",
    "465886a0c757aaec8100f166a11ef1fdfd0aba0808a9bbe8895007f4052b9d8b",
};

TEST(Migrations, ShippedVersionsKeepTheirExactText) {
  const auto& sq = migrations(SqlDialect::sqlite);
  const auto& pg = migrations(SqlDialect::postgres);
  ASSERT_EQ(sq.size(), pg.size()) << "both dialects reach the same schema version";
  ASSERT_GE(sq.size(), kShippedSqlite.size());
  for (std::size_t i = 0; i < kShippedSqlite.size(); ++i) {
    EXPECT_EQ(sha256_hex(sq[i]), kShippedSqlite[i]) << "sqlite migration " << i + 1 << ":\n"
                                                    << sq[i];
    EXPECT_EQ(sha256_hex(pg[i]), kShippedPostgres[i]) << "postgres migration " << i + 1 << ":\n"
                                                      << pg[i];
  }
}

TEST(Migrations, EveryPlaceholderIsFilledIn) {
  for (auto d : {SqlDialect::sqlite, SqlDialect::postgres})
    for (const auto& m : migrations(d)) {
      EXPECT_EQ(m.find('{'), std::string::npos) << m;
      EXPECT_EQ(m.find('}'), std::string::npos) << m;
    }
  EXPECT_NE(migrations(SqlDialect::sqlite)[0].find("seq INTEGER PRIMARY KEY"), std::string::npos);
  EXPECT_NE(migrations(SqlDialect::postgres)[0].find("id BIGSERIAL PRIMARY KEY"),
            std::string::npos);
  EXPECT_NE(std::string(schema_version_ddl(SqlDialect::postgres)).find("TIMESTAMPTZ"),
            std::string::npos);
}

}  // namespace
}  // namespace dm::store
