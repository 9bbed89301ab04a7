#!/usr/bin/python3
"""Modbus/TCP client for zonegate's end-to-end tests (pymodbus 3.0, Debian's
python3-pymodbus; run it with /usr/bin/python3).

    modbus_client.py HOST PORT OP...

Runs the operations in order over one connection and prints one JSON line
per operation:

    {"op": "rh:0:10", "ok": true, "values": [1000, ...]}
    {"op": "wh:50:7", "ok": false, "exception": 2}
    {"op": "wh:10:7", "ok": false, "error": "Connection reset ..."}

Operations (zero-based addresses, unit 1 unless ":uN" is appended):
    rh:ADDR:COUNT      read holding registers (FC 3)
    ri:ADDR:COUNT      read input registers (FC 4)
    rc:ADDR:COUNT      read coils (FC 1)
    rd:ADDR:COUNT      read discrete inputs (FC 2)
    wh:ADDR:VALUE      write single register (FC 6)
    wm:ADDR:V1,V2,...  write multiple registers (FC 16)
    wc:ADDR:0|1        write single coil (FC 5)
    id                 read device identification (FC 43/14)
"""

import json
import sys

from pymodbus.client import ModbusTcpClient
from pymodbus.mei_message import ReadDeviceInformationRequest
from pymodbus.pdu import ExceptionResponse


def run(client, op):
    parts = op.split(":")
    unit = 1
    if parts[-1].startswith("u"):
        unit = int(parts.pop()[1:])
    kind = parts[0]
    if kind == "rh":
        return client.read_holding_registers(int(parts[1]), int(parts[2]), slave=unit)
    if kind == "ri":
        return client.read_input_registers(int(parts[1]), int(parts[2]), slave=unit)
    if kind == "rc":
        return client.read_coils(int(parts[1]), int(parts[2]), slave=unit)
    if kind == "rd":
        return client.read_discrete_inputs(int(parts[1]), int(parts[2]), slave=unit)
    if kind == "wh":
        return client.write_register(int(parts[1]), int(parts[2]), slave=unit)
    if kind == "wm":
        vals = [int(v) for v in parts[2].split(",")]
        return client.write_registers(int(parts[1]), vals, slave=unit)
    if kind == "wc":
        return client.write_coil(int(parts[1]), parts[2] == "1", slave=unit)
    if kind == "id":
        return client.execute(ReadDeviceInformationRequest(read_code=1, object_id=0, unit=unit))
    raise ValueError(f"unknown operation {op!r}")


def describe(op, res):
    out = {"op": op}
    if isinstance(res, ExceptionResponse):
        out.update(ok=False, exception=res.exception_code)
    elif res is None or (hasattr(res, "isError") and res.isError()):
        out.update(ok=False, error=str(res))
    else:
        out["ok"] = True
        if getattr(res, "registers", None) is not None:
            out["values"] = list(res.registers)
        elif getattr(res, "bits", None) is not None:
            out["values"] = [int(b) for b in res.bits]
    return out


def main():
    host, port, ops = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
    client = ModbusTcpClient(host, port=port, timeout=3, retries=0, retry_on_empty=False)
    if not client.connect():
        print(json.dumps({"op": "connect", "ok": False, "error": "cannot connect"}), flush=True)
        return 1
    for op in ops:
        try:
            res = run(client, op)
            out = describe(op, res)
        except Exception as exc:  # pylint: disable=broad-except
            out = {"op": op, "ok": False, "error": f"{type(exc).__name__}: {exc}"}
        print(json.dumps(out), flush=True)
    client.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
