// Test support (header-only, used by *_test.cpp and *_pgtest.cpp): a fresh, empty database per
// test that tests can open several Store connections to (two "replicas"), and raw SQL access to
// tamper with it behind the store's back.
#pragma once

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <memory>
#include <pqxx/pqxx>
#include <string>

#include "store/pg_store.h"
#include "store/sqlite_store.h"
#include "store/store.h"

namespace dm::store::testing {

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string name() const = 0;
  // A new connection to this test's database (migrated at open).
  virtual Result<std::unique_ptr<Store>> open() = 0;
  // Runs SQL directly on the database (bypassing the store and its guards).
  virtual Status raw_exec(const std::string& sql) = 0;
  // Removes the append-only triggers on audit_log, as an attacker with database access would.
  virtual Status allow_tampering() = 0;
};

using BackendFactory = std::function<Result<std::unique_ptr<Backend>>()>;

inline std::string unique_suffix() {
  static std::atomic<int> n{0};
  return std::to_string(::getpid()) + "_" + std::to_string(n++) + "_" +
         std::to_string(std::chrono::steady_clock::now().time_since_epoch().count() % 1000000);
}

// A temp folder holding one SQLite file; removed with the backend.
class SqliteBackend final : public Backend {
 public:
  SqliteBackend() {
    dir_ = std::filesystem::temp_directory_path() / ("dm-store-test-" + unique_suffix());
    std::filesystem::create_directories(dir_);
  }
  ~SqliteBackend() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  std::string name() const override { return "sqlite"; }
  std::string path() const { return (dir_ / "dm.db").string(); }
  const std::filesystem::path& dir() const { return dir_; }
  Result<std::unique_ptr<Store>> open() override { return open_sqlite_store({.path = path()}); }
  Status raw_exec(const std::string& sql) override {
    sqlite3* db = nullptr;
    int rc = sqlite3_open(path().c_str(), &db);
    char* err = nullptr;
    if (rc == SQLITE_OK) {
      sqlite3_busy_timeout(db, 10000);
      rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
    }
    std::string msg = err ? err : sqlite3_errstr(rc);
    sqlite3_free(err);
    sqlite3_close(db);
    if (rc != SQLITE_OK) return make_error(Errc::internal, "raw sqlite: " + msg);
    return {};
  }
  Status allow_tampering() override {
    return raw_exec("DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete;");
  }

 private:
  std::filesystem::path dir_;
};

// A fresh schema in the database named by DM_TEST_PG_DSN (key=value form); dropped afterwards.
class PgBackend final : public Backend {
 public:
  static Result<std::unique_ptr<Backend>> make() {
    const char* dsn = std::getenv("DM_TEST_PG_DSN");
    if (dsn == nullptr || *dsn == '\0')
      return make_error(Errc::failed_precondition,
                        "DM_TEST_PG_DSN is not set: run dev/test.d/50-store-pg.sh");
    auto b = std::unique_ptr<PgBackend>(new PgBackend(dsn));
    if (auto s = b->admin_exec("CREATE SCHEMA " + b->schema_); !s) return s.error();
    b->created_ = true;
    return std::unique_ptr<Backend>(std::move(b));
  }
  ~PgBackend() override {
    if (created_) (void)admin_exec("DROP SCHEMA " + schema_ + " CASCADE");
  }
  std::string name() const override { return "postgres"; }
  std::string dsn() const { return base_ + " options='-csearch_path=" + schema_ + "'"; }
  Result<std::unique_ptr<Store>> open() override { return open_pg_store({.dsn = dsn()}); }
  Status raw_exec(const std::string& sql) override { return exec_on(dsn(), sql); }
  Status allow_tampering() override {
    return raw_exec("ALTER TABLE audit_log DISABLE TRIGGER USER");
  }

 private:
  explicit PgBackend(std::string base) : base_(std::move(base)), schema_("t_" + unique_suffix()) {}
  Status admin_exec(const std::string& sql) { return exec_on(base_, sql); }
  static Status exec_on(const std::string& dsn, const std::string& sql) {
    try {
      pqxx::connection c(dsn);
      pqxx::nontransaction w(c);
      w.exec(sql);
      return {};
    } catch (const std::exception& e) {
      return make_error(Errc::internal, std::string("raw postgres: ") + e.what());
    }
  }
  std::string base_;
  std::string schema_;
  bool created_ = false;
};

inline Result<std::unique_ptr<Backend>> make_sqlite_backend() {
  return std::unique_ptr<Backend>(std::make_unique<SqliteBackend>());
}
inline Result<std::unique_ptr<Backend>> make_pg_backend() { return PgBackend::make(); }

struct NamedBackend {
  std::string name;
  BackendFactory make;
};
// Keeps gtest from dumping the factory bytes in test listings.
inline void PrintTo(const NamedBackend& b, std::ostream* os) { *os << b.name; }
inline std::string backend_param_name(const ::testing::TestParamInfo<NamedBackend>& i) {
  return i.param.name;
}

}  // namespace dm::store::testing
