// dagmedic's YAML config file: named environments, defaults and caps. Format: docs/config.md.
//
// Secrets never live in the file: an environment names where its credentials come from
// (environment variables or files); a literal `password`/`token`/`secret` key is rejected.
// Parsing is strict: unknown keys, wrong types and bad values are errors that name the file,
// the key path and the problem (e.g. `config.yaml: environments.prod.kind: must be airflow or
// mwaa, got "airfow"`). Functions here never throw. Config values are immutable after loading.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/glob.h"
#include "common/result.h"

namespace dm::config {

enum class Kind { airflow, mwaa };
enum class Tier { dev, prod };
enum class ApiVersion { auto_detect, v1, v2 };

const char* kind_name(Kind k) noexcept;
const char* tier_name(Tier t) noexcept;
const char* api_version_name(ApiVersion v) noexcept;  // "auto", "v1", "v2"

struct Timeouts {
  std::chrono::milliseconds connect{10000};
  std::chrono::milliseconds request{30000};
};

// `mwaa:` block of a kind-mwaa environment (docs/mwaa.md). Endpoints are overrides (tests,
// VPC endpoints); empty = the regional AWS endpoint. Credentials come from the AWS chain.
struct MwaaSettings {
  std::string name;
  std::string region;
  std::string endpoint;        // MWAA API, default https://{env|api}.airflow.{region}.amazonaws.com
  std::string logs_endpoint;   // CloudWatch Logs, default https://logs.{region}.amazonaws.com
  std::string sts_endpoint;    // STS for assume-role sources (AWS_ENDPOINT_URL_STS otherwise)
  std::string log_group;       // task log group; empty = from GetEnvironment
  std::string web_server_url;  // CLI host override (https://{WebServerHostname} otherwise)
};

struct Environment {
  std::string name;
  Kind kind = Kind::airflow;
  Tier tier = Tier::dev;
  std::string url;  // base URL of the Airflow web server / API server, no trailing slash
  ApiVersion api_version = ApiVersion::auto_detect;
  // Credential references (never the secrets themselves).
  std::string username_env;
  std::string password_env;
  std::string password_file;
  std::string token_env;
  std::string token_file;
  std::string ca_file;
  bool verify_tls = true;
  Timeouts timeouts;
  MwaaSettings mwaa;
};

struct Caps {
  int window_minutes_max = 7 * 24 * 60;
  int tail_lines_default = 200;
  int tail_lines_max = 5000;
  long long output_bytes_max = 256 * 1024;
  int page_size = 100;
  int lookback_hours_max = 7 * 24;
  // Most bytes of log text one task-log read goes through (lines as rendered, each + 1 for its
  // newline). A log read streams to its end (Airflow's REST log endpoint has no range read)
  // keeping only a ring of lines, so memory stays flat; this bounds the work. Beyond it the read
  // stops and the tool says the log was capped.
  long long log_read_bytes_max = 4LL << 30;
};

struct Defaults {
  std::string environment;  // used when a caller names none; empty = the only one, if exactly one
  int lookback_hours = 24;
  Timeouts timeouts;  // inherited by environments that don't set their own
};

// Where incidents, signature history, approvals and the audit chain live.
struct StoreSettings {
  enum class Backend { sqlite, postgres };
  Backend backend = Backend::sqlite;
  // SQLite file; "" = ${XDG_STATE_HOME:-~/.local/state}/dagmedic/dagmedic.db.
  std::string path;
  // PostgreSQL: name of the environment variable holding the libpq connection string (it may
  // carry a password, so it is referenced, never written in the file).
  std::string dsn_env;
};

// Verify stage (check_recovery_rules): when a DAG counts as recovered. The first rule whose
// `dag` glob matches a DAG id applies; DAGs no rule matches use the built-in default (quiet 30
// minutes, every task of the new run must succeed).
struct RecoveryRule {
  std::string dag = "*";  // glob over dag ids ('*' and '?')
  // Minutes without a new failed run of the DAG after the recovering run ended.
  int quiet_minutes = 30;
  // Tasks that must have succeeded in the recovering run; empty = every task of the run.
  std::vector<std::string> critical_tasks{};
  // Failed runs after the incident (without a success in between) that mean "escalate".
  int escalate_after_failures = 2;
};

// Remediation policy (`policy:`, docs/config.md): what the write tools (trigger_dag,
// clear_failed_tasks) may do per environment tier and DAG. Safe defaults: every write needs an
// approval; dev environments allow every DAG, prod environments none until listed under
// allow_dags; a conf must be `{}` unless a conf_schema covers the DAG; 4 KiB conf limit.
struct TierPolicy {
  int required_approvals = 1;           // distinct humans (never the requester, never an agent)
  bool allow_without_approval = false;  // dev only: run within policy without an approval
  std::string elicitation = "form";     // none | form | url: how an MCP client may collect it
};
struct DagPolicy {
  std::string dag = "*";         // glob over DAG ids; the first matching entry applies
  std::string conf_schema_json;  // JSON Schema (JSON text) for the DAG's conf; "" = none
  long long conf_max_bytes = 0;  // 0 = policy.conf_max_bytes
};
struct PolicySettings {
  long long conf_max_bytes = 4096;  // canonical JSON bytes of a conf
  int approval_ttl_minutes = 60;    // default expiry of an approval request
  int max_ttl_minutes = 24 * 60;    // longest expiry a request may ask for
  // Keyed by tier name (dev, prod); defaults: dev {1, false, form}, prod {2, false, url}.
  std::map<std::string, TierPolicy, std::less<>> tiers{{"dev", TierPolicy{1, false, "form"}},
                                                       {"prod", TierPolicy{2, false, "url"}}};
  // Environment name -> DAG globs allowed for writes. Absent: dev tier "*", prod tier nothing.
  std::map<std::string, std::vector<std::string>, std::less<>> allow_dags;
  std::vector<DagPolicy> dags;  // in file order (first match wins)
};

// Who the operator is (`identity:`): the human an MCP agent acts for and who decides in the CLI.
// Empty principal = the OS user. Never taken from a command-line flag.
struct IdentitySettings {
  std::string principal;
};

// The audit chain's HMAC key and checkpoints (`audit:`). No key configured: a random key file
// `audit.key` (0600) is created next to the SQLite store on first use.
struct AuditSettings {
  std::string key_file;
  std::string key_env;
  std::string checkpoint_file;
  long long checkpoint_every = 100;
};

// The user's rule files (`rules:`), in the format of rules/*.yaml. They extend the built-in rules
// compiled into the binary (they cannot remove one); every command loads them at start and a bad
// file stops it. Paths are absolute after parsing: a relative one is taken from the config file's
// folder, "~/" from $HOME.
struct RulesSettings {
  std::vector<std::string> redaction;   // rules/redaction.yaml format, applied after the built-in
  std::vector<std::string> categories;  // rules/categories.yaml format, checked before the built-in
};

// `server:` — how `dagmedic serve` serves.
struct ServerSettings {
  bool read_only = false;  // serve only tools that read (no approvals, postmortems or writes)
  // The key that seals MCP 2026-07-28 requestState (input_required answers; >= 32 bytes), from a
  // file or an environment variable. Replicas behind one load balancer share it so that any of
  // them continues a request another began. Neither set: a random key per process.
  std::string request_state_key_file;
  std::string request_state_key_env;
};

// `auth:` — `dagmedic serve --transport http` as an OAuth 2.1 resource server (docs/config.md,
// docs/security.md). Absent (enabled false): today's single-user local mode. Secrets are
// referenced (client_secret_env / client_secret_file), never written here.
struct AuthScopes {
  std::string read = "dagmedic:read";        // read tools
  std::string operate = "dagmedic:operate";  // request approvals, write tools (includes read)
  std::string approve = "dagmedic:approve";  // decide on approvals
};
struct AuthIntrospection {
  bool enabled = false;            // the `introspection:` block is present
  std::string endpoint;            // "" = the issuer metadata's introspection_endpoint
  std::string client_id;           // the server's own client at the issuer
  std::string client_secret_env;   // variable holding its secret
  std::string client_secret_file;  // or a file holding it (trailing newline ignored)
};
// `auth.approval_page:` — the approval page as an OpenID Connect relying party (authorization code
// + PKCE S256): approvers sign in at the issuer, and only such decisions count (docs/security.md).
struct AuthApprovalPage {
  bool enabled = false;            // the block is present
  std::string client_id;           // the page's client at the issuer
  std::string client_secret_env;   // a confidential client's secret, from this variable,
  std::string client_secret_file;  // or this file; neither = a public client (PKCE only)
  // The page's origin as browsers reach it ("https://approvals.example.com"; http only on
  // loopback); the redirect URI is public_url + "/oidc/callback". "" = the page's own address
  // (http://<bind>:<port>, loopback development only).
  std::string public_url;
  int session_minutes = 15;  // a sign-in's lifetime (1-60)
};
// `auth.cli:` — `dagmedic login` (device authorization grant, RFC 8628) and the decisions the CLI
// sends to the approval page's decision API.
struct AuthCli {
  std::string client_id = "dagmedic-cli";  // a public client with the device grant enabled
};
struct AuthSettings {
  bool enabled = false;  // the section is present
  std::string issuer;    // exact `iss` of the tokens (https; http only on localhost)
  std::string
      audience;  // the server's canonical resource URI (RFC 8707), e.g. https://dm.example/mcp
  std::string jwks_uri;  // "" = found through RFC 8414 / OIDC discovery of the issuer
  std::vector<std::string> algorithms{"RS256", "ES256", "EdDSA"};
  int leeway_seconds = 60;
  std::string principal_claim = "preferred_username";  // sub | email | preferred_username
  AuthScopes scopes;
  std::string environments_claim = "groups";
  // Environment name (a key of environments:) -> claim values that grant it.
  std::map<std::string, std::vector<std::string>, std::less<>> environments;
  AuthIntrospection introspection;
  AuthApprovalPage approval_page;
  AuthCli cli;
};

// `watch:` — the loop of `dagmedic watch` (docs/watch.md). Every environment is watched unless
// watch.environments.NAME.enabled is false.
struct WatchEnvironmentSettings {
  bool enabled = true;
};
// watch.freshness: which DAGs may be late (docs/watch.md "Late DAGs"). The first rule that
// matches a DAG applies; a DAG no rule matches is never late.
struct FreshnessRule {
  std::string dag = "*";   // glob over DAG ids ('*' and '?')
  std::string tag{};       // "" = any DAG; else only DAGs carrying this tag
  int grace_minutes = 30;  // late this long after the scheduler should have made the run (0..10080)
  bool include_paused = true;  // a paused DAG with a schedule becomes late too (its runs stop)
};
struct FreshnessSettings {
  int interval_seconds = 300;        // between two freshness passes of an environment (1..86400)
  std::vector<FreshnessRule> rules;  // empty: no freshness pass (no DAG listing)
  // The rule for a DAG with these id and tags; nullptr when none matches.
  const FreshnessRule* rule_for(std::string_view dag_id,
                                const std::vector<std::string>& tags) const;
};

// watch.stuck: task instances running or queued for too long (docs/watch.md "Other kinds").
struct StuckSettings {
  bool enabled = true;
  int factor = 3;             // running longer than factor × p95 of its recent successes (1..100)
  int min_seconds = 600;      // never stuck before this long (0..604800)
  int max_seconds = 43200;    // stuck after this long whatever its history (0 = none; ..604800)
  int queued_seconds = 1800;  // queued this long is stuck (0 = off; ..604800)
  int history_days = 7;       // "recent" successes ended within this many days (1..90)
};

// watch.lease: several watchers share the environments by lease (docs/watch.md "Several
// watchers: leases"). Across hosts it needs store.backend: postgres; with SQLite it works between
// processes on one host.
struct WatchLeaseSettings {
  bool enabled = false;
  int ttl_seconds = 30;  // a lease lasts this long unless renewed (5..3600)
  std::string holder;    // this watcher's name in the lease table; "" = "<hostname>:<pid>"
};
struct WatchSettings {
  int interval_seconds = 60;          // between the starts of two cycles (1..86400)
  int overlap_seconds = 300;          // re-read this far behind the cursor (late writes; 0..86400)
  int initial_lookback_minutes = 60;  // first cycle of an environment (no cursor yet; 1..527040)
  int max_runs_per_cycle = 100;       // new failures handled per environment per cycle (1..10000)
  // Open incidents checked for recovery per environment per cycle, least recently checked first
  // (0..10000; 0 = no recovery checks, so no resolve messages from the watcher's own checks).
  int recovery_checks_per_cycle = 20;
  bool import_errors = true;  // DAG files that fail to import open incidents of their own
  // A DAG whose last N finished runs all failed opens a "not_succeeding" incident (0 = off;
  // 2..1000).
  int failed_runs_in_a_row = 3;
  FreshnessSettings freshness{};
  StuckSettings stuck{};
  WatchLeaseSettings lease;
  // Keyed by environment name (each a key of environments:).
  std::map<std::string, WatchEnvironmentSettings, std::less<>> environments;
  // false only when watch.environments.NAME.enabled is false.
  bool enabled_for(std::string_view env) const;
};

// `notify:` — the outbox of watch mode (docs/watch.md "Notifications"): where messages about the
// incidents the watcher opens are sent, and how they are retried. Secrets are never in the file:
// secret_env / routing_key_env name environment variables read when a message is sent.
struct NotifyTarget {
  std::string name;             // the key under notify.targets
  std::string kind;             // slack | pagerduty | teams | json
  std::string url;              // http:// or https:// (checked at parse)
  std::string secret_env;       // json: the variable holding the HMAC-SHA256 key (required)
  std::string routing_key_env;  // pagerduty: the variable holding the routing key (required)
  int timeout_seconds = 10;     // one attempt, whole transfer (1..300)
  int max_attempts = 0;         // 0 = notify.max_attempts; after that many tries: dead (1..100)
};
struct NotifySettings {
  // Incident links: base_url + "/incidents/" + id ("" = no link). http:// or https://.
  std::string base_url;
  int backoff_initial_seconds = 10;   // the first retry waits up to this (1..86400)
  int backoff_max_seconds = 3600;     // cap of the exponential backoff (1..604800)
  int max_attempts = 8;               // default per target (1..100)
  int max_per_cycle = 100;            // deliveries attempted per cycle (1..10000)
  std::vector<NotifyTarget> targets;  // in file order
  const NotifyTarget* find(std::string_view name) const;
};

struct Config {
  std::string source;  // file it came from, "" for the built-in empty config
  Defaults defaults;
  Caps caps;
  std::vector<Environment> environments;  // in file order
  StoreSettings store;
  std::vector<RecoveryRule> recovery;  // in file order (first match wins)
  PolicySettings policy;
  IdentitySettings identity;
  AuditSettings audit;
  ServerSettings server;
  RulesSettings rules;
  AuthSettings auth;
  WatchSettings watch;
  NotifySettings notify;

  // The recovery rule for a DAG: the first whose glob matches, else the default rule.
  RecoveryRule recovery_for(std::string_view dag_id) const;

  // nullptr if there is no environment with that name.
  const Environment* find(std::string_view name) const;
  // The environment a command uses when none is named: defaults.environment, else the only one.
  Result<const Environment*> pick(std::string_view name_or_empty) const;
};

// Parses YAML text; `source` names the file in error messages.
Result<Config> parse_config(std::string_view yaml, std::string_view source);

// Loads a file. Errc::not_found if it doesn't exist, invalid_argument if it doesn't parse.
Result<Config> load_config_file(const std::string& path);

// $DAGMEDIC_CONFIG, else ${XDG_CONFIG_HOME:-$HOME/.config}/dagmedic/config.yaml.
std::string default_config_path();

// `explicit_path` non-empty: that file must exist. Otherwise the default path; a missing default
// file yields an empty config with built-in defaults (not an error).
Result<Config> load_config(const std::string& explicit_path);

}  // namespace dm::config
