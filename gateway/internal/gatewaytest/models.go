// Package gatewaytest holds what the tests of the daemon's packages share:
// the small zone models they push, apply and compare, and readers of the
// version history and the audit log they check.
package gatewaytest

import "strings"

// Base lets zone ops reach zone cell on tcp/7001.
const Base = `version: 1
gateway:
  name: unit-gw
  management:
    zones: [ops]
zones:
  - name: ops
    importance: medium
    interfaces: [eth0]
    networks: [198.18.11.0/24]
  - name: cell
    importance: high
    interfaces: [eth1]
    networks: [198.18.12.0/24]
conduits:
  - name: ops-to-cell
    from: ops
    to: cell
    services: [tcp/7001]
`

// Open is Base with tcp/7000 added to its conduit.
var Open = strings.Replace(Base, "services: [tcp/7001]", "services: [tcp/7000, tcp/7001]", 1)

// Modbus is Base with a Modbus-inspected conduit from ops to cell.
var Modbus = Base + `  - name: ops-to-plc
    from: ops
    to: cell
    services: [tcp/502]
    inspect: modbus
    modbus:
      mode: enforce
      on_deny: exception
      allow:
        - read: holding_registers
          addresses: 0-99
`

// Invalid names a zone that does not exist: "pushed model:14:9: ..."
// when pushed.
const Invalid = `version: 1
gateway:
  name: unit-gw
  management:
    zones: [ops]
zones:
  - name: ops
    importance: medium
    interfaces: [eth0]
    networks: [198.18.11.0/24]
conduits:
  - name: ops-to-cell
    from: ops
    to: cell
    services: [tcp/7000]
`
