"""Reading a demo's seeded data the way every tool outside the demo must: through the rep's
session. A demo answers its JSON API only to a signed-in session, so a probe first follows the
instance's `rep_login_url` on the host it reads (each host keeps its own cookie; the rep's token
works on both) and sends the cookie it got. Blueprints without a rep sign-in (`rep_login_url`
null, as the tiny test blueprints) are read without one.

The Cookie header is sent by hand rather than kept in the client's jar: requests go to 127.0.0.1
with a demo's Host header, so a jar would mix the cookies of every demo a thread probes.
"""

from __future__ import annotations

import httpx


def rep_cookie(client: httpx.Client, base: str, host: str, rep_login_url: str | None) -> str | None:
    """The Cookie header of a rep session on `host` ("" when the demo has no rep sign-in), or
    None when the demo does not sign in yet (still starting)."""
    if not rep_login_url:
        return ""
    target = httpx.URL(rep_login_url).raw_path.decode()
    response = client.get(f"{base}{target}", headers={"Host": host}, follow_redirects=False)
    client.cookies.clear()
    if response.status_code != 303:
        return None
    return "; ".join(f"{name}={value}" for name, value in response.cookies.items())


def read(
    client: httpx.Client, base: str, host: str, path: str, rep_login_url: str | None
) -> httpx.Response | None:
    """GET `path` of the demo at `host` through the rep's session; None while it cannot sign in."""
    cookie = rep_cookie(client, base, host, rep_login_url)
    if cookie is None:
        return None
    headers = {"Host": host, **({"Cookie": cookie} if cookie else {})}
    response = client.get(f"{base}{path}", headers=headers)
    client.cookies.clear()
    return response
