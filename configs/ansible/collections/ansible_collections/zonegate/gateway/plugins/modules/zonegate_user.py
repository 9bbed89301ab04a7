#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: zonegate authors
# Apache License 2.0 (see LICENSE in the zonegate repository)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: zonegate_user
short_description: Manage an account of a zonegate gateway
description:
  - Creates, changes, disables, enables and deletes accounts of a zonegate
    gateway through C(zonegate user ...) on the gateway, logged in as an
    administrator. Every change is the administrator's API call, so the
    gateway's audit log records it as it records a change made at the
    console (account created, role changed, disabled, password reset).
  - Passwords go to the CLI on standard input, never on a command line;
    keep them in Ansible Vault.
  - With C(bootstrap), a gateway without any account gets its first
    administrator (C(zonegate user init)) named C(login_user) with
    C(login_password).
version_added: "1.0.0"
author: zonegate authors
options:
  name:
    description: The account.
    type: str
    required: true
  state:
    description: C(present) or C(absent).
    type: str
    choices: [present, absent]
    default: present
  role:
    description: viewer, operator, engineer or admin.
    type: str
    choices: [viewer, operator, engineer, admin]
    default: viewer
  password:
    description:
      - The account's password; needed to create it.
    type: str
  update_password:
    description:
      - C(on_create) sets the password only when the account is created.
      - C(always) makes the account's password this one; to find out whether
        it already is, the module logs in as the account with it (a failed
        attempt is a C(login) failure record in the audit log and counts
        towards the lockout), then resets it when it is not.
    type: str
    choices: [on_create, always]
    default: on_create
  must_change:
    description: The user must change the password at the next login (when the module sets it).
    type: bool
    default: false
  enabled:
    description: False disables the account (its sessions end); true enables it.
    type: bool
    default: true
  bootstrap:
    description: Create the first administrator (login_user) when the gateway has no account yet.
    type: bool
    default: false
  zonegate:
    description: The zonegate program on the gateway.
    type: str
    default: zonegate
  socket:
    description: The daemon's API socket on the gateway.
    type: str
    default: /run/zonegate/api.sock
  login_user:
    description: An administrator of the gateway.
    type: str
    required: true
  login_password:
    description: Its password.
    type: str
    required: true
notes:
  - Runs on the gateway with Python 3 (standard library only) and zonegate.
  - Supports check mode.
"""

EXAMPLES = r"""
- name: Accounts of every gateway
  zonegate.gateway.zonegate_user:
    name: "{{ item.name }}"
    role: "{{ item.role }}"
    password: "{{ item.password }}"
    login_user: fleet-admin
    login_password: "{{ vault_zonegate_admin_password }}"
  loop: "{{ zonegate_accounts }}"
  no_log: true
"""

RETURN = r"""
actions:
  description: The zonegate user commands run (or that would run in check mode).
  returned: always
  type: list
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.zonegate.gateway.plugins.module_utils.zonegate import (
    CONNECTION_ARGS, Gateway, ZonegateError)


def find(users, name):
    for u in users:
        if u.get("name") == name:
            return u
    return None


def password_is(gw, module, name, password):
    """Whether password is the account's password (by logging in as it)."""
    import os
    session = os.path.join(module.tmpdir, "zonegate-check-session.json")
    ok, _ = gw.login(user=name, password=password, session=session)
    if ok:
        gw.logout(session=session)
    return ok


def main():
    args = dict(CONNECTION_ARGS)
    args.update(
        name=dict(type="str", required=True),
        state=dict(type="str", choices=["present", "absent"], default="present"),
        role=dict(type="str", choices=["viewer", "operator", "engineer", "admin"], default="viewer"),
        password=dict(type="str", no_log=True),
        update_password=dict(type="str", choices=["on_create", "always"], default="on_create", no_log=False),
        must_change=dict(type="bool", default=False),
        enabled=dict(type="bool", default=True),
        bootstrap=dict(type="bool", default=False),
    )
    module = AnsibleModule(argument_spec=args, supports_check_mode=True)
    p = module.params
    gw = Gateway(module)
    actions = []

    def do(cmd, data=None):
        actions.append(" ".join(["zonegate", "user"] + cmd))
        if not module.check_mode:
            gw.run(["user"] + cmd, data=data)

    try:
        ok, msg = gw.login()
        if not ok and p["bootstrap"]:
            # The daemon answers a login on a gateway without accounts as
            # any failed login; init says whether accounts exist.
            if module.check_mode:
                actions.append("zonegate user init %s (unless accounts exist)" % p["login_user"])
                module.exit_json(changed=True, actions=actions)
            rc, out, err = gw.run(["user", "init", p["login_user"]], data=p["login_password"] + "\n", check=False)
            if rc == 0:
                actions.append("zonegate user init %s" % p["login_user"])
                ok, msg = gw.login()
            elif "already exist" not in err + out:
                raise ZonegateError("`zonegate user init %s` failed: %s" % (p["login_user"], (err or out).strip()))
        if not ok:
            raise ZonegateError("login as %s on the gateway failed: %s" % (p["login_user"], msg))
        user = find(gw.users(), p["name"])
        if p["state"] == "absent":
            if user:
                do(["delete", p["name"]])
        elif user is None:
            if not p["password"]:
                raise ZonegateError("account %s does not exist: give its password to create it" % p["name"])
            cmd = ["add", p["name"], "--role", p["role"]]
            if p["must_change"]:
                cmd.append("--must-change")
            do(cmd, data=p["password"] + "\n")
            if not p["enabled"]:
                do(["disable", p["name"]])
        else:
            if user.get("role") != p["role"]:
                do(["role", p["name"], p["role"]])
            if user.get("disabled") and p["enabled"]:
                do(["enable", p["name"]])
            if not user.get("disabled") and not p["enabled"]:
                do(["disable", p["name"]])
            if p["update_password"] == "always" and p["password"] and p["enabled"] \
                    and not password_is(gw, module, p["name"], p["password"]):
                cmd = ["reset", p["name"]]
                if p["must_change"]:
                    cmd.append("--must-change")
                do(cmd, data=p["password"] + "\n")
    except ZonegateError as e:
        gw.logout()
        module.fail_json(msg=str(e), actions=actions)
    gw.logout()
    module.exit_json(changed=bool(actions), actions=actions)


if __name__ == "__main__":
    main()
