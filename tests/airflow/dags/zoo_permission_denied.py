"""Airflow zoo DAG: an export script lost its executable bit -> PermissionError [Errno 13].

The rig runs as root on CI, and root reads a mode-000 file anyway; exec of a file without any x bit is refused
even to root, so this failure is the same for every user.
"""

import os
import subprocess

from zoo_lib import DAG, dag_kwargs, data_dir, task

with DAG("zoo_permission_denied", **dag_kwargs(["tier=2", "team=finance"])):

    @task
    def export_to_sftp():
        script = data_dir() / "bin" / "export_orders.sh"
        script.parent.mkdir(parents=True, exist_ok=True)
        script.write_text("#!/bin/sh\necho exporting\n")
        os.chmod(script, 0o644)  # deploy dropped the x bit
        print(f"running export script {script}")
        subprocess.run([str(script)], check=True)

    export_to_sftp()
