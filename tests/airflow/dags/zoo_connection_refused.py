"""Airflow zoo DAG: the warehouse database is down -> ConnectionRefusedError (like psycopg2 "Connection refused").

Connects to a loopback port nobody listens on (DM_ZOO_DB_PORT, default 1: binding it needs root, so nothing does).
"""

import os
import socket

from zoo_lib import DAG, dag_kwargs, task

with DAG("zoo_connection_refused", **dag_kwargs(["tier=1", "business_critical", "team=platform"])):

    @task
    def sync_to_warehouse():
        port = int(os.environ.get("DM_ZOO_DB_PORT", "1"))
        print(f'connecting to warehouse database at host "127.0.0.1", port {port}')
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass

    sync_to_warehouse()
