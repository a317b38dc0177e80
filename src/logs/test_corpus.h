// Test support (logs tests only): the bytes of a log under tests/logs/extract/, the corpus of real
// failure logs that the extraction, signature and category tests share. A missing file fails the
// calling test and yields "".
#pragma once

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

namespace dm::logs {

inline std::string corpus(const std::string& name) {
  std::ifstream f(std::string(DM_SOURCE_DIR) + "/tests/logs/extract/" + name, std::ios::binary);
  EXPECT_TRUE(f) << name;
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

}  // namespace dm::logs
