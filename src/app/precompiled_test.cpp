// The build-time redaction database (precompiled.h) is the one of today's built-in rules, and
// vectorscan takes it: a start then skips the compile.
#include "app/precompiled.h"

#include <gtest/gtest.h>

#include "logs/redact.h"
#include "logs/redact_engine.h"

namespace dm::app {
namespace {

TEST(Precompiled, BuiltinRedactionDbIsCurrentAndUsed) {
  auto before = logs::Redactor::compile_builtin();
  ASSERT_TRUE(before.ok()) << before.error().message;  // compiled (unless registered already)
  register_builtin_redaction_db();
  auto after = logs::Redactor::compile_builtin();
  ASSERT_TRUE(after.ok()) << after.error().message;
  // False here means the generated database does not match the rules (a stale build step) or
  // vectorscan refused it: dagmedic would still work, compiling at every start.
  EXPECT_TRUE((*after)->engine().precompiled());
  const std::string text =
      "login password=hunter2 ok\nkey AKIAIOSFODNN7EXAMPLE\n"
      "url postgres://etl:s3cr3tPass@db:5432/x\nplain line 42\n";
  EXPECT_EQ((*after)->redact(text), (*before)->redact(text));
  EXPECT_NE((*after)->redact(text), text);
}

}  // namespace
}  // namespace dm::app
