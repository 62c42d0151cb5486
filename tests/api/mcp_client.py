"""Drives RaptorFlow's MCP server with the official MCP Python SDK (`mcp`
from PyPI, installed by scripts/test.sh) and prints what it saw as one JSON
document for tests/api/mcp.rs to check.

Usage: mcp_client.py CONFIG_JSON, where the config holds `command`, `args`
and `env` to start `raptorflow mcp` on stdio, `url` and `token` of a running
`raptorflow serve` (its /mcp), and the `workspace` and `campaign` ids.
"""

import json
import sys

import anyio
import httpx2
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError


def result_of(result):
    """A tool result as plain data."""
    texts = [block.text for block in result.content if getattr(block, "type", None) == "text"]
    return {"is_error": bool(result.is_error), "texts": texts, "structured": result.structured_content}


async def error_of(call):
    """The JSON-RPC error a call raised, or what it returned instead."""
    try:
        returned = await call
    except MCPError as err:
        return {"code": err.error.code, "message": err.error.message}
    return {"returned": result_of(returned) if hasattr(returned, "content") else str(returned)}


async def over_stdio(config, report):
    params = StdioServerParameters(command=config["command"], args=config["args"], env=config["env"])
    with open(config["stderr"], "w") as errlog:
        async with stdio_client(params, errlog=errlog) as (read, write):
            async with ClientSession(read, write) as session:
                init = await session.initialize()
                report["initialize"] = {
                    "server": init.server_info.name,
                    "protocol": init.protocol_version,
                    "has_tools": init.capabilities.tools is not None,
                    "has_resources": init.capabilities.resources is not None,
                    "instructions": init.instructions,
                }
                tools = await session.list_tools()
                report["tools"] = {tool.name: {"input_schema": tool.input_schema, "read_only": bool(tool.annotations and tool.annotations.read_only_hint)} for tool in tools.tools}

                search = await session.call_tool("codex_search", {"query": config["query"], "limit": 3})
                report["codex_search"] = result_of(search)

                check = await session.call_tool("guardian_check", {"platform": "x", "asset": {"text": config["bad_copy"]}, "workspace": config["workspace"]})
                report["guardian_block"] = result_of(check)
                check = await session.call_tool("guardian_check", {"platform": "linkedin", "asset": {"intro": config["good_copy"], "headline": "Fold it, ride it", "description": "Book a test ride"}})
                report["guardian_pass"] = result_of(check)

                # Arguments that are wrong: the tool's error, for the model to read.
                report["argument_errors"] = {
                    "asset_not_an_object": await error_of(session.call_tool("guardian_check", {"platform": "x", "asset": "not an object"})),
                    "unknown_platform": await error_of(session.call_tool("guardian_check", {"platform": "tiktok", "asset": {"text": "hi"}})),
                    "no_query": await error_of(session.call_tool("codex_search", {})),
                    "bad_workspace_id": await error_of(session.call_tool("workspace_read", {"workspace": "not-an-id"})),
                }
                # Calls that cannot be served: JSON-RPC errors.
                report["protocol_errors"] = {
                    "unknown_tool": await error_of(session.call_tool("publish_everything", {})),
                    "writing_tool": await error_of(session.call_tool("asset_add", {"campaign": config["campaign"], "content": {"kind": "x_post", "text": "hi"}})),
                }
                # A call that was read but names nothing there: a tool error.
                report["missing_workspace"] = result_of(await session.call_tool("workspace_read", {"workspace": "01a24b9c-e1e4-7081-b14b-46cf2b333b9e"}))
                report["after_errors"] = result_of(await session.call_tool("workspace_read", {}))

                resources = await session.list_resources()
                report["resources"] = [{"uri": str(r.uri), "title": r.title, "mime_type": r.mime_type} for r in resources.resources]
                brand_uri = next(str(r.uri) for r in resources.resources if str(r.uri).endswith("/brand-codex"))
                read = await session.read_resource(brand_uri)
                report["brand_resource"] = {"uri": str(read.contents[0].uri), "mime_type": read.contents[0].mime_type, "text": read.contents[0].text}
                report["missing_resource"] = await error_of(session.read_resource("raptorflow://campaigns/not-an-id"))


async def over_http(config, report):
    url = config["url"]
    async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {config['token']}"}, timeout=httpx2.Timeout(30.0, read=600.0)) as http:
        async with streamable_http_client(url, http_client=http) as streams:
            read, write = streams[0], streams[1]
            async with ClientSession(read, write) as session:
                init = await session.initialize()
                report["http_initialize"] = {"server": init.server_info.name, "protocol": init.protocol_version, "instructions": init.instructions}
                report["http_tools"] = sorted(tool.name for tool in (await session.list_tools()).tools)
                added = await session.call_tool(
                    "asset_add",
                    {"campaign": config["campaign"], "content": {"kind": "linkedin_post", "text": config["bad_copy"]}},
                )
                report["asset_add"] = result_of(added)
                report["asset_add_malformed"] = await error_of(session.call_tool("asset_add", {"campaign": config["campaign"], "content": {"kind": "linkedin_post"}}))
                read = await session.call_tool("workspace_read", {"campaign": config["campaign"]})
                report["campaign"] = result_of(read)
                if config.get("agent"):
                    run = await session.call_tool("agent_run", {"agent": config["agent"], "workspace": config["workspace"]})
                    report["agent_run"] = result_of(run)
                report["unknown_agent"] = await error_of(session.call_tool("agent_run", {"agent": "MUSE-999"}))

    # Without the token, the endpoint refuses before MCP is spoken.
    async with httpx2.AsyncClient(timeout=30.0) as http:
        body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
        response = await http.post(url, json=body, headers={"Accept": "application/json, text/event-stream", "Content-Type": "application/json"})
        report["http_no_token"] = {"status": response.status_code, "body": response.json()}


async def main():
    config = json.loads(sys.argv[1])
    report = {}
    await over_stdio(config, report)
    await over_http(config, report)
    json.dump(report, sys.stdout)


if __name__ == "__main__":
    anyio.run(main)
