"""A small MCP server for tests/api/mcp.rs, built with the official MCP
Python SDK: the MCP server a user might add to RaptorFlow. Each call is
appended to the file named by MCP_TEST_LOG (one JSON line: tool and
arguments), so that the test can see which tools were called and how.

On stdio by default. With MCP_TEST_TOKEN set, it serves streamable HTTP on
a free port of 127.0.0.1 instead (printing the port on the first line of
stdout), at /mcp, and answers 401 to a request without that bearer token:
a server the user adds by URL."""

import json
import os
import socket
import sys

from mcp.server.mcpserver import MCPServer

server = MCPServer("facts")


def log(tool, arguments):
    with open(os.environ["MCP_TEST_LOG"], "a") as out:
        out.write(json.dumps({"tool": tool, "arguments": arguments}) + "\n")


@server.tool()
def lookup(topic: str) -> str:
    """Facts about a topic, from the team's notes."""
    log("lookup", {"topic": topic})
    return f"Notes on {topic}: commuters in Leeds ride 6 km on average; 41% take a train for part of the trip."


@server.tool()
def secret() -> str:
    """A tool no agent's file names: it must never be called."""
    log("secret", {})
    return "the launch date is 1 March"


def require_token(app, token):
    """The ASGI app `app`, refusing HTTP requests without the bearer token."""
    expected = f"Bearer {token}".encode()

    async def guarded(scope, receive, send):
        if scope["type"] == "http" and dict(scope["headers"]).get(b"authorization") != expected:
            await send({"type": "http.response.start", "status": 401, "headers": [(b"content-type", b"text/plain")]})
            await send({"type": "http.response.body", "body": b"a bearer token is needed"})
            return
        await app(scope, receive, send)

    return guarded


def serve_http(token):
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    print(sock.getsockname()[1], flush=True)
    app = require_token(server.streamable_http_app(), token)
    uvicorn.Server(uvicorn.Config(app, log_level="warning")).run(sockets=[sock])


if __name__ == "__main__":
    if os.environ.get("MCP_TEST_TOKEN"):
        serve_http(os.environ["MCP_TEST_TOKEN"])
        sys.exit(0)
    server.run()
