// watch_import_errors (followup.h): DAG files that fail to import are incidents of their own.
#include <set>

#include "common/iso_time.h"
#include "logs/pipeline.h"
#include "runbook/tool_kit.h"
#include "watch/followup.h"
#include "watch/kinds.h"

namespace dm::watch {
namespace {

using json = nlohmann::json;
using namespace kinds;

constexpr std::size_t kTraceKeptBytes = 4096;  // the redacted stack trace kept on the incident
const char* const kAdvice =
    "Fix the DAG file: while it fails to import, none of its DAGs is scheduled, and each parse "
    "of the file fails again. A rerun does not help.";
const char* const kPrevention =
    "Import every DAG file in CI before it is deployed (python the_file.py, or `airflow dags "
    "list-import-errors` on a test deployment), and pin the packages the DAGs import.";

}  // namespace

void watch_import_errors(const runbook::Deps& deps, const std::string& env,
                         airflow::AirflowClient& client, store::Store& s, const Outbox* outbox,
                         EnvReport& rep) {
  if (!deps.config.watch.import_errors) return;
  auto listed = client.list_import_errors();
  if (!listed) {
    rep.notes.push_back("import errors could not be read: " + listed.error().message);
    return;
  }
  rep.import_errors = listed->size();
  const int64_t now = runbook::to_ms(deps.clock->now());
  std::set<std::string> failing;
  for (const auto& e : *listed) {
    const std::string id =
        store::incident_id_for(env, "", std::string(kImportErrorKind) + ":" + e.filename);
    failing.insert(id);
    const std::string what = "import error of " + e.filename;
    std::optional<store::Incident> before;
    if (!load(s, id, what, before, rep)) continue;
    // Airflow keeps an import error's id while the file keeps failing (its timestamp moves at
    // every parse); a file fixed and broken again gets a new one.
    const int64_t occurrence = e.id != 0 ? e.id : 1;
    if (before && before->state != "recovered" &&
        int_at(summary_of(*before), "import_error", "id") == occurrence)
      continue;  // known, still failing: nothing new

    logs::DiagnoseOptions opt;
    opt.redactor = deps.redactor;
    opt.categorizer = deps.categorizer;
    auto d = logs::diagnose(e.stack_trace, opt);
    const bool found = d && d->found;
    const int64_t ts = iso_to_ms(e.timestamp).value_or(now);
    const bool opened = !before;
    json summary = before ? summary_of(*before) : json::object();
    store::Incident inc = reopen_or_new(std::move(before), id, env, "", e.filename, now);
    inc.signature = found ? d->signature : "";
    inc.category = found ? d->category.name : "";
    inc.error = found ? d->error : "";
    summary["kind"] = kImportErrorKind;
    summary["import_error"] = {
        {"id", occurrence},
        {"filename", deps.redactor->redact(e.filename)},
        {"timestamp", ms_to_iso(ts)},
        {"trace", logs::cap_utf8(deps.redactor->redact(e.stack_trace), kTraceKeptBytes)}};
    summary["triage"] = {{"source", "watch"}, {"severity", "sev2"}, {"end_date", ms_to_iso(ts)}};
    summary["advice"] = kAdvice;
    summary["prevention"] = kPrevention;
    inc.summary_json = dump(summary);

    IncidentFacts f = facts_of(inc, kImportErrorKind, "sev2", ts, opened);
    f.occurrence_ms = occurrence;
    f.notes = {kAdvice};
    record(s, outbox, inc, std::move(f),
           entry_of(inc, kImportErrorKind, "sev2", ms_to_iso(ts), opened), what, rep);
  }

  // A file no longer listed imports again (or was deleted): its incident is over.
  std::string err;
  for (auto& inc : incidents_in(s, env, "open", 0, err))
    if (kind_of(summary_of(inc)) == kImportErrorKind && !failing.count(inc.id))
      mark_recovered(deps, std::move(inc),
                     "the DAG file is no longer listed among Airflow's import errors", now, rep);
  if (!err.empty()) rep.notes.push_back("import-error incidents unreadable: " + err);
}

}  // namespace dm::watch
