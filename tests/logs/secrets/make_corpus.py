#!/usr/bin/env python3
"""Writes the planted-secrets corpus: NAME.log + NAME.secrets.tsv ("<marker-type>\t<secret>").

Deterministic (fixed seed); rerun after editing and commit the outputs. Every value below is a
fake generated here that matches the shape of the real credential, never a real one.
"""
import json
import os
import random
import string
import urllib.parse

R = random.Random(20260101)
HERE = os.path.dirname(os.path.abspath(__file__))
AL = string.ascii_letters + string.digits
UP = string.ascii_uppercase + "234567"
B64 = AL + "+/"
URLB64 = AL + "-_"
HEX = "0123456789abcdef"


def rnd(alphabet, n):
    return "".join(R.choice(alphabet) for _ in range(n))


def mixed(alphabet, n):
    """Random string that has upper, lower and digit characters (looks like a real token)."""
    while True:
        s = rnd(alphabet, n)
        if any(c.isupper() for c in s) and any(c.islower() for c in s) and any(c.isdigit() for c in s):
            return s


class Corpus:
    def __init__(self, name):
        self.name, self.lines, self.secrets = name, [], []

    def s(self, typ, value):
        self.secrets.append((typ, value))
        return value

    def add(self, line):
        self.lines.append(line)

    def write(self):
        with open(os.path.join(HERE, self.name + ".log"), "w", newline="") as f:
            f.write("\n".join(self.lines) + "\n")
        with open(os.path.join(HERE, self.name + ".secrets.tsv"), "w") as f:
            f.write("# planted secrets of %s.log: <marker-type>\\t<secret string>\n" % self.name)
            seen = set()
            for t, v in self.secrets:
                if (t, v) not in seen:
                    seen.add((t, v))
                    f.write("%s\t%s\n" % (t, v))


def a2(msg, src="taskinstance.py:1234", level="INFO", ts="2026-01-01, 03:04:05 UTC"):
    return "[%s] {%s} %s - %s" % (ts, src, level, msg)


def a3(event, level="info", **kw):
    d = {"timestamp": "2026-01-01T03:04:05.123456Z", "level": level, "event": event, "logger": "task"}
    d.update(kw)
    return json.dumps(d)


def fernet():
    return rnd(URLB64, 43) + "="


def aws_id(prefix="AKIA"):
    return prefix + rnd(UP, 16)


def aws_secret():
    return mixed(B64, 40)


def jwt():
    import base64
    h = base64.urlsafe_b64encode(b'{"alg":"HS256","typ":"JWT"}').decode().rstrip("=")
    p = base64.urlsafe_b64encode(json.dumps({"sub": "admin", "exp": R.randint(10**9, 2 * 10**9)}).encode()).decode().rstrip("=")
    return "%s.%s.%s" % (h, p, mixed(URLB64, 43))


def pem_body(lines=6):
    return [rnd(B64, 64) for _ in range(lines - 1)] + [rnd(B64, 30) + "=="]


# --------------------------------------------------------------------------- Airflow 2 text log
def airflow2():
    c = Corpus("airflow2_task")
    c.add(a2("Dependencies all met for dep_context=non-requeueable deps ti=<TaskInstance: etl.load manual__2026-01-01T03:00:00+00:00 [queued]>"))
    c.add(a2("Starting attempt 1 of 3"))
    c.add(a2("Executing <Task(BashOperator): load> on 2026-01-01 03:00:00+00:00"))
    k = c.s("aws-access-key-id", aws_id())
    sk = c.s("aws-secret-key", aws_secret())
    c.add(a2("export AWS_ACCESS_KEY_ID=%s" % k, "subprocess.py:93"))
    c.add(a2("export AWS_SECRET_ACCESS_KEY=%s" % sk, "subprocess.py:93"))
    st = c.s("aws-session-token", "IQoJb3JpZ2luX2VjE" + mixed(B64, 120))
    c.add(a2("export AWS_SESSION_TOKEN=%s" % st, "subprocess.py:93"))
    pw = c.s("airflow-connection", mixed(AL, 14))
    c.add(a2("AIRFLOW_CONN_WAREHOUSE=postgres://etl_user:%s@warehouse.internal:5432/dwh" % pw, "subprocess.py:93"))
    fk = c.s("fernet-key", fernet())
    c.add(a2("AIRFLOW__CORE__FERNET_KEY=%s" % fk, "subprocess.py:93"))
    wk = c.s("airflow-secret", mixed(AL, 32))
    c.add(a2("AIRFLOW__WEBSERVER__SECRET_KEY=%s" % wk, "subprocess.py:93"))
    c.add(a2("Airflow masks its own secrets: password=*** token=***", "subprocess.py:93"))
    pg = c.s("password", "Pg" + mixed(AL, 10) + "!")
    c.add(a2("Running command: PGPASSWORD=%s psql -h db -U etl -c 'select 1'" % pg, "subprocess.py:75"))
    mp = c.s("password", mixed(AL, 12))
    c.add(a2("Running command: mysqldump -h db.internal -u root -p%s shop > /tmp/dump.sql" % mp, "subprocess.py:75"))
    cli = c.s("password", mixed(AL, 16))
    c.add(a2("Running command: ['dbt', 'run', '--target', 'prod', '--password', '%s']" % cli, "subprocess.py:75"))
    c.add(a2("Running command: dbt run --profiles-dir /opt/dbt --db-password %s --threads 4" % cli, "subprocess.py:75"))
    bt = c.s("bearer-token", mixed(URLB64, 40))
    c.add(a2("GET https://api.vendor.example/v2/orders headers={'Authorization': 'Bearer %s'}" % bt, "http.py:177"))
    j = c.s("jwt", jwt())
    c.add(a2("Using token %s for the Airflow API" % j, "client.py:42"))
    c.add(a2("Task failed with exception", level="ERROR"))
    c.add("Traceback (most recent call last):")
    c.add('  File "/opt/airflow/dags/etl.py", line 42, in load')
    dbpw = c.s("password", "p@ss-" + mixed(AL, 9))
    c.add('    engine = create_engine(url, connect_args={"password": "%s"})' % dbpw)
    c.add('  File "/usr/local/lib/python3.11/site-packages/psycopg2/__init__.py", line 122, in connect')
    c.add("    conn = _connect(dsn, connection_factory=connection_factory, **kwasync)")
    upw = c.s("uri-password", mixed(AL, 11))
    c.add('psycopg2.OperationalError: connection to server at "db.internal" failed for dsn postgresql://etl:%s@db.internal:5432/dwh' % upw)
    c.add(a2("Marking task as FAILED. dag_id=etl, task_id=load, run_id=manual__2026-01-01T03:00:00+00:00", level="INFO"))
    # secret at line start and line end, repeated
    c.add("%s is the key id printed alone" % k)
    c.add("the secret printed last: aws_secret_access_key = %s" % sk)
    c.add("%s" % k)
    c.add(a2("retry with AWS_SECRET_ACCESS_KEY=%s again (repeated)" % sk, "subprocess.py:93"))
    c.write()


# --------------------------------------------------------------------------- Airflow 3 JSON events
def airflow3():
    c = Corpus("airflow3_events")
    c.add(a3("Task instance is in running state"))
    pw = c.s("password", mixed(AL, 15))
    conn = {"conn_type": "postgres", "host": "db", "login": "etl", "password": pw, "port": 5432}
    c.add(a3("Connection resolved: %s" % json.dumps(conn)))
    tok = c.s("token", mixed(URLB64, 48))
    c.add(a3("calling API", params={"token": tok, "page": 2}))
    k = c.s("aws-access-key-id", aws_id("ASIA"))
    sk = c.s("aws-secret-key", aws_secret())
    c.add(a3("boto3 session created", credentials={"AccessKeyId": k, "SecretAccessKey": sk}))
    gh = c.s("github-token", "ghp_" + mixed(AL, 36))
    c.add(a3("git clone https://x-access-token:%s@github.com/acme/dags.git" % gh))
    apikey = c.s("api-key", mixed(AL, 32))
    detail = [{"exc_type": "HTTPError", "exc_value": "401 Client Error: Unauthorized for url: https://api.example/v1/x?api_key=%s" % apikey,
               "frames": [{"filename": "/opt/airflow/dags/sync.py", "lineno": 17, "name": "sync"}]}]
    c.add(a3("Task failed with exception", level="error", error_detail=detail))
    fk = c.s("fernet-key", fernet())
    c.add(a3("Loaded config", fernet_key=fk))
    sl = c.s("slack-webhook", "T0%s/B0%s/%s" % (rnd(UP, 7), rnd(UP, 7), mixed(AL, 24)))
    c.add(a3("notify failure", url="https://hooks.slack.com/services/%s" % sl))
    jw = c.s("jwt", jwt())
    c.add(a3("request", headers={"Authorization": "Bearer %s" % jw}))
    c.add(a3("Airflow masked: {\"password\": \"***\"}"))
    ac = c.s("airflow-connection", mixed(AL, 12))
    c.add(a3("env", AIRFLOW_CONN_S3="aws://AKIDUMMY:%s@" % ac))
    c.write()


# --------------------------------------------------------------------------- config dumps, CLI, vendors
def config():
    c = Corpus("config_forms")
    v = c.s("password", mixed(AL, 12)); c.add("db_password=%s" % v)
    v = c.s("password", mixed(AL, 12)); c.add("password: %s" % v)
    v = c.s("password", mixed(AL, 12)); c.add('  password: "%s"' % v)
    v = c.s("password", mixed(AL, 12)); c.add("conn = connect(host='db', user='etl', password='%s')" % v)
    v = c.s("password", mixed(AL, 12)); c.add("{'login': 'etl', 'password': '%s', 'port': 5432}" % v)
    v = c.s("password", mixed(AL, 12)); c.add("sshpass -p %s ssh etl@host" % v)
    v = c.s("password", mixed(AL, 12)); c.add("Driver={ODBC Driver 18};Server=tcp:sql.example,1433;Uid=etl;Pwd=%s;Encrypt=yes;" % v)
    v = c.s("secret", mixed(AL, 24)); c.add("client_secret=%s" % v)
    v = c.s("secret", mixed(AL, 24)); c.add('{"client_id": "abc", "client_secret": "%s"}' % v)
    v = c.s("secret", mixed(AL, 24)); c.add("app --client-secret %s --verbose" % v)
    v = c.s("token", mixed(AL, 30)); c.add("refresh_token=%s&grant_type=refresh_token" % v)
    v = c.s("token", mixed(AL, 30)); c.add("--token %s" % v)
    v = c.s("api-key", mixed(AL, 32)); c.add("API_KEY=%s" % v)
    v = c.s("api-key", mixed(AL, 32)); c.add("x-api-key: %s" % v)
    v = c.s("api-key", mixed(AL, 32)); c.add("run --api-key %s" % v)
    v = c.s("url-encoded-secret", mixed(AL, 14)); c.add("GET /login?next=%%2Fhome%%3Fpassword%%3D%s%%26user%%3Detl HTTP/1.1" % v)
    v = mixed(AL, 10) + "@!"
    enc = urllib.parse.quote(v, safe="")
    c.s("uri-password", enc); c.add("redis://default:%s@cache.internal:6379/0" % enc)
    v = c.s("url-encoded-secret", mixed(AL, 20)); c.add("state=%%7B%%22token%%22%%3A%%22%s%%22%%7D" % v)
    v = c.s("basic-auth", mixed(AL, 12)); c.add("curl -u etl:%s https://example.com" % v)
    import base64
    b = c.s("basic-auth", base64.b64encode(("etl:" + mixed(AL, 10)).encode()).decode()); c.add("Authorization: Basic %s" % b)
    v = c.s("cookie", "session=" + mixed(AL, 32)); c.add("Cookie: %s" % v)
    # Azure
    v = c.s("azure-storage-key", mixed(B64, 86) + "=="); c.add("DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=%s;EndpointSuffix=core.windows.net" % v)
    v = c.s("azure-connection-string", mixed(B64, 43) + "="); c.add("Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=Root;SharedAccessKey=%s" % v)
    v = c.s("azure-sas", urllib.parse.quote(mixed(B64, 43) + "=", safe="")); c.add("https://acct.blob.core.windows.net/c/f.csv?sv=2022-11-02&se=2026-01-02&sp=r&sig=%s" % v)
    v = c.s("azure-secret", mixed(AL, 34)); c.add("AZURE_CLIENT_SECRET=%s" % v)
    v = c.s("azure-client-secret", rnd(AL, 3) + "8Q~" + mixed(AL, 31)); c.add("client credential %s used" % v)
    # Databricks / Snowflake
    v = c.s("databricks-token", "dapi" + rnd(HEX, 32)); c.add("databricks jobs run-now --token %s" % v)
    v = c.s("databricks-token", "dapi" + rnd(HEX, 32) + "-2"); c.add("DATABRICKS_HOST=https://x.cloud.databricks.com DATABRICKS_TOKEN=%s" % v)
    v = c.s("snowflake-password", mixed(AL, 13)); c.add("snowflake://etl:%s@acme-xy12345/analytics/public?warehouse=wh" % v)
    v = c.s("snowflake-password", mixed(AL, 13)); c.add("jdbc:snowflake://acme.snowflakecomputing.com/?user=etl&password=%s&db=analytics" % v)
    v = c.s("snowflake-password", mixed(AL, 13)); c.add("SNOWFLAKE_PASSWORD=%s" % v)
    # Airflow
    v = c.s("airflow-variable", mixed(AL, 20)); c.add("AIRFLOW_VAR_PARTNER_API_TOKEN=%s" % v)
    v = c.s("airflow-connection", mixed(AL, 20))
    c.add('AIRFLOW_CONN_SNOW=\'{"conn_type": "snowflake", "login": "etl", "password": "%s"}\'' % v)
    v = c.s("fernet-key", fernet()); c.add("Fernet key generated: b'%s'" % v)
    v = c.s("airflow-secret", mixed(AL, 40)); c.add("AIRFLOW__API_AUTH__JWT_SECRET=%s" % v)
    v = c.s("high-entropy-secret", mixed(B64, 40)); c.add("signing_salt = %s" % v)
    c.write()


def vendors():
    c = Corpus("vendor_tokens")
    toks = [
        ("github-token", "ghp_" + mixed(AL, 36)), ("github-token", "ghs_" + mixed(AL, 36)),
        ("github-token", "github_pat_" + mixed(AL, 22) + "_" + mixed(AL, 59)),
        ("gitlab-token", "glpat-" + mixed(URLB64, 20)), ("gitlab-token", "glrt-" + mixed(URLB64, 24)),
        ("gitlab-token", "GR1348941" + mixed(URLB64, 20)),
        ("slack-token", "xoxb-" + rnd(string.digits, 12) + "-" + rnd(string.digits, 12) + "-" + mixed(AL, 24)),
        ("slack-token", "xapp-1-A" + rnd(UP, 10) + "-" + rnd(string.digits, 13) + "-" + rnd(HEX, 64)),
        ("stripe-key", "sk_live_" + mixed(AL, 24)), ("stripe-key", "rk_test_" + mixed(AL, 24)),
        ("stripe-key", "whsec_" + mixed(AL, 32)),
        ("google-api-key", "AIza" + mixed(URLB64, 35)), ("google-oauth", "GOCSPX-" + mixed(URLB64, 28)),
        ("google-oauth", "ya29." + mixed(URLB64, 60)), ("google-oauth", "1//0" + mixed(URLB64, 40)),
        ("npm-token", "npm_" + mixed(AL, 36)), ("pypi-token", "pypi-AgEIcHlwaS5vcmc" + mixed(URLB64, 60)),
        ("sendgrid-key", "SG." + mixed(URLB64, 22) + "." + mixed(URLB64, 43)),
        ("twilio-key", "SK" + rnd(HEX, 32)), ("mailgun-key", "key-" + rnd(HEX, 32)),
        ("openai-key", "sk-proj-" + mixed(AL, 24) + "T3BlbkFJ" + mixed(AL, 24)),
        ("anthropic-key", "sk-ant-api03-" + mixed(URLB64, 93) + "AA"),
        ("vault-token", "hvs." + mixed(URLB64, 90)), ("docker-token", "dckr_pat_" + mixed(URLB64, 27)),
        ("shopify-token", "shpat_" + rnd(HEX, 32)), ("newrelic-key", "NRAK-" + rnd(UP + string.digits, 27)),
        ("sentry-token", "sntrys_" + mixed(AL, 60)),
        ("aws-session-token", "FwoGZXIvYXdzE" + mixed(B64, 100)),
    ]
    for i, (t, v) in enumerate(toks):
        c.s(t, v)
        form = i % 4
        if form == 0:
            c.add(a2("configured client with %s" % v, "hooks.py:%d" % (10 + i)))
        elif form == 1:
            c.add(a3("client ready", detail="value=%s;" % v))
        elif form == 2:
            c.add(v)
        else:
            c.add('    raise AuthError("rejected credential \'%s\'")' % v)
    v = c.s("sentry-dsn", rnd(HEX, 32)); c.add("SENTRY_DSN=https://%s@o123456.ingest.sentry.io/789" % v)
    v = c.s("datadog-key", rnd(HEX, 32)); c.add("DD_API_KEY=%s" % v)
    v = c.s("gcp-service-account", rnd(HEX, 40)); c.add('{"type": "service_account", "private_key_id": "%s", "client_email": "x@p.iam.gserviceaccount.com"}' % v)
    v = c.s("aws-signature", rnd(HEX, 64))
    c.add("GET https://b.s3.amazonaws.com/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date=20260101T000000Z&X-Amz-Expires=3600&X-Amz-Signature=%s" % v)
    c.write()


def pem():
    c = Corpus("pem_keys")
    c.add(a2("writing key file", "ssh.py:10"))
    for kind in ("RSA PRIVATE KEY", "OPENSSH PRIVATE KEY", "EC PRIVATE KEY", "PRIVATE KEY", "ENCRYPTED PRIVATE KEY"):
        c.add("-----BEGIN %s-----" % kind)
        for l in pem_body(R.randint(3, 9)):
            c.add(c.s("private-key", l))
        c.add("-----END %s-----" % kind)
    c.add("-----BEGIN PGP PRIVATE KEY BLOCK-----")
    c.add("")
    for l in pem_body(5):
        c.add(c.s("private-key", l))
    c.add("-----END PGP PRIVATE KEY BLOCK-----")
    body = pem_body(4)
    for l in body:
        c.s("api-key", l)  # a JSON "private_key": the api-key rule takes the whole value
    sa = {"type": "service_account", "private_key": "-----BEGIN PRIVATE KEY-----\n%s\n-----END PRIVATE KEY-----\n" % "\n".join(body)}
    c.add(a3("loaded service account", sa=json.dumps(sa)))
    c.add(a2("key written", "ssh.py:12"))
    c.write()


if __name__ == "__main__":
    airflow2(); airflow3(); config(); vendors(); pem()
