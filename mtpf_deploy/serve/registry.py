"""The apps a service answers: ``STATE/registry.json`` (each app's id, its token's sha256 and/or Unix uid,
the bundle adapters granted to it, the adapters it uploaded) and ``STATE/uploads/APP/NAME.mtpfa``.

Writes are read-modify-write under an exclusive ``flock`` of ``STATE/registry.lock`` (the admin command
and a running service may both write) and land with an atomic rename after an fsync, so a process killed
at any point (kill -9 included) leaves the previous registry or the new one, never a mix. Tokens are
never stored: ``apps add`` prints one once, the registry keeps its sha256."""
from __future__ import annotations

import fcntl
import hashlib
import hmac
import json
import os
import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import MtpfError
from ..formats.adapter_file import NAME, SUFFIX
from ..formats.atomic import atomic_file
from ..formats.signature import SUFFIX as SIGNATURE_SUFFIX

FORMAT, VERSION = "mtpf-serve-registry", 1
APP_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_]{0,31}")  # no '-': an upload's internal name is APP--NAME
ALL = "*"  # a grant of every adapter the bundle lists


class RegistryError(MtpfError):
    """The registry file or an admin request is invalid."""


@dataclass
class App:
    id: str
    token_sha256: str | None = None
    uid: int | None = None
    grants: list[str] = field(default_factory=list)
    uploads: dict[str, dict] = field(default_factory=dict)  # name -> {"file": relative path, "sha256": hex}

    def granted(self, adapter: str) -> bool:
        return ALL in self.grants or adapter in self.grants

    def to_json(self) -> dict:
        return {"token_sha256": self.token_sha256, "uid": self.uid, "grants": sorted(self.grants),
                "uploads": self.uploads}


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def upload_name(app: str, name: str) -> str:
    """The name an app's upload is loaded under in the runtime (apps cannot collide)."""
    return f"{app}--{name}"


def check_app_id(app: object) -> str:
    if not isinstance(app, str) or not APP_ID.fullmatch(app):
        raise RegistryError(f"app id {app!r} must be 1-32 letters, digits or '_' (starting with a letter or digit)")
    return app


def check_upload_name(app: str, name: object) -> str:
    if not isinstance(name, str) or not NAME.fullmatch(name) or not NAME.fullmatch(upload_name(app, name)):
        raise RegistryError(f"adapter name {name!r} must be letters, digits, '-' or '_', at most "
                            f"{62 - len(app)} characters for app {app!r}")
    return name


class Registry:
    """``STATE/registry.json``: read with ``apps()`` (re-read when the file changes), changed with the
    methods below (each one locked, atomic)."""

    def __init__(self, state: str | Path):
        self.folder = Path(state)
        self.path = self.folder / "registry.json"
        self._seen: tuple[int, int] | None = None
        self._apps: dict[str, App] = {}

    # ------------------------------------------------------------------ reading
    def apps(self) -> dict[str, App]:
        """The apps, re-read when the file changed since the last call (an admin edit applies at once)."""
        try:
            st = self.path.stat()
        except FileNotFoundError:
            self._seen, self._apps = None, {}
            return self._apps
        stamp = (st.st_mtime_ns, st.st_size)
        if stamp != self._seen:
            self._apps, self._seen = self._read(), stamp
        return self._apps

    def _read(self) -> dict[str, App]:
        where = str(self.path)
        try:
            data = json.loads(self.path.read_text("utf-8"))
        except FileNotFoundError:
            return {}
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise RegistryError(f"{where}: not valid JSON ({exc})") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT or data.get("version") != VERSION:
            raise RegistryError(f"{where}: not an {FORMAT} version {VERSION} file")
        apps = data.get("apps")
        if not isinstance(apps, dict):
            raise RegistryError(f"{where}: field 'apps' must be an object")
        out = {}
        for app_id, entry in apps.items():
            at = f"{where}: apps.{app_id}"
            check_app_id(app_id)
            if not isinstance(entry, dict):
                raise RegistryError(f"{at} must be an object")
            token, uid = entry.get("token_sha256"), entry.get("uid")
            if token is not None and not (isinstance(token, str) and re.fullmatch(r"[0-9a-f]{64}", token)):
                raise RegistryError(f"{at}.token_sha256 must be 64 lower-case hex digits or null")
            if uid is not None and (not isinstance(uid, int) or isinstance(uid, bool) or uid < 0):
                raise RegistryError(f"{at}.uid must be a non-negative integer or null")
            grants, uploads = entry.get("grants", []), entry.get("uploads", {})
            if not isinstance(grants, list) or not all(isinstance(g, str) for g in grants):
                raise RegistryError(f"{at}.grants must be a list of adapter names")
            if not isinstance(uploads, dict) or not all(
                    isinstance(v, dict) and isinstance(v.get("file"), str) and isinstance(v.get("sha256"), str)
                    for v in uploads.values()):
                raise RegistryError(f"{at}.uploads must map names to {{file, sha256}}")
            out[app_id] = App(app_id, token, uid, list(grants), dict(uploads))
        return out

    def by_token(self, token: str) -> App | None:
        digest = token_digest(token)
        found = None
        for app in self.apps().values():  # compare every entry in constant time
            if app.token_sha256 is not None and hmac.compare_digest(app.token_sha256, digest):
                found = app
        return found

    def by_uid(self, uid: int) -> App | None:
        return next((a for a in self.apps().values() if a.uid == uid), None)

    def upload_path(self, app: str, name: str) -> Path:
        return self.folder / "uploads" / app / f"{name}{SUFFIX}"

    # ------------------------------------------------------------------ changing
    @contextmanager
    def _editing(self) -> Iterator[dict[str, App]]:
        self.folder.mkdir(parents=True, exist_ok=True)
        with open(self.folder / "registry.lock", "a+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            apps = self._read()
            yield apps
            document = {"format": FORMAT, "version": VERSION, "apps": {k: apps[k].to_json() for k in sorted(apps)}}
            with atomic_file(self.path) as tmp:
                with open(tmp, "w", encoding="utf-8") as f:
                    json.dump(document, f, indent=2)
                    f.flush()
                    os.fsync(f.fileno())
            self._seen = None

    def add_app(self, app_id: str, uid: int | None = None, token: bool = True) -> str | None:
        """Register an app; returns its new token (printed once; None with ``token=False``: uid only)."""
        check_app_id(app_id)
        if uid is None and not token:
            raise RegistryError(f"app {app_id!r} needs a token or a uid to be identified by")
        secret = secrets.token_urlsafe(32) if token else None
        with self._editing() as apps:
            if app_id in apps:
                raise RegistryError(f"app {app_id!r} is already registered (remove it first, or `apps token` for a new token)")
            if uid is not None and any(a.uid == uid for a in apps.values()):
                raise RegistryError(f"uid {uid} already identifies another app")
            apps[app_id] = App(app_id, token_digest(secret) if secret else None, uid)
        return secret

    def new_token(self, app_id: str) -> str:
        """Replace an app's token (the old one stops working); returns the new one."""
        secret = secrets.token_urlsafe(32)
        with self._editing() as apps:
            self._need(apps, app_id).token_sha256 = token_digest(secret)
        return secret

    def grant(self, app_id: str, adapters: list[str]) -> None:
        with self._editing() as apps:
            app = self._need(apps, app_id)
            app.grants = sorted(set(app.grants) | set(adapters))

    def revoke(self, app_id: str, adapters: list[str]) -> None:
        with self._editing() as apps:
            app = self._need(apps, app_id)
            app.grants = sorted(set(app.grants) - set(adapters))

    def remove_app(self, app_id: str) -> None:
        with self._editing() as apps:
            self._need(apps, app_id)
            del apps[app_id]

    def add_upload(self, app_id: str, name: str, data: bytes, signature: bytes | None) -> Path:
        """Store an app's adapter (already validated by the runtime) and record it."""
        check_upload_name(app_id, name)
        path = self.upload_path(app_id, name)
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._editing() as apps:
            app = self._need(apps, app_id)
            sig = path.with_name(path.name + SIGNATURE_SUFFIX)
            if signature is not None:
                with atomic_file(sig) as tmp:
                    tmp.write_bytes(signature)
            else:
                sig.unlink(missing_ok=True)
            with atomic_file(path) as tmp:
                tmp.write_bytes(data)
            app.uploads[name] = {"file": str(path.relative_to(self.folder)), "sha256": hashlib.sha256(data).hexdigest()}
        return path

    def remove_upload(self, app_id: str, name: str) -> None:
        with self._editing() as apps:
            app = self._need(apps, app_id)
            if app.uploads.pop(name, None) is None:
                raise RegistryError(f"app {app_id!r} has no uploaded adapter {name!r}")
            path = self.upload_path(app_id, name)
            path.unlink(missing_ok=True)
            path.with_name(path.name + SIGNATURE_SUFFIX).unlink(missing_ok=True)

    def _need(self, apps: dict[str, App], app_id: str) -> App:
        if app_id not in apps:
            raise RegistryError(f"no app {app_id!r} in {self.path} (has {', '.join(sorted(apps)) or 'none'})")
        return apps[app_id]
