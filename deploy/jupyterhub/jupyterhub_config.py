# The Allies in Tech course on JupyterHub: one hub, one single-user server per learner (deploy/jupyterhub/README.md).
#
#   jupyterhub -f deploy/jupyterhub/jupyterhub_config.py
#
# Set with environment variables (defaults in brackets):
#   ALLIES_HUB_ROOT          the hub's folder [/srv/allies-hub]: hub state, cohort/ (each learner's answer store
#                            and returned feedback), exchange/ (nbgrader's), grading/ (the instructors' course dir)
#   ALLIES_HUB_URL           where the hub listens [http://127.0.0.1:8000]; put your HTTPS proxy in front
#   ALLIES_HUB_AUTH          lti | oidc | native | custom [native]; each set-up reads its own variables below
#   ALLIES_HUB_INSTRUCTORS   user names of the instructors, comma-separated: the formgrader group
#   ALLIES_HUB_ROSTER        optional roster CSV (learner_id, display_name, role): who may sign in
#   ALLIES_HUB_CULL          seconds an idle server lives [3600]
#   ALLIES_HUB_STORE_URL     optional postgresql:// URL of one answer store for the cohort, as its owner; each
#                            learner's server then gets a role of its own that opens their rows only
#                            (course/store/roles.py) [unset: a SQLite file per learner in cohort/]; the hub
#                            then also runs the cohort dashboard as its service `dashboard`, for instructors,
#                            with a role of the store that may only read
#   ALLIES_HUB_DASHBOARD_URL where the dashboard service listens, on the hub's machine [http://127.0.0.1:8010]
#   ALLIES_CHECK_FEEDBACK    after-grading | after-answering [after-grading] (README "When knowledge checks…")
import os
import sys
from pathlib import Path

from course import contract
from course.store import roles
from course.store import roster as roster_file
from course.web import hub

c = get_config()  # noqa: F821

HERE = Path(__file__).resolve().parent
ROOT = Path(os.environ.get("ALLIES_HUB_ROOT", "/srv/allies-hub"))
COHORT, EXCHANGE, GRADING = ROOT / "cohort", ROOT / "exchange", ROOT / "grading"
BIN = Path(sys.executable).parent  # the course's environment: jupyterhub-singleuser, nbgrader, the culler
INSTRUCTORS_GROUP = f"formgrade-{contract.COURSE_ID}"  # the name nbgrader's JupyterHub docs use


def names(text):
    return {name.strip() for name in text.split(",") if name.strip()}


def roster(path):
    """(learners, instructors) of a roster CSV, read as `cohort add-learners` reads it: a bad one stops the
    hub with the same message (course/store/roster.py)."""
    try:
        people = roster_file.read(path)
    except roster_file.RosterError as error:
        raise SystemExit(str(error)) from None
    return ({p.learner_id for p in people if p.role == "learner"},
            {p.learner_id for p in people if p.role == "instructor"})


instructors = names(os.environ.get("ALLIES_HUB_INSTRUCTORS", ""))
rostered = set()  # with a roster, its people alone may sign in
if os.environ.get("ALLIES_HUB_ROSTER"):
    listed, listed_instructors = roster(os.environ["ALLIES_HUB_ROSTER"])
    instructors |= listed_instructors
    rostered = c.Authenticator.allowed_users = listed | instructors

# -- the hub ----------------------------------------------------------------------------------------------
for folder in (ROOT, COHORT, EXCHANGE):
    folder.mkdir(parents=True, exist_ok=True)
c.JupyterHub.bind_url = os.environ.get("ALLIES_HUB_URL", "http://127.0.0.1:8000")
c.JupyterHub.db_url = f"sqlite:///{ROOT / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(ROOT / "jupyterhub_cookie_secret")
c.ConfigurableHTTPProxy.pid_file = str(ROOT / "jupyterhub-proxy.pid")
# configurable-http-proxy from `npm ci` in this folder (`make hub`), else whichever is on PATH.
if (HERE / "node_modules" / ".bin" / "configurable-http-proxy").exists():
    c.ConfigurableHTTPProxy.command = [str(HERE / "node_modules" / ".bin" / "configurable-http-proxy")]

# -- each learner's server --------------------------------------------------------------------------------
# The course index, in the learner's own server (Voilà's server extension with the course's template).
c.Spawner.default_url = hub.COURSE_URL
c.Spawner.cmd = [str(BIN / "jupyterhub-singleuser")]
c.Spawner.notebook_dir = "~"
# A server starting while many others do (a cohort arriving at once) can take a while on busy cores:
# JupyterHub's defaults give up after 30 s without an answer (60 s to start).
c.Spawner.http_timeout = 120
c.Spawner.start_timeout = 180
check_feedback = os.environ.get("ALLIES_CHECK_FEEDBACK", "after-grading")


def course_environment(spawner):
    """Learners: who they are and where their answers go, from the hub's user name, never from the browser.
    Instructors (the group): a server in the instructors' course directory that opens on nbgrader's formgrader."""
    spawner.environment["PATH"] = os.pathsep.join([str(BIN), os.environ.get("PATH", "")])
    if INSTRUCTORS_GROUP in {group.name for group in spawner.user.groups}:
        spawner.notebook_dir = str(GRADING)
        spawner.default_url = "/formgrader"
        spawner.environment.update({"JUPYTER_CONFIG_PATH": str(HERE / "instructor"), "ALLIES_GRADING_DIR": str(GRADING)})
    else:
        spawner.environment.update(hub.learner_environment(spawner.user.name, COHORT, EXCHANGE, check_feedback,
                                                           os.environ.get("ALLIES_HUB_STORE_URL")))


c.Spawner.pre_spawn_hook = course_environment

# -- instructors: a group with the formgrader ------------------------------------------------------------
# Each instructor's own server runs nbgrader's formgrader on the one course directory (nbgrader's "One Class,
# One Grader", for each instructor of the group). Not a hub-managed service: the hub stops altogether when a
# managed service is not answering within about 10 s of its start, which a loaded machine can exceed.
# Learners hold JupyterHub's default `user` role, their own server only, and their servers run without the
# formgrader (course.web.hub.LEARNER_EXTENSIONS).
c.JupyterHub.load_groups = {INSTRUCTORS_GROUP: {"users": sorted(instructors)}}
c.JupyterHub.load_roles = [
    # jupyterhub-idle-culler's README: the scopes it needs, nothing more.
    {"name": "idle-culler", "services": ["idle-culler"],
     "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers"]},
]
c.JupyterHub.services = [
    {"name": "idle-culler",
     "command": [sys.executable, "-m", "jupyterhub_idle_culler",
                 f"--timeout={int(os.environ.get('ALLIES_HUB_CULL', '3600'))}"]},
]

# -- the cohort dashboard: a hub service for the instructors' group --------------------------------------
# With one shared store, the hub starts the dashboard (course/web/hub_dashboard.py) at /services/dashboard/:
# the hub's OAuth lets in whoever holds access to the service, the instructors' group alone. It reads the
# whole store with a role that may only read (made, with a new password, at each start of the hub), never as
# its owner. A per-learner SQLite store has no cohort to count.
if os.environ.get("ALLIES_HUB_STORE_URL"):
    c.JupyterHub.services.append(
        {"name": "dashboard", "url": os.environ.get("ALLIES_HUB_DASHBOARD_URL", "http://127.0.0.1:8010"),
         "command": [sys.executable, "-m", "course.web.starting", "course.web.hub_dashboard"], "oauth_no_confirm": True,
         "environment": {contract.STORE_URL_ENV: roles.reader_url(os.environ["ALLIES_HUB_STORE_URL"]),
                         contract.INSTANCE_ENV: str(COHORT)}})
    c.JupyterHub.load_roles.append(
        {"name": "cohort-dashboard", "groups": [INSTRUCTORS_GROUP], "scopes": ["access:services!service=dashboard"]})
    # Each learner's server reaches the store with a PostgreSQL login of its own, with which the learner may run
    # any SQL: the store's watch (course/store/watch.py) ends a learner's session that stalls the others.
    c.JupyterHub.services.append(
        {"name": "store-watch", "command": [sys.executable, "-m", "course.store.watch"],
         "environment": {"ALLIES_HUB_STORE_URL": os.environ["ALLIES_HUB_STORE_URL"]}})

# -- sign-in: one of three set-ups (README) ---------------------------------------------------------------
auth = os.environ.get("ALLIES_HUB_AUTH", "native")
if auth == "lti":
    # LTI 1.3 from an LMS (Canvas, Moodle): `pip install jupyterhub-ltiauthenticator`. The LMS registers
    # the tool with the hub's /hub/lti13/oauth_callback and /hub/lti13/jwks; these come from the LMS's side.
    c.JupyterHub.authenticator_class = "ltiauthenticator.lti13.auth.LTI13Authenticator"  # it has no short name
    c.LTI13Authenticator.issuer = os.environ["LTI13_ISSUER"]
    c.LTI13Authenticator.client_id = [os.environ["LTI13_CLIENT_ID"]]
    c.LTI13Authenticator.authorize_url = os.environ["LTI13_AUTHORIZE_URL"]
    c.LTI13Authenticator.jwks_endpoint = os.environ["LTI13_JWKS_URL"]
    c.LTI13Authenticator.username_key = os.environ.get("LTI13_USERNAME_KEY", "sub")
    c.Authenticator.allow_all = not rostered  # anyone the LMS launches, or the roster
elif auth == "oidc":
    # The organisation's single sign-on over OpenID Connect: `pip install oauthenticator`.
    c.JupyterHub.authenticator_class = "generic-oauth"
    c.GenericOAuthenticator.client_id = os.environ["OIDC_CLIENT_ID"]
    c.GenericOAuthenticator.client_secret = os.environ["OIDC_CLIENT_SECRET"]
    c.GenericOAuthenticator.oauth_callback_url = os.environ["OIDC_CALLBACK_URL"]  # https://HUB/hub/oauth_callback
    c.GenericOAuthenticator.authorize_url = os.environ["OIDC_AUTHORIZE_URL"]
    c.GenericOAuthenticator.token_url = os.environ["OIDC_TOKEN_URL"]
    c.GenericOAuthenticator.userdata_url = os.environ["OIDC_USERINFO_URL"]
    c.GenericOAuthenticator.scope = ["openid", "profile", "email"]
    username_claim = os.environ.get("OIDC_USERNAME_CLAIM", "preferred_username")
    c.GenericOAuthenticator.username_claim = username_claim
    cohort_groups = names(os.environ.get("OIDC_ALLOWED_GROUPS", ""))  # e.g. the directory group of this cohort
    instructor_groups = names(os.environ.get("OIDC_INSTRUCTOR_GROUPS", ""))  # the directory's instructors
    if cohort_groups or instructor_groups:
        # The directory's groups decide: who may sign in, and who is in the instructors' group. The hub then
        # takes its groups from the directory at every sign-in (oauthenticator's manage_groups), so it loads
        # none of its own: ALLIES_HUB_INSTRUCTORS and the roster's instructors join by their user name.
        groups_claim = os.environ.get("OIDC_GROUPS_CLAIM", "groups")

        def directory_groups(auth_state):
            """The hub groups of someone the directory signed in: the cohort's groups they are in, and the
            instructors' group for a member of OIDC_INSTRUCTOR_GROUPS or an instructor named in the hub's."""
            person = auth_state["oauth_user"]  # the provider's userinfo (oauthenticator keeps it there)
            theirs = set(person.get(groups_claim) or [])
            name = str(person.get(username_claim, "")).lower()  # as JupyterHub normalises it
            return (theirs & cohort_groups) | ({INSTRUCTORS_GROUP} if theirs & instructor_groups
                                               or name in {n.lower() for n in instructors} else set())

        c.GenericOAuthenticator.manage_groups = True
        c.GenericOAuthenticator.auth_state_groups_key = directory_groups
        c.GenericOAuthenticator.allowed_groups = cohort_groups | {INSTRUCTORS_GROUP}
        c.JupyterHub.load_groups = {}  # JupyterHub refuses groups of its own when the authenticator manages them
    else:
        c.GenericOAuthenticator.allow_all = not rostered
elif auth == "native":
    # A small cohort: people sign up with a password of their own, and an admin approves each sign-up at
    # /hub/authorize (`pip install jupyterhub-nativeauthenticator`), the roster's people too; with a roster,
    # only its names may sign up (course/web/hub_signup.py).
    import nativeauthenticator

    from course.web import hub_signup

    c.JupyterHub.authenticator_class = "course.web.hub_signup.CohortAuthenticator"
    c.JupyterHub.template_paths = [str(hub_signup.TEMPLATES),  # (its page of sign-ups: changes by POST)
                                   str(Path(nativeauthenticator.__file__).parent / "templates")]
    c.Authenticator.admin_users = names(os.environ.get("ALLIES_HUB_ADMINS", ""))
    c.Authenticator.allow_all = not rostered  # whoever an admin approved, or the roster's approved people
    c.NativeAuthenticator.minimum_password_length = 12
    c.NativeAuthenticator.allowed_failed_logins = 5
elif auth != "custom":  # custom: set in a config file that load_subconfig()s this one (tests/test_hub.py's)
    raise SystemExit(f"ALLIES_HUB_AUTH must be lti, oidc, native or custom, not {auth!r}")
