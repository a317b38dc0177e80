// Test support for the masker's property and differential tests (signature_mask*_test.cpp,
// line_shape_test.cpp): random lines built from the pieces the masking rules look at (dates,
// times, run-id prefixes, temp paths, UUIDs, hex, SQL states, units, punctuation, UTF-8, NUL)
// plus random bytes. Deterministic for a given generator state. Header-only; tests only.
#pragma once

#include <random>
#include <string>
#include <vector>

namespace dm::logs::testing {

inline const std::vector<std::string>& mask_test_pieces() {
  static const std::vector<std::string> p = {"2026-01-14",
                                             "03:00:02",
                                             ",123",
                                             "T",
                                             " UTC",
                                             "+00:00",
                                             "Z",
                                             "manual__",
                                             "scheduled__",
                                             "/tmp/",
                                             "tmp",
                                             "tmpab12cd34",
                                             "/var/folders/",
                                             "a1b2c3d4",
                                             "123e4567-e89b-12d3-a456-426614174000",
                                             "abcdefab-abcd-abcd-abcd-abcdefabcdef",
                                             "-abcd-",
                                             "deadbeef",
                                             "(42S02)",
                                             "(ABCDE)",
                                             "512MB",
                                             "int64",
                                             "v2",
                                             "x",
                                             "_",
                                             "__",
                                             "-",
                                             "/",
                                             ":",
                                             ".",
                                             " ",
                                             "\t",
                                             "(",
                                             ")",
                                             "[",
                                             "]",
                                             "0",
                                             "7",
                                             "42",
                                             "1234",
                                             "99999",
                                             "ab",
                                             "\xc3\xa9",
                                             "\"",
                                             "'",
                                             "m",
                                             "t",
                                             "12",
                                             "2026/01/02",
                                             "exit code ",
                                             "HTTP 503",
                                             "(1054, ",
                                             "Starting",
                                             " attempt ",
                                             "INFO - ",
                                             "{taskinstance.py:",
                                             "ip-10-1-22-133.ec2.internal",
                                             "30s",
                                             "0x1f",
                                             std::string(1, '\0'),
                                             "rerun__",
                                             "asset_triggered__",
                                             "dataset_triggered__",
                                             "backfill__",
                                             "manual_",
                                             "rerun",
                                             "tmp_abcdefg",
                                             "s",
                                             "r",
                                             "errno ",
                                             "1146 (42S02)",
                                             "words only here "};
  return p;
}

// Up to max_parts - 1 pieces; one part in eight is a random byte instead.
inline std::string random_mask_test_line(std::mt19937& rng, int max_parts) {
  std::string line;
  const int parts = static_cast<int>(rng() % static_cast<unsigned>(max_parts));
  for (int k = 0; k < parts; ++k) {
    if (rng() % 8 == 0) {
      line.push_back(static_cast<char>(rng() % 256));
    } else {
      line += mask_test_pieces()[rng() % mask_test_pieces().size()];
    }
  }
  return line;
}

}  // namespace dm::logs::testing
