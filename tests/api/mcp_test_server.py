"""A small MCP server for tests/api/mcp.rs, built with the official MCP
Python SDK: the MCP server a user might add to RaptorFlow. Each call is
appended to the file named by MCP_TEST_LOG (one JSON line: tool and
arguments), so that the test can see which tools were called and how."""

import json
import os

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


if __name__ == "__main__":
    server.run()
