// `dagmedic watch [--once] [--env NAME] [--json] [--config FILE]` and `dagmedic watch status`:
// watch mode (docs/watch.md). The loop runs a cycle every watch.interval_seconds until SIGINT or
// SIGTERM; --once runs one cycle (for cron) and exits 0 when every watched environment was read,
// 1 otherwise (each failure named on stderr). A malformed `watch:` section stops start-up (exit 1,
// the key named). `status` prints each environment's cursor, last cycle and incidents opened.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include "app/commands.h"
#include "app/load_deps.h"
#include "app/serve_watch.h"
#include "watch/outbox.h"
#include "watch/watch.h"

namespace dm::app {
namespace {

std::atomic<bool> g_stop{false};
extern "C" void on_stop_signal(int) { g_stop = true; }

// Waits on the real clock in short steps, so that a signal stops the loop within ~200 ms.
class SignalWaiter final : public watch::Waiter {
 public:
  explicit SignalWaiter(std::shared_ptr<Clock> clock) : clock_(std::move(clock)) {}
  bool wait_until(Clock::time_point t) override {
    while (!g_stop && clock_->now() < t)
      std::this_thread::sleep_for(
          std::min<Clock::time_point::duration>(std::chrono::milliseconds(200), t - clock_->now()));
    return !g_stop;
  }

 private:
  std::shared_ptr<Clock> clock_;
};

void print_cycle(const watch::CycleReport& c, bool as_json) {
  if (as_json)
    std::printf("%s\n", watch::cycle_json(c).dump().c_str());
  else
    std::fputs(watch::format_cycle(c).c_str(), stdout);
  std::fflush(stdout);
}

}  // namespace

int cmd_watch(int argc, char** argv) {
  CLI::App cli{"Watch mode: find new failed DAG runs and open their incidents (docs/watch.md)",
               "dagmedic watch"};
  cli.require_subcommand(0, 1);
  std::string config_path, env;
  bool once = false, as_json = false;
  cli.add_flag("--once", once, "run one cycle and exit (0: every environment read; 1: not)");
  cli.add_option("--env", env, "watch only this environment");
  cli.add_flag("--json", as_json, "print each cycle as one JSON line");
  cli.add_option("--config", config_path, "config file");
  auto* status = cli.add_subcommand(
      "status", "per environment: cursor, last cycle and its outcome, incidents opened");
  status->add_option("--config", config_path, "config file");
  status->add_flag("--json", as_json, "print JSON");
  try {
    cli.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return cli.exit(e) == 0 ? 0 : 2;
  }
  auto deps = load_deps(config_path, "watch");
  if (!deps) return 1;

  if (*status) {
    auto st = watch::watch_status(*deps);
    if (!st) {
      std::fprintf(stderr, "dagmedic watch status: %s\n", st.error().message.c_str());
      return 1;
    }
    auto store = deps->store();
    if (!store) {
      std::fprintf(stderr, "dagmedic watch status: %s\n", store.error().message.c_str());
      return 1;
    }
    auto ob = watch::outbox_status(**store, deps->config.notify);
    if (!ob) {
      std::fprintf(stderr, "dagmedic watch status: outbox: %s\n", ob.error().message.c_str());
      return 1;
    }
    if (as_json) {
      auto j = watch::status_json(*st);
      j["outbox"] = watch::outbox_status_json(*ob);
      std::printf("%s\n", j.dump(2).c_str());
    } else {
      std::fputs(watch::format_status(*st).c_str(), stdout);
      std::fputs(watch::format_outbox_status(*ob).c_str(), stdout);
    }
    return 0;
  }

  if (deps->config.environments.empty()) {
    std::fprintf(stderr,
                 "dagmedic watch: no Airflow environment is configured; add one under "
                 "environments: (docs/config.md)\n");
    return 1;
  }
  if (!env.empty() && deps->config.find(env) == nullptr) {
    std::fprintf(stderr, "dagmedic watch: --env %s: no such environment in the config\n",
                 env.c_str());
    return 2;
  }
  auto outbox = make_outbox(*deps);
  if (!outbox) {
    std::fprintf(stderr, "dagmedic watch: %s\n", outbox.error().message.c_str());
    return 1;
  }
  watch::Watcher watcher(deps, *outbox);
  if (!env.empty()) watcher.restrict_to(env);
  // A clean stop lets go of the leases, so that another watcher takes the environments at once.
  auto release = [&] {
    if (auto r = watcher.release_leases(); !r)
      std::fprintf(stderr, "dagmedic watch: %s\n", r.error().message.c_str());
  };

  if (once) {
    watch::CycleReport c = watcher.run_once();
    release();
    print_cycle(c, as_json);
    if (c.envs.empty()) {
      std::fprintf(stderr, "dagmedic watch: every environment is disabled under watch:\n");
      return 1;
    }
    for (const auto& e : c.envs)
      if (!e.ok)
        std::fprintf(stderr, "dagmedic watch: environment %s: %s\n", e.env.c_str(),
                     e.error.c_str());
    return c.ok() ? 0 : 1;
  }

  std::signal(SIGINT, on_stop_signal);
  std::signal(SIGTERM, on_stop_signal);
  std::fprintf(stderr, "dagmedic watch: a cycle every %d s (Ctrl-C stops)\n",
               deps->config.watch.interval_seconds);
  if (watcher.leases())
    std::fprintf(stderr, "dagmedic watch: leases on, as %s (ttl %d s, renewed every %lld ms)\n",
                 watcher.lease_holder().c_str(), deps->config.watch.lease.ttl_seconds,
                 static_cast<long long>(watcher.lease_renew_every().count()));
  SignalWaiter waiter(deps->clock);
  watch::run_loop(watcher, *deps, waiter,
                  [&](const watch::CycleReport& c) { print_cycle(c, as_json); });
  release();
  std::fprintf(stderr, "dagmedic watch: stopped\n");
  return 0;
}

}  // namespace dm::app
