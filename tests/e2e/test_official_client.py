"""A session driven by the official MCP Python SDK client through Envoy and
the filter, against the Mcp Afip double (official TypeScript SDK server)."""
import pytest

from harness import mcp_session, text_of, wait_for_fresh_window, wrapper_config

WINDOW = 600
POLICY = {
    "version": "1",
    "default": "deny",
    "hide": ["delete_instance", "leave_group"],
    "tools": {
        "get_server_status": {},
        "logout_instance": {
            "limits": [{"counter": "logout_instance_rate", "window": WINDOW, "max": 30, "scope": "grant"}]
        },
    },
}


@pytest.fixture
def gateway(double, gateway_factory):
    return gateway_factory(double, wrapper_config(POLICY))


def test_official_client_session(gateway, double):
    wait_for_fresh_window(WINDOW, margin=30)

    async def alice_session(session):
        listed = await session.list_tools()
        names = {tool.name for tool in listed.tools}
        allowed = await session.call_tool("get_server_status", {})
        denied = await session.call_tool("create_invoice", {"point_of_sale": 1, "amount_total": 10})
        logouts = [await session.call_tool("logout_instance", {"instance": "alice-phone"}) for _ in range(31)]
        return names, allowed, denied, logouts

    names, allowed, denied, logouts = mcp_session(gateway.url, "demo-token-alice", alice_session)

    assert len(names) == 43
    assert "delete_instance" not in names and "leave_group" not in names
    assert "create_invoice" in names  # denied tools stay visible

    assert not allowed.is_error
    assert len(double.calls("get_server_status")) == 1

    assert denied.is_error
    assert text_of(denied).startswith("[POLICY DENIED] ")
    assert double.calls("create_invoice") == []

    assert all(not result.is_error for result in logouts[:30])
    assert logouts[30].is_error
    assert text_of(logouts[30]) == \
        f"[POLICY DENIED] Rate limit of 30 per {WINDOW} seconds reached. Try again later."
    assert len(double.calls("logout_instance")) == 30

    async def bob_session(session):
        return await session.call_tool("logout_instance", {"instance": "bob-phone"})

    bob = mcp_session(gateway.url, "demo-token-bob", bob_session)
    assert not bob.is_error
    assert len(double.calls("logout_instance")) == 31
