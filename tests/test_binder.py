"""Binder: binder/postBuild builds the page front end in a fresh copy of the repository, and a Jupyter server
started through binder/start (as repo2docker starts it) opens on the course index with the course's template,
its pages saying that answers last only as long as the session."""
import os
import shutil
import subprocess
import sys
import time

import httpx
import pytest
from conftest import ROOT, free_port

from course.web.site import FRONT_END


@pytest.fixture(scope="module")
def copy(tmp_path_factory):
    """The repository as Binder clones it: tracked files and new ones, nothing git ignores (no built page)."""
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, check=True,
                            capture_output=True).stdout.decode().split("\0")
    repo = tmp_path_factory.mktemp("binder") / "repo"
    for name in filter(None, listed):
        source, target = ROOT / name, repo / name
        if not (source.exists() or source.is_symlink()):
            continue  # deleted in the work tree, not yet in git
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_symlink():
            target.symlink_to(os.readlink(source))
        else:
            shutil.copy2(source, target)
    return repo


def test_postbuild_builds_the_page_and_the_server_opens_on_the_course_index(copy, tmp_path):
    static = copy / "course" / "jupyter" / "voila" / "templates" / "allies"
    assert not (static / FRONT_END[0]).exists()
    done = subprocess.run([str(copy / "binder" / "postBuild")], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (static / FRONT_END[0]).stat().st_size > 100_000
    assert (copy / "binder" / "environment.yml").resolve() == (copy / "environment.yml").resolve()

    port, token = free_port(), "binder-test-token"
    home = tmp_path / "home"
    home.mkdir()
    env = {**os.environ, "HOME": str(home)}
    server = subprocess.Popen(
        [str(copy / "binder" / "start"), sys.executable, "-m", "jupyter", "server", f"--port={port}",
         "--no-browser", f"--IdentityProvider.token={token}", "--ServerApp.ip=127.0.0.1",
         *(["--allow-root"] if os.geteuid() == 0 else [])],
        cwd=copy, env=env, stdout=open(tmp_path / "server.log", "w"), stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while True:
            assert server.poll() is None, (tmp_path / "server.log").read_text()
            try:
                index = httpx.get(f"{url}/voila/tree/modules?token={token}", timeout=10)
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, (tmp_path / "server.log").read_text()
                time.sleep(0.5)
        assert index.status_code == 200
        assert 'class="allies-modules"' in index.text  # the course's index, not Voilà's stock tree
        assert '/voila/render/modules/01-why-men-why-now.ipynb"' in index.text
        page = httpx.get(f"{url}/voila/templates/allies/{FRONT_END[0]}?token={token}", timeout=10)
        assert page.status_code == 200 and page.content == (static / FRONT_END[0]).read_bytes()
        # A Binder session is deleted once left unused: the pages say the answers go with it, and how to keep them.
        orientation = httpx.get(f"{url}/voila/render/modules/00-before-you-start.ipynb?token={token}", timeout=300)
        assert orientation.status_code == 200
        for said in ("deleted with it when the session ends", "for this Binder session only",
                     "deleted when this Binder session ends"):
            assert said in orientation.text, said
        assert "on this computer" not in orientation.text and "on your computer" not in orientation.text
    finally:
        server.terminate()
        server.wait(30)
