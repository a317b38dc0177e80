#include "airflow/types.h"

#include <gtest/gtest.h>

namespace dm::airflow {
namespace {

TEST(DagRunJson, IsTheContractsRunWithUtcTimesAndNoConf) {
  DagRun r;
  r.dag_id = "etl";
  r.run_id = "manual__1";
  r.state = "failed";
  r.run_type = "manual";
  r.logical_date = "";
  r.run_after = "2026-11-25T22:00:00.123456+00:00";
  r.start_date = "2026-11-25T23:00:01.5+01:00";
  r.end_date = "not a time";
  r.queued_at = "2026-11-25T22:00:00Z";
  r.conf = {{"password", "s3cret"}};
  r.note = "by hand";
  const nlohmann::json want = {{"dag_id", "etl"},
                               {"run_id", "manual__1"},
                               {"state", "failed"},
                               {"run_type", "manual"},
                               {"logical_date", ""},
                               {"run_after", "2026-11-25T22:00:00Z"},
                               {"start_date", "2026-11-25T22:00:01Z"},
                               {"end_date", "not a time"}};
  EXPECT_EQ(to_json(r), want);
}

}  // namespace
}  // namespace dm::airflow
