"""Signing in to the course's hub through the three set-ups of deploy/jupyterhub/README.md, for real on loopback
(`make test-hub`): deploy/jupyterhub/jupyterhub_config.py as shipped with ALLIES_HUB_AUTH=oidc, =lti and
=native, only the spawner the test's (bench/hubs.py).

- The organisation's single sign-on: node-oidc-provider (npm, tests/helpers/oidc_provider.mjs) is the identity
  provider, oauthenticator's GenericOAuthenticator the hub's side. People sign in on the provider's own page in
  headless Chromium; its `groups` claim decides who may enter (the cohort's directory group) and who is an
  instructor (the instructors' directory group, or a name in ALLIES_HUB_INSTRUCTORS: their server opens on the
  formgrader).
- LTI 1.3 from an LMS: a platform on loopback stands in for the LMS (tests/helpers/lti_platform.py, with the
  `lti1p3platform` library), jupyterhub-ltiauthenticator the hub's side. A course link in the LMS starts the
  third-party-initiated login; the id_token the platform posts back names the learner (`sub`). A token changed
  after signing, or signed with a key the platform's JWKS does not hold, is refused.
- A small cohort: JupyterHub's NativeAuthenticator. People sign up on the hub's own page; an admin
  (ALLIES_HUB_ADMINS) approves each before they may sign in; a wrong password is refused. With a roster
  (ALLIES_HUB_ROSTER), someone not on it cannot sign up.
"""
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from conftest import ROOT
from playwright.sync_api import expect
from test_cohort_answers import MODULE
from test_hub import SPAWN, status_of

from bench.hubs import DEPLOY, Hub, free_port
from course.contract import COURSE_ID

HELPERS = ROOT / "tests" / "helpers"
CLIENT = {"client_id": "allies-hub", "client_secret": "a secret the hub and the provider share"}
COHORT_GROUP, INSTRUCTORS_GROUP = "allies-cohort-1", "allies-instructors"
# ivan is an instructor by name (ALLIES_HUB_INSTRUCTORS), not by the directory's group
PEOPLE = {"ana": [COHORT_GROUP, "engineering"], "ines": [INSTRUCTORS_GROUP], "ivan": [COHORT_GROUP],
          "olga": ["engineering"]}
LANDED = re.compile(r"/user/[^/]+/(voila/tree/modules|formgrader)")  # where a signed-in person's server opens


def serve(command: list[str], url: str, log: Path, env: dict | None = None, timeout: float = 60) -> subprocess.Popen:
    """Start a server of the test's and wait until `url` answers."""
    proc = subprocess.Popen(command, stdout=open(log, "a"), stderr=subprocess.STDOUT, env=env)
    deadline = time.monotonic() + timeout
    while True:
        assert proc.poll() is None, log.read_text()
        try:
            if httpx.get(url, timeout=5).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.2)


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


def signed_in(context, hub: Hub) -> bool:
    """Whether the hub knows this browser: its home page, or a redirect to sign in."""
    return context.request.get(f"{hub.url}/hub/home", max_redirects=0, fail_on_status_code=False).status == 200


@pytest.fixture(scope="module")
def oidc_hub(tmp_path_factory):
    """The hub signing people in through an OpenID Connect provider, with the directory's groups."""
    folder = tmp_path_factory.mktemp("oidc")
    hub = Hub(folder, ["ana"], ["ines", "ivan"], auth="oidc")
    issuer = f"http://127.0.0.1:{free_port()}"
    callback = f"{hub.url}/hub/oauth_callback"
    setup = {"issuer": issuer, "port": int(issuer.rsplit(":", 1)[1]), "people": PEOPLE,
             "client": {**CLIENT, "redirect_uris": [callback]}}
    provider = serve(["node", str(HELPERS / "oidc_provider.mjs"), json.dumps(setup)],
                     f"{issuer}/.well-known/openid-configuration", folder / "provider.log",
                     {**os.environ, "OIDC_PROVIDER_MODULE": str(DEPLOY / "node_modules/oidc-provider/lib/index.js")})
    discovery = httpx.get(f"{issuer}/.well-known/openid-configuration").json()
    hub.env = {"OIDC_CLIENT_ID": CLIENT["client_id"], "OIDC_CLIENT_SECRET": CLIENT["client_secret"],
               "OIDC_CALLBACK_URL": callback, "OIDC_AUTHORIZE_URL": discovery["authorization_endpoint"],
               "OIDC_TOKEN_URL": discovery["token_endpoint"], "OIDC_USERINFO_URL": discovery["userinfo_endpoint"],
               "OIDC_ALLOWED_GROUPS": COHORT_GROUP, "OIDC_INSTRUCTOR_GROUPS": INSTRUCTORS_GROUP,
               "ALLIES_HUB_INSTRUCTORS": "ivan"}
    try:
        hub.init_course([MODULE])
        yield hub.start()
    finally:
        if hub.proc:
            hub.stop()
        stop(provider)


def through_the_provider(page, hub: Hub, user: str):
    """The hub's sign-in page, its button to the organisation's sign-in, the provider's sign-in and consent
    pages; returns the hub's answer to the provider's redirect back."""
    page.goto(f"{hub.url}/hub/login")
    page.get_by_role("button", name=re.compile("Sign in with")).click()
    page.fill("input[name=login]", user)
    page.fill("input[name=password]", "whatever the directory checks")
    page.get_by_role("button", name="Sign-in").click()
    with page.expect_response(lambda r: "/hub/oauth_callback" in r.url) as back:
        page.get_by_role("button", name="Continue").click()
    return back.value


def test_single_sign_on_lets_in_the_cohort_and_makes_instructors_from_the_directory_group(oidc_hub, browser):
    contexts = {user: browser.new_context() for user in PEOPLE}
    try:
        # A learner of the cohort's group lands on their own course index.
        ana = contexts["ana"].new_page()
        through_the_provider(ana, oidc_hub, "ana")
        ana.wait_for_url(LANDED, timeout=SPAWN)
        assert ana.url == f"{oidc_hub.url}/user/ana/voila/tree/modules"
        expect(ana.locator(f"li[data-module='{MODULE}.ipynb'] a")).to_have_attribute(
            "href", f"/user/ana/voila/render/modules/{MODULE}.ipynb")

        # A member of the directory's instructors' group: their server opens on the formgrader.
        ines = contexts["ines"].new_page()
        through_the_provider(ines, oidc_hub, "ines")
        ines.wait_for_url(LANDED, timeout=SPAWN)
        assert ines.url.startswith(f"{oidc_hub.url}/user/ines/formgrader")
        status, body = status_of(contexts["ines"], f"{oidc_hub.url}/user/ines/formgrader/api/assignments")
        assert status == 200 and MODULE in body
        # An instructor named in the hub's own setting, in the cohort's group but not the instructors': the same.
        ivan = contexts["ivan"].new_page()
        through_the_provider(ivan, oidc_hub, "ivan")
        ivan.wait_for_url(LANDED, timeout=SPAWN)
        assert ivan.url.startswith(f"{oidc_hub.url}/user/ivan/formgrader")

        # The learner reaches neither the instructor's formgrader nor one of their own.
        for url in ["/user/ines/formgrader", "/user/ines/formgrader/gradebook", f"/user/ines/api/contents/{COURSE_ID}"]:
            assert status_of(contexts["ana"], oidc_hub.url + url)[0] == 403, url
        assert status_of(contexts["ana"], f"{oidc_hub.url}/user/ana/formgrader")[0] == 404

        # Someone the directory knows, but not in the cohort's group, is not let in.
        olga = contexts["olga"].new_page()
        assert through_the_provider(olga, oidc_hub, "olga").status == 403
        assert not signed_in(contexts["olga"], oidc_hub) and signed_in(contexts["ana"], oidc_hub)
    finally:
        for context in contexts.values():
            context.close()


LTI_LEARNER = "a6d5c443-ana"  # an LMS's `sub`: opaque, stable, the hub's user name


@pytest.fixture(scope="module")
def lti_hub(tmp_path_factory):
    """The hub as an LTI 1.3 tool of a platform on loopback (the LMS's stand-in)."""
    folder = tmp_path_factory.mktemp("lti")
    hub = Hub(folder, [LTI_LEARNER], [], auth="lti")
    platform_url = f"http://127.0.0.1:{free_port()}"
    setup = {"port": int(platform_url.rsplit(":", 1)[1]), "issuer": platform_url, "client_id": "allies-hub-lti",
             "deployment_id": "allies-deployment-1", "login_url": f"{hub.url}/hub/lti13/oauth_login",
             "redirect_url": f"{hub.url}/hub/lti13/oauth_callback", "target_link": f"{hub.url}/hub"}
    platform = serve([sys.executable, str(HELPERS / "lti_platform.py"), json.dumps(setup)], f"{platform_url}/jwks",
                     folder / "platform.log")
    hub.env = {"LTI13_ISSUER": platform_url, "LTI13_CLIENT_ID": setup["client_id"],
               "LTI13_AUTHORIZE_URL": f"{platform_url}/auth", "LTI13_JWKS_URL": f"{platform_url}/jwks"}
    hub.platform = platform_url
    try:
        yield hub.start()
    finally:
        if hub.proc:
            hub.stop()
        stop(platform)


def launch(context, hub: Hub, sub: str, token: str = ""):
    """The learner follows the course's link in their LMS course; returns the page and the hub's answer to
    the platform's posted id_token."""
    page = context.new_page()
    with page.expect_response(lambda r: "/hub/lti13/oauth_callback" in r.url) as callback:
        page.goto(f"{hub.platform}/launch?sub={sub}&name=Ana" + (f"&token={token}" if token else ""))
    return page, callback.value


def test_lti_launch_signs_the_learner_in_by_their_sub(lti_hub, browser):
    context = browser.new_context()
    try:
        page, callback = launch(context, lti_hub, LTI_LEARNER)
        assert callback.status == 302
        page.wait_for_url(LANDED, timeout=SPAWN)
        assert page.url == f"{lti_hub.url}/user/{LTI_LEARNER}/voila/tree/modules"
        expect(page.locator("li[data-module]")).to_have_count(len(list((ROOT / "modules").glob("0*.ipynb"))))
    finally:
        context.close()


@pytest.mark.parametrize("token", ["tampered", "foreign-key"])
def test_lti_launch_with_a_token_not_signed_by_the_platform_is_refused(lti_hub, browser, token):
    context = browser.new_context()
    try:
        page, callback = launch(context, lti_hub, "b7e1f2aa-ben", token)
        assert callback.status == 400 and "Signature verification failed" in callback.text()
        assert not signed_in(context, lti_hub)
        assert "/user/" not in page.url
    finally:
        context.close()


ADMIN, LEARNER, STRANGER = "adele", "lena", "olga"
PASSWORDS = {ADMIN: "the admin's own long password", LEARNER: "lena's own long password",
             STRANGER: "olga's own long password"}


@pytest.fixture(scope="module", params=["approval", "roster"])
def native_hub(request, tmp_path_factory):
    """The hub with people's own passwords (NativeAuthenticator): anyone may sign up, or, with a roster, its
    people only; an admin approves each."""
    folder = tmp_path_factory.mktemp(f"native-{request.param}")
    hub = Hub(folder, [LEARNER, ADMIN], [], auth="native", env={"ALLIES_HUB_ADMINS": ADMIN})
    hub.rostered = request.param == "roster"
    if hub.rostered:
        roster = folder / "roster.csv"
        roster.write_text(f"learner_id,display_name,role\n{LEARNER},Lena,learner\n", encoding="utf-8")
        hub.env["ALLIES_HUB_ROSTER"] = str(roster)
    try:
        yield hub.start()
    finally:
        if hub.proc:
            hub.stop()


def sign_up(context, hub: Hub, user: str) -> str:
    """The hub's sign-up page, filled in; returns what it says."""
    page = context.new_page()
    page.goto(f"{hub.url}/hub/signup")
    page.fill("#username_input", user)
    page.fill("#password_input", PASSWORDS[user])
    page.fill("#password_confirmation_input", PASSWORDS[user])
    page.click("#signup_submit")
    said = page.locator("[role=alert]").inner_text()
    page.close()
    return said.strip()


def with_password(context, hub: Hub, user: str, password: str, then: str = ""):
    """The hub's sign-in page, filled in and sent (to go on to `then`); returns the page."""
    page = context.new_page()
    page.goto(f"{hub.url}/hub/login" + (f"?next={then}" if then else ""))
    page.fill("#username_input", user)
    page.fill("#password_input", password)
    page.click("#login_submit")
    return page


def test_small_cohort_signs_up_and_an_admin_approves_each(native_hub, browser):
    hub = native_hub
    contexts = {user: browser.new_context() for user in PASSWORDS}
    try:
        # The admin signs up (approved already: an admin of ALLIES_HUB_ADMINS), lands on their own course index
        # and opens the sign-ups to approve.
        assert sign_up(contexts[ADMIN], hub, ADMIN).startswith("The signup was successful")
        admin = with_password(contexts[ADMIN], hub, ADMIN, PASSWORDS[ADMIN])
        admin.wait_for_url(LANDED, timeout=SPAWN)
        admin.goto(f"{hub.url}/hub/authorize")

        # A learner signs up, and may not sign in until the admin approves them.
        assert sign_up(contexts[LEARNER], hub, LEARNER) == "Your information has been sent to the admin."
        page = with_password(contexts[LEARNER], hub, LEARNER, PASSWORDS[LEARNER])
        expect(page.locator("#login-main")).to_contain_text("has not been authorized by an administrator yet")
        assert not signed_in(contexts[LEARNER], hub)
        # Only the admins' own page approves or discards: a link (a GET) is refused, and so is a POST from any
        # other page (no _xsrf token). NativeAuthenticator approved on a GET, so any page an admin opened could.
        for change in ("authorize", "discard"):
            assert status_of(contexts[ADMIN], f"{hub.url}/hub/{change}/{LEARNER}")[0] == 405, change
            forged = contexts[ADMIN].request.post(f"{hub.url}/hub/{change}/{LEARNER}", max_redirects=0,
                                                  fail_on_status_code=False, headers={"Origin": "https://elsewhere.example"})
            assert forged.status == 403 and "&#39;_xsrf&#39; argument missing" in forged.text(), (change, forged.status)
        page = with_password(contexts[LEARNER], hub, LEARNER, PASSWORDS[LEARNER])
        expect(page.locator("#login-main")).to_contain_text("has not been authorized by an administrator yet")
        admin.reload()  # the new sign-up is listed
        expect(admin.locator("tr", has_text=LEARNER).get_by_role("button", name="Discard", exact=True)).to_be_visible()
        admin.locator("tr", has_text=LEARNER).get_by_role("button", name="Authorize", exact=True).click()
        expect(admin.locator("tr", has_text=LEARNER).get_by_role("button", name="Unauthorize", exact=True)).to_be_visible()

        # A wrong password is refused; the learner's own lands on their course index, in their own server.
        page = with_password(contexts[LEARNER], hub, LEARNER, "not " + PASSWORDS[LEARNER])
        expect(page.locator("#login-main")).to_contain_text("Invalid username or password")
        assert not signed_in(contexts[LEARNER], hub)
        page = with_password(contexts[LEARNER], hub, LEARNER, PASSWORDS[LEARNER])
        page.wait_for_url(LANDED, timeout=SPAWN)
        assert page.url == f"{hub.url}/user/{LEARNER}/voila/tree/modules"
        expect(page.locator("li[data-module]")).to_have_count(len(list((ROOT / "modules").glob("0*.ipynb"))))
        # Nobody else's server, and not the admin's pages: the list of sign-ups, an approval.
        for url in [f"/user/{ADMIN}/voila/tree/modules", f"/user/{ADMIN}/api/contents", "/hub/authorize",
                    f"/hub/change-password/{ADMIN}"]:
            assert status_of(contexts[LEARNER], hub.url + url)[0] == 403, url
        home = contexts[LEARNER].request.get(f"{hub.url}/hub/home").text()
        token = re.search(r'xsrf_token: "([^"]+)"', home).group(1)  # the learner's own, as the hub's pages send it
        for change in ("authorize", "discard"):  # with the learner's own, valid token: still not theirs to do
            said = contexts[LEARNER].request.post(f"{hub.url}/hub/{change}/{STRANGER}", max_redirects=0,
                                                  fail_on_status_code=False, headers={"X-XSRFToken": token})
            assert said.status == 403 and "argument missing" not in said.text(), change  # (refused as a learner)
            assert "does not match" not in said.text(), change

        # Someone else signs up: with a roster, someone not on it is refused and never reaches the admin's list.
        said = sign_up(contexts[STRANGER], hub, STRANGER)
        if hub.rostered:
            assert said.startswith("Something went wrong")
            admin.reload()
            expect(admin.locator("table")).not_to_contain_text(STRANGER)
        else:
            assert said == "Your information has been sent to the admin."
        page = with_password(contexts[STRANGER], hub, STRANGER, PASSWORDS[STRANGER])
        expect(page.locator("#login-main")).to_contain_text("not been authorized" if not hub.rostered else "Invalid")
        assert not signed_in(contexts[STRANGER], hub)
    finally:
        for context in contexts.values():
            context.close()


def test_the_sign_ups_page_names_each_sign_up_exactly_in_its_forms():
    """A sign-up named `alice?x`, `alice#x` or `%61lice` (allowed without a roster) must not approve, discard or
    re-password `alice`: each name goes into its forms' addresses URL-encoded, and into the page escaped."""
    import jinja2

    from course.web import hub_signup

    env = jinja2.Environment(autoescape=True, loader=jinja2.ChoiceLoader([
        jinja2.FileSystemLoader(hub_signup.TEMPLATES),
        jinja2.DictLoader({"page.html": "{% block main %}{% endblock %}"})]))
    users = [type("Info", (), {"username": name, "is_authorized": approved, "has_2fa": False, "email": ""})
             for name, approved in (("alice?x", False), ("alice#x", True), ("%61lice", False), ('"><b>x', False))]
    page = env.get_template("authorization-area.html").render(users=users, base_url="/hub/", xsrf="t", ask_email=False)
    actions = re.findall(r'(?:action|href)="([^"]+)"', page)
    assert set(actions) == {f"/hub/{what}/{quoted}" for quoted in ("alice%3Fx", "alice%23x", "%2561lice", "%22%3E%3Cb%3Ex")
                            for what in ("change-password",)} | {
        "/hub/discard/alice%3Fx", "/hub/authorize/alice%3Fx", "/hub/authorize/alice%23x", "/hub/authorize/%2561lice",
        "/hub/discard/%2561lice", "/hub/authorize/%22%3E%3Cb%3Ex", "/hub/discard/%22%3E%3Cb%3Ex"}
    assert "<b>x" not in page and page.count('name="_xsrf" value="t"') == 7
