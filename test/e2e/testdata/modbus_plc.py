#!/usr/bin/python3
"""Fake PLC for zonegate's end-to-end Modbus tests (pymodbus 3.0, Debian's
python3-pymodbus; run it with /usr/bin/python3).

    modbus_plc.py --host ADDR --port N --log FILE [--unit N]

Serves one unit whose holding and input registers hold 1000+address and whose
coils and discrete inputs hold address%2 (zero-based addresses 0-9999). Every
request the server decodes is appended to FILE as one JSON line, flushed at
once, before it is executed:

    {"peer": "198.18.110.1:40000", "tid": 3, "unit": 1, "fc": 6,
     "address": 50, "count": 1, "values": [7]}

so that a test can prove that the PLC never saw a request the gateway denied.
Raw bytes are logged too ({"raw": HEX}) so that requests pymodbus cannot
decode still leave a trace. "ready HOST PORT" goes to stdout once the socket
listens. SIGTERM ends the server.
"""

import argparse
import asyncio
import json
import signal
import sys

from pymodbus.datastore import (
    ModbusSequentialDataBlock,
    ModbusServerContext,
    ModbusSlaveContext,
)
from pymodbus.server.async_io import ModbusConnectedRequestHandler, ModbusTcpServer

SIZE = 10000


class Log:
    """Appends JSON lines to a file, one flush per line."""

    def __init__(self, path):
        self.f = open(path, "a", buffering=1, encoding="utf-8")

    def write(self, rec):
        self.f.write(json.dumps(rec, default=str) + "\n")
        self.f.flush()


LOG = None


def values_of(req):
    """Returns the values a write request carries, as a list, or None."""
    if hasattr(req, "values") and req.values is not None:
        v = req.values
        return list(v) if isinstance(v, (list, tuple)) else [v]
    if hasattr(req, "value") and req.value is not None:
        return [req.value]
    return None


class LoggingHandler(ModbusConnectedRequestHandler):
    """A connection handler that logs raw data and every decoded request."""

    def data_received(self, data):
        LOG.write({"peer": self.peer(), "raw": data.hex()})
        super().data_received(data)

    def peer(self):
        addr = getattr(self, "client_address", None) or ("?", 0)
        return f"{addr[0]}:{addr[1]}"

    def execute(self, request, *addr):
        rec = {
            "peer": self.peer(),
            "tid": request.transaction_id,
            "unit": request.unit_id,
            "fc": request.function_code,
        }
        for key in ("address", "count", "read_address", "read_count", "write_address"):
            if hasattr(request, key):
                rec[key] = getattr(request, key)
        vals = values_of(request)
        if vals is not None:
            rec["values"] = vals
        LOG.write(rec)
        super().execute(request, *addr)


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", required=True)
    ap.add_argument("--port", type=int, default=502)
    ap.add_argument("--log", required=True)
    ap.add_argument("--unit", type=int, default=1)
    args = ap.parse_args()
    global LOG  # pylint: disable=global-statement
    LOG = Log(args.log)

    regs = [1000 + i for i in range(SIZE)]
    bits = [i % 2 == 1 for i in range(SIZE)]
    slave = ModbusSlaveContext(
        di=ModbusSequentialDataBlock(0, list(bits)),
        co=ModbusSequentialDataBlock(0, list(bits)),
        hr=ModbusSequentialDataBlock(0, list(regs)),
        ir=ModbusSequentialDataBlock(0, list(regs)),
        zero_mode=True,
    )
    context = ModbusServerContext(slaves={args.unit: slave}, single=False)
    server = ModbusTcpServer(
        context,
        address=(args.host, args.port),
        handler=LoggingHandler,
        allow_reuse_address=True,
        ignore_missing_slaves=False,
    )
    task = asyncio.create_task(server.serve_forever())
    await server.serving
    print(f"ready {args.host} {args.port}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    task.cancel()
    sys.exit(0)


if __name__ == "__main__":
    asyncio.run(main())
