// Test support (logs tests only): the bytes of a log under tests/logs/extract/, the corpus of real
// failure logs that the extraction, signature and category tests share (a missing file fails the
// calling test and yields ""), and the .log files of a corpus folder.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "dm_test_paths.h"

namespace dm::logs {

inline std::string corpus(const std::string& name) {
  std::ifstream f(std::string(DM_SOURCE_DIR) + "/tests/logs/extract/" + name, std::ios::binary);
  EXPECT_TRUE(f) << name;
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// The *.log files under DM_SOURCE_DIR/`dir`, sorted by path.
inline std::vector<std::filesystem::path> logs_in(const std::string& dir) {
  std::vector<std::filesystem::path> v;
  for (const auto& e : std::filesystem::directory_iterator(std::string(DM_SOURCE_DIR) + "/" + dir))
    if (e.path().extension() == ".log") v.push_back(e.path());
  std::sort(v.begin(), v.end());
  return v;
}

}  // namespace dm::logs
