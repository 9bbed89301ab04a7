#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: zonegate authors
# Apache License 2.0 (see LICENSE in the zonegate repository)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: zonegate_model
short_description: Roll a zone model out to a zonegate gateway with confirm-or-rollback
description:
  - Checks the model with C(zonegate check) on the controller, copies it to
    the gateway and, through the zonegate CLI there, pushes it with a confirm
    deadline (C(zonegate push --confirm-within)), runs the health checks the
    task names, checks that the controller can still open a new connection to
    the gateway, and confirms (C(zonegate confirm)).
  - When a health check fails the module does not confirm. The gateway rolls
    the model back by itself at the deadline; the module waits for that, and
    fails the host naming the check and the version that runs again.
  - Idempotent. A model whose digest the gateway already runs reports
    C(changed=false) and touches nothing. In check mode the gateway computes
    what a push would change (C(zonegate push --dry-run)) and nothing is
    pushed; with C(--diff) the model and ruleset changes are shown.
  - Every step is an API call of the logged-in user, so the gateway's audit
    log records the login, the push, the confirmation or the automatic
    rollback and the logout under that user.
version_added: "1.0.0"
author: zonegate authors
options:
  model:
    description:
      - The zone model file on the controller (relative paths are looked up
        like the C(copy) module's C(src)).
    type: path
    required: true
  confirm_within:
    description:
      - The confirm deadline of the push, a Go duration such as C(2m). The
        health checks, the management check and the confirmation must fit
        in it; a failed check costs this long until the gateway has rolled
        back.
    type: str
    default: 2m
  comment:
    description: Why the model changes; kept in the gateway's history and audit record.
    type: str
    default: rolled out by Ansible
  health_checks:
    description:
      - Checks run on the gateway after the push, before the confirmation,
        in order. Each has a C(name) and either C(counter) or C(command).
      - C(counter) names a counter of C(zonegate status) (such as
        C(conduit_scada-to-plc)) that must grow by at least C(min_increase)
        (default 1) within C(within) seconds (default 30), so the flows of that
        conduit still pass.
      - C(command) is a probe run on the gateway, a list of arguments or a
        string for C(/bin/sh -c); it passes when it exits 0, tried
        C(retries) times (default 3) C(delay) seconds apart (default 2).
    type: list
    elements: dict
    default: []
  management_check:
    description:
      - After the push, the controller opens a new TCP connection to the
        gateway's SSH port (C(ansible_host), C(ansible_port)); the model is
        confirmed only if that works, so that no confirmed model locks the
        fleet's controller out.
    type: bool
    default: true
  wait_for_rollback:
    description:
      - After a failed check, wait until the gateway has rolled back by
        itself (at most the deadline and 60 seconds) and report the version
        that runs again.
    type: bool
    default: true
  controller_zonegate:
    description: The zonegate program on the controller, for C(zonegate check).
    type: str
    default: zonegate
  config:
    description:
      - The daemon settings file on the gateway; with C(--check --diff) its
        firewall options (proxy port, log group) compile the rulesets shown.
    type: str
  zonegate:
    description: The zonegate program on the gateway.
    type: str
    default: zonegate
  socket:
    description: The daemon's API socket on the gateway.
    type: str
    default: /run/zonegate/api.sock
  login_user:
    description: The gateway account that pushes and confirms (role engineer or admin).
    type: str
    required: true
  login_password:
    description: Its password; keep it in Ansible Vault.
    type: str
    required: true
notes:
  - Runs on the gateway with Python 3 (the standard library only) and the
    zonegate binary; C(zonegate check) runs on the controller.
  - Supports check mode and diff mode.
"""

EXAMPLES = r"""
- name: Roll the line's model out
  zonegate.gateway.zonegate_model:
    model: "models/{{ inventory_hostname }}.yaml"
    confirm_within: 3m
    comment: "change {{ change_id }}"
    login_user: ansible
    login_password: "{{ zonegate_ansible_password }}"
    health_checks:
      - name: SCADA still polls the PLCs
        counter: conduit_scada-to-plc
        within: 30
      - name: the historian answers
        command: [mbpoll, -1, -a, "1", -r, "1", -c, "1", 198.18.40.10]
"""

RETURN = r"""
version:
  description: The model version that runs after the task.
  returned: always
  type: int
digest:
  description: The digest of the model file, as the gateway computes it.
  returned: always
  type: str
previous_version:
  description: The version that ran before the push.
  returned: changed or failed check
  type: int
checks:
  description: The health checks with C(name), C(ok) and C(detail).
  returned: when pushed
  type: list
rolled_back:
  description: True when a check failed and the gateway rolled back by itself.
  returned: when pushed
  type: bool
"""

import os
import subprocess
import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.zonegate.gateway.plugins.module_utils.zonegate import (
    CONNECTION_ARGS, Gateway, ZonegateError, counters, parse_time, wait_until)

# Seconds kept between the last check and the deadline for the confirmation.
CONFIRM_MARGIN = 3


def plan(module, gw, src):
    """What a push would do: the gateway's digest of the file, the running
    model, and with diff (or in check mode) the dry run's text."""
    st = gw.status()
    digest = gw.digest(src)
    res = dict(digest=digest, version=st.get("version", 0), running_digest=st.get("digest", ""),
               island=st.get("island", False), pending=st.get("pending"))
    res["unchanged"] = st.get("digest") == digest and not st.get("pending")
    if module.params["_diff"] or module.check_mode:
        args = ["push", "--dry-run", src]
        if module.params["config"]:
            args += ["--config", module.params["config"]]
        rc, out, err = gw.run(args, check=False)
        res["dry_run"] = out + (err if rc != 0 else "")
    return res


def run_check(gw, check, deadline):
    """Runs one health check; returns (ok, detail)."""
    name = check.get("name") or check.get("counter") or str(check.get("command"))
    if ("counter" in check) == ("command" in check):
        return False, "health check %r: give either counter or command" % name
    if "counter" in check:
        want = int(check.get("min_increase", 1))
        within = float(check.get("within", 30))
        if time.time() + within > deadline - CONFIRM_MARGIN:
            within = max(0, deadline - CONFIRM_MARGIN - time.time())
        first = counters(gw.status())
        if check["counter"] not in first:
            return False, "counter %s is not in the ruleset now (see `zonegate status`)" % check["counter"]
        seen = [first[check["counter"]]]

        def grew():
            seen.append(counters(gw.status()).get(check["counter"], seen[-1]))
            return seen[-1] - seen[0] >= want
        if wait_until(grew, within, interval=1.0):
            return True, "counter %s grew by %d" % (check["counter"], seen[-1] - seen[0])
        return False, "counter %s grew by %d in %.0fs, want at least %d" % (
            check["counter"], seen[-1] - seen[0], within, want)
    cmd = check["command"]
    retries = max(1, int(check.get("retries", 3)))
    delay = float(check.get("delay", 2))
    last = ""
    for i in range(retries):
        left = deadline - CONFIRM_MARGIN - time.time()
        if left <= 0:
            return False, "no time left before the confirm deadline (raise confirm_within)"
        try:
            p = subprocess.run(cmd, shell=isinstance(cmd, str), stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, timeout=min(left, float(check.get("timeout", 10))))
            if p.returncode == 0:
                return True, "exit 0 (try %d)" % (i + 1)
            lines = [l for l in p.stdout.decode("utf-8", "replace").splitlines() if l.strip()]
            last = "exit %d%s" % (p.returncode, (": " + lines[-1][-300:]) if lines else "")
        except subprocess.TimeoutExpired:
            last = "timed out"
        except OSError as e:
            last = str(e)
        if i + 1 < retries:
            time.sleep(delay)
    return False, "probe failed %d times, last: %s" % (retries, last)


def await_rollback(gw, version, deadline):
    """Waits until pending version is gone (the gateway rolled back by
    itself, or someone confirmed it); returns the status then."""
    def gone():
        st = gw.status()
        p = st.get("pending")
        return st if not p or p.get("version") != version else None
    return wait_until(gone, max(0, deadline - time.time()) + 60, interval=1.0)


def push(module, gw, src):
    p = module.params
    before = gw.status()
    if before.get("pending"):
        pend = before["pending"]
        raise ZonegateError("version %s by %s waits for its confirmation until %s: confirm or roll it back first" % (
            pend.get("version"), pend.get("user"), pend.get("deadline")))
    _, out, _ = gw.run(["push", src, "--confirm-within", p["confirm_within"], "--comment", p["comment"]])
    st = gw.status()
    if out.startswith("unchanged:"):
        return dict(changed=False, version=st.get("version"), digest=st.get("digest"))
    pend = st.get("pending")
    res = dict(changed=True, version=st.get("version"), digest=st.get("digest"),
               previous_version=before.get("version"), previous_digest=before.get("digest"),
               checks=[], rolled_back=False)
    if not pend:
        # confirm_within 0: confirmed at once, nothing to check against.
        res["confirmed"] = True
        return res
    deadline = parse_time(pend.get("deadline")) or time.time()
    res["deadline"] = pend.get("deadline")
    for check in p["health_checks"]:
        ok, detail = run_check(gw, check, deadline)
        res["checks"].append(dict(name=check.get("name") or check.get("counter") or str(check.get("command")), ok=ok, detail=detail))
        if not ok:
            return failed_check(module, gw, res, pend["version"], deadline,
                                "health check %r failed: %s" % (res["checks"][-1]["name"], detail))
    return res


def failed_check(module, gw, res, version, deadline, why):
    """Leaves the rollback to the gateway and reports it."""
    res["failed"] = True
    if not module.params["wait_for_rollback"]:
        res["msg"] = "%s; not confirmed: version %d rolls back by itself at %s" % (why, version, res.get("deadline"))
        return res
    st = await_rollback(gw, version, deadline)
    if not st:
        res["msg"] = "%s; not confirmed, but version %d is still pending after its deadline %s: look at the gateway (`zonegate status`)" % (
            why, version, res.get("deadline"))
        return res
    res["rolled_back"] = st.get("version") != version
    res["version"], res["running_digest"] = st.get("version"), st.get("digest")
    if res["rolled_back"]:
        res["msg"] = "%s; not confirmed: the gateway rolled back by itself to version %s (%s)" % (why, st.get("version"), st.get("digest"))
    else:
        res["msg"] = "%s; not confirmed by Ansible, yet version %d runs (someone confirmed it on the gateway)" % (why, version)
    return res


def confirm(module, gw, version):
    st = gw.status()
    pend = st.get("pending")
    if not pend or pend.get("version") != version:
        raise ZonegateError("version %d is no longer pending (now version %s runs): its deadline passed before the confirmation; raise confirm_within" % (
            version, st.get("version")))
    gw.run(["confirm"])
    st = gw.status()
    return dict(changed=True, version=st.get("version"), digest=st.get("digest"), confirmed=True)


def main():
    args = dict(CONNECTION_ARGS)
    args.update(
        model=dict(type="path"),
        confirm_within=dict(type="str", default="2m"),
        comment=dict(type="str", default="rolled out by Ansible"),
        health_checks=dict(type="list", elements="dict", default=[]),
        management_check=dict(type="bool", default=True),
        wait_for_rollback=dict(type="bool", default=True),
        controller_zonegate=dict(type="str", default="zonegate"),
        config=dict(type="str"),
        # Set by the action plugin of the same name, which runs the phases.
        _phase=dict(type="str", default="plan", choices=["plan", "push", "confirm", "await_rollback", "logout"]),
        _src=dict(type="str"),
        _session=dict(type="str"),
        _version=dict(type="int"),
        _deadline=dict(type="str"),
        _diff=dict(type="bool", default=False),
        _logout=dict(type="bool", default=False),
    )
    module = AnsibleModule(argument_spec=args, supports_check_mode=True)
    p = module.params
    gw = Gateway(module, p["_session"])
    src = p["_src"] or p["model"]
    if p["_phase"] in ("plan", "push") and (not src or not os.path.isfile(src)):
        module.fail_json(msg="the model file %s is not on the gateway (use the action plugin: the module name zonegate.gateway.zonegate_model)" % src)
    phase = p["_phase"]
    res = dict(changed=False)
    try:
        if phase == "logout":
            gw.logout()
            module.exit_json(changed=False)
        gw.ensure_login()
        if phase == "plan":
            res.update(plan(module, gw, src))
        elif module.check_mode:
            module.fail_json(msg="phase %s changes the gateway: not in check mode" % phase)
        elif phase == "push":
            res.update(push(module, gw, src))
        elif phase == "confirm":
            res.update(confirm(module, gw, p["_version"]))
        elif phase == "await_rollback":
            deadline = parse_time(p["_deadline"]) or time.time()
            res.update(changed=True, deadline=p["_deadline"])
            failed_check(module, gw, res, p["_version"], deadline,
                         "the controller cannot open a new connection to the gateway after the push")
    except ZonegateError as e:
        res.update(failed=True, msg=str(e))
    finally:
        # The plan phase ends the session when nothing follows it.
        done = phase == "plan" and (res.get("unchanged") or module.check_mode)
        if p["_logout"] or res.get("failed") or done:
            gw.logout()
    if res.get("failed"):
        module.fail_json(**res)
    module.exit_json(**res)


if __name__ == "__main__":
    main()
