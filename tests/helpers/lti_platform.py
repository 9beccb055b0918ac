"""An LTI 1.3 platform on loopback: it stands in for the LMS (Canvas, Moodle) in tests/test_hub_signin.py,
since no LMS can run here. The LTI side is OpenLearning's `lti1p3platform` (the platform half of LTI 1.3: the
login initiation, the check of the tool's authentication request, the id_token with LTI's claims, signed RS256
with the platform's key, and its JWKS); this file adds only what an LMS's web server adds around it: a course
link that starts a launch for the person signed in to the LMS, and the page that posts the id_token on.

    python tests/helpers/lti_platform.py '{"port": ..., "issuer": ..., "client_id": ..., "deployment_id": ...,
                                           "login_url": ..., "redirect_url": ..., "target_link": ...}'

GET /launch?sub=ID[&name=..][&token=tampered|foreign-key]: the LMS's course link, as the person whose LTI `sub`
is ID; `token` spoils the id_token this launch gets (its payload changed after signing, or signed with a key
the JWKS does not hold), for the tests that the tool refuses it. GET /jwks: the platform's public keys.
"""
from __future__ import annotations

import base64
import html
import json
import sys

import jwt
import tornado.ioloop
import tornado.web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from lti1p3platform.ltiplatform import LTI1P3PlatformConfAbstract
from lti1p3platform.message_launch import MessageLaunchAbstract
from lti1p3platform.oidc_login import OIDCLoginAbstract
from lti1p3platform.registration import Registration
from lti1p3platform.request import Request

LEARNER_ROLE = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"


def new_key() -> tuple[str, str]:
    """A fresh RSA key pair as PEM text: (private, public)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    return private, public


class Platform(LTI1P3PlatformConfAbstract):
    """The platform's one registration: the hub as an LTI 1.3 tool."""

    def init_platform_config(self, setup: dict, key: tuple[str, str]) -> None:
        self._registration = (Registration().set_iss(setup["issuer"]).set_client_id(setup["client_id"])
                              .set_deployment_id(setup["deployment_id"]).set_oidc_login_url(setup["login_url"])
                              .set_launch_url(setup["target_link"])
                              .set_platform_private_key(key[0]).set_platform_public_key(key[1]))
        self.redirect_url = setup["redirect_url"]

    def get_registration_by_params(self, **kwargs):
        return self._registration


class TornadoRequest(Request):
    def build_metadata(self, handler: tornado.web.RequestHandler):
        args = {name: handler.get_argument(name) for name in handler.request.arguments}
        return {"method": handler.request.method, "form_data": args if handler.request.method == "POST" else {},
                "get_data": args if handler.request.method == "GET" else {}, "headers": handler.request.headers,
                "content_type": handler.request.headers.get("Content-Type"), "path": handler.request.path,
                "json": None}


class Login(OIDCLoginAbstract):
    """Step 1, the third-party-initiated login: the browser goes to the tool's login initiation URL."""

    def set_lti_message_hint(self, **kwargs) -> None:
        self._lti_message_hint = json.dumps(kwargs)

    def get_redirect(self, url: str) -> str:
        return url


class Launch(MessageLaunchAbstract):
    """Step 3, the launch: after the tool's authentication request comes back, the signed id_token is posted
    to the tool's redirect URL by a page that submits itself."""

    def prepare_launch(self, preflight_response: dict) -> None:
        # As an LMS does: only its registered redirect URL, only the person the login was started for.
        if preflight_response["redirect_uri"] != self._platform_config.redirect_url:
            raise tornado.web.HTTPError(400, "redirect_uri is not the tool's registered redirect URL")
        hint = json.loads(preflight_response.get("lti_message_hint") or "{}")
        if preflight_response.get("login_hint") != hint.get("sub"):
            raise tornado.web.HTTPError(400, "login_hint is not the person who started the launch")
        self.hint = hint
        self.set_user_data(hint["sub"], [LEARNER_ROLE], full_name=hint.get("name"))
        self.set_resource_link_claim("allies-in-tech-course", title="Allies in Tech")
        self.set_launch_context_claim("allies-cohort-1", context_label="ALLIES-1", context_title="Allies in Tech")

    def generate_launch_request(self):
        launch = super().generate_launch_request()
        spoil = self.hint.get("token")
        if spoil == "tampered":  # the payload changed after signing: the signature no longer matches
            head, payload, signature = launch["id_token"].split(".")
            claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
            claims["sub"] = "someone-else"
            payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
            launch["id_token"] = ".".join([head, payload, signature])
        elif spoil == "foreign-key":  # signed as the platform's key id, with a key that is not the platform's
            claims = jwt.decode(launch["id_token"], options={"verify_signature": False})
            kid = jwt.get_unverified_header(launch["id_token"])["kid"]
            launch["id_token"] = jwt.encode(claims, new_key()[0], algorithm="RS256", headers={"kid": kid})
        return launch

    def render_launch_form(self, launch_data: dict, **kwargs) -> str:
        fields = "".join(f'<input type="hidden" name="{name}" value="{html.escape(launch_data[name])}">'
                         for name in ("id_token", "state"))
        return (f'<!doctype html><html lang="en"><title>Opening the course</title><body>'
                f'<form id="launch" method="post" action="{html.escape(launch_data["launch_url"])}">{fields}'
                '<noscript><button>Open the course</button></noscript></form>'
                '<script>document.getElementById("launch").submit()</script></body></html>')


class CourseLink(tornado.web.RequestHandler):
    def get(self):
        platform = self.application.settings["platform"]
        login = Login(TornadoRequest(self), platform)
        login.set_lti_message_hint(sub=self.get_argument("sub"), name=self.get_argument("name", None),
                                   token=self.get_argument("token", None))
        self.redirect(login.initiate_login(self.get_argument("sub")))


class Authorize(tornado.web.RequestHandler):
    def check_xsrf_cookie(self):  # the tool's authentication request comes from the tool's site
        pass

    def get(self):
        self.write(Launch(TornadoRequest(self), self.application.settings["platform"]).lti_launch())

    post = get


class Keys(tornado.web.RequestHandler):
    def get(self):
        self.write(self.application.settings["platform"].get_jwks())


def main(setup: dict) -> None:
    platform = Platform(setup=setup, key=new_key())
    app = tornado.web.Application([("/launch", CourseLink), ("/auth", Authorize), ("/jwks", Keys)],
                                  platform=platform)
    app.listen(setup["port"], "127.0.0.1")
    print("listening", flush=True)
    tornado.ioloop.IOLoop.current().start()


if __name__ == "__main__":
    main(json.loads(sys.argv[1]))
