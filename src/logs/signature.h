// Stable error signatures: the same root cause gets the same short id on any date, run, host,
// worker PID, temp path, try number or Airflow version (2's text logs vs 3's JSON events).
//
// Definition (deterministic; changing it changes every id, so it is versioned by
// kSignatureVersion):
//   text = TAG ": " mask(message)      where
//     TAG  = the exception type without its module path (`psycopg2.errors.UndefinedTable` and
//            Airflow 3's `UndefinedTable` are the same type), or for findings without a type:
//            "ShellExit", "OOMKilled", "PodFailure", "AirflowFailure", "ErrorLine";
//     message = the root-cause message, whitespace runs collapsed to one space, cut at 512 bytes;
//            for OOM kills a constant (how the kill was reported differs between versions);
//            opaque per-run names the mask would keep as words are replaced first: py4j's JVM
//            object ids ("calling o518.save" -> "calling o<n>.save"), YARN container epochs
//            ("container_e42_…" -> "container_e<n>_…") and Kubernetes pod name suffixes
//            ("Pod etl-load-x7k2m9qp" -> "Pod etl-load-<pod>");
//     mask = mask_variables(…, MaskMode::signature) (signature_mask.h): dates, timestamps, run
//            ids, UUIDs, temp paths, numbers and mixed letter/digit ids are replaced; words stay,
//            so `KeyError: 'customer_id'` and `KeyError: 'order_id'` differ, a missing bucket or
//            table keeps its name (`s3://bucket/prefix/dt=<date>/…`), and numbers that name the
//            cause stay (exit codes, errno, HTTP status, SQL error codes).
//   id   = first 12 hex digits of SHA-256("v1\n" + text).
// Frames are not part of it: line numbers move with every code change and DAG folders differ
// between deployments. Pure functions; thread-safe; never throw.
#pragma once

#include <string>
#include <string_view>

#include "logs/extract.h"

namespace dm::logs {

inline constexpr std::string_view kSignatureVersion = "v1";

struct Signature {
  std::string id;    // 12 lowercase hex digits
  std::string text;  // the normalized template that was hashed (safe to show: already masked)
};

Signature signature_of(const ExtractedError& e);
Signature signature_of(ErrorKind kind, std::string_view exception_type, std::string_view message);

// First 12 hex digits of SHA-256(data).
std::string short_hash(std::string_view data);

}  // namespace dm::logs
