"""The course website (`python -m course serve`): modules/ only, usable from the keyboard, nothing off-site."""
import json
import re
import shutil
from urllib.parse import urlparse

import pytest
from playwright.sync_api import expect

from course import release
from course.paths import folder
from conftest import Server, get as _get

MODULE_1 = "01-why-men-why-now.ipynb"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A real `python -m course serve` on a free port, for this file's tests."""
    folder = tmp_path_factory.mktemp("site")
    running = Server(["serve", "--no-browser", "--instance", str(folder / "instance")], folder / "voila.log")
    running.start()
    yield running.port
    running.stop()


@pytest.fixture(scope="module")
def module_page(server, browser):
    """Module 1 opened from the index in headless Chromium, widgets drawn; records every request."""
    context = browser.new_context()
    page = context.new_page()
    page.requests, page.errors = [], []
    page.on("request", lambda request: page.requests.append(request.url))
    page.on("websocket", lambda ws: page.requests.append(ws.url))
    page.on("console", lambda message: message.type == "error" and page.errors.append(message.text))
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    page.goto(f"http://127.0.0.1:{server}/")
    page.get_by_role("link", name=release.title(folder("modules") / MODULE_1)).click()
    page.wait_for_url(f"**/voila/render/{MODULE_1}")
    page.wait_for_selector(".allies-explorer img", timeout=45_000)
    yield page
    context.close()


def test_index_lists_every_module_in_order_with_its_title(server):
    status, body = _get(server, "/")
    assert status == 200 and "<main>" in body and "<h1>" in body
    expected = sorted(folder("modules").glob("[0-9][0-9]-*.ipynb"))
    assert [nb.name[:2] for nb in expected] == ["00", "01", "02", "03", "04", "05", "06"], "the whole course"
    links = [f'<a href="/voila/render/{nb.name}">{release.title(nb)}</a>' for nb in expected]
    assert all(link in body for link in links), body
    assert [body.index(link) for link in links] == sorted(body.index(link) for link in links)
    assert "Before you start" in release.title(expected[0]) and "Module 1" in release.title(expected[1])
    assert "Sign out" not in body  # nobody signs in to the public site


def test_module_page_is_titled_and_links_back(module_page):
    assert module_page.title() == release.title(folder("modules") / MODULE_1)
    assert module_page.get_attribute("html", "lang") == "en"
    expect(module_page.get_by_role("link", name="← All modules")).to_be_visible()


def test_year_slider_works_from_the_keyboard(module_page):
    explorer = module_page.locator(".allies-explorer", has=module_page.locator(".noUi-handle")).first
    image, reading = explorer.locator("figure img"), explorer.locator("p[aria-live]")
    before_src, before_text = image.get_attribute("src"), reading.inner_text()
    handle = explorer.locator(".noUi-handle")
    handle.focus()
    assert module_page.evaluate("getComputedStyle(document.activeElement).outlineStyle") != "none"
    module_page.keyboard.press("ArrowLeft")
    expect(image).not_to_have_attribute("src", before_src)
    expect(reading).not_to_have_text(before_text)


def test_choice_buttons_redraw_their_chart(module_page):
    explorer = module_page.locator(".allies-explorer", has=module_page.locator(".widget-toggle-buttons")).first
    image = explorer.locator("figure img")
    before_src = image.get_attribute("src")
    explorer.locator(".widget-toggle-button").nth(1).click()
    expect(image).not_to_have_attribute("src", before_src)


def test_page_fetches_nothing_from_other_hosts(module_page):
    module_page.wait_for_load_state("networkidle")
    remote = [url for url in module_page.requests
              if urlparse(url).scheme in ("http", "https", "ws", "wss") and urlparse(url).hostname != "127.0.0.1"]
    assert module_page.requests and not remote


def test_page_runs_the_course_front_end_not_voilas_application(module_page):
    """One cached bundle (frontend/) renders the outputs and talks to the kernel; Voilà's JupyterLab
    application and its extensions are never fetched. The index page prefetched the same bundle."""
    expect(module_page.locator("body")).to_have_attribute("data-allies-page", "ready")
    paths = [urlparse(url).path for url in module_page.requests]
    assert not [p for p in paths if p.startswith(("/voila/static/", "/voila/labextensions/"))], paths
    bundle = [i for i, url in enumerate(module_page.requests) if "/allies/static/page.js?v=" in url]
    render = [i for i, path in enumerate(paths) if path == f"/voila/render/{MODULE_1}"]
    assert bundle and render and bundle[0] < render[0], "the index page prefetches the bundle"
    assert sum(p.endswith("/channels") for p in paths) == 1, "one websocket: the page's own kernel"
    assert module_page.errors == []
    assert module_page.locator("script[type='application/vnd.voila.cell-output+json']").count() == 0


def test_the_front_end_is_cached_for_good_under_a_versioned_url(server):
    import urllib.request

    _, index = _get(server, "/")
    url = re.search(r'href="(/voila/templates/allies/static/page\.js\?v=[0-9a-f]+)"', index).group(1)
    with urllib.request.urlopen(f"http://127.0.0.1:{server}{url}") as response:
        assert response.headers["Cache-Control"] == "max-age=315360000"
        assert b"jupyter.widget" in response.read()


def test_the_url_cannot_switch_back_to_the_stock_template(server):
    status, body = _get(server, f"/voila/render/{MODULE_1}?template=lab")
    assert status == 200 and "allies-nav" in body and "cdn.jsdelivr.net" not in body


def test_answer_stubs_are_hidden_and_every_image_has_alt_text(module_page):
    text = module_page.inner_text("body")
    assert "YOUR ANSWER" not in text and "Write your reflection here" not in text
    alts = module_page.eval_on_selector_all("img", "images => images.map(i => i.getAttribute('alt'))")
    assert alts and all(alt and alt.strip() for alt in alts)


def _secrets() -> list[str]:
    """Text that exists only in solutions/: solution markers, hidden tests, exemplar answers."""
    cells = json.loads((folder("solutions") / MODULE_1).read_text(encoding="utf-8"))["cells"]
    exemplars = ["".join(c["source"])[:80] for c in cells
                 if c["cell_type"] == "markdown" and c["metadata"].get("nbgrader", {}).get("solution")]
    assert exemplars
    return ["BEGIN SOLUTION", "BEGIN HIDDEN TESTS", *exemplars]


def test_nothing_outside_modules_is_served(server):
    solution = folder("solutions") / MODULE_1
    paths = [f"/voila/render/../solutions/{MODULE_1}", f"/voila/render/%2e%2e/solutions/{MODULE_1}",
             f"/voila/render/%2E%2E%2Fsolutions%2F{MODULE_1}", f"/voila/files/../solutions/{MODULE_1}",
             f"/voila/files/%2e%2e/solutions/{MODULE_1}", f"/voila/api/contents/../solutions/{MODULE_1}",
             f"/voila/api/contents/%2e%2e/solutions/{MODULE_1}", "/voila/tree/solutions", "/voila/tree/..",
             f"/voila/render/{solution}", f"/voila/render/{str(solution).replace('/', '%2F')}",
             "/voila/files/../README.md", "/voila/api/contents/%2e%2e"]
    secrets = _secrets()
    for path in paths:
        status, body = _get(server, path)
        assert status in (403, 404), (path, status)
        assert not any(secret in body for secret in secrets), path


@pytest.mark.parametrize("name", [nb.name for nb in sorted(folder("modules").glob("[0-9][0-9]-*.ipynb"))])
def test_every_module_renders_as_an_app_and_its_first_explorer_responds(server, browser, name):
    context = browser.new_context()
    page = context.new_page()
    try:
        page.goto(f"http://127.0.0.1:{server}/voila/render/{name}")
        page.wait_for_selector(".allies-submit button", timeout=45_000)  # the last cell has run
        assert page.locator("text=There was an error").count() == 0
        assert page.locator(".jp-OutputArea-output pre:has-text('Traceback')").count() == 0
        assert page.eval_on_selector_all("img", "imgs => imgs.filter(i => !i.getAttribute('alt')).length") == 0
        charted = page.locator(".allies-explorer", has=page.locator("figure img"))
        if not charted.count():
            return
        explorer = charted.first
        image = explorer.locator("figure img")
        before = image.get_attribute("src")
        if explorer.locator(".noUi-handle").count():
            explorer.locator(".noUi-handle").first.focus()
            page.keyboard.press("ArrowLeft")
        elif explorer.locator(".widget-toggle-button").count():
            explorer.locator(".widget-toggle-button").nth(1).click()
        else:
            explorer.locator("select").first.focus()
            page.keyboard.press("ArrowDown")
        expect(image).not_to_have_attribute("src", before)
    finally:
        context.close()


def test_no_file_in_the_served_folder_is_sent_not_even_an_image(tmp_path, monkeypatch):
    """Stock Voilà sends images under its folder without sign-in; the course's pages need none."""
    modules = tmp_path / "modules"
    modules.mkdir()
    shutil.copy(folder("modules") / MODULE_1, modules / MODULE_1)
    (modules / "chart.png").write_bytes(b"\x89PNG\r\n\x1a\n canary-image")
    monkeypatch.setenv("ALLIES_MODULES_DIR", str(modules))
    running = Server(["serve", "--no-browser", "--instance", str(tmp_path / "instance"), "--pool-size", "0"],
                     tmp_path / "voila.log")
    running.start()
    try:
        for path in ("/voila/files/chart.png", f"/voila/files/{MODULE_1}", "/voila/files/CHART.PNG"):
            status, body = _get(running.port, path)
            assert status == 403 and "canary-image" not in body, path
    finally:
        running.stop()


def test_a_knowledge_check_says_right_or_wrong_and_why_at_once(module_page):
    """Self-paced learners get feedback as they answer (`course.keys`), with the hidden test's explanation."""
    from conftest import key_canaries

    status = module_page.locator(".allies-item-m01-q1 > .widget-html").first
    module_page.locator(".allies-item-m01-q1 input[type=radio][data-value^='(a)']").check()
    expect(status).to_contain_text("Not quite: the answer is (b), not (a).", timeout=15_000)
    expect(status).to_contain_text(key_canaries()["m01-q1"])
    module_page.locator(".allies-item-m01-q1 input[type=radio][data-value^='(b)']").check()
    expect(status).to_contain_text("Yes, (b) is right.", timeout=15_000)


def test_a_cell_that_runs_15_seconds_renders_without_a_page_error(tmp_path, monkeypatch, browser):
    """Voilà streams the page as its cells run and, after `http_keep_alive_timeout` (10 s) without output,
    sends `<script>window.voila_heartbeat()</script>` to keep proxies from closing the connection. The
    course's template must still define that function, or a module with a slow cell throws a page error."""
    import nbformat

    modules = tmp_path / "modules"
    modules.mkdir()
    notebook = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# A slow module"),
        nbformat.v4.new_code_cell("import time\ntime.sleep(15)\nprint('The slow cell has finished.')")])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, modules / "99-slow.ipynb")
    monkeypatch.setenv("ALLIES_MODULES_DIR", str(modules))
    running = Server(["serve", "--no-browser", "--instance", str(tmp_path / "instance"), "--pool-size", "0"],
                     tmp_path / "voila.log")
    running.start()
    context = browser.new_context()
    try:
        page = context.new_page()
        errors = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.on("console", lambda message: message.type == "error" and errors.append(message.text))
        page.goto(f"http://127.0.0.1:{running.port}/voila/render/99-slow.ipynb", timeout=120_000)
        expect(page.get_by_text("The slow cell has finished.")).to_be_visible(timeout=120_000)
        expect(page.locator("body")).to_have_attribute("data-allies-page", "ready", timeout=30_000)
        assert "window.voila_heartbeat()" in page.content(), "no heartbeat was sent: the test proved nothing"
        assert errors == []
    finally:
        context.close()
        running.stop()
