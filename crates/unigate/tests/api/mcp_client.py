"""Drives a Unigate MCP server with the official MCP Python SDK (`mcp` from PyPI) over the
Streamable HTTP transport, and prints one JSON object with what it saw, for
`tests/api/mcp.rs` to assert on.

Usage: mcp_client.py <server url> <list tool> <get tool> <create tool> <record id>
"""

import asyncio
import json
import sys

from mcp import ClientSession

try:  # SDK 2.x
    from mcp.client.streamable_http import streamable_http_client as connect
except ImportError:  # SDK 1.x
    from mcp.client.streamable_http import streamablehttp_client as connect


def texts(result):
    return [c.text for c in result.content if getattr(c, "type", None) == "text"]


async def main(url, list_tool, get_tool, create_tool, record_id):
    out = {}
    async with connect(url) as streams:
        read, write = streams[0], streams[1]
        async with ClientSession(read, write) as session:
            init = await session.initialize()
            out["protocol_version"] = init.protocol_version if hasattr(init, "protocol_version") else init.protocolVersion
            out["server_name"] = (init.server_info if hasattr(init, "server_info") else init.serverInfo).name
            tools = await session.list_tools()
            out["tools"] = sorted(t.name for t in tools.tools)
            schema = next(t for t in tools.tools if t.name == list_tool)
            out["list_schema_properties"] = sorted(
                (schema.input_schema if hasattr(schema, "input_schema") else schema.inputSchema)["properties"]
            )

            page = await session.call_tool(list_tool, {"limit": 2})
            page_texts = texts(page)
            out["list_is_error"] = bool(page.is_error if hasattr(page, "is_error") else page.isError)
            out["list_page"] = json.loads(page_texts[0])
            out["list_hint"] = page_texts[1] if len(page_texts) > 1 else None
            cursor = out["list_page"].get("next_cursor")
            if cursor:
                second = await session.call_tool(list_tool, {"limit": 2, "next_cursor": cursor})
                out["second_page"] = json.loads(texts(second)[0])

            one = await session.call_tool(get_tool, {"id": record_id})
            out["get_is_error"] = bool(one.is_error if hasattr(one, "is_error") else one.isError)
            out["get_record"] = json.loads(texts(one)[0])

            # Okta refuses a user without a last name: a tool error, not a protocol one.
            refused = await session.call_tool(
                create_tool, {"first_name": "Nolast", "emails": [{"email": "nolast@example.com"}]}
            )
            out["refused_is_error"] = bool(refused.is_error if hasattr(refused, "is_error") else refused.isError)
            out["refused_texts"] = texts(refused)
    print(json.dumps(out))


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:6]))
