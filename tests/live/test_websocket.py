"""/ws/me/ for real: uvicorn in a thread, the Redis channel layer, and events caused by HTTP requests."""

import json
import socket
import threading
import time
import urllib.error
import urllib.request

import pytest
import uvicorn
from django.conf import settings
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from apps.orgs.models import ApiToken
from apps.orgs.roles import Role
from apps.orgs.services import token_create

from ..factories import MembershipFactory


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def server(transactional_db):
    """Quorum's ASGI application served by uvicorn in a thread; yields its base URL without scheme."""
    yield from _serve()


@pytest.fixture
def server_in_memory(transactional_db, settings):
    """The same, with the embedded mode's in-memory channel layer."""
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    yield from _serve()


def _serve():
    port = free_port()
    config = uvicorn.Config("config.asgi:application", host="127.0.0.1", port=port, lifespan="off",
                            ws="websockets-sansio", log_level="warning")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, name="test-uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not srv.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        srv.should_exit = True
        thread.join(10)
        assert not thread.is_alive(), "uvicorn did not stop"


def ws_connect(server, query=""):
    return connect(f"ws://{server}/ws/me/{query}", origin=f"http://{server}", open_timeout=5, close_timeout=2)


def http(server, method, path, secret, body=None):
    request = urllib.request.Request(
        f"http://{server}{path}", method=method, data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Token {secret}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def recv_json(ws, timeout=5.0):
    return json.loads(ws.recv(timeout=timeout))


def assert_refused_with_4401(server, query):
    """Refused sockets get no hello and a close code the client can act on (sign in again)."""
    with ws_connect(server, query) as ws:
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=5)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401


def test_the_channel_layer_is_redis():
    assert settings.CHANNEL_LAYERS["default"]["BACKEND"] == "channels_redis.core.RedisChannelLayer"
    assert "127.0.0.1" in settings.ALLOWED_HOSTS


def test_a_role_change_over_http_reaches_the_members_socket(server, tenant):
    annotator = tenant.member("annotator")
    with ws_connect(server, f"?token={tenant.secrets['annotator']}") as ws:
        assert recv_json(ws) == {"type": "hello", "organization": "acme", "role": "annotator"}

        status, body = http(server, "PATCH", f"/api/v1/members/{annotator.pk}", tenant.secrets["manager"],
                            {"role": "reviewer"})
        assert (status, body["role"]) == (200, "reviewer")

        event = recv_json(ws, timeout=5)
        assert event["type"] == "membership.updated"
        assert {k: event[k] for k in ("change", "role", "organization", "member", "status")} == {
            "change": "role", "role": "reviewer", "organization": "acme", "member": annotator.pk,
            "status": "active"}


def test_other_members_events_do_not_reach_this_socket(server, tenant):
    with ws_connect(server, f"?token={tenant.secrets['annotator']}") as ws:
        assert recv_json(ws)["type"] == "hello"
        viewer = tenant.member("viewer")
        status, _ = http(server, "PATCH", f"/api/v1/members/{viewer.pk}", tenant.secrets["manager"],
                         {"role": "annotator"})
        assert status == 200
        with pytest.raises(TimeoutError):
            ws.recv(timeout=1)
        ws.send(json.dumps({"type": "ping"}))
        assert recv_json(ws) == {"type": "pong"}


def test_the_viewers_own_socket_does_get_their_change(server, tenant):
    # The counterpart of the test above: the same PATCH is delivered to the member it concerns.
    with ws_connect(server, f"?token={tenant.secrets['viewer']}") as ws:
        assert recv_json(ws)["role"] == "viewer"
        http(server, "PATCH", f"/api/v1/members/{tenant.member('viewer').pk}", tenant.secrets["manager"],
             {"role": "annotator"})
        event = recv_json(ws)
        assert (event["type"], event["change"], event["role"]) == ("membership.updated", "role", "annotator")


@pytest.mark.parametrize("query", ["", "?token=", "?token=qrm_not-a-real-token"])
def test_no_token_or_a_bad_token_is_closed_with_4401(server, tenant, query):
    assert_refused_with_4401(server, query)


def test_a_revoked_token_is_refused(server, tenant):
    member = MembershipFactory(organization=tenant.org, role=Role.ANNOTATOR, user__email="leaving@acme.test")
    token, secret = token_create(organization=tenant.org, actor=member.user, actor_role=Role.ANNOTATOR,
                                 name="laptop", role=Role.ANNOTATOR)
    with ws_connect(server, f"?token={secret}") as ws:
        assert recv_json(ws)["type"] == "hello"  # the same secret works before the revocation

    status, _ = http(server, "DELETE", f"/api/v1/tokens/{token.pk}", tenant.secrets["manager"])
    assert status == 204
    assert ApiToken.objects.get(pk=token.pk).revoked_at is not None
    assert_refused_with_4401(server, f"?token={secret}")


def test_a_foreign_origin_is_refused(server, tenant):
    with pytest.raises(InvalidStatus) as refused:
        connect(f"ws://{server}/ws/me/?token={tenant.secrets['annotator']}", origin="http://evil.example",
                open_timeout=5)
    assert refused.value.response.status_code == 403


def _session_cookie(user):
    from django.test import Client

    client = Client()
    client.force_login(user)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


def test_a_browser_session_connects_and_phi_members_need_totp_first(server, tenant):
    from allauth.mfa.models import Authenticator

    user = tenant.user("annotator")
    headers = {"Cookie": _session_cookie(user)}
    with connect(f"ws://{server}/ws/me/", origin=f"http://{server}", additional_headers=headers,
                 open_timeout=5) as ws:
        assert recv_json(ws)["role"] == "annotator"

    type(tenant.org).objects.filter(pk=tenant.org.pk).update(phi=True)
    with connect(f"ws://{server}/ws/me/", origin=f"http://{server}", additional_headers=headers,
                 open_timeout=5) as ws:
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=5)
    assert closed.value.rcvd.code == 4401
    # Pipelines' tokens are not asked for TOTP (as on the API).
    with ws_connect(server, f"?token={tenant.secrets['annotator']}") as ws:
        assert recv_json(ws)["type"] == "hello"

    Authenticator.objects.create(user=user, type=Authenticator.Type.TOTP, data={"secret": "JBSWY3DPEHPK3PXP"})
    with connect(f"ws://{server}/ws/me/", origin=f"http://{server}", additional_headers=headers,
                 open_timeout=5) as ws:
        assert recv_json(ws)["type"] == "hello"


def test_in_memory_layer_delivers_events_sent_from_a_worker_thread(server_in_memory, tenant):
    """Embedded mode: a job running on the worker thread reaches sockets of the same process."""
    from channels.layers import get_channel_layer

    from apps.live.groups import user_group
    from apps.live.services import broadcast

    assert type(get_channel_layer()).__name__ == "InMemoryChannelLayer"
    user = tenant.user("annotator")
    with ws_connect(server_in_memory, f"?token={tenant.secrets['annotator']}") as ws:
        assert recv_json(ws)["type"] == "hello"
        sender = threading.Thread(target=broadcast, args=(user_group(user.pk), {"type": "job.progress", "n": 1}))
        sender.start()
        sender.join(10)
        assert recv_json(ws, timeout=5) == {"type": "job.progress", "n": 1}
