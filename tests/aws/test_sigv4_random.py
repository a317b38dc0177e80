"""Randomised cross-check of dm::aws::sign() (through aws-probe sign) against botocore's
SigV4Auth: 400 requests with random methods, paths (unicode, reserved, dot segments), query
strings (repeated keys, reserved and non-ASCII characters, empty values), headers (case,
repeated names, runs of whitespace), bodies, tokens, services and regions. Seeded, so a failure
is reproducible; the seed is in the test id."""
import base64
import datetime
import json
import random
from unittest import mock

import botocore.auth
import pytest
from botocore.auth import S3SigV4Auth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.utils import percent_encode, percent_encode_sequence

from conftest import run_probe

ALPHABET = "abcXYZ019-_.~ !$&'()*+,;=:@/?#[]%\"<>\\^`{|}äé€日本\u00a0"
SERVICES = ["airflow", "logs", "sts", "s3", "execute-api"]
REGIONS = ["us-east-1", "eu-west-1", "ap-southeast-2", "us-gov-west-1", "cn-north-1"]


def rand_text(rng, lo=0, hi=12):
    return "".join(rng.choice(ALPHABET) for _ in range(rng.randint(lo, hi)))


def make_case(rng):
    host = rng.choice(["abc.airflow.eu-west-1.amazonaws.com", "logs.us-east-1.amazonaws.com",
                       "127.0.0.1:5000", "localhost", "[::1]:9000", "Example.COM:443"])
    scheme = "http" if host.startswith(("127", "localhost", "[")) else "https"
    segs = [rand_text(rng, 1, 8) for _ in range(rng.randint(0, 4))]
    if rng.random() < 0.2:
        segs += [".", "..", ""]
    path = "/" + "/".join(percent_encode(s, safe="-_.~") if rng.random() < 0.7 else
                          s.replace("?", "").replace("#", "").replace("%", "") for s in segs)
    pairs = []
    for _ in range(rng.randint(0, 6)):
        k = rng.choice(["state", "a", "A", "b", rand_text(rng, 1, 5)])
        pairs.append((k, rand_text(rng, 0, 6)))
    url = f"{scheme}://{host}{path}"
    if pairs:
        url += "?" + percent_encode_sequence(pairs)
    headers = []
    for _ in range(rng.randint(0, 5)):
        name = rng.choice(["X-Custom", "x-custom", "Content-Type", "X-Amz-Target", "Accept",
                           "User-Agent", "X-Amz-Meta-" + rng.choice("abc")])
        value = "".join(rng.choice("ab c\t  d=;/,") for _ in range(rng.randint(0, 10)))
        headers.append([name, value])
    body = bytes(rng.getrandbits(8) for _ in range(rng.choice([0, 0, 1, 17, 1000, 70000])))
    return {
        "method": rng.choice(["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD"]),
        "url": url, "headers": headers, "body_b64": base64.b64encode(body).decode(),
        "access_key_id": "AKID" + str(rng.randint(0, 10**6)),
        "secret_access_key": rand_text(rng, 20, 40).encode("utf-8", "ignore").decode(),
        "session_token": rand_text(rng, 10, 60).replace("\u00a0", "") if rng.random() < 0.5 else "",
        "region": rng.choice(REGIONS), "service": rng.choice(SERVICES),
        "epoch": rng.randint(946684800, 4102444800),
    }


def botocore_sign(c):
    when = datetime.datetime.fromtimestamp(c["epoch"], datetime.timezone.utc).replace(tzinfo=None)
    creds = Credentials(c["access_key_id"], c["secret_access_key"], c["session_token"] or None)
    cls = S3SigV4Auth if c["service"] == "s3" else SigV4Auth
    req = AWSRequest(method=c["method"], url=c["url"], data=base64.b64decode(c["body_b64"]))
    for k, v in c["headers"]:
        req.headers[k] = v
    with mock.patch.object(botocore.auth, "get_current_datetime", lambda: when):
        cls(creds, c["service"], c["region"]).add_auth(req)
    return [[k, v] for k, v in req.headers.items()]


@pytest.mark.parametrize("seed", range(8))
def test_random_requests_match_botocore(probe, seed):
    rng = random.Random(seed)
    cases = [make_case(rng) for _ in range(50)]
    got = run_probe(probe, "sign", {}, stdin=json.dumps(cases))
    assert len(got) == len(cases)
    for c, g in zip(cases, got):
        assert g["ok"], (c, g)
        want = botocore_sign(c)
        mine = [h for h in g["headers"]]
        if not any(k.lower() == "host" for k, _ in c["headers"]):
            assert mine[-1][0] == "Host"
            mine = mine[:-1]
        assert mine == want, json.dumps({"case": c, "canonical": g["canonical_request"]})
