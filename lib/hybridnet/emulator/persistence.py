"""The emulator's state on disk: it survives a restart, and a crash loses at most the call in flight.

**What is saved.** Every moto backend in use (EC2 with our VPN, transit gateway
and Client VPN extensions, Route 53, Route 53 Resolver, ACM with the imported
private keys, IAM, STS sessions, Lambda with its code, CloudWatch Logs and
alarms, SSM with its SecureStrings and Run Command history, KMS, ...), in one
file next to emulator.json (process.saved_state_file()), mode 0600: it holds
secrets. Our extensions keep their state on moto's backend objects (a VPN
connection's tunnels, the Client VPN endpoints and connections, the SSM
commands), so it is saved with them. Not saved: what a data plane reports
again by itself, which a restored emulator would otherwise show stale, with
no reporter left to correct it:

* tunnel telemetry (UP/DOWN, received routes, byte counters): tunnels are
  restored DOWN with "no data plane" until the lab reports again (within a
  second), and the AWS/ metrics it published (only the emulator writes
  AWS/ namespaces; the lab's reports are their only source). A seeded fleet's
  tunnels (POST /_hybridnet/fleet/seed, fleet/models.py) are the exception: no data
  plane reports them, so their telemetry and TunnelState history are saved;
* the reporters' leases (datafeed._reporters) and which Client VPN routes and
  rules the lab applies (client_vpn.models.PLAYED): module state, not saved;
* the SSM managed-instance registrations (how to run a command on a lab host,
  and which path says it is up): the lab's to send again
  (POST /_hybridnet/ssm-instances) once it meets the restarted emulator;
* a Run Command invocation still pending or running: its process belonged to
  the stopped emulator; it is restored Failed, saying so (ssm.models).

**When.** After every call that may have changed something, before its answer
leaves (so a crash loses at most the call in flight): AWS API calls but the
reads (`is_read`), the admin routes that record what a data plane reports only
once (admin.SAVED_ROUTES: Client VPN connections), /moto-api/ POSTs (a reset)
and an SSM command finishing. Saves take turns; a call whose change a save
that started after it already holds does not write again.

**How.** pickle, with reductions (`_reductions`) for what it cannot or must not
carry: parsed keys and certificates (kept as the PEM or DER they come from),
weak references and lambdas in moto's Lambda storage, moto's SSM parameter
dict, what is not saved (above). moto's own mechanisms do not fit: its
recorder (/moto-api/recorder/) logs requests to replay them, which would give
new random ids and PSKs, run Lambda code and SSM commands again and take
longer with every call; its other /moto-api/ routes reset or seed state.
Requests are served on several threads: a request that changes a dict while a
save pickles it makes that save start over (`_pickled`).

**The file.** One JSON line (the header: format and its version, the moto,
Python and emulator-code versions it was saved with, the clock, the payload's
size and SHA-256), then the pickle. A file that is damaged, truncated, from
another version or writable by others is refused whole, with one message
naming it and the way out (`hybridnet emulator start --fresh`, which keeps it
under a timestamped name); the backends are replaced only once all of it has
loaded.
"""

from __future__ import annotations

import copyreg
import datetime as dt
import functools
import hashlib
import importlib
import importlib.metadata
import io
import json
import os
import pickle
import re
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .. import workspace
from ..errors import LocalPlaneError
from . import clock

FORMAT = "hybridnet-emulator-state"
FORMAT_VERSION = 1
PICKLE_PROTOCOL = 5
CODE_DIR = Path(__file__).resolve().parent  # the emulator's code (see code_version)
SAVE_ATTEMPTS = 5  # saves started over because a request changed the state meanwhile

# Actions that only read (AWS's naming, in the services the runbook uses); any other
# action saves, so an unknown one costs a write, never a lost change.
READ_PREFIXES = (
    "Describe",
    "Get",
    "List",
    "Search",
    "Filter",
    "Lookup",
    "Test",
    "Export",
    "Simulate",
    "Encrypt",
    "Decrypt",
    "GenerateDataKey",
    "GenerateRandom",
    "Verify",
)
_OPERATION_PATH = re.compile(r"/service/[^/]+/operation/([A-Za-z0-9]+)$")  # smithy-rpc-v2-cbor (CloudWatch)
_FORM_ACTION = re.compile(rb"(?:^|&)Action=([A-Za-z0-9]+)")
_CONCURRENT_CHANGE = re.compile(r"(changed size|changed|mutated) during iteration")


class StateFileError(LocalPlaneError):
    """The saved state cannot be restored; the message names the file and the way out."""


def refused(path: Path, why: str) -> StateFileError:
    return StateFileError(
        f"the emulator's saved state {path} cannot be restored: {why}. Start the emulator empty with "
        f"`hybridnet emulator start --fresh`, which keeps that file as {path.stem}.<date-time>{path.suffix}"
    )


# --------------------------------------------------------------------------- versions and the header


@functools.cache
def code_version() -> str:
    """A digest of the emulator's code that the pickle names: its state's classes (in the
    models.py files, where the emulator keeps state, in moto's style) and this module's
    functions. The project's version number does not change with them; an edit of the
    protocol (responses.py, admin.py...) does not make a saved state unreadable."""
    digest = hashlib.sha256()
    for path in sorted([*CODE_DIR.rglob("models.py"), Path(__file__).resolve()]):
        digest.update(path.relative_to(CODE_DIR).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def versions() -> dict[str, Any]:
    """What a saved state must have been saved with to be restored here."""
    return {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "moto": importlib.metadata.version("moto"),
        "python": f"{sys.version_info.major}.{sys.version_info.minor}",
        "code": code_version(),
    }


def _read(path: Path) -> tuple[dict, memoryview] | None:
    """(header, payload) of the file at `path`, checked; None when there is none."""
    try:
        with open(path, "rb") as handle:
            info = os.fstat(handle.fileno())
            data = handle.read()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise refused(path, f"it cannot be read ({exc.strerror or exc})") from None
    if info.st_uid != os.getuid() or info.st_mode & 0o022:
        # Loading a pickle runs code: only a file no one else could have written.
        raise refused(
            path,
            f"it is {'owned by another user' if info.st_uid != os.getuid() else 'writable by others'}"
            f" (mode {info.st_mode & 0o777:04o}), and loading it would run what it holds",
        )
    end = data.find(b"\n")
    try:
        header = json.loads(data[:end]) if end > 0 else None
    except ValueError:
        header = None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise refused(path, "it is not an emulator state file, or its first line is damaged")
    payload = memoryview(data)[end + 1 :]
    if header.get("version") != FORMAT_VERSION:
        raise refused(
            path, f"it is in format version {header.get('version')}; this emulator reads version {FORMAT_VERSION}"
        )
    if len(payload) != header.get("payload_bytes"):
        raise refused(
            path,
            f"it is truncated or damaged ({len(payload)} bytes of state after its header, "
            f"{header.get('payload_bytes')} were saved)",
        )
    if hashlib.sha256(payload).hexdigest() != header.get("payload_sha256"):
        raise refused(path, "it is damaged (its content does not match its checksum)")
    here = versions()
    for key, what in (("moto", "moto"), ("python", "Python"), ("code", "the emulator's code")):
        if header.get(key) != here[key]:
            raise refused(path, f"it was saved with {what} {header.get(key)}, this emulator runs {here[key]}")
    return header, payload


def check(path: Path) -> dict | None:
    """The header of a saved state that this emulator can restore; None when there is
    none; StateFileError (the file untouched) otherwise. Cheap: nothing is unpickled."""
    found = _read(path)
    return found[0] if found is not None else None


def set_aside(path: Path) -> Path | None:
    """Move a saved state out of the way (`start --fresh`): renamed with the time, kept."""
    if not path.exists():
        return None
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    target, n = path.with_name(f"{path.stem}.{stamp}{path.suffix}"), 1
    while target.exists():
        n += 1
        target = path.with_name(f"{path.stem}.{stamp}-{n}{path.suffix}")
    path.rename(target)
    return target


# --------------------------------------------------------------------------- what pickle carries, and how


def _live_backends(module: str, name: str) -> Any:
    """The BackendDict moto keeps as `module`.`name` (a restore fills the live one)."""
    return getattr(importlib.import_module(module), name)


_backend_names: dict[int, tuple[str, str]] = {}


def _backends_name(backends: Any) -> tuple[str, str]:
    """(module, attribute) of a live BackendDict: moto defines each next to its backend class."""
    name = _backend_names.get(id(backends))
    if name is None:
        module = backends.backend.__module__
        found = [attr for attr, value in vars(sys.modules[module]).items() if value is backends]
        if not found:
            raise RuntimeError(
                f"moto's {backends.service_name} backends are not a global of {module}: "
                "the emulator cannot name them in its saved state"
            )
        name = _backend_names[id(backends)] = (module, found[0])
    return name


def _object(obj: Any, state: dict, setter: Callable[[Any, dict], None] | None = None) -> tuple:
    """Pickle `obj` as its class and `state` (restored with `setter`, or into its __dict__)."""
    # copyreg.__newobj__ (pickle's protocol 2 constructor) is not in typeshed's copyreg
    return copyreg.__newobj__, (type(obj),), state, None, None, setter  # type: ignore[attr-defined]


def _without(obj: Any, *names: str) -> dict:
    return {k: v for k, v in obj.__dict__.items() if k not in names}


def _restore_cert_bundle(bundle: Any, state: dict) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    bundle.__dict__.update(state)
    # Parsed again from the PEM the bundle keeps (moto's validate_* would refuse a certificate
    # that expired since it was imported; ACM still lists it).
    bundle._key = serialization.load_pem_private_key(bundle.key, password=None) if bundle.key else None
    bundle._cert = x509.load_pem_x509_certificate(bundle.cert)


def _restore_kms_private_key(wrapper: Any, state: dict) -> None:
    from cryptography.hazmat.primitives import serialization

    wrapper.__dict__.update(state)
    wrapper.private_key = serialization.load_der_private_key(state["private_key"], password=None)


def _kms_private_key(wrapper: Any) -> tuple:
    from cryptography.hazmat.primitives import serialization

    der = wrapper.private_key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return _object(wrapper, {**wrapper.__dict__, "private_key": der}, _restore_kms_private_key)


def _restore_lambda_storage(storage: Any, state: dict) -> None:
    import weakref
    from collections import defaultdict

    storage.__dict__.update(state)
    storage._arns = weakref.WeakValueDictionary(state["_arns"])
    if "_aliases" in state:
        storage._aliases = defaultdict(dict, state["_aliases"])


def _lambda_storage(storage: Any) -> tuple:
    # Its ARN index holds weak references, its aliases a defaultdict of a lambda: neither pickles.
    state = {**storage.__dict__, "_arns": dict(storage._arns)}
    if "_aliases" in state:
        state["_aliases"] = dict(storage._aliases)
    return _object(storage, state, _restore_lambda_storage)


def _restore_ssm_backend(backend: Any, state: dict) -> None:
    from collections import defaultdict

    backend.__dict__.update(state)
    backend._resource_tags = defaultdict(functools.partial(defaultdict, dict), state["_resource_tags"])


def _ssm_backend(backend: Any) -> tuple:
    # Without the managed-instance registrations (the lab sends them again); its tags are a
    # defaultdict of a lambda, which does not pickle.
    from .ssm.models import REGISTRY_ATTRIBUTE

    state = {**_without(backend, REGISTRY_ATTRIBUTE), "_resource_tags": dict(backend._resource_tags)}
    return _object(backend, state, _restore_ssm_backend)


def _cloudwatch_backend(backend: Any) -> tuple:
    # AWS/ namespaces hold what the lab's telemetry published (clients may not write
    # there); paged_metric_data is GetMetricData's pagination of one call.
    # A seeded fleet's history (fleet/models.py: SEEDED_DATUM) is kept, as its telemetry is.
    kept = [
        d for d in backend.metric_data if not d.namespace.startswith("AWS/") or getattr(d, "hybridnet_seeded", False)
    ]
    return _object(backend, {**backend.__dict__, "metric_data": kept, "paged_metric_data": {}})


# moto's catalog of Amazon's AMIs (its owner alias), loaded into every EC2 backend:
# about 1,300 per region, each with a snapshot, nine tenths of an EC2 backend's bytes.
CATALOG_OWNER_ALIAS = "amazon"
CATALOG_KEY = "_hybridnet_ami_catalog"  # in a saved EC2 backend: what _restore_catalog needs


def _catalog_snapshot(backend: Any, snapshot: Any) -> bool:
    """A catalog AMI's snapshot (another owner's, made for an AMI), also once the AMI is gone."""
    return snapshot.from_ami is not None and snapshot.owner_id != backend.account_id


def _ec2_backend(backend: Any) -> tuple:
    # Amazon's AMIs are not the account's state (AWS lets no account change or deregister
    # them), and moto loads them again: only which are still there, and the ids of their
    # snapshots (which moto draws at random), in the order moto made them, are saved.
    catalog = {
        "amis": [i for i, ami in backend.amis.items() if ami.owner_alias == CATALOG_OWNER_ALIAS],
        "snapshots": [(s.from_ami, i) for i, s in backend.snapshots.items() if _catalog_snapshot(backend, s)],
    }
    amis = {i: ami for i, ami in backend.amis.items() if ami.owner_alias != CATALOG_OWNER_ALIAS}
    snapshots = {i: s for i, s in backend.snapshots.items() if not _catalog_snapshot(backend, s)}
    return _object(backend, {**backend.__dict__, "amis": amis, "snapshots": snapshots, CATALOG_KEY: catalog})


def _restore_catalog(backend: Any) -> None:
    """moto's AMI catalog in a restored EC2 backend, as it was saved (see _ec2_backend)."""
    catalog = backend.__dict__.pop(CATALOG_KEY)
    own_amis, own_snapshots = backend.amis, backend.snapshots
    backend.amis, backend.snapshots = {}, {}
    backend._load_amis()
    present = set(catalog["amis"])
    amis = {i: ami for i, ami in backend.amis.items() if i in present}
    saved_ids: dict[str, list[str]] = {}  # by AMI (moto makes two for an AMI it loads twice)
    for ami_id, snapshot_id in catalog["snapshots"]:
        saved_ids.setdefault(ami_id, []).append(snapshot_id)
    snapshots = {}
    for snapshot in backend.snapshots.values():  # in the order moto made them, as saved
        ids = saved_ids.get(snapshot.from_ami)
        if ids:  # else deleted before the save
            snapshot.id = ids.pop(0)
            snapshots[snapshot.id] = snapshot
    backend.amis, backend.snapshots = {**amis, **own_amis}, {**snapshots, **own_snapshots}


def _new_tunnel(cls: type, configuration: dict) -> Any:
    return cls(**configuration)  # its telemetry as a new tunnel's: DOWN, "no data plane", since now


def _tunnel(tunnel: Any) -> tuple:
    import dataclasses

    # A seeded tunnel's telemetry is state like any other (no data plane reports it again).
    return _new_tunnel, (
        type(tunnel),
        {
            f.name: getattr(tunnel, f.name)
            for f in dataclasses.fields(tunnel)
            if tunnel.seeded or f.name not in tunnel.TELEMETRY
        },
    )


@functools.cache
def _reductions() -> dict[type, Callable[[Any], Any]]:
    """How the state's objects that pickle cannot (or must not) carry as they are are saved."""
    from moto.acm.models import CertBundle
    from moto.awslambda.models import LambdaStorage, LayerStorage
    from moto.cloudwatch.models import CloudWatchBackend
    from moto.core.base_backend import BackendDict
    from moto.ec2.models import EC2Backend
    from moto.kms.utils import ECDSAPrivateKey, RSAPrivateKey
    from moto.ssm.models import ParameterDict, SimpleSystemManagerBackend

    from .vpn.models import Tunnel

    return {
        # A reference to moto's registry of a service's backends stays one (never a copy).
        BackendDict: lambda backends: (_live_backends, _backends_name(backends)),
        # Parsed from the PEM it keeps (cryptography's objects do not pickle).
        CertBundle: lambda bundle: _object(bundle, _without(bundle, "_key", "_cert"), _restore_cert_bundle),
        RSAPrivateKey: _kms_private_key,
        ECDSAPrivateKey: _kms_private_key,
        LambdaStorage: _lambda_storage,
        LayerStorage: _lambda_storage,
        # A defaultdict whose constructor takes (account, region), not a default factory.
        ParameterDict: lambda params: (
            ParameterDict,
            (params.account_id, params.region_name),
            params.__dict__,
            None,
            iter(params.items()),
        ),
        SimpleSystemManagerBackend: _ssm_backend,
        CloudWatchBackend: _cloudwatch_backend,
        EC2Backend: _ec2_backend,
        Tunnel: _tunnel,
    }


@functools.cache
def _pickler() -> type[pickle.Pickler]:
    return type("StatePickler", (pickle.Pickler,), {"dispatch_table": {**copyreg.dispatch_table, **_reductions()}})


def _pickled(tree: Any) -> bytes:
    """`tree` pickled; started over when a request changes a dict under the pickler."""
    for attempt in range(SAVE_ATTEMPTS):
        buffer = io.BytesIO()
        try:
            _pickler()(buffer, protocol=PICKLE_PROTOCOL).dump(tree)
        except RuntimeError as exc:
            if not _CONCURRENT_CHANGE.search(str(exc)) or attempt == SAVE_ATTEMPTS - 1:
                raise
            continue
        return buffer.getvalue()
    raise AssertionError("unreachable")


def _backend_tree() -> dict[tuple[str, str], dict[str, dict[str, Any]]]:
    """{(module, name of a BackendDict): {account: {region: backend}}} of every service in use."""
    from moto.core.base_backend import BackendDict, backend_lock

    with backend_lock:  # no backend is created meanwhile
        return {
            _backends_name(backends): {account: dict(regions) for account, regions in list(backends.items())}
            # moto's registry of every BackendDict, a class attribute annotated with its type variable
            for backends in list(BackendDict._instances)  # type: ignore[misc]
        }


def _install(tree: dict[tuple[str, str], dict[str, dict[str, Any]]]) -> None:
    """Make the restored backends moto's (in place of whatever exists)."""
    from moto.core.base_backend import BackendDict, backend_lock

    with backend_lock:
        BackendDict.reset()
        for (module, name), accounts in tree.items():
            live = _live_backends(module, name)
            for account, regions in accounts.items():
                for region, backend in regions.items():
                    live[account][region] = backend
                    if CATALOG_KEY in backend.__dict__:
                        _restore_catalog(backend)


# --------------------------------------------------------------------------- the store

_store: Store | None = None


def current() -> Store | None:
    """This emulator process's store (None outside the emulator, or before it restored)."""
    return _store


def note_change() -> None:
    """The state changed (a call, an SSM command that finished...): save it, in this thread."""
    if _store is not None:
        _store.changed()


def action_name(environ: dict) -> str | None:
    """The AWS action of a request (its X-Amz-Target, smithy-rpc-v2-cbor path or query Action);
    None for REST services (Lambda, Route 53), which name it by method and path."""
    action = None
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target:
        action = target.rsplit(".", 1)[-1]
    else:
        match = _OPERATION_PATH.search(environ.get("PATH_INFO", ""))
        if match:
            action = match.group(1)
        else:
            query = _FORM_ACTION.search(environ.get("QUERY_STRING", "").encode())
            body = environ.get("wsgi.input")
            form = _FORM_ACTION.search(body.getvalue()) if query is None and isinstance(body, io.BytesIO) else None
            found = query or form
            action = found.group(1).decode() if found else None
    return action


def is_read(environ: dict) -> bool:
    """True for an AWS API request that only reads (no save after it)."""
    action = action_name(environ)
    if action is None:  # REST (Lambda, Route 53): the method says
        return environ.get("REQUEST_METHOD") in ("GET", "HEAD")
    return action.startswith(READ_PREFIXES)


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")


class Store:
    """The state of this emulator process and its file: restore() once, changed() after each change."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.started_at = _now()
        self.created_at = self.started_at  # when this state began empty (kept across restores)
        self.restored_from: str | None = None
        self.saves = 0
        self.saved_at: str | None = None
        self.last_save_ms: float | None = None
        self.error: str | None = None
        self.port: int | None = None  # the TCP port it serves on, saved for the next start
        self._count_lock = threading.Lock()
        self._save_lock = threading.Lock()
        self._changes = 0
        self._saved = 0

    def restore(self) -> bool:
        """Load the saved state into moto, all of it or nothing (StateFileError). False: none."""
        global _store
        # A save cut short by the emulator's end leaves its temporary file (workspace.write_file's).
        for leftover in self.path.parent.glob(f".{self.path.name}.*"):
            leftover.unlink(missing_ok=True)
        found = _read(self.path)
        if found is not None:
            header, payload = found
            try:
                tree = pickle.loads(payload)
            except Exception as exc:  # any failure to load is one refusal; moto is untouched
                raise refused(self.path, f"it could not be loaded ({type(exc).__name__}: {exc})") from None
            _install(tree)
            clock.resume(header["clock"], header["saved_wall"])
            self.restored_from, self.created_at = str(self.path), header["created_at"]
            self.saved_at = header["saved_at"]
        _store = self
        return found is not None

    def changed(self) -> None:
        """The state changed: save it, unless a save that began after the change has."""
        with self._count_lock:
            self._changes += 1
            mine = self._changes
        with self._save_lock:
            if self._saved >= mine:
                return
            with self._count_lock:
                covered = self._changes
            started = time.perf_counter()
            try:
                self._write()
            except Exception as exc:  # reported (log, health) and tried again at the next change
                message = f"{type(exc).__name__}: {exc}"
                if message != self.error:
                    print(
                        f"hybridnet emulator: cannot save its state to {self.path}: {message}",
                        file=sys.stderr,
                        flush=True,
                    )
                self.error = message
                return
            self._saved, self.error = covered, None
            self.saves += 1
            self.last_save_ms = round((time.perf_counter() - started) * 1000, 1)

    def _write(self) -> None:
        payload = _pickled(_backend_tree())
        now = _now()
        header = {
            **versions(),
            "created_at": self.created_at,
            "saved_at": now,
            "saved_wall": time.time(),
            "clock": clock.now(),
            "port": self.port,
            "payload_bytes": len(payload),
            "payload_sha256": hashlib.sha256(payload).hexdigest(),
        }
        workspace.write_private(self.path, json.dumps(header).encode() + b"\n" + payload)
        self.saved_at = now

    def status(self) -> dict[str, Any]:
        """For the health route."""
        return {
            "file": str(self.path),
            "created_at": self.created_at,
            "saved_at": self.saved_at,
            "saves": self.saves,
            "last_save_ms": self.last_save_ms,
            "error": self.error,
        }
