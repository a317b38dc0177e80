"""Airflow zoo DAG: a task prints credentials (AWS key pair, a password in a DB URI, a bearer token) before failing.

The values are fake; dagmedic must redact them from every log it shows.
"""

from zoo_lib import DAG, FAKE_AWS_KEY_ID, FAKE_AWS_SECRET, FAKE_BEARER, FAKE_DB_URI, dag_kwargs, task

with DAG("zoo_leaky_log", **dag_kwargs(["tier=2", "team=platform"])):

    @task
    def upload_report():
        print(f"using AWS credentials aws_access_key_id={FAKE_AWS_KEY_ID} aws_secret_access_key={FAKE_AWS_SECRET}")
        print(f"source database: {FAKE_DB_URI}")
        print(f"calling reporting API with header Authorization: Bearer {FAKE_BEARER}")
        raise RuntimeError("S3 PutObject to s3://reports-bucket/daily.csv failed: AccessDenied")

    upload_report()
