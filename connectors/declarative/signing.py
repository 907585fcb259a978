"""SignatureRecipe: how a platform turns a request (or a push) into a signature, as data.

The string to sign is a template over these pieces:

- ``url``: scheme://host[:port]/path, no query;    ``query``: sorted ``k=v`` joined by ``&``;
- ``concat``: sorted ``kv`` concatenated (TOP/JD style);  ``body``: the raw body text;
- ``timestamp``: the request's timestamp;  ``secret``: the signing secret.

Parameters are the signed request's query + form parameters, minus the signature itself (and minus
``exclude``, and minus empty values when ``skip_empty``). Meituan waimai/闪购::

    signature:
      algorithm: md5                 # md5 | sha1 | sha256 | hmac_sha256 | hmac_sha256_base64 | hmac_md5
      sign_string: "{url}?{query}{secret}"
      case: lower                    # lower | upper (hex digests)
      secret: app_secret             # credential name

A header-signed JSON webhook::

    signature: {algorithm: hmac_sha256, sign_string: "{timestamp}.{body}", secret: webhook_secret}
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ._reader import Reader
from .template import Template

__all__ = ["ALGORITHMS", "SignatureRecipe"]

ALGORITHMS = ("md5", "sha1", "sha256", "hmac_sha256", "hmac_sha256_base64", "hmac_md5")


@dataclass(frozen=True)
class SignatureRecipe:
    """Algorithm + string-to-sign template + letter case + which credential is the secret."""

    algorithm: str
    sign_string: Template
    case: str = "lower"
    secret: str = "app_secret"
    exclude: tuple[str, ...] = ()
    skip_empty: bool = False

    @classmethod
    def read(cls, r: Reader) -> SignatureRecipe:
        recipe = cls(
            algorithm=r.choice("algorithm", ALGORITHMS),
            sign_string=Template.compile(r.need("sign_string", str), file=r.file, key=r.where("sign_string")),
            case=r.choice("case", ("lower", "upper"), "lower"),
            secret=r.get("secret", str, "app_secret"),
            exclude=tuple(r.get("exclude", list, [])),
            skip_empty=r.get("skip_empty", bool, False),
        )
        unknown = set(recipe.sign_string.names) - {"url", "query", "concat", "body", "timestamp", "secret"}
        if unknown:
            raise r.error("sign_string", f"unknown piece(s) {', '.join(sorted(unknown))}; "
                                         "use url, query, concat, body, timestamp, secret")
        return recipe

    def string_to_sign(
        self, *, secret: str, url: str = "", params: Iterable[tuple[str, str]] = (), body: str = "",
        timestamp: str = "", signature_param: str | None = None,
    ) -> str:
        drop = {*self.exclude, *([signature_param] if signature_param else [])}
        pairs = sorted((k, v) for k, v in params if k not in drop and not (self.skip_empty and v == ""))
        pieces = {
            "url": url, "query": "&".join(f"{k}={v}" for k, v in pairs), "concat": "".join(f"{k}{v}" for k, v in pairs),
            "body": body, "timestamp": timestamp, "secret": secret,
        }
        return str(self.sign_string.render(pieces)) if self.sign_string.parts else ""

    def digest(self, secret: str, message: str) -> str:
        data, key = message.encode("utf-8", "surrogateescape"), secret.encode()
        if self.algorithm == "hmac_sha256_base64":
            return base64.b64encode(hmac.new(key, data, hashlib.sha256).digest()).decode()
        if self.algorithm.startswith("hmac_"):
            out = hmac.new(key, data, self.algorithm.removeprefix("hmac_")).hexdigest()
        else:
            out = hashlib.new(self.algorithm, data).hexdigest()
        return out.upper() if self.case == "upper" else out

    def sign(self, secret: str, **pieces: object) -> str:
        return self.digest(secret, self.string_to_sign(secret=secret, **pieces))  # type: ignore[arg-type]

    @staticmethod
    def pairs(mapping: Mapping[str, str]) -> list[tuple[str, str]]:
        return [(str(k), str(v)) for k, v in mapping.items()]
