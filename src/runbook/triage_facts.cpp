#include "runbook/triage_facts.h"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <limits>
#include <set>
#include <tuple>

#include "common/iso_time.h"
#include "runbook/detect_common.h"
#include "runbook/tool_kit.h"

namespace dm::runbook {

namespace {

int64_t ms_or_max(const std::string& t) {
  auto ms = iso_to_ms(t);
  return ms ? *ms : std::numeric_limits<int64_t>::max();
}

// Lower-cased, without spaces.
std::string squash(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (!std::isspace(c)) out.push_back(static_cast<char>(std::tolower(c)));
  }
  return out;
}

}  // namespace

TaskFacts task_facts(const std::vector<airflow::TaskInstance>& tis) {
  TaskFacts f;
  for (const auto& t : tis) {
    ++f.counts[t.state.empty() ? "none" : t.state];
    if (t.state == "failed") {
      f.failed.push_back(&t);
      f.retries_used += std::max(0, t.try_number - 1);
    } else if (t.state == "upstream_failed") {
      f.upstream_failed.push_back(&t);
    }
  }
  std::sort(f.failed.begin(), f.failed.end(), [](const auto* a, const auto* b) {
    return std::make_tuple(ms_or_max(a->end_date), ms_or_max(a->start_date), a->task_id,
                           a->map_index) < std::make_tuple(ms_or_max(b->end_date),
                                                           ms_or_max(b->start_date), b->task_id,
                                                           b->map_index);
  });
  std::sort(f.upstream_failed.begin(), f.upstream_failed.end(), [](const auto* a, const auto* b) {
    return std::tie(a->task_id, a->map_index) < std::tie(b->task_id, b->map_index);
  });
  if (!f.failed.empty()) f.first_failing = f.failed.front();
  return f;
}

std::string first_failing_task_id(const std::vector<airflow::TaskInstance>& tis) {
  auto f = task_facts(tis);
  return f.first_failing ? f.first_failing->task_id : "";
}

int retries_left(const airflow::TaskInstance& t) {
  return std::max(0, t.max_tries - std::max(0, t.try_number - 1));
}

std::string tier_from_tags(const std::vector<std::string>& tags) {
  for (const auto& tag : tags) {
    std::string s = squash(tag);
    if (s.size() < 6 || s.compare(0, 4, "tier") != 0 || (s[4] != '=' && s[4] != ':')) continue;
    std::string n = s.substr(5);
    if (n.empty() || n.size() > 3 ||
        !std::all_of(n.begin(), n.end(), [](unsigned char c) { return std::isdigit(c); }))
      continue;
    n.erase(0, std::min(n.find_first_not_of('0'), n.size() - 1));  // "01" → "1"
    return n;
  }
  return "";
}

bool business_critical_from_tags(const std::vector<std::string>& tags) {
  for (const auto& tag : tags) {
    std::string s = squash(tag);
    std::replace(s.begin(), s.end(), '-', '_');
    if (s == "business_critical" || s == "business_critical=true" || s == "business_critical:true")
      return true;
  }
  return false;
}

std::string severity_for(const std::string& tier, bool business_critical) {
  if (business_critical || tier == "1") return "sev1";
  if (tier == "2") return "sev2";
  return "sev3";
}

std::vector<std::string> task_ids_of(const std::vector<const airflow::TaskInstance*>& tis,
                                     std::size_t cap) {
  std::vector<std::string> out;
  std::set<std::string> seen;
  for (const auto* t : tis) {
    if (out.size() >= cap) break;
    if (seen.insert(t->task_id).second) out.push_back(t->task_id);
  }
  return out;
}

std::string task_label(const std::string& task_id, int map_index) {
  return map_index >= 0 ? task_id + "[" + std::to_string(map_index) + "]" : task_id;
}

nlohmann::json run_triage_facts(std::string_view source, const airflow::DagRun& run,
                                const TaskFacts& facts, const std::vector<std::string>& dag_tags) {
  const std::string tier = tier_from_tags(dag_tags);
  const bool critical = business_critical_from_tags(dag_tags);
  return {{"source", std::string(source)},
          {"state", run.state},
          {"end_date", iso_utc(run.end_date)},
          {"severity", severity_for(tier, critical)},
          {"tier", tier},
          {"business_critical", critical},
          {"first_failing_task", facts.first_failing ? facts.first_failing->task_id : ""},
          {"failed_tasks", task_ids_of(facts.failed, kIncidentFactsListCap)},
          {"upstream_failed", facts.upstream_failed.size()},
          {"retries_used", facts.retries_used}};
}

}  // namespace dm::runbook
