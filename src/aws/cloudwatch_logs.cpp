#include "aws/cloudwatch_logs.h"

#include <algorithm>
#include <deque>

#include "aws/mwaa.h"
#include "aws/sigv4.h"

namespace dm::aws {

using json = nlohmann::json;

namespace {

Result<LogEvent> parse_event(const json& e) {
  if (!e.is_object() || !e.contains("message") || !e["message"].is_string())
    return make_error(Errc::protocol, "CloudWatch Logs event without a message");
  LogEvent ev;
  ev.message = e["message"].get<std::string>();
  if (e.contains("timestamp") && e["timestamp"].is_number_integer())
    ev.timestamp = e["timestamp"].get<std::int64_t>();
  if (e.contains("logStreamName") && e["logStreamName"].is_string())
    ev.log_stream = e["logStreamName"].get<std::string>();
  return ev;
}

std::string str_field(const json& j, const char* k) {
  return j.contains(k) && j[k].is_string() ? j[k].get<std::string>() : std::string();
}

}  // namespace

CloudWatchLogsClient::CloudWatchLogsClient(CloudWatchLogsOptions o,
                                           std::shared_ptr<http::HttpClient> http,
                                           std::shared_ptr<CredentialsProvider> creds,
                                           std::shared_ptr<Clock> clock)
    : o_(std::move(o)), http_(std::move(http)), creds_(std::move(creds)), clock_(std::move(clock)) {
  while (!o_.endpoint.empty() && o_.endpoint.back() == '/') o_.endpoint.pop_back();
  if (o_.endpoint.empty()) o_.endpoint = "https://logs." + o_.region + ".amazonaws.com";
}

Result<json> CloudWatchLogsClient::call(const char* action, const json& body,
                                        const std::string& what) {
  auto delay = o_.base_delay;
  for (int attempt = 1;; ++attempt) {
    auto c = creds_->get();
    if (!c) return make_error(c.error().code, what + ": " + c.error().message);
    http::Request req;
    req.method = http::Method::post;
    req.url = o_.endpoint + "/";
    req.headers = {{"Content-Type", "application/x-amz-json-1.1"},
                   {"X-Amz-Target", std::string("Logs_20140328.") + action}};
    req.body = body.dump();
    req.timeout = o_.timeout;
    req.connect_timeout = o_.connect_timeout;
    req.idempotent = true;  // reads
    if (auto s = sign(req, *c, o_.region, "logs", clock_->now()); !s)
      return make_error(s.error().code, what + ": " + s.error().message);
    auto r = http_->send(req);
    bool retry = false;
    if (!r) {
      retry = r.error().code == Errc::unavailable || r.error().code == Errc::timeout;
      if (!retry || attempt >= o_.max_attempts)
        return make_error(r.error().code,
                          what + ": CloudWatch Logs at " + o_.endpoint + ": " + r.error().message);
    } else if (r->status >= 200 && r->status < 300) {
      json j = json::parse(r->body, nullptr, false);
      if (!j.is_object())
        return make_error(Errc::protocol, what + ": CloudWatch Logs sent a reply that is not JSON");
      return j;
    } else {
      AwsError e = parse_aws_error(*r);
      retry = is_throttling(e) || e.status >= 500;
      if (!retry || attempt >= o_.max_attempts) {
        Error err = aws_error(e, what, std::string("logs:") + action);
        if (retry) err.message += " (gave up after " + std::to_string(attempt) + " attempts)";
        return err;
      }
    }
    clock_->sleep_for(delay);
    delay = std::min(delay * 2, o_.max_delay);
  }
}

Result<GetLogEventsPage> CloudWatchLogsClient::get_log_events(const GetLogEventsRequest& r) {
  std::string what = "CloudWatch Logs GetLogEvents " + r.group + " / " + r.stream;
  if (r.group.empty() || r.stream.empty())
    return make_error(Errc::invalid_argument, what + ": log group and stream are required");
  json b{
      {"logGroupName", r.group}, {"logStreamName", r.stream}, {"startFromHead", r.start_from_head}};
  if (!r.next_token.empty()) b["nextToken"] = r.next_token;
  if (r.limit > 0) b["limit"] = r.limit;
  auto j = call("GetLogEvents", b, what);
  if (!j) return j.error();
  GetLogEventsPage p;
  if (j->contains("events") && (*j)["events"].is_array())
    for (const auto& e : (*j)["events"]) {
      auto ev = parse_event(e);
      if (!ev) return make_error(Errc::protocol, what + ": " + ev.error().message);
      p.events.push_back(std::move(*ev));
    }
  p.next_forward_token = str_field(*j, "nextForwardToken");
  p.next_backward_token = str_field(*j, "nextBackwardToken");
  return p;
}

Result<FilterLogEventsPage> CloudWatchLogsClient::filter_log_events(
    const FilterLogEventsRequest& r) {
  std::string what = "CloudWatch Logs FilterLogEvents " + r.group;
  if (r.group.empty()) return make_error(Errc::invalid_argument, what + ": log group is required");
  json b{{"logGroupName", r.group}};
  if (!r.streams.empty()) b["logStreamNames"] = r.streams;
  if (!r.stream_prefix.empty()) b["logStreamNamePrefix"] = r.stream_prefix;
  if (!r.pattern.empty()) b["filterPattern"] = r.pattern;
  if (r.start_ms) b["startTime"] = *r.start_ms;
  if (r.end_ms) b["endTime"] = *r.end_ms;
  if (!r.next_token.empty()) b["nextToken"] = r.next_token;
  if (r.limit > 0) b["limit"] = r.limit;
  auto j = call("FilterLogEvents", b, what);
  if (!j) return j.error();
  FilterLogEventsPage p;
  if (j->contains("events") && (*j)["events"].is_array())
    for (const auto& e : (*j)["events"]) {
      auto ev = parse_event(e);
      if (!ev) return make_error(Errc::protocol, what + ": " + ev.error().message);
      p.events.push_back(std::move(*ev));
    }
  p.next_token = str_field(*j, "nextToken");
  return p;
}

Status CloudWatchLogsClient::read_stream(const std::string& group, const std::string& stream,
                                         const EventSink& sink, std::size_t* pages) {
  GetLogEventsRequest r{group, stream, "", true, 0};
  for (int page = 0; page < o_.max_pages; ++page) {
    auto p = get_log_events(r);
    if (pages) ++*pages;
    if (!p) return p.error();
    for (const auto& e : p->events)
      if (!sink(e)) return Status::Ok();
    // The end of a stream: the same forward token comes back (pages may be empty before it).
    if (p->next_forward_token.empty() || p->next_forward_token == r.next_token) return Status::Ok();
    r.next_token = p->next_forward_token;
  }
  return make_error(Errc::protocol, "CloudWatch Logs GetLogEvents " + group + " / " + stream +
                                        ": no end after " + std::to_string(o_.max_pages) +
                                        " pages");
}

Result<std::vector<LogEvent>> CloudWatchLogsClient::tail(const std::string& group,
                                                         const std::string& stream,
                                                         std::size_t max_events) {
  std::deque<std::vector<LogEvent>> pages;  // newest page last
  std::size_t have = 0;
  GetLogEventsRequest r{group, stream, "", false, 0};
  for (int page = 0; page < o_.max_pages && have < max_events; ++page) {
    auto p = get_log_events(r);
    if (!p) return p.error();
    have += p->events.size();
    if (!p->events.empty()) pages.push_front(std::move(p->events));
    if (p->next_backward_token.empty() || p->next_backward_token == r.next_token) break;
    r.next_token = p->next_backward_token;
  }
  std::vector<LogEvent> out;
  out.reserve(std::min(have, max_events));
  std::size_t skip = have > max_events ? have - max_events : 0;
  for (auto& pg : pages)
    for (auto& e : pg) {
      if (skip) {
        --skip;
        continue;
      }
      out.push_back(std::move(e));
    }
  return out;
}

Result<bool> CloudWatchLogsClient::read_backward(const std::string& group,
                                                 const std::string& stream, const PageSink& page,
                                                 std::size_t* pages, int limit) {
  GetLogEventsRequest r{group, stream, "", false, limit};
  for (int n = 0; n < o_.max_pages; ++n) {
    auto p = get_log_events(r);
    if (pages) ++*pages;
    if (!p) return p.error();
    if (!p->events.empty() && !page(p->events)) return false;
    // The start of a stream: the same backward token comes back (pages may be empty before it).
    if (p->next_backward_token.empty() || p->next_backward_token == r.next_token) return true;
    r.next_token = p->next_backward_token;
  }
  return make_error(Errc::protocol, "CloudWatch Logs GetLogEvents " + group + " / " + stream +
                                        ": no start after " + std::to_string(o_.max_pages) +
                                        " pages back");
}

Status CloudWatchLogsClient::filter(FilterLogEventsRequest r, const EventSink& sink) {
  for (int page = 0; page < o_.max_pages; ++page) {
    auto p = filter_log_events(r);
    if (!p) return p.error();
    for (const auto& e : p->events)
      if (!sink(e)) return Status::Ok();
    if (p->next_token.empty() || p->next_token == r.next_token) return Status::Ok();
    r.next_token = p->next_token;
  }
  return make_error(Errc::protocol, "CloudWatch Logs FilterLogEvents " + r.group +
                                        ": no end after " + std::to_string(o_.max_pages) +
                                        " pages");
}

}  // namespace dm::aws
