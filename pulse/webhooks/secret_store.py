"""Webhook signing secrets at rest: Fernet tokens, never the `whsec_` text (docs/roles.md).

The key comes from PULSE_SECRETS_KEY (one or more Fernet keys, comma-separated: the first
encrypts, any of them decrypts), or else from $PULSE_HOME/secrets.key, created with mode
0600 on first use so the local sandbox needs no setup. A dump of the database therefore
holds nothing that signs a webhook without the key, which lives outside the database.
Nothing here logs a secret or a key.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from pulse.config import secrets_key_env, settings
from pulse.webhooks.signing import PREFIX, Secret

KEY_FILE_NAME = "secrets.key"


class SecretKeyError(RuntimeError):
    """The secrets key is missing, malformed or not the one the secrets were stored with."""


def key_file() -> Path:
    return settings().home / KEY_FILE_NAME


def _write_key_file(path: Path, keys: list[str]) -> None:
    """Write atomically with mode 0600 from the start: the key is never world-readable,
    not even for the moment between create and chmod."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(",".join(keys) + "\n")
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def _parse(text: str, where: str) -> list[str]:
    keys = [k.strip() for k in text.split(",") if k.strip()]
    if not keys:
        raise SecretKeyError(f"{where} holds no key: generate one with `pulse webhooks "
                             "secrets new-key`")
    for k in keys:
        try:
            Fernet(k.encode())
        except ValueError:
            raise SecretKeyError(f"{where} holds something that is not a Fernet key (32 "
                                 "url-safe base64 bytes): generate one with `pulse webhooks "
                                 "secrets new-key`") from None
    return keys


def keys() -> list[str]:
    """The configured keys, newest (the one that encrypts) first."""
    from_env = secrets_key_env()
    if from_env:
        return _parse(from_env, "PULSE_SECRETS_KEY")
    path = key_file()
    if not path.exists():
        _write_key_file(path, [Fernet.generate_key().decode()])
    return _parse(path.read_text(encoding="ascii"), str(path))


def _fernet(key_list: list[str] | None = None) -> MultiFernet:
    return MultiFernet([Fernet(k.encode()) for k in (key_list or keys())])


def encrypt(secret: Secret, box: MultiFernet | None = None) -> str:
    return (box or _fernet()).encrypt(secret.reveal().encode()).decode()


def decrypt(token: str, box: MultiFernet | None = None) -> Secret:
    if token.startswith(PREFIX):
        raise SecretKeyError("an endpoint secret is still stored in plaintext: run "
                             "`pulse migrate` to encrypt it")
    try:
        return Secret((box or _fernet()).decrypt(token.encode()).decode())
    except InvalidToken:
        raise SecretKeyError("the endpoint secrets were encrypted with another key: set "
                             "PULSE_SECRETS_KEY (or $PULSE_HOME/secrets.key) to the key they "
                             "were stored with") from None


def store(cur, endpoint_id: str, secret: Secret) -> None:
    cur.execute("insert into delivery.endpoint_secrets (endpoint_id, secret_encrypted) "
                "values (%s, %s)", (endpoint_id, encrypt(secret)))


def live_secrets(cur, endpoint_ids: list[str]) -> dict[str, list[Secret]]:
    """The secrets that sign for each endpoint now, newest first, read through the one
    function the delivery role may call (sql/migrations/0007_roles.sql)."""
    cur.execute("select endpoint_id, secret_encrypted "
                "from delivery.live_signing_secrets(%s)", (endpoint_ids,))
    rows = cur.fetchall()
    if not rows:
        return {}
    box = _fernet()
    out: dict[str, list[Secret]] = {}
    for endpoint_id, token in rows:
        out.setdefault(endpoint_id, []).append(decrypt(token, box))
    return out


def encrypt_plaintext(conn) -> int:
    """Encrypt rows stored before secrets were encrypted; returns how many (0 when none:
    the key is then not even read)."""
    with conn, conn.cursor() as cur:
        cur.execute("select endpoint_id, secret_encrypted from delivery.endpoint_secrets "
                    "where secret_encrypted like 'whsec\\_%%' for update")
        rows = cur.fetchall()
        if not rows:
            return 0
        box = _fernet()
        for endpoint_id, plain in rows:
            cur.execute("update delivery.endpoint_secrets set secret_encrypted = %s "
                        "where endpoint_id = %s and secret_encrypted = %s",
                        (encrypt(Secret(plain), box), endpoint_id, plain))
    return len(rows)


def reencrypt(conn, *, new_key: bool = False) -> int:
    """Re-encrypt every stored secret under the first configured key; returns how many.

    With `new_key` (key file only): a fresh key goes first in the file, the rows are
    re-encrypted in one transaction, then the old keys leave the file. A crash in between
    leaves a file that still decrypts everything."""
    if new_key:
        if secrets_key_env():
            raise SecretKeyError("PULSE_SECRETS_KEY is set, so the key is yours to change: "
                                 "put the new key first (NEW,OLD), run `pulse webhooks "
                                 "secrets reencrypt`, then keep only NEW")
        current = keys()
        fresh = Fernet.generate_key().decode()
        _write_key_file(key_file(), [fresh, *current])
    box = _fernet()
    with conn, conn.cursor() as cur:
        cur.execute("select endpoint_id, secret_encrypted from delivery.endpoint_secrets "
                    "for update")
        rows = cur.fetchall()
        for endpoint_id, token in rows:
            if token.startswith(PREFIX):
                fresh_token = encrypt(Secret(token), box)
            else:
                try:
                    fresh_token = box.rotate(token.encode()).decode()
                except InvalidToken:
                    raise SecretKeyError(
                        f"a secret of endpoint {endpoint_id} does not decrypt with any "
                        "configured key: add the key it was stored with after the new one "
                        "(PULSE_SECRETS_KEY=NEW,OLD) and run this again") from None
            cur.execute("update delivery.endpoint_secrets set secret_encrypted = %s "
                        "where endpoint_id = %s and secret_encrypted = %s",
                        (fresh_token, endpoint_id, token))
    if new_key:
        _write_key_file(key_file(), [keys()[0]])
    return len(rows)


def new_key() -> str:
    return Fernet.generate_key().decode()
