"""A real S3 API server for the object-storage tests: moto in server mode on 127.0.0.1.

The server runs in its own process on a free port, with moto's IAM authentication switched
on once the tests' user and key exist, so wrong credentials are refused as S3 refuses them.
The tests reach it through a small TCP proxy that counts the bytes the server sends, which
is how they prove what a command reads.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

BUCKET = "ckptctl-tests"
REGION = "us-east-1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class CountingProxy:
    """Forwards TCP connections to ``target`` and counts the bytes sent back to the client."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self._lock = threading.Lock()
        self._served = 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        self._stopped = False
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def served(self) -> int:
        with self._lock:
            return self._served

    def _accept(self) -> None:
        while not self._stopped:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            threading.Thread(target=self._pump, args=(client, upstream, False), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, True), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, counted: bool) -> None:
        try:
            while data := src.recv(1 << 16):
                if counted:
                    with self._lock:
                        self._served += len(data)
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                s.close()

    def close(self) -> None:
        self._stopped = True
        self._listener.close()


@dataclass
class S3Server:
    endpoint: str  # through the counting proxy
    key_id: str
    secret: str
    proxy: CountingProxy

    def env(self, **overrides: str) -> dict[str, str]:
        """The AWS variables a user of this store would set."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": self.key_id,
            "AWS_SECRET_ACCESS_KEY": self.secret,
            "AWS_DEFAULT_REGION": REGION,
            **overrides,
        }

    def client(self) -> Any:
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id=self.key_id,
            aws_secret_access_key=self.secret,
        )


def _wait_for(url: str, process: subprocess.Popen[bytes]) -> None:
    for _ in range(300):
        if process.poll() is not None:
            raise RuntimeError(f"moto_server exited with {process.returncode}")
        try:
            urllib.request.urlopen(f"{url}/moto-api/", timeout=2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"moto_server did not answer on {url}")


def _post(url: str, data: bytes) -> None:
    request = urllib.request.Request(
        url, data=data, method="POST", headers={"Content-Type": "text/plain"}
    )
    urllib.request.urlopen(request, timeout=10).close()


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """moto's S3 (and IAM) on 127.0.0.1, with authentication on, and a bucket to fill."""
    import boto3

    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    proxy = None
    try:
        direct = f"http://127.0.0.1:{port}"
        _wait_for(direct, process)
        bootstrap = {"endpoint_url": direct, "region_name": REGION}
        bootstrap |= {"aws_access_key_id": "bootstrap", "aws_secret_access_key": "bootstrap"}
        iam = boto3.client("iam", **bootstrap)
        iam.create_user(UserName="ckptctl-tests")
        allow_all = {"Effect": "Allow", "Action": "*", "Resource": "*"}
        policy = {"Version": "2012-10-17", "Statement": [allow_all]}
        iam.put_user_policy(
            UserName="ckptctl-tests", PolicyName="all", PolicyDocument=json.dumps(policy)
        )
        key = iam.create_access_key(UserName="ckptctl-tests")["AccessKey"]
        _post(f"{direct}/moto-api/reset-auth", b"0")  # from now on every request is checked
        proxy = CountingProxy(("127.0.0.1", port))
        server = S3Server(
            f"http://127.0.0.1:{proxy.port}", key["AccessKeyId"], key["SecretAccessKey"], proxy
        )
        server.client().create_bucket(Bucket=BUCKET)
        yield server
    finally:
        if proxy is not None:
            proxy.close()
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def s3_env(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> S3Server:
    """The test process pointed at the server, as a user would point the AWS tools at it:
    environment variables only, and no ~/.aws files of the machine's."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    for name, value in s3_server.env().items():
        monkeypatch.setenv(name, value)
    return s3_server


def upload(server: S3Server, local: Path, key: str) -> str:
    """Copy a file, or a directory's files, to ``s3://BUCKET/key``; returns that URL."""
    client = server.client()
    if local.is_file():
        client.upload_file(str(local), BUCKET, key)
    else:
        for f in sorted(local.rglob("*")):
            if f.is_file():
                client.upload_file(str(f), BUCKET, f"{key}/{f.relative_to(local).as_posix()}")
    return f"s3://{BUCKET}/{key}"
