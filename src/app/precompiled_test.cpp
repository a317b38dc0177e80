// The build-time vectorscan databases (precompiled.h) are those of today's built-in rules, and
// vectorscan takes them: a start then skips the compiles.
#include "app/precompiled.h"

#include <gtest/gtest.h>

#include "logs/category.h"
#include "logs/extract.h"
#include "logs/redact.h"
#include "logs/redact_engine.h"
#include "logs/signature.h"

namespace dm::app {
namespace {

// False below means a generated database does not match its rules (a stale build step) or
// vectorscan refused it: dagmedic would still work, compiling at every start.
TEST(Precompiled, BuiltinDatabasesAreCurrentAndUsed) {
  auto before = logs::Redactor::compile_builtin();  // compiled (unless registered already)
  ASSERT_TRUE(before.ok()) << before.error().message;
  auto cat_before = logs::Categorizer::builtin();
  ASSERT_TRUE(cat_before.ok()) << cat_before.error().message;
  register_precompiled_dbs();

  auto after = logs::Redactor::compile_builtin();
  ASSERT_TRUE(after.ok()) << after.error().message;
  EXPECT_TRUE((*after)->engine().precompiled());
  const std::string text =
      "login password=hunter2 ok\nkey AKIAIOSFODNN7EXAMPLE\n"
      "url postgres://etl:s3cr3tPass@db:5432/x\nplain line 42\n";
  EXPECT_EQ((*after)->redact(text), (*before)->redact(text));
  EXPECT_NE((*after)->redact(text), text);

  auto cat_after = logs::Categorizer::builtin();
  ASSERT_TRUE(cat_after.ok()) << cat_after.error().message;
  EXPECT_TRUE((*cat_after)->precompiled());
  for (const char* msg : {"psycopg2.errors.UndefinedColumn: column \"order_ts\" does not exist",
                          "PermissionError: [Errno 13] Permission denied: '/data/x'",
                          "MemoryError: Unable to allocate 8.00 GiB"}) {
    const std::string log = std::string("Traceback (most recent call last):\n") +
                            "  File \"/opt/dags/etl.py\", line 12, in run\n    go()\n" + msg + "\n";
    const auto x = logs::extract_errors(log);
    const logs::ExtractedError* e = x.primary_error();
    ASSERT_NE(e, nullptr) << log;
    const auto sig = logs::signature_of(*e);
    EXPECT_EQ((*cat_after)->categorize(e, &sig).name, (*cat_before)->categorize(e, &sig).name)
        << log;
    EXPECT_NE((*cat_after)->categorize(e, &sig).name, "unknown") << log;
  }
}

}  // namespace
}  // namespace dm::app
