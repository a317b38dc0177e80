#!/usr/bin/env python3
"""Writes SigV4 test vectors computed by botocore's own signer (SigV4Auth / S3SigV4Auth).

Each vector is a request (method, URL, headers, body), credentials, region, service and a fixed
time, plus what botocore produced: the request headers after add_auth() (in order), the Host value
it signed and its canonical request. src/aws/sigv4_vectors_test.cpp signs the same requests with
dm::aws::sign() and must match byte for byte.

URLs are built the way botocore builds them for real calls (path segments and query pairs
percent-encoded with botocore.utils.percent_encode / percent_encode_sequence), so the vectors are
requests botocore itself would send.

Usage: gen_vectors.py OUT.json   (dev/test.d/45-aws.sh regenerates them on every run)
"""
import base64
import datetime
import hashlib
import json
import sys
from unittest import mock

import botocore
import botocore.auth
from botocore.auth import S3SigV4Auth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.utils import percent_encode, percent_encode_sequence

AK = "AKIDEXAMPLE"
SK = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
TOKEN = "IQoJb3JpZ2luX2VjEXAMPLE//////////wEaCXVzLWVhc3QtMSJHMEUCIQ+token/with=chars"


def body_spec(body):
    """Small bodies inline (base64); big ones as a repeat rule to keep the file small."""
    if len(body) > 4096:
        unit = body[:1000]
        assert unit * (len(body) // len(unit)) + unit[: len(body) % len(unit)] == body
        return {"repeat_b64": base64.b64encode(unit).decode(), "size": len(body)}
    return {"b64": base64.b64encode(body).decode()}


def path_of(*segments):
    return "/" + "/".join(percent_encode(s, safe="-_.~") for s in segments)


def case(name, method, url, *, headers=(), body=b"", token=None, region="us-east-1",
         service="airflow", when="2026-11-26T01:25:10Z"):
    return dict(name=name, method=method, url=url, headers=[list(h) for h in headers], body=body,
                token=token, region=region, service=service, when=when)


def cases():
    mwaa = "https://abc123.airflow.eu-west-1.amazonaws.com"
    logs = "https://logs.eu-west-1.amazonaws.com/"
    sts = "https://sts.us-east-1.amazonaws.com/"
    invoke = json.dumps({"Path": "/dags/etl/dagRuns", "Method": "GET",
                         "QueryParameters": {"state": ["failed"]}}).encode()
    unit = bytes((i * 7 + 3) % 251 for i in range(1000))
    big = unit * 1048 + unit[:576]  # 1 MiB, all byte values but a few
    assert len(big) == 1048576
    yield case("mwaa_invoke_rest_api", "POST", mwaa + "/restapi/prod-env", body=invoke,
               headers=[("Content-Type", "application/json")], region="eu-west-1")
    yield case("mwaa_invoke_with_token", "POST", mwaa + "/restapi/prod-env", body=invoke,
               headers=[("Content-Type", "application/json")], token=TOKEN, region="eu-west-1")
    yield case("mwaa_clitoken", "POST", mwaa + "/clitoken/prod-env", region="eu-west-1")
    yield case("mwaa_get_environment", "GET",
               "https://airflow.eu-west-1.amazonaws.com/environments/prod-env", region="eu-west-1")
    yield case("logs_get_log_events", "POST", logs, service="logs", region="eu-west-1",
               headers=[("Content-Type", "application/x-amz-json-1.1"),
                        ("X-Amz-Target", "Logs_20140328.GetLogEvents")],
               body=json.dumps({"logGroupName": "airflow-prod-env-Task",
                                "logStreamName": "dag_id=etl/run_id=manual__2026-01-01T00_00_00+00_00/task_id=load/attempt=1.log",
                                "startFromHead": False}).encode())
    yield case("logs_filter_token_ap", "POST", logs.replace("eu-west-1", "ap-southeast-2"),
               service="logs", region="ap-southeast-2", token=TOKEN,
               headers=[("Content-Type", "application/x-amz-json-1.1"),
                        ("X-Amz-Target", "Logs_20140328.FilterLogEvents")],
               body=b'{"logGroupName":"airflow-x-Task","filterPattern":"ERROR"}')
    form = percent_encode_sequence([("Action", "AssumeRole"), ("Version", "2011-06-15"),
                                    ("RoleArn", "arn:aws:iam::123456789012:role/dagmedic"),
                                    ("RoleSessionName", "dagmedic-1")]).encode()
    yield case("sts_assume_role", "POST", sts, service="sts",
               headers=[("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")],
               body=form)
    yield case("sts_get_caller_identity_query", "GET",
               sts + "?" + percent_encode_sequence([("Version", "2011-06-15"),
                                                    ("Action", "GetCallerIdentity")]),
               service="sts", region="us-gov-west-1", token=TOKEN)
    yield case("query_reserved_and_repeated", "GET",
               mwaa + "/restapi/env?" + percent_encode_sequence(
                   [("state", "failed"), ("b", "x y+z/=&?"), ("state", "upstream_failed"),
                    ("a", ""), ("run_after_gte", "2026-01-01T00:00:00+00:00"), ("A", "1"),
                    ("~t", "ü€"), ("state", "Failed"), ("empty", "")]),
               region="eu-west-1")
    yield case("query_key_without_value", "GET", mwaa + "/restapi/env?flag&z=1&a", region="eu-west-1")
    yield case("query_unicode_keys", "GET",
               mwaa + "/x?" + percent_encode_sequence([("ключ", "значение"), ("k", "日本")]),
               region="eu-central-1")
    yield case("path_unicode_encoded", "GET",
               mwaa + path_of("restapi", "dägs", "日本語 run", "a:b+c"), region="eu-west-1")
    yield case("path_unicode_raw", "GET", mwaa + "/restapi/dägs/naïve/€", region="eu-west-1")
    yield case("path_dots_and_slashes", "GET", mwaa + "/a/./b/../c//d/", region="eu-west-1")
    yield case("path_reserved_raw", "GET", mwaa + "/a/b:c/d@e/f!g*h'(i)/$&,;=", region="eu-west-1")
    yield case("path_empty", "GET", "https://logs.us-east-1.amazonaws.com", service="logs")
    yield case("path_tilde_percent", "GET", mwaa + "/~user/100%25/a%2Fb", region="eu-west-1")
    yield case("empty_body_post", "POST", logs, service="logs", region="eu-west-1")
    yield case("body_1mib", "POST", mwaa + "/restapi/big", body=big, region="eu-west-1",
               headers=[("Content-Type", "application/octet-stream")], token=TOKEN)
    yield case("header_whitespace_folding", "POST", logs, service="logs", region="eu-west-1",
               headers=[("X-Amz-Target", "  Logs_20140328.GetLogEvents  "),
                        ("X-Custom", "a   b\t\tc  d"), ("x-custom-2", "\tleading and trailing\t "),
                        ("Content-Type", "application/x-amz-json-1.1")],
               body=b"{}")
    yield case("header_repeated", "GET", mwaa + "/r", region="eu-west-1",
               headers=[("X-Multi", "one"), ("X-Other", "o"), ("x-multi", " two  three "),
                        ("X-MULTI", "4")])
    yield case("header_unsigned_ones", "GET", mwaa + "/r", region="eu-west-1",
               headers=[("User-Agent", "dagmedic/0.1"), ("X-Amzn-Trace-Id", "Root=1-abc"),
                        ("Connection", "keep-alive"), ("Expect", "100-continue"),
                        ("Accept", "application/json")])
    yield case("header_existing_auth_and_date", "GET", mwaa + "/r", region="eu-west-1",
               headers=[("Authorization", "Bearer old"), ("X-Amz-Date", "20000101T000000Z"),
                        ("X-Amz-Security-Token", "stale")], token=TOKEN)
    yield case("header_existing_token_no_creds_token", "GET", mwaa + "/r", region="eu-west-1",
               headers=[("X-Amz-Security-Token", "caller-supplied")])
    yield case("header_date_present", "GET", mwaa + "/r", region="eu-west-1",
               headers=[("Date", "Mon, 01 Jan 2001 00:00:00 GMT"), ("X-Amz-Date", "x")])
    yield case("header_host_given", "GET", mwaa + "/r", region="eu-west-1",
               headers=[("Host", "Custom.Example.com:8443")])
    yield case("header_content_sha256_given", "POST", logs, service="logs", region="eu-west-1",
               headers=[("X-Amz-Content-SHA256", "UNSIGNED-PAYLOAD")], body=b"abc")
    yield case("localhost_port_moto", "POST", "http://127.0.0.1:5123/", service="sts",
               headers=[("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")],
               body=form)
    yield case("default_port_dropped", "GET", "https://LOGS.us-east-1.amazonaws.com:443/x",
               service="logs")
    yield case("http_port_80_dropped", "GET", "http://localhost:80/x?b=2&a=1", service="logs")
    yield case("ipv6_host", "GET", "http://[::1]:8080/p", service="sts")
    yield case("userinfo_ignored", "GET", "https://user:pw@example.com/p", service="sts")
    yield case("fragment_ignored", "GET", "https://example.com/p?a=1#frag", service="sts")
    yield case("put_delete_patch", "PUT", mwaa + "/r", body=b"data", region="eu-west-1")
    yield case("delete", "DELETE", mwaa + "/r?x=1", region="eu-west-1")
    yield case("patch", "PATCH", mwaa + "/r", body=b'{"a":1}', region="eu-west-1")
    yield case("head", "HEAD", mwaa + "/r", region="eu-west-1")
    yield case("date_leap_day_midnight", "GET", mwaa + "/r", region="eu-west-1",
               when="2028-02-29T00:00:00Z")
    yield case("date_new_year_eve", "GET", mwaa + "/r", region="cn-north-1",
               when="2026-12-31T23:59:59Z")
    yield case("s3_put_object", "PUT", "https://bucket.s3.eu-west-1.amazonaws.com/key/a b//c",
               service="s3", region="eu-west-1", body=b"hello", token=TOKEN)
    yield case("s3_get_encoded_key", "GET",
               "https://bucket.s3.amazonaws.com" + path_of("dir", "file name+x.txt") + "?versionId=3",
               service="s3")
    yield case("s3_existing_content_sha", "PUT", "https://bucket.s3.amazonaws.com/k", service="s3",
               headers=[("X-Amz-Content-SHA256", "stale")], body=b"")
    for svc in ("airflow", "logs", "sts"):
        for region in ("us-east-1", "eu-west-1", "ap-northeast-1", "sa-east-1"):
            yield case(f"matrix_{svc}_{region}", "POST",
                       f"https://{svc}.{region}.amazonaws.com/", service=svc, region=region,
                       body=f"{svc}-{region}".encode(),
                       token=TOKEN if region.startswith("eu") else None)


def sign(c):
    when = datetime.datetime.strptime(c["when"], "%Y-%m-%dT%H:%M:%SZ")
    creds = Credentials(AK, SK, c["token"])
    cls = S3SigV4Auth if c["service"] == "s3" else SigV4Auth
    auth = cls(creds, c["service"], c["region"])
    req = AWSRequest(method=c["method"], url=c["url"], data=c["body"])
    for k, v in c["headers"]:
        req.headers[k] = v  # HTTPHeaders appends, like dm::http::Headers
    with mock.patch.object(botocore.auth, "get_current_datetime", lambda: when):
        canonical = auth.canonical_request(_stamped(auth, req, when))
        auth.add_auth(req)
    host = auth.headers_to_sign(req)["host"]
    return {
        "name": c["name"], "method": c["method"], "url": c["url"],
        "headers": c["headers"], "body": body_spec(c["body"]),
        "access_key_id": AK, "secret_access_key": SK, "session_token": c["token"] or "",
        "region": c["region"], "service": c["service"],
        "epoch": int(when.replace(tzinfo=datetime.timezone.utc).timestamp()),
        "expected": {
            "headers": [[k, v] for k, v in req.headers.items()],
            "host": host,
            "canonical_request": canonical,
            "body_sha256": hashlib.sha256(c["body"]).hexdigest(),
        },
    }


def _stamped(auth, req, when):
    """A copy of `req` prepared as add_auth() prepares it, to read its canonical request."""
    copy = AWSRequest(method=req.method, url=req.url, data=req.data)
    for k, v in req.headers.items():
        copy.headers[k] = v
    copy.context["timestamp"] = when.strftime(botocore.auth.SIGV4_TIMESTAMP)
    auth._modify_request_before_signing(copy)
    return copy


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "-"
    vectors = {"generator": "botocore " + botocore.__version__, "vectors": [sign(c) for c in cases()]}
    text = json.dumps(vectors, indent=1, ensure_ascii=False) + "\n"
    if out == "-":
        sys.stdout.write(text)
    else:
        with open(out, "w", encoding="utf-8") as f:
            f.write(text)
    print(f"{len(vectors['vectors'])} vectors from botocore {botocore.__version__}", file=sys.stderr)


if __name__ == "__main__":
    main()
