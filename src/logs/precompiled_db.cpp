#include "logs/precompiled_db.h"

#include <hs/hs.h>

#include <cstdlib>
#include <mutex>

namespace dm::logs {
namespace {

struct Entry {
  std::string_view plan, db;
};
std::mutex& registry_mu() {
  static std::mutex m;
  return m;
}
std::vector<Entry>& registry() {
  static std::vector<Entry> v;
  return v;
}

}  // namespace

std::string hs_plan_text(std::string_view kind, const std::vector<std::string>& exprs,
                         const std::vector<unsigned>& flags) {
  std::string t = "dagmedic vectorscan plan 1 block ";
  t += kind;
  t += '\n';
  for (std::size_t i = 0; i < exprs.size(); ++i) {
    // Length-prefixed: an expression may hold any byte, a newline included.
    t += std::to_string(i < flags.size() ? flags[i] : 0u) + ' ' + std::to_string(exprs[i].size()) +
         ':';
    t += exprs[i];
    t += '\n';
  }
  return t;
}

void register_precompiled_db(std::string_view plan, std::string_view db) {
  std::lock_guard<std::mutex> lock(registry_mu());
  registry().push_back({plan, db});
}

hs_database* precompiled_db(const std::string& plan) {
  std::lock_guard<std::mutex> lock(registry_mu());
  for (const Entry& e : registry()) {
    if (e.plan != plan) continue;
    hs_database_t* db = nullptr;
    if (hs_deserialize_database(e.db.data(), e.db.size(), &db) == HS_SUCCESS) return db;
    return nullptr;
  }
  return nullptr;
}

Result<std::string> serialize_db(const hs_database* db) {
  char* bytes = nullptr;
  std::size_t len = 0;
  if (db == nullptr || hs_serialize_database(db, &bytes, &len) != HS_SUCCESS)
    return make_error(Errc::internal, "vectorscan: cannot serialize the database");
  std::string out(bytes, len);
  std::free(bytes);
  return out;
}

}  // namespace dm::logs
