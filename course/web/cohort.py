"""The hosted cohort site: the course website with sign-in, saved answers and kernels that only talk widgets.

- Sign-in: each learner has an access code from the facilitator's roster, stored only as a hash.
- Identity: the server puts the signed-in learner's id in the `X-Allies-Learner` request header, after
  dropping any such header the browser sent, and Voilà hands it to the kernel (`http_header_envs`).
- Kernels: Voilà's kernel manager accepts only widget messages from the browser (`allowed_message_types`),
  so a page cannot run code that would read the answer store; a test holds it to that.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from inspect import isawaitable

from jupyter_server.auth.decorator import allow_unauthenticated
from jupyter_server.auth.identity import IdentityProvider, User
from jupyter_server.auth.login import LoginFormHandler
from jupyter_server.auth.logout import LogoutHandler
from tornado.escape import url_escape, xhtml_escape
from traitlets import Unicode

from course.lesson import keys
from course.web import chart_cache, connections, forks, kernels, signin, site
from course import upstream
from course.instance import Instance
from course.store.answers import AnswerStore, Learner

HEADER = "X-Allies-Learner"


# The sign-in and sign-out pages' styles: the course's text, link blue for the button and focus ring (allies.css).
STYLE = ("body{font:17px/1.5 system-ui,sans-serif;color:#1f1f1f;max-width:30rem;margin:3rem auto;padding:0 1rem}"
         "label{display:block;margin-top:1rem;font-weight:600}"
         "input{font:inherit;width:100%;padding:.4rem;border:1px solid #555}"
         "button{margin-top:1.2rem;font:inherit;padding:.5rem 1.2rem;background:#0a4f9e;color:#fff;border:0}"
         ":focus{outline:3px solid #b34700;outline-offset:2px}.error{color:#8a1c1c;font-weight:600}")

LOGIN_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{title} — Allies in Tech</title>
<link rel="icon" href="data:;base64,=">
<style>{style}</style></head>
<body><main><h1>{heading}</h1><p>{intro}</p>
{message}<form method="post" action="{action}">{xsrf}
<label for="learner">{who} id</label><input id="learner" name="learner" autocomplete="username" required>
<label for="code">Access code</label><input id="code" name="code" type="password" autocomplete="current-password" required>
<button type="submit">Sign in</button></form></main></body></html>"""


class CourseLoginHandler(LoginFormHandler):
    """The sign-in page: learner id and access code."""

    page = {"title": "Sign in", "heading": "Allies in Tech", "who": "Learner",
            "intro": "Sign in with the learner id and access code your facilitator gave you."}

    def _render(self, message=None):
        error = f'<p class="error" role="alert">{xhtml_escape(message["error"])}</p>' if message else ""
        action = f"{self.base_url}login?next={url_escape(self.get_argument('next', default=self.base_url))}"
        self.write(LOGIN_PAGE.format(style=STYLE, message=error, action=xhtml_escape(action),
                                     xsrf=self.xsrf_form_html(), **self.page))

    def refusal(self, person: Learner | None) -> tuple[int, str] | None:
        """Why `person` (None: the id and code do not match) may not sign in here, as (status, message)."""
        if person is None:
            return 401, ("That learner id and access code do not match. Check them, or ask your facilitator "
                         "for a new code.")
        return None

    @allow_unauthenticated  # without it, jupyter_server refuses the sign-in POST itself (403)
    async def post(self):
        learner, code = self.get_argument("learner", "").strip(), self.get_argument("code", "")
        provider, address = self.identity_provider, self.request.remote_ip
        if wait := provider.limits.wait(learner, address):
            self.set_status(429)
            self.set_header("Retry-After", str(math.ceil(wait)))
            return self._render(message={"error": "Too many sign-in attempts with a wrong code. Try again in "
                                                  f"{signin.in_words(wait)}, or ask your facilitator for help."})
        person = await signin.off_the_loop(provider.roster().verify, learner, code)
        if person is None:
            provider.limits.failed(learner, address)
        user = provider.user(person) if person else None
        if refused := self.refusal(person if user else None):
            self.set_status(refused[0])
            return self._render(message={"error": refused[1]})
        provider.limits.succeeded(learner)
        provider.set_login_cookie(self, user)
        upstream.redirect_safe(self, self.get_argument("next", default=self.base_url))


SIGN_OUT_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Sign out — Allies in Tech</title>
<style>{style}</style></head>
<body><main><h1>Sign out?</h1><p>Your answers are saved. Signing out ends your session on every device.</p>
<form method="post" action="{action}">{xsrf}<button type="submit">Sign out</button></form>
<p><a href="{home}">Back to the modules</a></p></main></body></html>"""


class CourseLogoutHandler(LogoutHandler):
    """Sign out everywhere (every cookie of the learner's stops working), then back to the sign-in page.

    Only a POST with the page's _xsrf token signs out: a GET (a link, or another site's image) shows a page
    with the button, so no other page can sign a learner out behind their back."""

    @allow_unauthenticated
    def get(self):
        if not self.current_user:
            return self.redirect(f"{self.base_url}login")
        self.write(SIGN_OUT_PAGE.format(style=STYLE, action=xhtml_escape(f"{self.base_url}logout"),
                                        xsrf=self.xsrf_form_html(), home=xhtml_escape(self.base_url)))

    @allow_unauthenticated
    def post(self):
        if self.current_user:
            self.identity_provider.roster().end_sessions(self.current_user.username)
        self.identity_provider.clear_login_cookie(self)
        self.redirect(f"{self.base_url}login")


@dataclass
class RosterUser(User):
    """A signed-in person, with the session their cookie belongs to (see `AnswerStore.end_sessions`)."""

    session: int = 0


class RosterIdentityProvider(IdentityProvider):
    """Signs learners in against the roster in the answer store; no tokens, no anonymous access. A cookie
    is honoured only while its session is the learner's current one: logout, a new code and withdrawal
    end it."""

    store_path = Unicode(help="The cohort's answer store, which holds the roster: a SQLite file's path or a "
                              "PostgreSQL URL.").tag(config=True)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.login_handler_class = CourseLoginHandler
        self.logout_handler_class = CourseLogoutHandler
        self._store: AnswerStore | None = None
        self.limits = signin.SignInLimits()

    def roster(self) -> AnswerStore:
        if self._store is None:
            self._store = AnswerStore(self.store_path)
        return self._store

    def user(self, person: Learner) -> RosterUser | None:
        """The user to sign `person` in as, in their current session (None if they just left the roster)."""
        session = self.roster().session(person.learner_id)
        return None if session is None else RosterUser(person.learner_id, person.display_name, session=session)

    def user_to_cookie(self, user: RosterUser) -> str:
        return json.dumps({"username": user.username, "name": user.name, "session": user.session})

    def user_from_cookie(self, cookie_value: str) -> RosterUser | None:
        data = json.loads(cookie_value)
        if data.get("session") is None or data["session"] != self.roster().session(data["username"]):
            return None
        return RosterUser(data["username"], data["name"], session=data["session"])

    @property
    def auth_enabled(self) -> bool:
        return True

    @property
    def login_available(self) -> bool:
        return True

    def get_user_token(self, handler):
        return None

    async def get_user(self, handler):
        if HEADER in handler.request.headers:  # only the server may say who a learner is
            del handler.request.headers[HEADER]
        user = super().get_user(handler)
        if isawaitable(user):
            user = await user
        if user is not None:
            handler.request.headers[HEADER] = user.username
        return user


def config(instance: Instance, port: int, pool_size: int, behind_https: bool = False, hsts: int = 0,
           max_kernels: int = 0, cull_idle: int = 600, cull_unattended: int = kernels.UNATTENDED_SECONDS,
           start_slots: int = 0, fork_kernels: bool = True, keep_free_mb: int = 0,
           ping_timeout: int = connections.PING_TIMEOUT_SECONDS):
    """The site's configuration plus sign-in, identity hand-over, kernel ownership and preheated kernels.
    Cookies are SameSite=Lax, and Secure behind HTTPS; `hsts` seconds of Strict-Transport-Security.
    At most `max_kernels` learners' kernels (0: as many as the machine's memory holds beside the pool, each
    counted at what it may grow to: less once the chart cache holds every view, so kernels draw none), and
    none started that would leave under `keep_free_mb` of memory available (0: 5% of the machine's);
    kernels idle for `cull_idle` seconds, or with no page connected for `cull_unattended`, are shut down (a
    page whose browser has answered no ping for `ping_timeout` seconds is no longer connected); at
    most `start_slots` learners' kernels start at once (0: `course.web.pools.PAGE_SLOTS_PER_CORE` per CPU
    core); `fork_kernels`: kernels are forked from a warm process (`course.web.forks`), where this machine
    allows it."""
    c = site.config(port, open_browser=False)
    site.hosted(c)
    site.cull(c, cull_idle)
    c.OwnedKernelManager.start_slots = start_slots
    c.OwnedKernelManager.unattended_seconds = cull_unattended
    forked = fork_kernels and forks.available()
    c.OwnedKernelManager.kernel_mb = kernel_mb = kernels.KERNEL_MB if not forked else (
        kernels.FORKED_CACHED_KERNEL_MB if chart_cache.complete() else kernels.FORKED_KERNEL_MB)
    c.OwnedKernelManager.max_kernels = max_kernels or kernels.ceiling_for_memory(
        pool_size * len(site.modules()), kernel_mb)
    c.OwnedKernelManager.keep_free_mb = keep_free_mb
    c.Voila.identity_provider_class = RosterIdentityProvider
    c.RosterIdentityProvider.store_path = str(instance.store)
    c.RosterIdentityProvider.cookie_options = {"samesite": "Lax"}
    c.RosterIdentityProvider.secure_cookie = behind_https or None  # None: Secure when the request is HTTPS
    c.CourseVoila.behind_https = behind_https
    c.Voila.tornado_settings["xsrf_cookie_kwargs"]["secure"] = behind_https  # (SameSite=Lax: site.config)
    c.Voila.tornado_settings.update(connections.pings(ping_timeout))
    if hsts:
        c.Voila.tornado_settings["headers"] = {"Strict-Transport-Security": f"max-age={hsts}"}
    c.Voila.cookie_secret = instance.cookie_secret()
    c.VoilaConfiguration.http_header_envs = [HEADER]
    c.VoilaConfiguration.multi_kernel_manager_class = kernels.OwnedKernelManager
    c.Voila.authorizer_class = kernels.KernelOwnerAuthorizer
    site.preheat(c, pool_size)
    if forked:
        c.KernelProvisionerFactory.default_provisioner_name = forks.PROVISIONER
    return c


def serve(instance_dir: str, port: int = 8866, pool_size: int = 2,
          check_feedback: str = keys.AFTER_GRADING, store_url: str | None = None, **options) -> None:
    """Run the cohort site until interrupted; `check_feedback` says when a knowledge check shows its key
    and explanation (`after-answering`, or `after-grading`: never before the module is graded), `store_url`
    puts the answer store on PostgreSQL (`course.instance`), and `options` are as for `config`."""
    upstream.check_versions()
    site.adapt_voila()
    instance = Instance(instance_dir, store_url=store_url)
    AnswerStore(instance.store).close()
    # No learner: each kernel learns its learner from the signed-in request. Every kernel inherits the mode.
    site.environment(instance, check_feedback=check_feedback)
    site.CourseVoila.launch_instance(argv=[], config=config(instance, port, pool_size, **options))
