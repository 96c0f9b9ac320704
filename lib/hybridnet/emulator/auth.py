"""Who may call the emulator: SigV4 with the credentials it generated, checked
as AWS checks them, and never a web page.

The emulator generates AWS-shaped credentials at its first start (an
``AKIA...`` access key id and a 40-character secret, in a 0600 file under
outputs/.state/, reused by every later start; see process.credentials()) and
installs them, at every start, as the access key of an IAM user
(``hybridnet``, with an allow-all inline policy) in moto's IAM backend of the
default account. Then:

* **Authentication** (``Gate``, a WSGI layer in front of moto, on the TCP port
  and on the unix socket alike): every request must carry a SigV4
  ``Authorization`` header whose signature verifies. The check is moto's own
  ``moto.iam.access_control.IAMRequest``: it finds the access key among the
  IAM users' keys and the STS AssumeRole sessions of moto's backends (a
  session's token must match too) and recomputes the signature with
  botocore's ``SigV4Auth``. We add what moto's check lacks: it hashes the
  exact bytes of the request (moto rebuilds a body-less request's payload from
  its parsed parameters, so a GET never verifies, and a POST only by luck of
  re-encoding), refuses unsigned and malformed requests instead of failing
  with a KeyError, refuses stale signatures (15 minutes, as AWS), expired STS
  sessions and an X-Amz-Content-SHA256 that is not the body's, and answers in
  the protocol of the service the request is for (moto answers every failure
  in query XML, which botocore cannot read for JSON services): e.g.
  InvalidClientTokenId / SignatureDoesNotMatch / MissingAuthenticationToken
  for IAM, STS and Route 53, UnrecognizedClientException /
  InvalidSignatureException / MissingAuthenticationTokenException for Lambda,
  Route 53 Resolver, ACM, Logs and SSM, AuthFailure for EC2.
* **Authorization** is moto's, unchanged in substance: with moto's
  ``INITIAL_NO_AUTH_ACTION_COUNT`` at 0 every action goes through
  ``ActionAuthenticatorMixin``, which evaluates the caller's IAM policies
  (allow-all for the emulator's user; an assumed role's own policies for the
  temporary credentials of, e.g., a Lambda function's execution role). Its
  signature check is not repeated there (the Gate verified the exact bytes),
  and its AccessDenied is answered in the service's protocol.

Why not our own SigV4 code: botocore computes signatures and moto already
keeps keys, users, roles and sessions; hand-written copies would drift from
both. Why not moto's check alone: it sits inside each service's
``call_action``, so requests that never reach it (unsigned requests, which
moto routes by guesswork, moto's non-AWS routes, services routed outside
``call_action``) would not be authenticated, and its failures are not in a
form botocore reads for most services the runbook uses.

No cross-origin access: a request with an ``Origin`` header (every request a
browser makes to another origin, preflights included) is refused with 403
AccessDenied before anything else, and no ``Access-Control-*`` header ever
leaves the emulator (moto's flask_cors is disabled too).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import hashlib
import io
import json
import re
import secrets
import string
import sys
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from moto.core.exceptions import ServiceException
from moto.iam.access_control import CreateAccessKeyFailure, IAMRequest
from werkzeug.datastructures import EnvironHeaders
from werkzeug.exceptions import HTTPException

from .. import workspace
from .process import Credentials, read_credentials

USER_NAME = "hybridnet"
POLICY_NAME = "hybridnet-emulator-admin"
ALLOW_ALL = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
ACCESS_KEY_PATTERN = re.compile(r"AKIA[A-Z2-7]{16}")
SECRET_ALPHABET = string.ascii_letters + string.digits + "+/"
SECRET_LENGTH = 40
MAX_CLOCK_SKEW = dt.timedelta(minutes=15)  # AWS's window for X-Amz-Date
AMZ_DATE_FORMAT = "%Y%m%dT%H%M%SZ"

# The services the runbook calls: used to tell which service an unsigned
# request is for (it names none), to answer it in that service's protocol.
SERVICES = (
    "ec2",
    "route53",
    "route53resolver",
    "acm",
    "lambda",
    "iam",
    "logs",
    "cloudwatch",
    "sts",
    "ssm",
    "sns",
    "sqs",
)  # sns: the health check's alerts (hybridnet.notify); sqs: a topic's subscriber


# --------------------------------------------------------------------------- credentials


def new_credentials() -> Credentials:
    """Random AWS-shaped credentials: moto's key id format (it encodes the
    default account, as AWS's do) and a 40-character secret from `secrets`."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.iam.utils import generate_access_key_id_from_account_id

    key_id = generate_access_key_id_from_account_id(DEFAULT_ACCOUNT_ID, prefix="AKIA", total_length=20)
    return Credentials(key_id, "".join(secrets.choice(SECRET_ALPHABET) for _ in range(SECRET_LENGTH)))


def _usable(path: Path) -> Credentials | None:
    try:
        mode = path.stat().st_mode
        creds = read_credentials(path)
    except (OSError, ValueError, KeyError):
        return None
    if mode & 0o077:
        print(f"{path} was readable by others: new credentials", file=sys.stderr, flush=True)
        return None
    if not ACCESS_KEY_PATTERN.fullmatch(creds.access_key_id) or len(creds.secret_access_key) != SECRET_LENGTH:
        print(f"{path} holds no usable credentials: new ones", file=sys.stderr, flush=True)
        return None
    return creds


def load_or_create(path: Path) -> Credentials:
    """The credentials in `path` (0600), generated there at the first start."""
    creds = _usable(path)
    if creds is None:
        creds = new_credentials()
        workspace.write_private(
            path,
            json.dumps(
                {
                    "aws_access_key_id": creds.access_key_id,
                    "aws_secret_access_key": creds.secret_access_key,
                    "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                    "note": "the hybridnet emulator's own credentials; never a real account's",
                },
                indent=2,
            )
            + "\n",
        )
    return creds


def install(creds: Credentials) -> None:
    """Make `creds` the access key of the IAM user USER_NAME (allow-all) in moto's
    default account, and have moto authorize every action. Idempotent: also run
    after /moto-api/ calls (a reset empties IAM)."""
    from moto import settings
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.iam.models import iam_backends

    backend = iam_backends[DEFAULT_ACCOUNT_ID]["aws"]
    if USER_NAME not in backend.users:
        backend.create_user(region_name="us-east-1", user_name=USER_NAME)
    backend.put_user_policy(USER_NAME, POLICY_NAME, json.dumps(ALLOW_ALL))
    # A restored IAM (persistence.py) may hold the keys of an earlier credentials file,
    # e.g. one replaced because others could read it: only the current key is valid.
    for old in [
        k.access_key_id for k in backend.get_user(USER_NAME).access_keys if k.access_key_id != creds.access_key_id
    ]:
        backend.delete_access_key(old, USER_NAME)
    if creds.access_key_id not in backend.access_keys:
        key = backend.create_access_key(USER_NAME)  # moto's AccessKey, given our id and secret
        del backend.access_keys[key.access_key_id]
        key.access_key_id, key.secret_access_key = creds.access_key_id, creds.secret_access_key
        backend.access_keys[key.access_key_id] = key
    settings.INITIAL_NO_AUTH_ACTION_COUNT = 0


# --------------------------------------------------------------------------- refusals


class Refused(ServiceException):
    """Why a request is not served: `kind` (one of KINDS), and details for the message."""

    def __init__(self, kind: str, detail: str | None = None):
        self.kind = kind
        super().__init__(KINDS[kind], detail or DEFAULT_MESSAGES[kind])


KINDS = {  # kind -> the query-protocol code (the others are in CODES)
    "missing": "MissingAuthenticationToken",
    "incomplete": "IncompleteSignature",
    "unknown_key": "InvalidClientTokenId",
    "bad_signature": "SignatureDoesNotMatch",
    "stale": "SignatureDoesNotMatch",
    "expired_token": "ExpiredToken",
    "denied": "AccessDenied",
    "cross_origin": "AccessDenied",
    "throttled": "Throttling",
}
DEFAULT_MESSAGES = {
    "missing": "Request is missing Authentication Token",
    "incomplete": "The request signature does not conform to AWS standards.",
    "unknown_key": "The security token included in the request is invalid.",
    "bad_signature": (
        "The request signature we calculated does not match the signature you provided. "
        "Check your AWS Secret Access Key and signing method. "
        "Consult the service documentation for details."
    ),
    "stale": "Signature expired.",
    "expired_token": "The security token included in the request is expired",
    "denied": "Access denied.",
    "cross_origin": ("Cross-origin requests are refused: the hybridnet emulator serves API clients, not web pages."),
    "throttled": "Rate exceeded",
}
EC2_AUTH_FAILURE = "AWS was not able to validate the provided access credentials"
# (code, HTTP status) per protocol family, as AWS answers.
CODES: dict[str, dict[str, tuple[str, int]]] = {
    "query": {
        "missing": ("MissingAuthenticationToken", 403),
        "incomplete": ("IncompleteSignature", 400),
        "unknown_key": ("InvalidClientTokenId", 403),
        "bad_signature": ("SignatureDoesNotMatch", 403),
        "stale": ("SignatureDoesNotMatch", 403),
        "expired_token": ("ExpiredToken", 403),
        "denied": ("AccessDenied", 403),
        "cross_origin": ("AccessDenied", 403),
        "throttled": ("Throttling", 400),
    },
    "json": {
        "missing": ("MissingAuthenticationTokenException", 400),
        "incomplete": ("IncompleteSignatureException", 400),
        "unknown_key": ("UnrecognizedClientException", 400),
        "bad_signature": ("InvalidSignatureException", 400),
        "stale": ("InvalidSignatureException", 400),
        "expired_token": ("ExpiredTokenException", 400),
        "denied": ("AccessDeniedException", 400),
        "cross_origin": ("AccessDeniedException", 403),
        "throttled": ("ThrottlingException", 400),
    },
    "ec2": {
        "missing": ("MissingAuthenticationToken", 401),
        "incomplete": ("IncompleteSignature", 400),
        "unknown_key": ("AuthFailure", 401),
        "bad_signature": ("AuthFailure", 401),
        "stale": ("RequestExpired", 400),
        "expired_token": ("RequestExpired", 400),
        "denied": ("UnauthorizedOperation", 403),
        "cross_origin": ("UnauthorizedOperation", 403),
        "throttled": ("RequestLimitExceeded", 503),
    },
}
CODES["rest-xml"] = CODES["query"]
CODES["rest-json"] = {kind: (code, 403) for kind, (code, _) in CODES["json"].items()}  # Lambda answers 403
CODES["rest-json"]["throttled"] = ("TooManyRequestsException", 429)  # Lambda's throttling
THROTTLED_MESSAGES = {"ec2": "Request limit exceeded."}  # by protocol family; else DEFAULT_MESSAGES


@functools.cache
def _service_model(name: str) -> Any:
    from moto.core.utils import get_service_model

    return get_service_model(name)


@functools.cache
def _boto3_name(moto_backend: str) -> str:
    from moto.core.responses import boto3_service_name
    from moto.core.utils import service_name_from_moto_package_name

    return boto3_service_name.get(moto_backend) or service_name_from_moto_package_name(moto_backend)


def render(refusal: Refused, service: str | None, content_type: str) -> tuple[int, dict[str, str], bytes]:
    """(status, headers, body) of a refusal in the protocol of `service` (moto's
    serializers, with AWS's code and status for that protocol)."""
    from moto.core.model import OperationModel
    from moto.core.request import determine_request_protocol
    from moto.core.serialize import get_serializer_class

    try:
        model = _service_model(service or "sts")
        protocol = determine_request_protocol(model, content_type)
    except Exception:  # an unknown service or content type: AWS's generic query XML
        model, protocol = _service_model("sts"), "query"
    family = "json" if protocol in ("json", "smithy-rpc-v2-cbor") else protocol
    query_compatible = family == "json" and "awsQueryCompatible" in model.metadata
    code, status = CODES.get(family, CODES["query"])[refusal.kind]
    if query_compatible:  # e.g. CloudWatch: botocore reads the query code from a header
        query_code, status = CODES["query"][refusal.kind]
    message = refusal.message
    if family == "ec2" and code == "AuthFailure":
        message = EC2_AUTH_FAILURE
    if refusal.kind == "throttled" and refusal.message == DEFAULT_MESSAGES["throttled"]:
        message = THROTTLED_MESSAGES.get(family, message)
    error = Refused(refusal.kind, message)
    error.code = code
    serializer = get_serializer_class(model.service_name, protocol)(operation_model=OperationModel({}, model))
    with warnings.catch_warnings():  # our codes are not in the services' error shapes; that is fine
        warnings.simplefilter("ignore")
        response = serializer.serialize(error)
    headers = {k: str(v) for k, v in response["headers"].items()}
    if query_compatible:
        headers["x-amzn-query-error"] = f"{query_code};Sender"
    if headers.get("Content-Type", "text") == "text":
        headers["Content-Type"] = "application/x-amz-json-1.0" if family == "json" else "text/xml"
    body = response["body"]
    return status, headers, body.encode() if isinstance(body, str) else body


# --------------------------------------------------------------------------- the check


class GateRequest(IAMRequest):
    """moto's IAMRequest, verifying the exact bytes received, and refusing in our terms."""

    def _create_aws_request(self) -> Any:
        from botocore.awsrequest import AWSRequest

        signed = self._get_string_between("SignedHeaders=", ",", self._headers["Authorization"]).split(";")
        headers = self._create_headers_for_aws_request(signed, self._headers)
        request = AWSRequest(method=self._method, url=self._path, data=self._body, headers=headers)
        request.context["timestamp"] = headers["X-Amz-Date"]
        return request

    def _raise_signature_does_not_match(self) -> None:
        raise Refused("bad_signature")

    def _raise_invalid_access_key(self, reason: str) -> None:
        raise Refused("unknown_key")

    def _raise_access_denied(self) -> None:
        raise Refused("denied", f"User: {self._access_key.arn} is not authorized to perform: {self._action}")

    @property
    def access_key(self) -> Any:
        return self._access_key


# IAM's action prefix where it is not the SigV4 signing name moto builds the action from
# (CloudWatch signs as "monitoring"; its IAM actions are cloudwatch:GetMetricData, ...).
IAM_ACTION_PREFIXES = {"monitoring": "cloudwatch"}


class AuthorizingRequest(GateRequest):
    """moto's in-band check (ActionAuthenticatorMixin): only the policies; the Gate
    has verified the signature over the exact bytes, which moto no longer has."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        prefix, _, action = self._action.partition(":")
        if prefix in IAM_ACTION_PREFIXES:
            self._action = f"{IAM_ACTION_PREFIXES[prefix]}:{action}"

    def check_signature(self) -> None:
        return None

    def _is_assuming_role_operation(self, resource_arn: str) -> bool:
        # A role's trust policy is decided by AssumeRole itself (sts/responses.py), for a
        # role of any account: moto's check here sees only the caller's own account's
        # roles and takes no account principal (arn:aws:iam::<account>:root).
        return False


AUTH_PATTERN = re.compile(
    r"AWS4-HMAC-SHA256 Credential=(?P<key>[^/,\s]+)/(?P<date>\d{8})/(?P<region>[^/,\s]+)/(?P<service>[^/,\s]+)"
    r"/aws4_request,\s*SignedHeaders=(?P<signed>[a-z0-9;-]+),\s*Signature=(?P<signature>[0-9a-f]{64})"
)


def _check_date(headers: EnvironHeaders, signed: list[str]) -> None:
    stamp = headers.get("X-Amz-Date")
    if not stamp or "x-amz-date" not in signed:
        raise Refused("incomplete", "Authorization header requires existence of a signed 'X-Amz-Date' header.")
    try:
        when = dt.datetime.strptime(stamp, AMZ_DATE_FORMAT).replace(tzinfo=dt.UTC)
    except ValueError:
        raise Refused("incomplete", f"X-Amz-Date {stamp!r} is not in the format {AMZ_DATE_FORMAT}.") from None
    now = dt.datetime.now(dt.UTC)
    fmt = AMZ_DATE_FORMAT
    if when < now - MAX_CLOCK_SKEW:
        raise Refused(
            "stale",
            f"Signature expired: {stamp} is now earlier than "
            f"{(now - MAX_CLOCK_SKEW).strftime(fmt)} ({now.strftime(fmt)} - 15 min.)",
        )
    if when > now + MAX_CLOCK_SKEW:
        raise Refused(
            "stale",
            f"Signature not yet current: {stamp} is still later than "
            f"{(now + MAX_CLOCK_SKEW).strftime(fmt)} ({now.strftime(fmt)} + 15 min.)",
        )


def _check_session_expiry(access_key: Any) -> None:
    from moto.core.utils import utcnow
    from moto.iam.access_control import AssumedRoleAccessKey
    from moto.sts.models import sts_backends

    if not isinstance(access_key, AssumedRoleAccessKey):
        return
    role = sts_backends[access_key.account_id][access_key.partition].get_assumed_role_from_access_key(
        access_key._access_key_id
    )
    if role is not None and role.expiration <= utcnow():
        raise Refused("expired_token")


@dataclasses.dataclass(frozen=True)
class Caller:
    """Who an authenticated request is from, and where it is for (its credential scope)."""

    account_id: str
    access_key_id: str
    region: str
    signing_name: str  # the scope's service, e.g. ec2, monitoring, route53resolver


# Checks an authenticated request must pass before it reaches moto (e.g. the fleet's
# throttles and disabled regions, fleet/rules.py): each is called with the WSGI environ and
# the Caller, and raises Refused to answer instead of moto, in the service's protocol.
REQUEST_RULES: list[Callable[[dict, Caller], None]] = []


def authenticate(environ: dict, body: bytes) -> Caller:
    """Refused unless the request is SigV4-signed, now, with credentials moto knows."""
    from moto.iam.models import get_account_id_from

    headers = EnvironHeaders(environ)
    authorization = headers.get("Authorization")
    if not authorization:
        query = parse_qs(environ.get("QUERY_STRING", ""))
        if "X-Amz-Signature" in query or "X-Amz-Credential" in query:
            raise Refused(
                "incomplete",
                "Presigned URLs (query-string authentication) are not accepted by the "
                "hybridnet emulator: sign the Authorization header.",
            )
        raise Refused("missing")
    match = AUTH_PATTERN.fullmatch(authorization.strip())
    if match is None:
        raise Refused(
            "incomplete",
            "The Authorization header is not a complete AWS4-HMAC-SHA256 signature "
            "(Credential=KEY/DATE/REGION/SERVICE/aws4_request, SignedHeaders=..., "
            "Signature=...).",
        )
    signed = match["signed"].split(";")
    if "host" not in signed:
        raise Refused("incomplete", "The 'Host' header must be signed.")
    _check_date(headers, signed)
    declared = headers.get("X-Amz-Content-SHA256")
    if declared is not None and declared != hashlib.sha256(body).hexdigest():
        raise Refused("bad_signature", "The X-Amz-Content-SHA256 header is not the SHA-256 of the body received.")
    from moto.core.request import Request

    # The path as it arrived (moto's raw_path), not percent-decoded: what the client signed.
    received = Request(environ, populate_request=False, shallow=True)
    path = received.raw_path + (f"?{received.query_string.decode()}" if received.query_string else "")
    account_id = get_account_id_from(match["key"])
    try:
        request = GateRequest(
            account_id=account_id,
            method=environ["REQUEST_METHOD"],
            path=path,
            data={},
            body=body,
            headers=dict(headers.items()),
            action="",
        )
    except CreateAccessKeyFailure:
        raise Refused("unknown_key") from None
    request.check_signature()
    _check_session_expiry(request.access_key)
    return Caller(account_id, match["key"], match["region"], match["service"])


def _read_body(environ: dict) -> bytes:
    """The request body, put back for moto to read again."""
    stream = environ["wsgi.input"]
    length = environ.get("CONTENT_LENGTH")
    if length:
        body = stream.read(int(length))
    elif environ.get("wsgi.input_terminated") or "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower():
        body = stream.read()
    else:
        body = b""
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    return body


class Gate:
    """WSGI: what reaches moto (the AWS API) is signed with known credentials and
    not from a web page; refusals are in the protocol of the service asked."""

    def __init__(self, app: Callable):
        self.app = app
        self._dispatcher: Any = None

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        def no_cors(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            kept = [(k, v) for k, v in headers if not k.lower().startswith("access-control-")]
            return start_response(status, kept, exc_info) if exc_info else start_response(status, kept)

        try:
            body = _read_body(environ)
            if environ.get("HTTP_ORIGIN") is not None:
                raise Refused("cross_origin")
            caller = authenticate(environ, body)
            for rule in REQUEST_RULES:
                rule(environ, caller)
        except Refused as refusal:
            return self.refuse(environ, refusal, start_response)
        except (ValueError, OSError) as exc:  # a malformed request (e.g. a bad Content-Length)
            return self.refuse(environ, Refused("incomplete", f"Malformed request: {exc}"), start_response)
        return self.app(environ, no_cors)

    def refuse(self, environ: dict, refusal: Refused, start_response: Callable) -> Iterable[bytes]:
        status, headers, body = render(refusal, self.service_of(environ), environ.get("CONTENT_TYPE", ""))
        headers["Content-Length"] = str(len(body))
        reason = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden"}.get(status, "Error")
        start_response(f"{status} {reason}", list(headers.items()))
        return [body]

    def service_of(self, environ: dict) -> str | None:
        """The service a request is for: named by its credential scope when signed
        (as moto routes it), else guessed among SERVICES from its shape."""
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

        if self._dispatcher is None:
            self._dispatcher = DomainDispatcherApplication(create_backend_app)
        match = re.search(r"Credential=[^/]*/\d{8}/[^/]+/([^/]+)/", environ.get("HTTP_AUTHORIZATION", ""))
        if match:
            probe = {
                "HTTP_AUTHORIZATION": environ["HTTP_AUTHORIZATION"],
                "HTTP_HOST": environ.get("HTTP_HOST", ""),
                "PATH_INFO": environ.get("PATH_INFO", ""),
            }
            try:
                backend = self._dispatcher.get_backend_for_host(
                    self._dispatcher.infer_service_region_host(probe, probe["PATH_INFO"])
                )
            except Exception:
                backend = None
            return _boto3_name(backend) if backend else None
        return guess_service(environ)


def guess_service(environ: dict) -> str | None:
    """Which of SERVICES an unsigned request is for, from its X-Amz-Target, its
    Action and Version, or its REST path (moto's routers)."""
    from moto.core.request import Request
    from moto.core.routing import get_service_router

    target = environ.get("HTTP_X_AMZ_TARGET", "")
    request = Request(environ, populate_request=False)
    values = request.values
    action, version = values.get("Action"), values.get("Version")
    environ["wsgi.input"].seek(0)
    for name in SERVICES:
        model = _service_model(name)
        if target:
            if target.split(".")[0] == model.metadata.get("targetPrefix"):
                return name
        elif action:
            if version == model.api_version and action in model.operation_names:
                return name
        elif model.protocol.startswith("rest"):
            try:
                get_service_router(name).match(request)
                return name
            except Exception:
                continue
    return None


def install_authorization() -> None:
    """moto's ActionAuthenticatorMixin: authorize with AuthorizingRequest, answering
    AccessDenied in the service's protocol (installed into moto's class)."""
    from moto.core.authorization import ActionAuthenticatorMixin

    def _authenticate_and_authorize_normal_action(self: Any, resource: str = "*") -> None:
        try:
            self._authenticate_and_authorize_action(AuthorizingRequest, resource)
        except Refused as refusal:
            status, headers, body = render(refusal, self.boto3_service_name, self.headers.get("Content-Type", ""))
            # moto answers an HTTPException here with the response headers it holds: the rendered
            # ones go with it (e.g. x-amzn-query-error, which gives CloudWatch's AccessDenied its code).
            response_headers = getattr(self, "response_headers", None)
            if isinstance(response_headers, dict):
                response_headers.update({k: v for k, v in headers.items() if k.lower() != "content-length"})
            raise RefusalResponse(status, body) from None

    # monkeypatching moto's class, which mypy does not allow for a method
    ActionAuthenticatorMixin._authenticate_and_authorize_normal_action = _authenticate_and_authorize_normal_action  # type: ignore[method-assign]


class RefusalResponse(HTTPException):
    """A rendered refusal, raised where moto's call_action expects an HTTPException."""

    def __init__(self, status: int, body: bytes):
        super().__init__(description=body.decode())
        self.code = status
