"""The cohort dashboard on JupyterHub: a service the hub starts and signs people in to
(deploy/jupyterhub/jupyterhub_config.py starts it when the cohort shares one PostgreSQL store).

It is the instructor site's dashboard (`course.web.instructor_site.dashboard`) with the hub's sign-in in place
of the roster's: JupyterHub's OAuth (`jupyterhub.services.auth.HubOAuth`, through the identity provider
jupyterhub-singleuser uses) lets in only people the hub grants `access:services!service=<this service>`,
which jupyterhub_config.py gives to the instructors' group; anyone else gets 403 before a kernel starts. As
on the instructor site, the server names who signed in to their kernel, and each kernel is its instructor's.
The hub hands the service a URL of the store that may only read (ALLIES_STORE_URL, `course.store.roles
.reader_url`), never the owner's; its kernels get that and none of the hub's variables (`kernel_environment`):
not the service's hub API token, which the service's own sign-in needs.

    python -m course.web.starting course.web.hub_dashboard   # run by the hub, with JUPYTERHUB_* and
                                                             # ALLIES_STORE_URL set (`course.web.starting`)
"""
from __future__ import annotations

import os
from urllib.parse import urlparse

from jupyterhub.singleuser.extension import JupyterHubIdentityProvider
from jupyterhub.utils import url_path_join

from course import contract, upstream
from course.instance import Instance
from course.web import instructor_site, kernels, site
from course.web.cohort import HEADER

SECRET_FILE = "dashboard_cookie_secret"


class HubIdentityProvider(JupyterHubIdentityProvider):
    """The hub's OAuth sign-in, with the service's access scope checked on every request; the person it lets
    in is named to the kernel in HEADER, which no request may bring of its own."""

    def get_handlers(self):
        # Voilà mounts an identity provider's handlers (the OAuth callback) without its base URL.
        return [(url_path_join(self.hub_auth.base_url, path), *rest) for path, *rest in super().get_handlers()]

    async def get_user(self, handler):
        handler.request.headers.pop(HEADER, None)
        user = await super().get_user(handler)
        if user is not None:
            handler.request.headers[HEADER] = user.username
        return user


HUB_VARIABLES = ("JUPYTERHUB_", "JPY_API_TOKEN")  # what the hub tells a service: its API token among them


def kernel_environment(environ) -> dict[str, str]:
    """A kernel's environment: the server's, without the hub's variables."""
    return {name: value for name, value in environ.items() if not name.startswith(HUB_VARIABLES)}


class ServiceKernelManager(kernels.OwnedKernelManager):
    """The instructor site's kernel manager, each kernel started (and restarted) with `kernel_environment`."""

    async def start_kernel(self, *args, **kwargs) -> str:
        kwargs["env"] = kernel_environment(kwargs.get("env") or os.environ)
        return await super().start_kernel(*args, **kwargs)


class ServiceVoila(site.CourseVoila):
    """The site, taking its port over from the service's starting page (`course.web.starting`) as it listens."""

    starting = None

    def listen(self):
        if self.starting:
            self.starting.close()
        super().listen()


def config(instance: Instance, service_url: str, prefix: str):
    """The dashboard at the hub's service `prefix`, listening where the hub expects it (`service_url`), and
    nowhere else."""
    c = instructor_site.dashboard(urlparse(service_url).port)
    c.Voila.port_retries = 0
    c.Voila.base_url = prefix
    c.Voila.identity_provider_class = HubIdentityProvider
    c.VoilaConfiguration.multi_kernel_manager_class = ServiceKernelManager
    c.Voila.cookie_secret = instance.cookie_secret(SECRET_FILE)
    return c


def serve(starting=None) -> None:
    """Run the dashboard as the hub's service, for the cohort in ALLIES_INSTANCE, until the hub stops it;
    `starting`: the page answering on its port until then."""
    upstream.check_versions()
    instance = Instance(os.environ[contract.INSTANCE_ENV])
    site.environment(instance)
    os.environ[contract.HUB_INSTRUCTORS_ENV] = "1"
    app = ServiceVoila.instance(config=config(instance, os.environ["JUPYTERHUB_SERVICE_URL"],
                                              os.environ["JUPYTERHUB_SERVICE_PREFIX"]))
    app.starting = starting
    app.initialize(argv=[])
    app.start()
